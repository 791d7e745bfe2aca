"""The worker's side of takedown: check a reported URL, send a notice (two job kinds).

Both handlers are idempotent: a check whose schedule was superseded does nothing, and a notice
already marked sent is not sent again. Network work (fetching, RDAP, SMTP) happens outside any
database transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kavach.banks.models import Bank
from kavach.hashing import HashRecord
from kavach.jobs.queue import ClaimedJob
from kavach.match.matcher import Matcher
from kavach.match.models import Match
from kavach.store.base import utcnow
from kavach.store.db import session_scope
from kavach.takedown.attribution import Attributor, GeoDatabase
from kavach.takedown.check import MatchFn, UrlChecker
from kavach.takedown.guard import AddressPolicy, GuardedFetcher, Resolver, system_resolver
from kavach.takedown.models import (
    EventKind,
    ItemStatus,
    Notice,
    NoticePurpose,
    NoticeStatus,
    TakedownItem,
)
from kavach.takedown.notices import NoticeSender, RoutingSender, SmtpSender, WebhookSender
from kavach.takedown.rdap import RdapClient
from kavach.takedown.service import CHECK_JOB, SEND_JOB, Clock, apply_check, event
from kavach.takedown.settings import TakedownSettings, get_takedown_settings

__all__ = ["BankMatcher", "Takedown", "handlers", "lazy_handlers"]

log = logging.getLogger(__name__)


class BankMatcher:
    """Matches against every bank in the database, picking up new and changed banks."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self._matcher: Matcher | None = None
        self._names: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def __call__(self, record: HashRecord) -> list[Match]:
        with self._lock:
            with self._factory() as session:
                names = tuple(session.scalars(select(Bank.name).order_by(Bank.name)))
            if not names:
                return []
            if self._matcher is None or names != self._names:
                self._matcher, self._names = Matcher(self._factory, names), names
                self._matcher.load()
            else:
                self._matcher.refresh()
            return self._matcher.match_record(record)


@dataclass
class Takedown:
    """Everything the takedown jobs need, made once per worker."""

    session_factory: sessionmaker[Session]
    settings: TakedownSettings
    checker: UrlChecker
    attributor: Attributor
    sender: NoticeSender
    clock: Clock = utcnow
    closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        session_factory: sessionmaker[Session],
        settings: TakedownSettings,
        *,
        match: MatchFn | None = None,
        resolver: Resolver = system_resolver,
        clock: Clock = utcnow,
        sender: NoticeSender | None = None,
        rdap_client: httpx.Client | None = None,
    ) -> Takedown:
        """Wire the parts from ``settings``; the arguments replace parts (tests)."""
        policy = AddressPolicy(settings.fetch_allow_networks)
        client = GuardedFetcher.make_client(
            proxy=settings.fetch_proxy, timeout=settings.fetch_timeout
        )
        fetcher = GuardedFetcher(
            client,
            policy,
            resolver=resolver,
            max_bytes=settings.fetch_max_bytes,
            timeout=settings.fetch_timeout,
            proxied=settings.fetch_proxy is not None,
        )
        closers: list[Callable[[], None]] = [client.close]
        geo = None
        if settings.geoip_country_db or settings.geoip_asn_db:
            geo = GeoDatabase(settings.geoip_country_db, settings.geoip_asn_db)
            closers.append(geo.close)
        rdap = None
        if settings.rdap_url:
            if rdap_client is None:
                rdap_client = httpx.Client(timeout=10.0, trust_env=False)
                closers.append(rdap_client.close)
            rdap = RdapClient(rdap_client, settings.rdap_url)
        if sender is None:
            hook_client = httpx.Client(timeout=15.0, follow_redirects=False, trust_env=False)
            closers.append(hook_client.close)
            sender = RoutingSender(SmtpSender(settings), WebhookSender(hook_client, policy))
        checker = UrlChecker(
            fetcher, match or BankMatcher(session_factory), max_media=settings.fetch_max_media
        )
        return cls(
            session_factory=session_factory,
            settings=settings,
            checker=checker,
            attributor=Attributor(fetcher, geo, rdap),
            sender=sender,
            clock=clock,
            closers=closers,
        )

    def close(self) -> None:
        for close in reversed(self.closers):
            close()

    # -- handlers ----------------------------------------------------------------------------

    def check(self, job: ClaimedJob) -> None:
        """Check one item's URL and apply the outcome (a superseded schedule does nothing)."""
        item_id = int(job.payload["item_id"])
        due = job.payload.get("due")
        with session_scope(self.session_factory) as session:
            item = session.get(TakedownItem, item_id)
            if item is None or not _current(item, due):
                return
            url, host, status = item.url, item.host, item.status
        result = self.checker.check(url)
        attribution = None
        if result.live and status is not ItemStatus.CONFIRMED:
            with session_scope(self.session_factory) as session:
                attribution = self.attributor.attribute(session, host, ip=result.address)
        with session_scope(self.session_factory) as session:
            item = session.get(TakedownItem, item_id)
            if item is None or not _current(item, due):
                return
            apply_check(
                session,
                item,
                result,
                attribution=attribution,
                settings=self.settings,
                clock=self.clock,
            )

    def send(self, job: ClaimedJob) -> None:
        """Send one written notice (at least once; a sent one is not sent again)."""
        notice_id = int(job.payload["notice_id"])
        with session_scope(self.session_factory) as session:
            notice = session.get(Notice, notice_id)
            if notice is None or notice.status is NoticeStatus.SENT:
                return
            session.expunge(notice)
        self.sender.send(notice)
        with session_scope(self.session_factory) as session:
            stored = session.get(Notice, notice_id)
            item = session.get(TakedownItem, notice.item_id)
            if stored is None or item is None:
                return
            now = self.clock()
            stored.status, stored.sent_at, stored.error = NoticeStatus.SENT, now, None
            if notice.purpose is NoticePurpose.NOTICE:
                event(
                    session,
                    item,
                    EventKind.NOTICE_SENT,
                    now,
                    sequence=notice.sequence,
                    channel=notice.channel,
                    recipient=notice.recipient,
                )


def _current(item: TakedownItem, due: object) -> bool:
    if item.status is ItemStatus.CLOSED:
        return False
    if not isinstance(due, str):
        return True
    if item.next_check_at is None:
        return False
    wanted = dt.datetime.fromisoformat(due)
    # Stored timestamps may lose sub-millisecond precision on the way through the database.
    return abs((item.next_check_at - wanted).total_seconds()) < 0.001


def handlers(takedown: Takedown) -> dict[str, Callable[[ClaimedJob], None]]:
    """The job handlers of ``takedown``, by job kind."""
    return {CHECK_JOB: takedown.check, SEND_JOB: takedown.send}


def lazy_handlers(
    session_factory: sessionmaker[Session],
) -> dict[str, Callable[[ClaimedJob], None]]:
    """Handlers that build their parts from the environment on the first takedown job, so a
    worker that never sees one opens nothing."""
    built: list[Takedown] = []
    lock = threading.Lock()

    def get() -> Takedown:
        with lock:
            if not built:
                built.append(Takedown.build(session_factory, get_takedown_settings()))
            return built[0]

    return {
        CHECK_JOB: lambda job: get().check(job),
        SEND_JOB: lambda job: get().send(job),
    }
