"""The job table: enqueue, claim (no job twice), finish, backoff, leases that run out."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import Engine, select

from kavach.errors import AuthenticationError
from kavach.jobs import queue
from kavach.jobs.models import Job, JobStatus
from kavach.jobs.webhooks import sign, verify
from kavach.store.base import utcnow
from kavach.store.db import make_session_factory, session_scope


def _enqueue(engine: Engine, n: int, **kwargs: object) -> list[int]:
    with session_scope(make_session_factory(engine)) as session:
        return [queue.enqueue(session, "test", {"n": i}, **kwargs).id for i in range(n)]  # type: ignore[arg-type]


def _claim(engine: Engine, **kwargs: object) -> list[queue.ClaimedJob]:
    with session_scope(make_session_factory(engine)) as session:
        return queue.claim(session, **kwargs)  # type: ignore[arg-type]


def _status(engine: Engine, job_id: int) -> Job:
    with make_session_factory(engine)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_claim_hands_each_job_out_once(clean: Engine) -> None:
    ids = _enqueue(clean, 5)
    first = _claim(clean, limit=3)
    second = _claim(clean, limit=3)
    assert [j.id for j in first] == ids[:3]
    assert [j.id for j in second] == ids[3:]
    assert _claim(clean, limit=3) == []
    assert all(j.attempts == 1 for j in first + second)


def test_concurrent_claims_never_overlap(clean: Engine) -> None:
    # Two transactions open at once: on PostgreSQL the second skips the rows the first locked;
    # on SQLite the second waits for the single writer and then sees them taken.
    ids = _enqueue(clean, 6)
    factory = make_session_factory(clean)
    s1, s2 = factory(), factory()
    try:
        a = queue.claim(s1, limit=4)
        if clean.dialect.name == "postgresql":
            b = queue.claim(s2, limit=4)
            s1.commit()
            s2.commit()
        else:
            s1.commit()
            b = queue.claim(s2, limit=4)
            s2.commit()
    finally:
        s1.close()
        s2.close()
    got = [j.id for j in a] + [j.id for j in b]
    assert sorted(got) == ids
    assert len(set(got)) == len(got)


def test_complete_retry_and_fail(clean: Engine) -> None:
    [job_id] = _enqueue(clean, 1, max_attempts=2)
    factory = make_session_factory(clean)
    [job] = _claim(clean)
    with session_scope(factory) as session:
        status = queue.retry_or_fail(session, job, "boom", base_delay=10)
    assert status is JobStatus.PENDING
    row = _status(clean, job_id)
    assert row.last_error == "boom"
    assert dt.timedelta(seconds=7) < row.run_at - utcnow() < dt.timedelta(seconds=13)
    assert _claim(clean) == []  # not due yet
    with session_scope(factory) as session:
        session.get(Job, job_id).run_at = utcnow()  # type: ignore[union-attr]
    [again] = _claim(clean)
    assert again.attempts == 2
    with session_scope(factory) as session:
        assert queue.retry_or_fail(session, again, "boom again") is JobStatus.FAILED
    assert _status(clean, job_id).status is JobStatus.FAILED

    [done_id] = _enqueue(clean, 1)
    [job] = _claim(clean)
    with session_scope(factory) as session:
        assert queue.complete(session, job)
    assert _status(clean, done_id).status is JobStatus.DONE


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_finish(clean: Engine) -> None:
    [job_id] = _enqueue(clean, 1)
    [old] = _claim(clean, lease_seconds=0.2)
    assert _claim(clean) == []
    time.sleep(0.3)
    [new] = _claim(clean, lease_seconds=60)
    assert new.id == job_id
    assert new.attempts == 2
    assert new.lease != old.lease
    factory = make_session_factory(clean)
    with session_scope(factory) as session:
        assert not queue.complete(session, old)
        assert queue.retry_or_fail(session, old, "late") is None
        assert queue.complete(session, new)
    with factory() as session:
        assert session.scalar(select(Job.status).where(Job.id == job_id)) is JobStatus.DONE


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    for attempt, expected in [(1, 2.0), (2, 4.0), (5, 32.0), (30, 3600.0)]:
        delay = queue.backoff_delay(attempt)
        assert 0.75 * expected <= delay <= 1.25 * expected


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"id":"evt_1"}'
    header = sign("whsec_x", body)
    assert verify("whsec_x", body, header) > 0
    with pytest.raises(AuthenticationError):
        verify("whsec_x", body + b" ", header)
    with pytest.raises(AuthenticationError):
        verify("whsec_other", body, header)
    with pytest.raises(AuthenticationError):
        verify("whsec_x", body, sign("whsec_x", body, timestamp=int(time.time()) - 3600))
    with pytest.raises(AuthenticationError):
        verify("whsec_x", body, "garbage")
