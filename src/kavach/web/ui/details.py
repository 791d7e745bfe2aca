"""A case's details for its reports, edited in the console (analysts and admins).

Reports read the reporter, the incident, the reported person or account (group identifier, IP
capture events) and the India fields from ``Case.details`` (docs/reports.md). A source may not
know them; this form fills them in. Only the fields on the form change: anything else a source
put there (device ids, suspect details...) is kept. The result is checked as a report would
check it before it is saved, and the change is audited (``case.update``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from kavach.cases import service as case_service
from kavach.cases.models import Case
from kavach.errors import InputError, PermissionDeniedError
from kavach.reports.details import INCIDENT_TYPES, CaseDetails, IpEvent
from kavach.web.ui.deps import ConsoleRoute, ConsoleUser, UserDep
from kavach.web.ui.pages import CasePage, case_page_data
from kavach.web.ui.templating import CONSOLE, render
from kavach.web.ui.work import in_session

__all__ = [
    "EDITORS",
    "FIELDS",
    "DetailField",
    "DetailsForm",
    "details_url",
    "form_values",
    "parse_form",
    "router",
]

router = APIRouter(prefix=CONSOLE, route_class=ConsoleRoute, include_in_schema=False)

EDITORS = frozenset({"analyst", "admin"})
"""Roles that may change a case's details (reviewers grade; they do not file reports)."""

_MAX_FIELD = 2000
_MAX_LIST = 50


@dataclass(frozen=True, slots=True)
class DetailField:
    """One input of the form: where it goes in the details, its label and its kind."""

    section: str
    key: str
    label: str
    kind: str = "text"  # text, email, url, textarea, lines (one value a line), select
    hint: str = ""

    @property
    def name(self) -> str:
        """The form field's name (and element id)."""
        return f"{self.section}.{self.key}"


FIELDS: tuple[DetailField, ...] = (
    DetailField("reporter", "email", "E-mail (required for NCMEC)", "email"),
    DetailField("reporter", "first_name", "First name"),
    DetailField("reporter", "last_name", "Last name"),
    DetailField("reporter", "phone", "Phone"),
    DetailField("reporter", "legal_url", "Law-enforcement contact page", "url"),
    DetailField("incident", "type", "Incident type", "select"),
    DetailField(
        "incident", "at", "When", hint="ISO time with a zone, e.g. 2026-03-01T10:00:00+05:30"
    ),
    DetailField("incident", "platform", "Platform or service"),
    DetailField("incident", "description", "Summary", "textarea"),
    DetailField("incident", "urls", "URLs", "lines", "one a line"),
    DetailField("incident", "group", "Group or channel"),
    DetailField("reported_person", "esp_identifier", "Account id"),
    DetailField("reported_person", "esp_service", "Service"),
    DetailField("reported_person", "screen_name", "Screen name"),
    DetailField("reported_person", "display_name", "Display name"),
    DetailField("reported_person", "profile_url", "Profile URL", "url"),
    DetailField("reported_person", "email", "E-mail addresses", "lines", "one a line"),
    DetailField("reported_person", "phone", "Phone numbers", "lines", "one a line"),
    DetailField("reported_person", "group_identifier", "Group identifier"),
    DetailField(
        "reported_person",
        "ip_events",
        "IP capture events",
        "textarea",
        "one a line: IP, then any of the event (Login, Registration, Purchase, Upload, Other), "
        "the time with a zone, the port, and 'proxy'; e.g. 203.0.113.7 Upload "
        "2026-03-01T04:30:00Z 443",
    ),
    DetailField("india", "device", "Device where it was noticed (POCSO rule 11)"),
    DetailField("india", "source_device", "Suspected source device (rule 11)"),
    DetailField("india", "platform", "Platform where it was displayed (rule 11)"),
    DetailField("india", "state", "State"),
    DetailField("india", "district", "District"),
    DetailField("india", "police_station", "Police station"),
)
"""The form's fields, in order; grouped by section on the page."""

SECTIONS = {
    "reporter": "Reporter (who files for the organisation)",
    "incident": "Incident",
    "reported_person": "Reported person or account",
    "india": "India (POCSO rule 11, cyber-crime portal)",
}


def details_url(case_id: int) -> str:
    """The form's address for a case."""
    return f"{CONSOLE}/cases/{case_id}/details"


@dataclass(slots=True)
class DetailsForm:
    """The form's context: the case, each field's text, and what was wrong."""

    case_page: CasePage
    values: dict[str, str]
    can_edit: bool
    error: str = ""
    saved: bool = False
    fields: tuple[DetailField, ...] = FIELDS
    sections: dict[str, str] = field(default_factory=lambda: dict(SECTIONS))
    incident_types: tuple[str, ...] = INCIDENT_TYPES


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def _event_line(event: dict[str, Any]) -> str:
    parts = [str(event.get("ip", ""))]
    for key in ("event", "at", "port"):
        if event.get(key) not in (None, ""):
            parts.append(str(event[key]))
    if event.get("possible_proxy"):
        parts.append("proxy")
    return " ".join(parts)


def form_values(details: dict[str, Any]) -> dict[str, str]:
    """Each field's text as the form shows it, from a case's stored details."""
    values = {}
    for f in FIELDS:
        section = details.get(f.section)
        raw = section.get(f.key) if isinstance(section, dict) else None
        if f.key == "ip_events":
            events = raw if isinstance(raw, list) else []
            values[f.name] = "\n".join(_event_line(e) for e in events if isinstance(e, dict))
        else:
            values[f.name] = _text(raw)
    return values


_EVENTS = {name.lower(): name for name in ("Login", "Registration", "Purchase", "Upload", "Other")}


def _parse_event(line: str, number: int) -> dict[str, Any]:
    ip, *rest = line.split()
    event: dict[str, Any] = {"ip": ip}
    for token in rest:
        if token.lower() in _EVENTS:
            event["event"] = _EVENTS[token.lower()]
        elif token.lower() == "proxy":
            event["possible_proxy"] = True
        elif token.isdigit():
            event["port"] = int(token)
        else:
            try:
                when = dt.datetime.fromisoformat(token)
            except ValueError:
                raise InputError(
                    f"IP capture events, line {number}: {token!r} is not an event name, a time "
                    "with a zone, a port or 'proxy'"
                ) from None
            if when.tzinfo is None:
                raise InputError(f"IP capture events, line {number}: the time needs a zone")
            event["at"] = token
    try:
        IpEvent.model_validate(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"IP capture events, line {number}: {first['msg']}") from None
    return event


def parse_form(values: dict[str, str], stored: dict[str, Any]) -> dict[str, Any]:
    """The case's new details: ``stored`` with the form's fields replaced (an empty field
    removes its key); raises InputError naming the first bad field."""
    updated = {k: dict(v) if isinstance(v, dict) else v for k, v in stored.items()}
    for f in FIELDS:
        text = values.get(f.name, "").strip()
        if len(text) > _MAX_FIELD * (_MAX_LIST if f.kind in ("lines", "textarea") else 1):
            raise InputError(f"{f.label}: too long")
        section = updated.get(f.section)
        if not isinstance(section, dict):
            section = updated[f.section] = {}
        value: Any
        if f.key == "ip_events":
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            if len(lines) > _MAX_LIST:
                raise InputError(f"{f.label}: at most {_MAX_LIST} lines")
            value = [_parse_event(ln, n) for n, ln in enumerate(lines, start=1)]
        elif f.kind == "lines":
            value = [ln.strip() for ln in text.splitlines() if ln.strip()][:_MAX_LIST]
        else:
            value = text
        if value in ("", []):
            section.pop(f.key, None)
        else:
            section[f.key] = value
    for name in list(updated):
        if name in SECTIONS and updated[name] == {}:
            del updated[name]
    if values.get("incident.type", "").strip() not in ("", *INCIDENT_TYPES):
        raise InputError("Incident type: choose one of the CyberTipline's types")
    try:
        checked = CaseDetails.model_validate(updated)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][:2])
        label = next((f.label for f in FIELDS if f.name == where), where)
        raise InputError(f"{label}: {first['msg']}") from None
    if checked.incident.at is not None and checked.incident.at.tzinfo is None:
        raise InputError("Incident, When: the time needs a zone (e.g. +05:30 or Z)")
    return updated


def _form(session: Session, who: ConsoleUser, case_id: int) -> DetailsForm:
    page = case_page_data(session, who.organisation_id, case_id)
    return DetailsForm(page, form_values(page.details), who.role.value in EDITORS)


@router.get("/cases/{case_id}/details")
async def details_page(
    request: Request, case_id: int, user: UserDep, saved: bool = False
) -> Response:
    """The case's details for reports: a form for analysts and admins, read-only otherwise."""
    form = await in_session(request, _form, user, case_id)
    form.saved = saved
    return render(
        request, "case_details.html", {"page": form.case_page, "form": form, "tab": "details"}
    )


def _save(session: Session, who: ConsoleUser, case_id: int, values: dict[str, str]) -> Case:
    case = case_service.get_case(session, case_id, organisation_id=who.organisation_id)
    case_service.update_details(
        session, case, parse_form(values, dict(case.details)), actor=who.actor
    )
    return case


@router.post("/cases/{case_id}/details")
async def save_details(request: Request, case_id: int, user: UserDep) -> Response:
    """Save the form (checked as reports check it; audited as ``case.update``)."""
    if user.role.value not in EDITORS:
        raise PermissionDeniedError("case details are changed by an analyst or admin")
    form = await request.form()
    values = {f.name: v for f in FIELDS if isinstance(v := form.get(f.name, ""), str)}
    try:
        await in_session(request, _save, user, case_id, values)
    except InputError as exc:
        page = await in_session(request, _form, user, case_id)
        page.values, page.error = values, exc.message
        return render(
            request,
            "case_details.html",
            {"page": page.case_page, "form": page, "tab": "details"},
            status_code=400,
        )
    return RedirectResponse(f"{details_url(case_id)}?saved=1", status_code=303)
