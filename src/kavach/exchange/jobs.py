"""Exchange work for ``kavach worker``: the periodic sync, and referral delivery.

The sync job publishes our own feeds, pulls every peer's, and reschedules itself
(``KAVACH_EXCHANGE_INTERVAL`` seconds later, default 300); ``kavach exchange peer add`` enqueues
the first one. Handlers never raise for a peer's fault (that is recorded on the peer), so the
schedule survives unreachable peers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from kavach.config import get_settings, interval_seconds
from kavach.errors import NotFoundError
from kavach.exchange import referrals
from kavach.exchange.feeds import publish, shared_banks
from kavach.exchange.identity import NodeIdentity, load_identity
from kavach.exchange.sync import sync_all
from kavach.jobs.queue import ClaimedJob, schedule_once
from kavach.store.db import session_scope

__all__ = ["SYNC_JOB", "handlers", "schedule_sync", "sync_interval"]

log = logging.getLogger(__name__)

SYNC_JOB = "exchange.sync"
Handler = Callable[[ClaimedJob], None]


def sync_interval() -> float:
    """Seconds between syncs (``KAVACH_EXCHANGE_INTERVAL``, default 300)."""
    return interval_seconds("KAVACH_EXCHANGE_INTERVAL", 300.0)


def schedule_sync(session: Session, *, delay: float = 0.0) -> None:
    """Make sure one sync job is waiting (none is added when one is already pending)."""
    schedule_once(session, SYNC_JOB, delay=delay)


def handlers(
    factory: sessionmaker[Session], client: httpx.Client, data_dir: Path | None = None
) -> dict[str, Handler]:
    """The exchange job handlers; a node without an identity skips exchange jobs."""
    cached: list[NodeIdentity] = []

    def identity() -> NodeIdentity | None:
        if not cached:
            try:
                cached.append(load_identity(data_dir or get_settings().data_dir))
            except NotFoundError:
                return None
        return cached[0]

    def sync(job: ClaimedJob) -> None:
        me = identity()
        try:
            if me is not None:
                # Our own feeds first, so peers' page requests rarely have to publish a backlog.
                with session_scope(factory) as session:
                    for bank in shared_banks(session, me, None):
                        publish(session, bank, me)
                for report in sync_all(factory, client, me):
                    if not report.ok:
                        log.warning(
                            "exchange sync of %s: %s", report.peer, report.errors + report.alarms
                        )
        finally:
            with session_scope(factory) as session:
                schedule_sync(session, delay=sync_interval())

    def send(job: ClaimedJob) -> None:
        me = identity()
        if me is None:
            raise NotFoundError("this node has no exchange identity")
        with session_scope(factory) as session:
            referrals.deliver_referral(session, client, me, int(job.payload["referral_id"]))

    def status(job: ClaimedJob) -> None:
        me = identity()
        if me is None:
            raise NotFoundError("this node has no exchange identity")
        with session_scope(factory) as session:
            referrals.deliver_status(
                session, client, me, int(job.payload["referral_id"]), int(job.payload["index"])
            )

    return {SYNC_JOB: sync, referrals.SEND_JOB: send, referrals.STATUS_JOB: status}
