"""Tables of the takedown area: reported URLs, public reports, events, notices, contacts.

A :class:`TakedownItem` is one normalised URL followed from its first report until the content is
gone (and, when it comes back, again). Reports by the public point at an item; every step
(check, confirmation, notice, escalation, referral, removal, re-appearance) is a timestamped
:class:`TakedownEvent`, which is what the statistics are computed from.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kavach.store.base import Base, IdMixin, StrEnumType, TimestampMixin, utcnow

__all__ = [
    "Contact",
    "ContactScope",
    "EventKind",
    "ItemStatus",
    "Notice",
    "NoticePurpose",
    "NoticeStatus",
    "TakedownEvent",
    "TakedownItem",
    "TakedownReport",
]


class ItemStatus(enum.StrEnum):
    """Where a reported URL stands.

    ``received``: waiting for its check. ``no_match``: fetched, nothing listed found (an analyst
    decides). ``unreachable``: could not be fetched (retried by the re-check). ``confirmed``:
    serving listed content; notices go out. ``removed``: the content is gone. ``closed``: an
    analyst ended it.
    """

    RECEIVED = "received"
    NO_MATCH = "no_match"
    UNREACHABLE = "unreachable"
    CONFIRMED = "confirmed"
    REMOVED = "removed"
    CLOSED = "closed"


class EventKind(enum.StrEnum):
    """What happened to an item (each event is timestamped)."""

    REPORTED = "reported"
    DUPLICATE = "duplicate"
    CHECKED = "checked"
    CONFIRMED = "confirmed"
    ATTRIBUTED = "attributed"
    NOTICE_SENT = "notice_sent"
    NOTICE_FAILED = "notice_failed"
    ESCALATED = "escalated"
    REFERRED = "referred"
    REFERRAL_STATUS = "referral_status"
    """A status report (received, actioned, removed) from the peer a referral went to."""
    REMOVED = "removed"
    REAPPEARED = "reappeared"
    CLOSED = "closed"


class NoticePurpose(enum.StrEnum):
    """``notice``: to the host's abuse contact. ``referral``: to a hotline or the police."""

    NOTICE = "notice"
    REFERRAL = "referral"


class NoticeStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ContactScope(enum.StrEnum):
    """What a configured contact answers for.

    ``asn`` (key: the AS number) and ``domain`` (key: a registrable domain or host): abuse
    contacts of hosts. ``hotline`` (key: ISO country code): the member hotline that takes
    referrals for that country. ``police`` (key: country code, or ``*``): where referrals go when
    a country has no member hotline.
    """

    ASN = "asn"
    DOMAIN = "domain"
    HOTLINE = "hotline"
    POLICE = "police"


class TakedownItem(IdMixin, TimestampMixin, Base):
    """One reported URL, its hosting, and where its takedown stands."""

    __tablename__ = "takedown_item"
    __table_args__ = (Index("ix_takedown_item_status_next_check", "status", "next_check_at"),)

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    url_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the normalised URL: duplicates are found by it (URLs are too long to index)."""
    host: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[ItemStatus] = mapped_column(StrEnumType(ItemStatus), default=ItemStatus.RECEIVED)
    dedicated_domain: Mapped[bool] = mapped_column(Boolean, default=False)
    """Set by an analyst when the whole domain exists for this material (domain-level blocking)."""
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_case.id", ondelete="SET NULL"), index=True
    )
    """The review case its reports opened (``kavach.cases``)."""
    reports: Mapped[int] = mapped_column(Integer, default=0)
    first_reported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column()
    """When listed content was first seen live (the clock for time to removal)."""
    removed_at: Mapped[dt.datetime | None] = mapped_column()
    last_checked_at: Mapped[dt.datetime | None] = mapped_column()
    next_check_at: Mapped[dt.datetime | None] = mapped_column()
    notices_sent: Mapped[int] = mapped_column(Integer, default=0)
    """Notices sent since the content was (re)confirmed; escalation counts these."""
    escalated_at: Mapped[dt.datetime | None] = mapped_column()
    reappearances: Mapped[int] = mapped_column(Integer, default=0)
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The last check's matches: media URL, bank, entry id, signal type, distance (no media)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    # Hosting attribution (kept with the item so statistics group by them directly).
    ip: Mapped[str | None] = mapped_column(String(45))
    asn: Mapped[int | None] = mapped_column(Integer)
    network: Mapped[str | None] = mapped_column(String(200))
    """The autonomous system's organisation name."""
    prefix: Mapped[str | None] = mapped_column(String(50))
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    abuse_contact: Mapped[str | None] = mapped_column(String(320))
    abuse_source: Mapped[str | None] = mapped_column(String(20))
    attributed_at: Mapped[dt.datetime | None] = mapped_column()


class TakedownReport(IdMixin, Base):
    """One report from the public. Anonymous unless the reporter left a contact."""

    __tablename__ = "takedown_report"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_item.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    """The URL as the reporter typed it."""
    description: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TakedownEvent(IdMixin, Base):
    """Something that happened to an item, at the time the takedown clock said."""

    __tablename__ = "takedown_event"
    __table_args__ = (Index("ix_takedown_event_item_id_at", "item_id", "at"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("takedown_item.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(StrEnumType(EventKind))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Notice(IdMixin, TimestampMixin, Base):
    """A notice to a host or a referral to a hotline/police: written, then sent by a job."""

    __tablename__ = "takedown_notice"
    __table_args__ = (UniqueConstraint("item_id", "purpose", "sequence"),)

    item_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_item.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[NoticePurpose] = mapped_column(StrEnumType(NoticePurpose))
    sequence: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    """``email`` or ``webhook``."""
    recipient: Mapped[str] = mapped_column(String(2000))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[NoticeStatus] = mapped_column(
        StrEnumType(NoticeStatus), default=NoticeStatus.PENDING
    )
    written_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)


class Contact(IdMixin, TimestampMixin, Base):
    """An operator-configured address: a host's abuse desk, a country's hotline, the police."""

    __tablename__ = "takedown_contact"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[ContactScope] = mapped_column(StrEnumType(ContactScope))
    key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(2000))
    """An e-mail address, or an ``https://`` webhook URL."""
