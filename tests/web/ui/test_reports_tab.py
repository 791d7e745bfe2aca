"""The case's Reports tab in-process: generate each format, submit (queue) the NCMEC report."""

from __future__ import annotations

import hashlib
import json

from fastapi import FastAPI
from sqlalchemy import Engine, select

from kavach import audit
from kavach.evidence import Vault
from kavach.jobs.models import Job
from kavach.reports.models import CaseReport, ReportStatus
from kavach.reports.ncmec import validate
from kavach.store.db import make_session_factory, session_scope
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
