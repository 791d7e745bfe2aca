"""The case's Reports tab in-process: generate each format, submit (queue) the NCMEC report."""

from __future__ import annotations

import hashlib
import json

from fastapi import FastAPI
from sqlalchemy import Engine, select

from kavach import audit
from kavach.banks.service import ensure_organisation
from kavach.cases import service
from kavach.evidence import Vault
from kavach.jobs.models import Job
from kavach.reports.details import INCIDENT_TYPES, case_details
from kavach.reports.models import CaseReport, ReportStatus
from kavach.reports.ncmec import validate
from kavach.store.db import make_session_factory, session_scope
from tests.cases.helpers import add_file
from tests.web.helpers import jpeg
from tests.web.ui.client import TestClient
from tests.web.ui.conftest import csrf_of, login
from tests.web.ui.seed import confirm, seed_case


def test_generate_every_format_and_queue_the_ncmec_report(
    client: TestClient, app: FastAPI, engine: Engine, vault: Vault
) -> None:
    seeded = seed_case(engine, vault, tag="reports")
    confirm(engine, seeded.item_ids[:2])
    login(client, "alice")
    tab = client.get(f"/console/cases/{seeded.case_id}/reports")
    assert tab.template.name == "reports.html"  # type: ignore[attr-defined]
    assert "no-reports" in tab.text
    assert 'id="submit-ncmec"' not in tab.text  # reviewers generate; analysts submit
    token = csrf_of(tab.text)
    made: dict[str, bytes] = {}
    for fmt in ("ncmec", "india", "india-csv", "vics", "html"):
        answer = client.post(
            f"/console/cases/{seeded.case_id}/reports/generate",
            data={"format": fmt, "csrf_token": token},
        )
        assert answer.status_code == 200, (fmt, answer.context.get("message"))  # type: ignore[attr-defined]
        assert answer.headers["content-disposition"].startswith("attachment;")
        made[fmt] = answer.content
    validate(made["ncmec"])
    # No file is sent from here (the worker uploads retained ones): hashes name the items.
    first = hashlib.sha256(jpeg(1, (96, 72))).hexdigest()
    assert first in made["ncmec"].decode()
    assert json.loads(made["india"])["case"]
    assert json.loads(made["vics"].decode("utf-8-sig"))["value"]
    assert b"<html" in made["html"].lower()
    forged = client.post(
        f"/console/cases/{seeded.case_id}/reports/generate", data={"format": "vics"}
    )
    assert forged.status_code == 403
    assert (
        client.post(
            f"/console/cases/{seeded.case_id}/reports/ncmec/submit", data={"csrf_token": token}
        ).status_code
        == 403
    )

    client.cookies.clear()
    login(client, "carol")
    tab = client.get(f"/console/cases/{seeded.case_id}/reports")
    sent = client.post(
        f"/console/cases/{seeded.case_id}/reports/ncmec/submit",
        data={"csrf_token": csrf_of(tab.text)},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    tab = client.get(sent.headers["location"])
    reports = tab.context["t"].reports  # type: ignore[attr-defined]
    assert reports[0].status is ReportStatus.QUEUED
    assert 'hx-trigger="every 3s"' in tab.text
    with session_scope(make_session_factory(engine)) as session:
        rows = session.scalars(select(CaseReport).where(CaseReport.case_id == seeded.case_id)).all()
        digests = {r.document_sha256 for r in rows}
        assert hashlib.sha256(made["ncmec"]).hexdigest() in digests
        assert len(rows) == 6
        jobs = session.scalars(select(Job).where(Job.kind == "report.ncmec")).all()
        assert len(jobs) == 1
        generated = audit.records(session, action="report.generated", actor="user:alice")
        assert len(generated) == 5


def _case_without_details(engine: Engine) -> int:
    """A case in Org A with one confirmed item and no details (as an API verdict opens it)."""
    with session_scope(make_session_factory(engine)) as session:
        org = ensure_organisation(session, "Org A")
        case = service.open_case(session, organisation_id=org.id, source="api", title="bare")
        item = add_file(session, case, "details-form-item")
        case_id, item_id = case.id, item.id
    confirm(engine, [item_id])
    return case_id


def test_missing_details_are_named_and_filled_in_on_the_details_form(
    client: TestClient, engine: Engine
) -> None:
    case_id = _case_without_details(engine)
    login(client, "carol")
    tab = client.get(f"/console/cases/{case_id}/reports")
    assert "reporter.email" in tab.text
    assert f'href="/console/cases/{case_id}/details" id="fill-details"' in tab.text
    assert "pocso_rule_11.device" in tab.text
    refused = client.post(
        f"/console/cases/{case_id}/reports/generate",
        data={"format": "ncmec", "csrf_token": csrf_of(tab.text)},
    )
    assert refused.status_code == 400
    assert refused.template.name == "reports.html"  # type: ignore[attr-defined]
    assert "has no reporter" in refused.text
    assert 'href="#readiness"' in refused.text

    form = client.get(f"/console/cases/{case_id}/details")
    assert form.context["form"].can_edit  # type: ignore[attr-defined]
    fields = {
        "csrf_token": csrf_of(form.text),
        "reporter.email": "safety@example.org",
        "reporter.first_name": "Asha",
        "incident.type": INCIDENT_TYPES[0],
        "incident.at": "2026-03-01T10:00:00+05:30",
        "incident.urls": "https://chat.example/g/4411\n\n",
        "reported_person.esp_identifier": "u-991",
        "reported_person.group_identifier": "group-4411",
        "reported_person.ip_events": "203.0.113.7 Upload 2026-03-01T04:30:00Z 443\n"
        "198.51.100.2 login proxy",
        "india.device": "phone",
    }
    bad = client.post(
        f"/console/cases/{case_id}/details", data={**fields, "incident.at": "2026-03-01T10:00"}
    )
    assert bad.status_code == 400
    assert "needs a zone" in bad.text
    assert 'value="safety@example.org"' in bad.text  # what was typed is kept
    bad = client.post(
        f"/console/cases/{case_id}/details",
        data={**fields, "reported_person.ip_events": "203.0.113.7 yesterday"},
    )
    assert "IP capture events, line 1" in bad.text
    saved = client.post(f"/console/cases/{case_id}/details", data=fields, follow_redirects=False)
    assert saved.status_code == 303
    assert 'id="saved"' in client.get(saved.headers["location"]).text
    with session_scope(make_session_factory(engine)) as session:
        case = service.get_case(session, case_id)
        details = case_details(case)
        assert details.reporter is not None
        assert details.reporter.email == "safety@example.org"
        assert details.incident.urls == ["https://chat.example/g/4411"]
        person = details.reported_person
        assert person is not None
        assert person.group_identifier == "group-4411"
        assert [(e.ip, e.event, e.port, e.possible_proxy) for e in person.ip_events] == [
            ("203.0.113.7", "Upload", 443, None),
            ("198.51.100.2", "Login", None, True),
        ]
        updates = audit.records(session, subject=f"case:{case_id}", action="case.update")
        assert [r.actor for r in updates] == ["user:carol"]
    # The form shows what was saved, and the NCMEC report is made now.
    form = client.get(f"/console/cases/{case_id}/details")
    assert "198.51.100.2 Login proxy" in form.text
    made = client.post(
        f"/console/cases/{case_id}/reports/generate",
        data={"format": "ncmec", "csrf_token": csrf_of(form.text)},
    )
    assert made.status_code == 200
    validate(made.content)
    assert b"<groupIdentifier>group-4411</groupIdentifier>" in made.content

    # Reviewers read the details but may not change them; no token, no change either.
    client.cookies.clear()
    login(client, "alice")
    form = client.get(f"/console/cases/{case_id}/details")
    assert not form.context["form"].can_edit  # type: ignore[attr-defined]
    assert 'id="save-details"' not in form.text
    denied = client.post(
        f"/console/cases/{case_id}/details",
        data={**fields, "csrf_token": csrf_of(form.text), "reporter.email": "x@example.org"},
    )
    assert denied.status_code == 403
    client.cookies.clear()
    login(client, "carol")
    assert (
        client.post(
            f"/console/cases/{case_id}/details", data=fields | {"csrf_token": ""}
        ).status_code
        == 403
    )
