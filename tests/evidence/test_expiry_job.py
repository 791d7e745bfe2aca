"""The worker's daily evidence expiry: due evidence destroyed, the next run always scheduled."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from kavach import evidence
from kavach.banks.service import ensure_organisation
from kavach.cases import service
from kavach.demo.scenes import encode, scene
from kavach.errors import ConfigurationError
from kavach.evidence.jobs import EXPIRE_JOB, expiry_interval, handlers, schedule_expiry
from kavach.evidence.models import EvidenceBlob
from kavach.jobs.models import Job, JobStatus
from kavach.jobs.worker import Worker
from kavach.store.base import utcnow
from kavach.store.db import make_session_factory, session_scope
from kavach.store.testing import clear_tables

ENV = {"KAVACH_EVIDENCE": "1", "KAVACH_EVIDENCE_KEY": base64.b64encode(bytes(32)).decode()}


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield make_session_factory(engine)
    clear_tables(engine)


def _pending(factory: sessionmaker[Session]) -> list[Job]:
    with factory() as session:
        return list(
            session.scalars(
                select(Job).where(Job.kind == EXPIRE_JOB, Job.status == JobStatus.PENDING)
            )
        )


def test_the_expiry_job_destroys_due_evidence_and_reschedules(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    vault = evidence.vault_from_env(tmp_path, ENV)
    data = encode(scene(64, 48, seed=5), "JPEG")
    with session_scope(factory) as session:
        org = ensure_organisation(session, "Platform")
        case = service.open_case(session, organisation_id=org.id, source="api", title="t")
        item = service.add_item(
            session, case, kind="file", hashes={"sha256": hashlib.sha256(data).hexdigest()}
        )
        due = evidence.store(session, vault, item, data, actor="system", media_type="image/jpeg")
        due.retain_until = utcnow() - dt.timedelta(minutes=1)
        due_id = due.id
        schedule_expiry(session)
        schedule_expiry(session)  # idempotent: one waiting job
    assert len(_pending(factory)) == 1
    worker = Worker(factory, handlers(factory, tmp_path, ENV))
    assert worker.run_once()
    with factory() as session:
        blob = session.get(EvidenceBlob, due_id)
        assert blob is not None
        assert blob.destroyed_at is not None
    assert not [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    [following] = _pending(factory)
    assert following.run_at - utcnow() > dt.timedelta(hours=23)


def test_with_evidence_off_the_job_only_reschedules(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(factory) as session:
        schedule_expiry(session)
    worker = Worker(factory, handlers(factory, tmp_path, {"KAVACH_EVIDENCE_EXPIRY_INTERVAL": "60"}))
    assert worker.run_once()
    [following] = _pending(factory)
    assert dt.timedelta(seconds=30) < following.run_at - utcnow() <= dt.timedelta(seconds=60)
    with pytest.raises(ConfigurationError, match="positive"):
        expiry_interval({"KAVACH_EVIDENCE_EXPIRY_INTERVAL": "0"})
