"""The job queue in the database: enqueue in the caller's transaction, claim, finish, retry.

Claiming is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``: on
PostgreSQL concurrent workers skip each other's rows; on SQLite the statement takes the single
write lock, so claims are serialised. A claim sets a random ``lease``; finishing checks it, so a
worker whose lease ran out (and whose job another worker took over) cannot overwrite the result.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from kavach.jobs.models import Job, JobStatus
from kavach.store.base import utcnow

__all__ = [
    "ClaimedJob",
    "backoff_delay",
    "claim",
    "complete",
    "enqueue",
    "pending_count",
    "retry_or_fail",
    "schedule_once",
]

_MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job leased to one worker until ``locked_until``."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    lease: str
    locked_until: dt.datetime


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    organisation_id: int | None = None,
    max_attempts: int = 10,
    run_at: dt.datetime | None = None,
) -> Job:
    """Add a job in the caller's transaction: it exists exactly when the caller commits."""
    job = Job(
        kind=kind,
        payload=payload,
        organisation_id=organisation_id,
        max_attempts=max_attempts,
        run_at=run_at or utcnow(),
    )
    session.add(job)
    session.flush()
    return job


def schedule_once(session: Session, kind: str, *, delay: float = 0.0) -> None:
    """Make sure one job of ``kind`` is waiting, due ``delay`` seconds from now (none is added
    when one is already pending): how periodic jobs, which reschedule themselves, start."""
    waiting = session.scalar(
        select(Job.id).where(Job.kind == kind, Job.status == JobStatus.PENDING).limit(1)
    )
    if waiting is None:
        enqueue(session, kind, {}, run_at=utcnow() + dt.timedelta(seconds=delay))


def claim(
    session: Session,
    *,
    kinds: list[str] | None = None,
    limit: int = 1,
    lease_seconds: float = 60.0,
    now: dt.datetime | None = None,
) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs (pending and due, or running with an expired lease).

    The caller commits right away so other workers see the lease. ``now`` (default: the real
    time) decides what is due; tests that drive schedules by a clock of their own pass it.
    """
    now = now or utcnow()
    due = or_(
        and_(Job.status == JobStatus.PENDING, Job.run_at <= now),
        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
    )
    candidates = select(Job.id).where(due).order_by(Job.run_at, Job.id).limit(limit)
    if kinds:
        candidates = candidates.where(Job.kind.in_(kinds))
    lease = secrets.token_hex(8)
    until = now + dt.timedelta(seconds=lease_seconds)
    stmt = update(Job)
    if session.get_bind().dialect.name == "postgresql":
        # A CTE runs once: inside IN (...) PostgreSQL may re-run a LIMIT … SKIP LOCKED subquery
        # per row and claim more than `limit` jobs.
        chosen = candidates.with_for_update(skip_locked=True).cte("claimable")
        stmt = stmt.where(Job.id == chosen.c.id)
    else:
        # SQLite: the UPDATE takes the single write lock before it reads, so claims serialise.
        stmt = stmt.where(Job.id.in_(candidates.scalar_subquery()))
    stmt = (
        stmt.where(due)
        .values(
            status=JobStatus.RUNNING,
            lease=lease,
            locked_until=until,
            attempts=Job.attempts + 1,
            updated_at=now,
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(stmt).all()
    return sorted(
        (
            ClaimedJob(
                id=row.id,
                kind=row.kind,
                payload=dict(row.payload),
                attempts=row.attempts,
                max_attempts=row.max_attempts,
                lease=lease,
                locked_until=until,
            )
            for row in rows
        ),
        key=lambda job: job.id,
    )


def complete(session: Session, job: ClaimedJob) -> bool:
    """Mark a leased job done; False when the lease was lost (another worker owns it now)."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.lease == job.lease, Job.status == JobStatus.RUNNING)
        .values(
            status=JobStatus.DONE,
            finished_at=now,
            locked_until=None,
            last_error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def retry_or_fail(
    session: Session,
    job: ClaimedJob,
    error: str,
    *,
    base_delay: float = 2.0,
    max_delay: float = 3600.0,
    permanent: bool = False,
) -> JobStatus | None:
    """Schedule the next attempt with exponential backoff, or fail the job for good.

    Returns the new status, or None when the lease was lost.
    """
    now = utcnow()
    give_up = permanent or job.attempts >= job.max_attempts
    values: dict[str, Any] = {
        "last_error": error[:_MAX_ERROR],
        "locked_until": None,
        "updated_at": now,
    }
    if give_up:
        values.update(status=JobStatus.FAILED, finished_at=now)
    else:
        delay = backoff_delay(job.attempts, base_delay, max_delay)
        values.update(status=JobStatus.PENDING, run_at=now + dt.timedelta(seconds=delay))
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.lease == job.lease, Job.status == JobStatus.RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return JobStatus.FAILED if give_up else JobStatus.PENDING


def backoff_delay(attempts: int, base_delay: float = 2.0, max_delay: float = 3600.0) -> float:
    """Seconds before attempt ``attempts + 1``: base·2^(attempts−1), capped, with ±25% jitter.

    Jitter keeps many failed deliveries to one host from retrying in lockstep.
    """
    raw = min(base_delay * (2 ** max(attempts - 1, 0)), max_delay)
    return float(raw * random.uniform(0.75, 1.25))


def pending_count(session: Session) -> int:
    """Jobs waiting or running (the queue depth)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.status.in_([JobStatus.PENDING, JobStatus.RUNNING]))
        )
        or 0
    )
