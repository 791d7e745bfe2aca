"""The takedown workflow: reports in, checks applied, notices written, escalation and referral.

Functions take the caller's session and never commit. Time comes from an injectable ``clock``
(``() -> aware datetime``), so a month of re-notices runs in a test in milliseconds; every event
is stamped with it, and the re-check jobs are scheduled by it.

Life of an item::

    received ─check─► confirmed ─check: still there─► notice n+1 … escalated → referred
        │                 │
        │                 └─check: gone─► removed ─check: back─► confirmed (re-appeared)
        └─check─► no_match / unreachable (an analyst decides)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kavach import audit
from kavach.banks.service import ensure_organisation
from kavach.cases import service as cases
from kavach.cases.intake import match_dict
from kavach.cases.models import Case
from kavach.errors import InputError, NotFoundError
from kavach.jobs.queue import enqueue
from kavach.store.base import utcnow
from kavach.takedown.attribution import Attribution
from kavach.takedown.check import CheckResult
from kavach.takedown.models import (
    Contact,
    ContactScope,
    EventKind,
    ItemStatus,
    Notice,
    NoticePurpose,
    TakedownEvent,
    TakedownItem,
    TakedownReport,
)
from kavach.takedown.notices import channel_of, render
from kavach.takedown.settings import TakedownSettings
from kavach.takedown.urls import new_reference, normalise_url, url_digest

__all__ = [
    "CHECK_JOB",
    "INCONCLUSIVE_AS_GONE",
    "SEND_JOB",
    "Clock",
    "SubmittedReport",
    "apply_check",
    "close_item",
    "escalate",
    "event",
    "find_item",
    "mark_dedicated",
    "portal_organisation",
    "refer",
    "schedule_check",
    "set_contact",
    "submit_report",
]

Clock = Callable[[], dt.datetime]
"""Where the takedown workflow gets the time (tests pass a clock they move by hand)."""

CHECK_JOB = "takedown.check"
SEND_JOB = "takedown.send"
_MAX_DESCRIPTION = 4000
_MAX_CONTACT = 320
_ACTOR = "system:takedown"
INCONCLUSIVE_AS_GONE = 3
"""Checks in a row that cannot reach a confirmed URL (down, timing out, 5xx) after which it
counts as removed: a host gone for days is gone, one failed check is not."""


@dataclass(frozen=True, slots=True)
class SubmittedReport:
    """What the reporter is told: the reference to follow, and whether it was known already."""

    reference: str
    duplicate: bool
    item_id: int


def portal_organisation(session: Session, settings: TakedownSettings) -> int:
    """The id of the organisation that owns public reports (created on first use)."""
    return ensure_organisation(session, settings.portal_organisation).id


def event(
    session: Session, item: TakedownItem, kind: EventKind, at: dt.datetime, **details: Any
) -> TakedownEvent:
    """Record one timestamped event of ``item``."""
    row = TakedownEvent(item_id=item.id, kind=kind, at=at, details=details)
    session.add(row)
    return row


def submit_report(
    session: Session,
    *,
    url: str,
    organisation_id: int,
    description: str = "",
    contact: str | None = None,
    language: str = "en",
    clock: Clock = utcnow,
) -> SubmittedReport:
    """Take a report from the public: the same normalised URL gets the same item and reference.

    A new URL opens a case in the review queue and queues its check; a URL reported again after
    its content went (or was never found) is checked again, which is how re-appearance is found.
    """
    normalised = normalise_url(url)
    description = description.strip()
    if len(description) > _MAX_DESCRIPTION:
        raise InputError(f"the description may be at most {_MAX_DESCRIPTION} characters")
    contact = (contact or "").strip() or None
    if contact is not None and len(contact) > _MAX_CONTACT:
        raise InputError(f"the contact may be at most {_MAX_CONTACT} characters")
    now = clock()
    digest = url_digest(normalised)
    item = session.scalars(
        select(TakedownItem).where(TakedownItem.url_sha256 == digest)
    ).one_or_none()
    duplicate = item is not None
    if item is None:
        item = _new_item(session, normalised, digest, organisation_id, now)
        event(session, item, EventKind.REPORTED, now, language=language)
        case = cases.open_case(
            session,
            organisation_id=organisation_id,
            source="portal",
            title=f"Public report {item.reference}",
            details={"takedown_reference": item.reference, "reported_url": normalised},
            actor=_ACTOR,
        )
        cases.add_item(
            session,
            case,
            kind="url",
            url=normalised,
            metadata={"takedown_reference": item.reference, "source": "portal"},
            actor=_ACTOR,
        )
        item.case_id = case.id
        schedule_check(session, item, now)
    else:
        event(session, item, EventKind.DUPLICATE, now, language=language)
        if item.status in (ItemStatus.REMOVED, ItemStatus.NO_MATCH, ItemStatus.UNREACHABLE):
            schedule_check(session, item, now)
    assert item is not None
    item.reports += 1
    session.add(
        TakedownReport(
            item_id=item.id,
            url=url.strip()[:2000],
            description=description,
            contact=contact,
            language=language,
            created_at=now,
        )
    )
    session.flush()
    return SubmittedReport(reference=item.reference, duplicate=duplicate, item_id=item.id)


def _new_item(
    session: Session, url: str, digest: str, organisation_id: int, now: dt.datetime
) -> TakedownItem:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    for _attempt in range(5):
        item = TakedownItem(
            organisation_id=organisation_id,
            reference=new_reference(),
            url=url,
            url_sha256=digest,
            host=host,
            status=ItemStatus.RECEIVED,
            first_reported_at=now,
            matches=[],
        )
        session.add(item)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            session.expunge(item)
            existing = session.scalars(
                select(TakedownItem).where(TakedownItem.url_sha256 == digest)
            ).one_or_none()
            if existing is not None:  # reported at the same moment by someone else
                return existing
            continue  # a reference collision: draw another
        return item
    raise InputError("could not allocate a report reference; try again")


def find_item(session: Session, reference: str) -> TakedownItem:
    """The item with ``reference`` (case-insensitive, spaces ignored), or NotFoundError."""
    ref = "".join(reference.split()).upper()
    item = session.scalars(select(TakedownItem).where(TakedownItem.reference == ref)).one_or_none()
    if item is None:
        raise NotFoundError(f"no report with reference {ref}")
    return item


def schedule_check(session: Session, item: TakedownItem, when: dt.datetime) -> None:
    """Queue a check of ``item`` at ``when``; an earlier scheduled check is superseded."""
    item.next_check_at = when
    enqueue(
        session,
        CHECK_JOB,
        {"item_id": item.id, "due": when.isoformat()},
        organisation_id=item.organisation_id,
        run_at=when,
    )


def apply_check(
    session: Session,
    item: TakedownItem,
    result: CheckResult,
    *,
    attribution: Attribution | None,
    settings: TakedownSettings,
    clock: Clock = utcnow,
) -> None:
    """Apply one check's outcome: confirm, re-notice, escalate, record removal or re-appearance,
    and schedule the next check."""
    now = clock()
    item.last_checked_at = now
    item.next_check_at = None
    event(
        session,
        item,
        EventKind.CHECKED,
        now,
        live=result.live,
        status=result.status,
        media=len(result.media),
        error=result.error,
        inconclusive=not result.live and not result.gone,
    )
    if item.status is ItemStatus.CLOSED:
        return
    if result.live:
        _live(session, item, result, attribution, settings, now)
        return
    item.last_error = result.error or next((m.error for m in result.media if m.error), None)
    if item.status is ItemStatus.CONFIRMED:
        if not result.gone and _inconclusive_run(session, item) < INCONCLUSIVE_AS_GONE:
            # The host is down or failing: that is not removal. It stays listed and is checked
            # again (no notice: we cannot show it is still there).
            schedule_check(session, item, now + dt.timedelta(hours=settings.recheck_hours))
            return
        _removed(session, item, now)
        _watch_for_return(session, item, settings, now)
    elif item.status is ItemStatus.REMOVED:
        _watch_for_return(session, item, settings, now)
    elif item.status in (ItemStatus.RECEIVED, ItemStatus.NO_MATCH, ItemStatus.UNREACHABLE):
        item.status = ItemStatus.NO_MATCH if result.reachable else ItemStatus.UNREACHABLE


def _live(
    session: Session,
    item: TakedownItem,
    result: CheckResult,
    attribution: Attribution | None,
    settings: TakedownSettings,
    now: dt.datetime,
) -> None:
    item.matches = result.match_records()
    item.last_error = None
    if item.status is not ItemStatus.CONFIRMED:
        if item.status is ItemStatus.REMOVED:
            item.reappearances += 1
            event(session, item, EventKind.REAPPEARED, now, after=_seconds(item.removed_at, now))
        # A new episode: time to removal and notices are counted from here.
        item.status = ItemStatus.CONFIRMED
        item.confirmed_at = now
        item.removed_at = None
        item.notices_sent = 0
        item.escalated_at = None
        event(session, item, EventKind.CONFIRMED, now, matches=len(item.matches))
        if attribution is not None:
            _attribute(session, item, attribution, now)
        _add_matches_to_case(session, item, result)
        audit.record(
            session,
            actor=_ACTOR,
            action="takedown.confirm",
            subject=f"takedown:{item.reference}",
            organisation_id=item.organisation_id,
            details={"matches": len(item.matches), "country": item.country},
        )
    if item.abuse_contact:
        write_notice(session, item, settings, now)
    if item.escalated_at is None and (
        item.notices_sent >= settings.escalate_after or not item.abuse_contact
    ):
        # No abuse contact at all: nobody to notify, so the hosting country's hotline at once.
        escalate(session, item, settings, now)
    schedule_check(session, item, now + dt.timedelta(hours=settings.recheck_hours))


def _inconclusive_run(session: Session, item: TakedownItem) -> int:
    """How many of the latest checks in a row could not tell whether the content is there."""
    details = session.scalars(
        select(TakedownEvent.details)
        .where(TakedownEvent.item_id == item.id, TakedownEvent.kind == EventKind.CHECKED)
        .order_by(TakedownEvent.at.desc(), TakedownEvent.id.desc())
        .limit(INCONCLUSIVE_AS_GONE)
    )
    run = 0
    for detail in details:
        if not (detail or {}).get("inconclusive"):
            break
        run += 1
    return run


def _attribute(session: Session, item: TakedownItem, found: Attribution, now: dt.datetime) -> None:
    item.ip, item.asn, item.network = found.ip, found.asn, found.network
    item.prefix, item.country = found.prefix, found.country
    item.abuse_contact, item.abuse_source = found.abuse_contact, found.abuse_source
    item.attributed_at = now
    event(
        session,
        item,
        EventKind.ATTRIBUTED,
        now,
        ip=found.ip,
        asn=found.asn,
        network=found.network,
        country=found.country,
        abuse_contact=found.abuse_contact,
        abuse_source=found.abuse_source,
    )


def _add_matches_to_case(session: Session, item: TakedownItem, result: CheckResult) -> None:
    if item.case_id is None:
        return
    case = session.get(Case, item.case_id)
    if case is None:
        return
    for media in result.matched:
        cases.add_item(
            session,
            case,
            kind="url",
            url=media.url,
            hashes={k: v for k, v in (("sha256", media.sha256), ("pdq", media.pdq)) if v},
            # As every other intake stores them: how a match was found (variant, reliable
            # bits) reaches the reviewer with it.
            matches=[match_dict(m) for m in media.matches],
            metadata={"takedown_reference": item.reference, "page": item.url},
            actor=_ACTOR,
        )


def write_notice(
    session: Session, item: TakedownItem, settings: TakedownSettings, now: dt.datetime
) -> Notice:
    """Write the next notice to the host's abuse contact and queue its sending."""
    assert item.abuse_contact is not None
    sequence = _next_sequence(session, item, NoticePurpose.NOTICE)
    item.notices_sent += 1
    text = render(
        "notice.txt",
        item,
        organisation=settings.portal_organisation,
        settings=settings,
        sequence=item.notices_sent,
        checked_at=now,
    )
    return _queue(session, item, NoticePurpose.NOTICE, sequence, item.abuse_contact, "", text, now)


def escalate(
    session: Session, item: TakedownItem, settings: TakedownSettings, now: dt.datetime
) -> Notice | None:
    """Mark ``item`` escalated and refer it to the hosting country's hotline (or police)."""
    item.escalated_at = now
    event(session, item, EventKind.ESCALATED, now, notices=item.notices_sent)
    return refer(session, item, settings=settings, now=now, reason="not removed after notices")


def refer(
    session: Session,
    item: TakedownItem,
    *,
    settings: TakedownSettings,
    now: dt.datetime,
    reason: str,
) -> Notice | None:
    """Refer ``item`` to the member hotline registered for its hosting country, or to the police
    where there is none; returns the referral notice (None when nobody is configured, or when
    the referral went through the exchange).

    An alliance peer registered for the hosting country gets it first, as a signed exchange
    referral whose status reports come back onto the item's events
    (``kavach.exchange.routing``); otherwise it goes out as a notice (e-mail or webhook).
    """
    from kavach.exchange.routing import route_takedown

    if route_takedown(session, item, reason=reason, now=now) is not None:
        return None
    target = _referral_target(session, item.country)
    if target is None:
        event(
            session,
            item,
            EventKind.REFERRED,
            now,
            recipient=None,
            reason=reason,
            error="no hotline or police contact configured",
        )
        return None
    kind = target.scope.value
    event(
        session,
        item,
        EventKind.REFERRED,
        now,
        recipient=target.address,
        to=target.name or kind,
        role=kind,
        country=item.country,
        reason=reason,
    )
    audit.record(
        session,
        actor=_ACTOR,
        action="takedown.refer",
        subject=f"takedown:{item.reference}",
        organisation_id=item.organisation_id,
        details={"kind": kind, "country": item.country, "to": target.name or target.address},
    )
    sequence = _next_sequence(session, item, NoticePurpose.REFERRAL)
    text = render(
        "referral.txt",
        item,
        organisation=settings.portal_organisation,
        settings=settings,
        sequence=sequence,
        checked_at=now,
        recipient_name=target.name,
    )
    return _queue(
        session, item, NoticePurpose.REFERRAL, sequence, target.address, target.name, text, now
    )


def _referral_target(session: Session, country: str | None) -> Contact | None:
    wanted = [
        (ContactScope.HOTLINE, country),
        (ContactScope.POLICE, country),
        (ContactScope.POLICE, "*"),
    ]
    for scope, key in wanted:
        if key is None:
            continue
        found = session.scalars(
            select(Contact).where(Contact.scope == scope, Contact.key == key)
        ).one_or_none()
        if found is not None:
            return found
    return None


def _next_sequence(session: Session, item: TakedownItem, purpose: NoticePurpose) -> int:
    last = session.scalar(
        select(func.max(Notice.sequence)).where(
            Notice.item_id == item.id, Notice.purpose == purpose
        )
    )
    return int(last or 0) + 1


def _queue(
    session: Session,
    item: TakedownItem,
    purpose: NoticePurpose,
    sequence: int,
    recipient: str,
    name: str,
    text: Any,
    now: dt.datetime,
) -> Notice:
    notice = Notice(
        item_id=item.id,
        purpose=purpose,
        sequence=sequence,
        channel=channel_of(recipient),
        recipient=recipient,
        recipient_name=name,
        subject=text.subject,
        body=text.body,
        written_at=now,
    )
    session.add(notice)
    session.flush()
    enqueue(
        session,
        SEND_JOB,
        {"notice_id": notice.id},
        organisation_id=item.organisation_id,
        run_at=now,
    )
    return notice


def _removed(session: Session, item: TakedownItem, now: dt.datetime) -> None:
    item.status = ItemStatus.REMOVED
    item.removed_at = now
    seconds = _seconds(item.confirmed_at, now)
    event(session, item, EventKind.REMOVED, now, seconds=seconds, notices=item.notices_sent)
    audit.record(
        session,
        actor=_ACTOR,
        action="takedown.removed",
        subject=f"takedown:{item.reference}",
        organisation_id=item.organisation_id,
        details={"seconds": seconds, "notices": item.notices_sent},
    )
    if item.case_id is not None:
        case = session.get(Case, item.case_id)
        if case is not None and case.closed_at is None:
            cases.close_case(session, case, actor=_ACTOR, reason="content removed")


def _watch_for_return(
    session: Session, item: TakedownItem, settings: TakedownSettings, now: dt.datetime
) -> None:
    assert item.removed_at is not None
    since = session.scalar(
        select(func.count())
        .select_from(TakedownEvent)
        .where(
            TakedownEvent.item_id == item.id,
            TakedownEvent.kind == EventKind.CHECKED,
            TakedownEvent.at > item.removed_at,
        )
    )
    if int(since or 0) < settings.reappear_checks:
        schedule_check(session, item, now + dt.timedelta(hours=settings.reappear_hours))


def close_item(
    session: Session, item: TakedownItem, *, actor: str, reason: str, now: dt.datetime
) -> None:
    """An analyst ends the item: no more checks or notices, off the blocklists, and its review
    case closed if it was still open."""
    item.status = ItemStatus.CLOSED
    item.next_check_at = None
    event(session, item, EventKind.CLOSED, now, actor=actor, reason=reason[:500])
    audit.record(
        session,
        actor=actor,
        action="takedown.close",
        subject=f"takedown:{item.reference}",
        organisation_id=item.organisation_id,
        details={"reason": reason[:500]},
    )
    if item.case_id is not None:
        case = session.get(Case, item.case_id)
        if case is not None and case.closed_at is None:
            cases.close_case(session, case, actor=actor, reason=reason[:500] or "takedown closed")


def mark_dedicated(session: Session, item: TakedownItem, dedicated: bool, *, actor: str) -> None:
    """An analyst marks the item's host as dedicated to the material (listed by domain while its
    content is live) or takes the mark back. Audited: it widens what ISPs block."""
    if item.dedicated_domain == dedicated:
        return
    item.dedicated_domain = dedicated
    audit.record(
        session,
        actor=actor,
        action="takedown.dedicated" if dedicated else "takedown.shared",
        subject=f"takedown:{item.reference}",
        organisation_id=item.organisation_id,
        details={"host": item.host},
    )


def set_contact(
    session: Session, scope: ContactScope | str, key: str, address: str, name: str = ""
) -> Contact:
    """Add or replace a configured contact (abuse desk, hotline, police)."""
    scope = ContactScope(scope)
    key = key.strip()
    if scope is ContactScope.ASN:
        key = key.upper().removeprefix("AS")
        if not key.isdigit():
            raise InputError("an AS number is digits, e.g. 64500 or AS64500")
    elif scope in (ContactScope.HOTLINE, ContactScope.POLICE):
        key = key.upper()
        if not (key == "*" and scope is ContactScope.POLICE) and not (
            len(key) == 2 and key.isalpha()
        ):
            raise InputError("a country is a two-letter ISO code (police may also use *)")
    else:
        key = key.lower().rstrip(".")
        if not key or " " in key:
            raise InputError("a domain contact needs a domain name")
    address = address.strip()
    if channel_of(address) == "email" and "@" not in address:
        raise InputError("a contact is an e-mail address or an http(s) webhook URL")
    contact = session.scalars(
        select(Contact).where(Contact.scope == scope, Contact.key == key)
    ).one_or_none()
    if contact is None:
        contact = Contact(scope=scope, key=key)
        session.add(contact)
    contact.address, contact.name = address, name.strip()
    session.flush()
    return contact


def _seconds(start: dt.datetime | None, end: dt.datetime) -> float | None:
    return None if start is None else (end - start).total_seconds()
