"""Submitting to a local fake CyberTipline: the full sequence, retract on failure, outbox retry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach import audit, evidence
from kavach.cases.models import Case, CaseStatus
from kavach.errors import ConfigurationError, InputError
from kavach.jobs.worker import Worker
from kavach.reports.models import CaseReport, ReportStatus
from kavach.reports.submit import (
    NCMEC_JOB,
    NcmecSettings,
    ncmec_client,
    ncmec_handler,
    ncmec_settings,
    queue_ncmec,
)
from kavach.store.db import make_session_factory, session_scope
from tests.reports.fake_ncmec import PASSWORD, USER, FakeState, make_fake
from tests.reports.helpers import confirmed_case, image
from tests.web.helpers import live_server

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, FakeState]]:
    app, state = make_fake()
    with live_server(app) as server:
        yield f"{server.url}/ispws", state


def test_settings_from_environment() -> None:
    assert ncmec_settings({}) is None
    with pytest.raises(ConfigurationError, match="USERNAME"):
        ncmec_settings({"KAVACH_NCMEC_URL": "https://exttest.cybertip.org/ispws"})
    with pytest.raises(ConfigurationError, match="https"):
        ncmec_settings({"KAVACH_NCMEC_URL": "http://example.org/ispws"})


def test_submit_upload_fileinfo_finish_with_retract_and_retry(
    engine: Engine, fake: tuple[str, FakeState], tmp_path: Path
) -> None:
    url, state = fake
    factory = make_session_factory(engine)
    vault = evidence.Vault(tmp_path / "evidence", KEY)
    with session_scope(factory) as session:
        case, items, _ = confirmed_case(session)
        evidence.store(session, vault, items[0], image(100), actor="system")
        report_id = queue_ncmec(session, case, actor="user:analyst").id
        case_id = case.id
    settings = NcmecSettings(url, USER, PASSWORD)
    state.calls.clear()
    state.fail["fileinfo"] = 1
    with ncmec_client(settings, timeout=10) as client:
        handler = ncmec_handler(factory, client, settings, vault=vault)
        worker = Worker(factory, {NCMEC_JOB: handler}, base_delay=0.0, max_delay=0.0)
        assert worker.run_once() == 1
        assert worker.stats.retried == 1
        assert state.calls == ["submit", "upload", "fileinfo", "retract"]
        first = max(state.reports)
        assert state.reports[first]["state"] == "retracted"
        with session_scope(factory) as session:
            report = session.get(CaseReport, report_id)
            assert report is not None
            assert report.status is ReportStatus.QUEUED
            assert "fileinfo" in (report.last_error or "")
            actions = [r.action for r in audit.records(session, subject=f"report:{report_id}")]
            assert actions[:2] == ["report.retry", "report.retract"]
        # The outbox retries: a fresh report goes through.
        state.calls.clear()
        assert worker.run_once() == 1
        assert worker.stats.done == 1
    assert state.calls == ["submit", "upload", "fileinfo", "finish"]
    second = max(state.reports)
    assert state.reports[second]["state"] == "finished"
    (info,) = [f["info"] for f in state.reports[second]["files"].values()]  # type: ignore[attr-defined]
    assert info.findtext("fileViewedByEsp") == "true"
    assert info.findtext("industryClassification") == "A2"
    with session_scope(factory) as session:
        report = session.get(CaseReport, report_id)
        assert report is not None
        assert report.status is ReportStatus.SUBMITTED
        assert report.remote_id == str(second)
        case_now = session.get(Case, case_id)
        assert case_now is not None
        assert case_now.status is CaseStatus.REPORTED
        assert audit.verify(session) == []


def test_wrong_credentials_fail_and_nothing_is_left_open(
    engine: Engine, fake: tuple[str, FakeState]
) -> None:
    url, _ = fake
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        case, _, _ = confirmed_case(session, files=1)
        report_id = queue_ncmec(session, case, actor="user:analyst").id
    settings = NcmecSettings(url, USER, "wrong")
    with ncmec_client(settings, timeout=10) as client:
        worker = Worker(factory, {NCMEC_JOB: ncmec_handler(factory, client, settings)})
        worker.run_once()
    assert worker.stats.retried == 1
    with session_scope(factory) as session:
        report = session.get(CaseReport, report_id)
        assert report is not None
        assert "not authorised" in (report.last_error or "")


def test_a_case_without_confirmed_items_is_not_queued(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        case, _, _ = confirmed_case(session, files=0)
        with pytest.raises(InputError, match="no confirmed item"):
            queue_ncmec(session, case, actor="user:analyst")
