"""CyberTipline XML: built from a case, valid against the schema; broken documents refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy.orm import Session

from kavach.errors import InputError
from kavach.reports import ncmec
from kavach.reports.details import case_details
from tests.reports.helpers import confirmed_case
from tests.support.testdata import shared_testdata

PACKAGED_XSD = Path(ncmec.__file__).parent / "schema" / "cyber_tipline.xsd"


def _schema() -> etree.XMLSchema:
    # The copy shipped in the package, which the next test holds equal to the published one.
    return etree.XMLSchema(etree.parse(str(PACKAGED_XSD)))


def test_packaged_schema_is_the_published_one() -> None:
    shared = shared_testdata() / "ncmec" / "cyber_tipline.xsd"
    assert PACKAGED_XSD.read_bytes() == shared.read_bytes()


def test_report_validates_and_carries_the_case(session: Session) -> None:
    case, items, _ = confirmed_case(session)
    document = ncmec.report_for_case(session, case, case_details(case))
    ncmec.validate(document, _schema())
    root = etree.fromstring(document)
    assert root.findtext("incidentSummary/incidentDateTime") == "2026-03-01T04:30:00Z"
    assert root.findtext("incidentSummary/platform") == "ExampleChat"
    assert root.findtext("reporter/reportingPerson/email") == "safety@example.org"
    who = root.find("personOrUserReported")
    assert who is not None
    assert who.findtext("groupIdentifier") == "group-4411"
    assert who.findtext("ipCaptureEvent/ipAddress") == "203.0.113.7"
    assert who.findtext("ipCaptureEvent/eventName") == "Upload"
    assert who.findtext("deviceId/idType") == "IMEI"
    info = root.findtext("additionalInfo") or ""
    assert items[0].hashes["sha256"] in info  # no file uploaded: reported by hash
    assert "industry:A2" in info


def test_file_details_validate_with_viewed_flag_and_hashes(session: Session) -> None:
    _, items, _ = confirmed_case(session)
    for item, viewed in zip(items, ("true", "false"), strict=True):
        document = ncmec.build_file_details(item, report_id=42, file_id="f1")
        ncmec.validate(document, _schema())
        root = etree.fromstring(document)
        assert root.findtext("fileViewedByEsp") == viewed
        assert root.findtext("industryClassification") == "A2"
        assert root.findtext("originalFileName") == item.attributes["file_name"]
        found = {h.get("hashType"): h.text for h in root.iter("originalFileHash")}
        assert found == {
            "MD5": item.hashes["md5"],
            "SHA1": item.hashes["sha1"],
            "SHA256": item.hashes["sha256"],
        }


def test_a_broken_report_fails_validation(session: Session) -> None:
    case, _, _ = confirmed_case(session)
    root = etree.fromstring(ncmec.report_for_case(session, case, case_details(case)))
    summary = root.find("incidentSummary")
    assert summary is not None
    summary.remove(summary.find("incidentDateTime"))  # type: ignore[arg-type]
    with pytest.raises(ncmec.ReportValidationError) as caught:
        ncmec.validate(etree.tostring(root), _schema())
    assert "incidentDateTime" in str(caught.value)
    with pytest.raises(ncmec.ReportValidationError, match="well-formed"):
        ncmec.validate(b"<report>")


def test_report_needs_confirmed_items_reporter_and_known_type(session: Session) -> None:
    case, _, _ = confirmed_case(session)
    case.details = {**case.details, "reporter": None}
    with pytest.raises(InputError, match="no reporter"):
        ncmec.report_for_case(session, case, case_details(case))
    case.details = {**case.details, "incident": {"type": "something else"}}
    with pytest.raises(InputError, match="CyberTipline types"):
        case_details(case)
    case.details = {"reported_person": {"ip_events": [{"ip": "1.2.3.4", "port": 70000}]}}
    with pytest.raises(InputError, match="port"):
        case_details(case)
