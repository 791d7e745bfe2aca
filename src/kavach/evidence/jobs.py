"""Evidence retention for ``kavach worker``: a daily job that destroys expired evidence.

The job reschedules itself (``KAVACH_EVIDENCE_EXPIRY_INTERVAL`` seconds later, default one day),
so retention is enforced without a separate timer. Evidence off: the job only reschedules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from kavach.config import interval_seconds
from kavach.jobs.queue import ClaimedJob, schedule_once
from kavach.store.db import session_scope

__all__ = ["EXPIRE_JOB", "expiry_interval", "handlers", "schedule_expiry"]

log = logging.getLogger(__name__)

EXPIRE_JOB = "evidence.expire"
Handler = Callable[[ClaimedJob], None]


def expiry_interval(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between expiry runs (``KAVACH_EVIDENCE_EXPIRY_INTERVAL``, default 86400)."""
    return interval_seconds("KAVACH_EVIDENCE_EXPIRY_INTERVAL", 86400.0, environ)


def schedule_expiry(session: Session, *, delay: float = 0.0) -> None:
    """Make sure one expiry job is waiting (none is added when one is already pending)."""
    schedule_once(session, EXPIRE_JOB, delay=delay)


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
