"""India export, VICS case export (read back by our reader) and the printable HTML report."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

from sqlalchemy.orm import Session

from kavach import evidence
from kavach.banks.formats import ReadOptions, get_format
from kavach.banks.formats.base import HashRecord
from kavach.cases import service
from kavach.reports.html import case_context, render_case
from kavach.reports.india import CSV_COLUMNS, india_csv, india_json, india_report
from kavach.reports.vics import vics_export
from kavach.signals.types import SignalType
from tests.reports.helpers import confirmed_case, image


def test_india_export_has_rule_11_and_portal_fields(session: Session) -> None:
    case, items, _ = confirmed_case(session)
    report = india_report(session, case)
    assert report["pocso_rule_11"] == {
        "device": "Android phone (seized)",
        "source_device": "uploader's phone",
        "platform": "ExampleChat",
    }
    portal = report["ncrp"]
    assert portal["incident_datetime"] == "2026-03-01T10:00:00+05:30"
    assert portal["group"] == "group-4411"
    assert portal["suspect"]["name"] == "unknown"
    assert portal["description"] == "Known images shared in a group."
    assert report["missing"] == []
    assert [i["item"] for i in report["items"]] == [i.id for i in items]
    assert json.loads(india_json(report))["case"]["name"] == "exhibit-1"
    rows = list(csv.DictReader(io.StringIO(india_csv(report).decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["sha256"] == items[0].hashes["sha256"]
    assert rows[0]["viewed_by_person"] == "yes"
    assert rows[1]["viewed_by_person"] == "no"
    # What is still empty is named, so the person filing knows what to add.
    case.details = {"incident": {}}
    missing = india_report(session, case)["missing"]
    assert "pocso_rule_11.device" in missing
    assert "ncrp.urls_or_group" in missing


def test_vics_export_round_trips_through_our_reader(session: Session) -> None:
    case, items, _ = confirmed_case(session)
    undecided = service.add_item(
        session,
        case,
        kind="file",
        hashes={"md5": "ab" * 16},
        matches=[{"bank": "known", "labels": [{"scheme": "vics-us", "value": "2"}]}],
    )
    document = vics_export(session, case)
    parsed = json.loads(document)
    assert parsed["@odata.context"].endswith("/US$metadata#Cases")
    media = parsed["value"][0]["Media"]
    assert [m["MediaID"] for m in media] == [*(i.id for i in items), undecided.id]
    assert media[0]["IsPrecategorized"] is False
    assert media[-1]["IsPrecategorized"] is True
    records = [r for r in get_format("vics").read(io.BytesIO(document), ReadOptions())]
    assert all(isinstance(r, HashRecord) for r in records)
    back = {r.item_id: r for r in records if isinstance(r, HashRecord)}
    first = back[str(items[0].id)]
    assert dict(first.hashes)[SignalType.SHA256].hex() == items[0].hashes["sha256"]
    assert dict(first.hashes)[SignalType.MD5].hex() == items[0].hashes["md5"]
    assert [(lb.scheme, lb.value) for lb in first.labels] == [("vics-us", "1")]
    assert first.attributes["file_names"] == ["IMG_0.jpg"]
    assert "industry:A2" in first.attributes["tags"]
    assert [(lb.scheme, lb.value) for lb in back[str(undecided.id)].labels] == [("vics-us", "2")]
    uk = json.loads(vics_export(session, case, flavour="uk"))
    assert uk["@odata.context"].endswith("/UK$metadata#Cases")


def test_html_report_renders_without_media_unless_retained(
    session: Session, tmp_path: Path
) -> None:
    case, items, _ = confirmed_case(session)
    page = render_case(case_context(session, case, actor="user:examiner")).decode()
    assert "Case exhibit-1" in page
    assert items[0].hashes["sha256"] in page
    assert "industry:A2" in page
    assert "media.reveal" in page  # the audit trail
    assert "<img" not in page
    assert "<script" not in page
    # With retained evidence: a blurred greyscale thumbnail, never the original bytes.
    vault = evidence.Vault(tmp_path / "evidence", bytes(32))
    data = image(100)
    evidence.store(session, vault, items[0], data, actor="system", media_type="image/jpeg")
    page = render_case(case_context(session, case, actor="user:examiner", vault=vault)).decode()
    assert page.count('<img class="thumb"') == 1
    assert base64.b64encode(data).decode()[:200] not in page
    # Values from case details are escaped.
    case.details = {**case.details, "incident": {"description": "<b>x</b>"}}
    page = render_case(case_context(session, case, actor="user:examiner")).decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in page
