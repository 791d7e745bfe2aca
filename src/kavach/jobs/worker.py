"""The worker loop: claim due jobs, run their handler, record the outcome; repeat until stopped.

Several workers (threads or processes, on one machine or many) can share one database: claims
never hand one job to two live workers, and a job whose worker died is taken over when its lease
runs out. Handlers must therefore be idempotent (webhook receivers dedupe by event id).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy.orm import Session, sessionmaker

from kavach.jobs import queue, webhooks
from kavach.jobs.models import JobStatus
from kavach.store.base import utcnow
from kavach.store.db import session_scope

__all__ = ["Handler", "Worker", "WorkerStats", "default_handlers"]

log = logging.getLogger(__name__)

Handler = Callable[[queue.ClaimedJob], None]
"""Runs one job; raises to have it retried (``PermanentDeliveryError``: failed for good)."""


@dataclass(slots=True)
class WorkerStats:
    """What a worker has done since it started."""

    done: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0


def default_handlers(
    session_factory: sessionmaker[Session], client: httpx.Client, *, allow_private: bool = True
) -> dict[str, Handler]:
    """The handlers ``kavach worker`` runs: webhook delivery with ``client``, takedown checks
    and notices (configured from the environment, ``kavach.takedown.settings``), exchange sync
    and referrals, NCMEC report submission and evidence expiry."""

    def webhook(job: queue.ClaimedJob) -> None:
        webhooks.deliver(session_factory, client, job, allow_private=allow_private)

    from kavach.evidence.jobs import handlers as evidence_handlers
    from kavach.exchange.jobs import handlers as exchange_handlers
    from kavach.reports.submit import handlers as report_handlers
    from kavach.takedown.jobs import lazy_handlers as takedown_handlers

    # URL checks and notices; their parts (fetcher, GeoIP, SMTP) are made on the first such job.
    # Exchange: the periodic sync of every peer and referral delivery (node key read lazily).
    return {
        webhooks.WEBHOOK_JOB: webhook,
        **takedown_handlers(session_factory),
        **exchange_handlers(session_factory, client),
        # NCMEC submissions (only when KAVACH_NCMEC_URL is set) and the daily evidence expiry.
        **report_handlers(session_factory),
        **evidence_handlers(session_factory),
    }


@dataclass
class Worker:
    """Drains the job table. ``run`` loops until ``stop`` is set; ``run_once`` does one batch."""

    session_factory: sessionmaker[Session]
    handlers: dict[str, Handler]
    batch: int = 10
    lease_seconds: float = 60.0
    poll_interval: float = 1.0
    base_delay: float = 2.0
    max_delay: float = 3600.0
    stats: WorkerStats = field(default_factory=WorkerStats)
    clock: Callable[[], dt.datetime] = utcnow
    """What time it is when deciding which jobs are due (tests move a clock of their own)."""

    def run_once(self) -> int:
        """Claim and run one batch of due jobs; return how many were claimed."""
        with session_scope(self.session_factory) as session:
            jobs = queue.claim(
                session,
                kinds=list(self.handlers),
                limit=self.batch,
                lease_seconds=self.lease_seconds,
                now=self.clock(),
            )
        for job in jobs:
            self._run(job)
        return len(jobs)

    def run(self, stop: threading.Event, *, max_jobs: int | None = None) -> WorkerStats:
        """Run until ``stop`` is set (or ``max_jobs`` have been claimed); idle waits poll."""
        claimed = 0
        while not stop.is_set():
            try:
                got = self.run_once()
            except Exception:
                # A database hiccup must not end the worker; it retries after the poll wait.
                log.exception("claiming jobs failed")
                got = 0
            claimed += got
            if max_jobs is not None and claimed >= max_jobs:
                break
            if got == 0:
                stop.wait(self.poll_interval)
        return self.stats

    def _run(self, job: queue.ClaimedJob) -> None:
        handler = self.handlers[job.kind]
        error: str | None = None
        permanent = False
        try:
            handler(job)
        except webhooks.PermanentDeliveryError as exc:
            error, permanent = str(exc), True
        except Exception as exc:
            # Any failure of one job is that job's problem: record it and back off.
            error = f"{type(exc).__name__}: {exc}"
        with session_scope(self.session_factory) as session:
            if error is None:
                outcome: JobStatus | None = JobStatus.DONE if queue.complete(session, job) else None
            else:
                outcome = queue.retry_or_fail(
                    session,
                    job,
                    error,
                    base_delay=self.base_delay,
                    max_delay=self.max_delay,
                    permanent=permanent,
                )
        if outcome is JobStatus.DONE:
            self.stats.done += 1
        elif outcome is JobStatus.PENDING:
            self.stats.retried += 1
            log.info("job %d (%s) will be retried: %s", job.id, job.kind, error)
        elif outcome is JobStatus.FAILED:
            self.stats.failed += 1
            log.warning("job %d (%s) failed for good: %s", job.id, job.kind, error)
        else:
            self.stats.lost += 1
            log.warning("job %d: lease expired before it finished; another worker has it", job.id)
