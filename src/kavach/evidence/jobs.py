"""Evidence retention for ``kavach worker``: a daily job that destroys expired evidence.

The job reschedules itself (``KAVACH_EVIDENCE_EXPIRY_INTERVAL`` seconds later, default one day),
so retention is enforced without a separate timer. Evidence off: the job only reschedules.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kavach.errors import ConfigurationError
from kavach.jobs.models import Job, JobStatus
from kavach.jobs.queue import ClaimedJob, enqueue
from kavach.store.base import utcnow
from kavach.store.db import session_scope

__all__ = ["EXPIRE_JOB", "expiry_interval", "handlers", "schedule_expiry"]

log = logging.getLogger(__name__)

EXPIRE_JOB = "evidence.expire"
Handler = Callable[[ClaimedJob], None]


def expiry_interval(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between expiry runs (``KAVACH_EVIDENCE_EXPIRY_INTERVAL``, default 86400)."""
    env = os.environ if environ is None else environ
    raw = env.get("KAVACH_EVIDENCE_EXPIRY_INTERVAL", "").strip()
    try:
        value = float(raw) if raw else 86400.0
    except ValueError:
        raise ConfigurationError(
            "KAVACH_EVIDENCE_EXPIRY_INTERVAL must be a number of seconds"
        ) from None
    if value <= 0:
        raise ConfigurationError("KAVACH_EVIDENCE_EXPIRY_INTERVAL must be positive")
    return value


def schedule_expiry(session: Session, *, delay: float = 0.0) -> None:
    """Make sure one expiry job is waiting (none is added when one is already pending)."""
    waiting = session.scalar(
        select(Job.id).where(Job.kind == EXPIRE_JOB, Job.status == JobStatus.PENDING).limit(1)
    )
    if waiting is None:
        enqueue(session, EXPIRE_JOB, {}, run_at=utcnow() + dt.timedelta(seconds=delay))


def handlers(
    factory: sessionmaker[Session],
    data_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Handler]:
    """The evidence job handlers (the expiry run)."""

    def expire_due(job: ClaimedJob) -> None:
        from kavach.config import get_settings
        from kavach.evidence.store import evidence_enabled, expire, vault_from_env

        env = os.environ if environ is None else environ
        try:
            if evidence_enabled(env):
                vault = vault_from_env(data_dir or get_settings(env).data_dir, env)
                with session_scope(factory) as session:
                    destroyed = expire(session, vault)
                if destroyed:
                    log.info("evidence retention: %d expired item(s) destroyed", destroyed)
        finally:
            with session_scope(factory) as session:
                schedule_expiry(session, delay=expiry_interval(env))

    return {EXPIRE_JOB: expire_due}
