"""NCMEC CyberTipline: the report and file-details XML, schema validation, and the API client.

A report is built from a case: the incident summary, the web page incident (URLs), the reporter,
the reported person or account (with group identifier, IP capture events and device ids), and, in
``additionalInfo``, the hashes of confirmed items sent without a file. Each item whose file was
retained as evidence is uploaded and described by a ``fileDetails`` document: original file
name, upload time, whether a person at the organisation viewed it (``fileViewedByEsp``), the
industry classification and the original file's hashes.

Every document is validated against the CyberTipline XSD (shipped in ``reports/schema``) before
it is written or sent. The client speaks the API's sequence: submit → upload → fileinfo →
finish, and retract (see :mod:`kavach.reports.submit`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any
from xml.etree.ElementTree import Element as StdElement

import defusedxml.ElementTree as SafeET
import httpx
from lxml import etree
from sqlalchemy.orm import Session

from kavach.cases.models import Case, CaseItem
from kavach.errors import InputError, KavachError
from kavach.reports.details import CaseDetails, IpEvent, ReportedPerson, Reporter
from kavach.reports.items import reported_items

__all__ = [
    "NcmecClient",
    "NcmecError",
    "ReportValidationError",
    "build_file_details",
    "build_report",
    "report_for_case",
    "schema",
    "validate",
]

_HASH_NAMES = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "pdq": "PDQ"}
_INDUSTRY = frozenset({"A1", "A2", "B1", "B2"})


class ReportValidationError(InputError):
    """A report document does not validate against the CyberTipline schema."""

    code = "report_invalid"

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


class NcmecError(KavachError):
    """The CyberTipline API refused a step or could not be reached."""

    code = "ncmec_error"
    http_status = 502

    def __init__(self, message: str, *, step: str, response_code: int | None = None) -> None:
        super().__init__(f"CyberTipline {step}: {message}")
        self.step = step
        self.response_code = response_code


@functools.cache
def schema() -> etree.XMLSchema:
    """The CyberTipline XSD, parsed once (no network, no entities)."""
    data = (resources.files("kavach.reports") / "schema" / "cyber_tipline.xsd").read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.fromstring(data, parser))


def validate(document: bytes, xml_schema: etree.XMLSchema | None = None) -> None:
    """Raise :class:`ReportValidationError` (listing every problem) unless ``document`` is valid."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        tree = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        raise ReportValidationError(f"the report is not well-formed XML: {exc}") from None
    checker = xml_schema or schema()
    if not checker.validate(tree):
        log: Any = checker.error_log  # iterable at run time; the stubs do not say so
        errors = [f"line {e.line}: {e.message}" for e in log]
        raise ReportValidationError(
            "the report does not validate against the CyberTipline schema: " + errors[0],
            errors,
        )


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: etree._Element, tag: str, text: Any = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = "true" if text is True else "false" if text is False else str(text)
    return el


def _opt(parent: etree._Element, tag: str, text: Any) -> None:
    if text is not None and text != "":
        _add(parent, tag, text)


def build_report(
    case: Case,
    items: Sequence[CaseItem],
    details: CaseDetails,
    *,
    reporter: Reporter | None = None,
    uploaded: Sequence[int] = (),
) -> bytes:
    """The ``<report>`` document for ``case`` (validated). ``items`` are the confirmed items;
    those in ``uploaded`` (item ids) go as files, the rest as hashes in ``additionalInfo``."""
    who = reporter or details.reporter
    if who is None:
        raise InputError(
            f"case {case.name} has no reporter e-mail (details.reporter.email): fill it in on "
            "the case's Details tab in the console, or pass --reporter-email"
        )
    report = etree.Element("report")
    summary = _add(report, "incidentSummary")
    _add(summary, "incidentType", details.incident.type)
    _opt(summary, "platform", details.incident.platform)
    when = details.incident.at or _first_seen(case, items)
    _add(summary, "incidentDateTime", _stamp(when))
    if details.incident.at is None:
        _add(summary, "incidentDateTimeDescription", "when the platform first received the file")
    urls = [*details.incident.urls, *(i.url for i in items if i.url)]
    if urls:
        web = _add(_add(report, "internetDetails"), "webPageIncident")
        for url in dict.fromkeys(urls):
            _add(web, "url", url)
    rep = _add(report, "reporter")
    person = _add(rep, "reportingPerson")
    _opt(person, "firstName", who.first_name)
    _opt(person, "lastName", who.last_name)
    _opt(person, "phone", who.phone)
    _add(person, "email", who.email)
    _opt(rep, "legalURL", who.legal_url)
    if details.reported_person is not None:
        _reported(report, details.reported_person)
    info = _summary(case, items, set(uploaded), details)
    _add(report, "additionalInfo", info)
    document = etree.tostring(report, xml_declaration=True, encoding="UTF-8")
    validate(document)
    return bytes(document)


def _first_seen(case: Case, items: Sequence[CaseItem]) -> dt.datetime:
    times = [_item_time(i) or i.created_at for i in items]
    return min(times) if times else case.created_at


def _item_time(item: CaseItem) -> dt.datetime | None:
    raw = item.attributes.get("uploaded_at")
    if not isinstance(raw, str):
        return None
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _reported(report: etree._Element, who: ReportedPerson) -> None:
    el = _add(report, "personOrUserReported")
    if who.first_name or who.last_name or who.email or who.phone:
        person = _add(el, "personOrUserReportedPerson")
        _opt(person, "firstName", who.first_name)
        _opt(person, "lastName", who.last_name)
        for phone in who.phone:
            _add(person, "phone", phone)
        for email in who.email:
            _add(person, "email", email)
    _opt(el, "espIdentifier", who.esp_identifier)
    _opt(el, "espService", who.esp_service)
    _opt(el, "screenName", who.screen_name)
    _opt(el, "displayName", who.display_name)
    _opt(el, "profileUrl", who.profile_url)
    for event in who.ip_events:
        _ip_event(_add(el, "ipCaptureEvent"), event)
    for device in who.device_ids:
        dev = _add(el, "deviceId")
        _add(dev, "idType", device.type)
        _add(dev, "idValue", device.value)
        _opt(dev, "eventName", device.event)
        if device.at is not None:
            _add(dev, "dateTime", _stamp(device.at))
    _opt(el, "groupIdentifier", who.group_identifier)
    _opt(el, "additionalInfo", who.additional_info)


def _ip_event(el: etree._Element, event: IpEvent) -> None:
    _add(el, "ipAddress", event.ip)
    _add(el, "eventName", event.event)
    if event.at is not None:
        _add(el, "dateTime", _stamp(event.at))
    if event.possible_proxy is not None:
        _add(el, "possibleProxy", event.possible_proxy)
    if event.port is not None:
        _add(el, "port", event.port)


def _summary(
    case: Case, items: Sequence[CaseItem], uploaded: set[int], details: CaseDetails
) -> str:
    lines = [f"Kavach case {case.name} (id {case.id}), {len(items)} confirmed item(s)."]
    if details.incident.description:
        lines.append(details.incident.description)
    if details.incident.group:
        lines.append(f"Group or channel: {details.incident.group}")
    for item in items:
        if item.id in uploaded:
            continue
        hashes = ", ".join(f"{k.upper()} {v}" for k, v in sorted(item.hashes.items()))
        lines.append(
            f"Item {item.id} (file not retained): {hashes or item.url}; "
            f"classification {item.decision_scheme}:{item.decision_value}; "
            f"viewed by a person: {'yes' if item.viewed_by_person else 'no'}"
        )
    return "\n".join(lines)


def build_file_details(item: CaseItem, *, report_id: int, file_id: str) -> bytes:
    """The ``<fileDetails>`` document for an uploaded item (validated)."""
    el = etree.Element("fileDetails")
    _add(el, "reportId", report_id)
    _add(el, "fileId", file_id)
    name = item.attributes.get("file_name")
    if isinstance(name, str) and name:
        _add(el, "originalFileName", name[:255])
    uploaded_at = _item_time(item)
    if uploaded_at is not None:
        _add(el, "uploadedToEspTimestamp", _stamp(uploaded_at))
    _add(el, "fileViewedByEsp", bool(item.viewed_by_person))
    _add(el, "fileRelevance", "Reported")
    if item.decision_scheme == "industry" and item.decision_value in _INDUSTRY:
        _add(el, "industryClassification", item.decision_value)
    for kind, value in sorted(item.hashes.items()):
        name = _HASH_NAMES.get(kind)
        if name is not None:
            _add(el, "originalFileHash", value, hashType=name)
    ip = item.attributes.get("uploader_ip")
    if isinstance(ip, str) and ip:
        _ip_event(_add(el, "ipCaptureEvent"), IpEvent(ip=ip, event="Upload", at=uploaded_at))
    document = etree.tostring(el, xml_declaration=True, encoding="UTF-8")
    validate(document)
    return bytes(document)


def report_for_case(
    session: Session, case: Case, details: CaseDetails, *, reporter: Reporter | None = None
) -> bytes:
    """Build the report for ``case`` from its confirmed items (no files: the offline form)."""
    items = reported_items(session, case)
    if not items:
        raise InputError(f"case {case.name} has no confirmed item to report yet")
    return build_report(case, items, details, reporter=reporter)


class NcmecClient:
    """The CyberTipline Reporting API over a caller's ``httpx.Client`` (auth, timeouts, TLS are
    the caller's). ``base_url`` ends in ``/ispws``."""

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")

    def _post(self, step: str, **kwargs: Any) -> StdElement:
        try:
            response = self._client.post(f"{self._base}/{step}", **kwargs)
        except httpx.HTTPError as exc:
            raise NcmecError(f"request failed: {type(exc).__name__}: {exc}", step=step) from None
        try:
            root = SafeET.fromstring(response.content)
        except SafeET.ParseError:
            raise NcmecError(
                f"HTTP {response.status_code} with a body that is not XML", step=step
            ) from None
        code_text = root.findtext("responseCode")
        code = int(code_text) if code_text and code_text.strip().lstrip("-").isdigit() else None
        if response.status_code != 200 or code != 0:
            text = root.findtext("responseDescription") or f"HTTP {response.status_code}"
            raise NcmecError(f"{text} (code {code})", step=step, response_code=code)
        return root

    def submit(self, report: bytes) -> int:
        """Open a report; return its id."""
        root = self._post("submit", content=report, headers={"Content-Type": "text/xml"})
        report_id = root.findtext("reportId")
        if not report_id or not report_id.strip().isdigit():
            raise NcmecError("no reportId in the answer", step="submit")
        return int(report_id)

    def upload(self, report_id: int, filename: str, data: bytes) -> str:
        """Upload one file to an open report; return its file id."""
        root = self._post(
            "upload",
            data={"id": str(report_id)},
            files={"file": (filename, data, "application/octet-stream")},
        )
        file_id = root.findtext("fileId")
        if not file_id:
            raise NcmecError("no fileId in the answer", step="upload")
        return file_id.strip()

    def fileinfo(self, details: bytes) -> None:
        """Describe an uploaded file."""
        self._post("fileinfo", content=details, headers={"Content-Type": "text/xml"})

    def finish(self, report_id: int) -> list[str]:
        """Finish (send) the report; return the file ids NCMEC holds for it."""
        root = self._post("finish", data={"id": str(report_id)})
        return [f.text.strip() for f in root.iter("fileId") if f.text]

    def retract(self, report_id: int) -> None:
        """Withdraw an unfinished report."""
        self._post("retract", data={"id": str(report_id)})
