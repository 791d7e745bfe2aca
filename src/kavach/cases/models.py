"""Review tables: cases, the items in them, reviewers' grades, review policies and preferences."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kavach.store.base import Base, BigIntId, IdMixin, StrEnumType, TimestampMixin, utcnow

__all__ = [
    "Case",
    "CaseItem",
    "CaseSource",
    "CaseStatus",
    "ItemKind",
    "ItemStatus",
    "Review",
    "ReviewPolicy",
    "ReviewPreference",
]


class CaseSource(enum.StrEnum):
    """Where a case came from."""

    API = "api"
    SCAN = "scan"
    PORTAL = "portal"
    REFERRAL = "referral"
    MANUAL = "manual"


class CaseStatus(enum.StrEnum):
    """``open`` (items waiting), ``reviewed`` (every item decided), ``reported``, ``closed``."""

    OPEN = "open"
    REVIEWED = "reviewed"
    REPORTED = "reported"
    CLOSED = "closed"


class ItemKind(enum.StrEnum):
    """A file (hashes of one piece of media), a URL, or a bare set of hashes."""

    FILE = "file"
    URL = "url"
    HASHES = "hashes"


class ItemStatus(enum.StrEnum):
    """Where an item is in review.

    ``queued``: waiting for its first or second grade; ``disputed``: two grades disagree and a
    third reviewer decides; ``escalated``: a reviewer asked for an analyst or admin; ``decided``:
    final (``decision_*`` set); ``inherited``: the organisation had already decided the same
    content, so the item took that decision without being queued.
    """

    QUEUED = "queued"
    DISPUTED = "disputed"
    ESCALATED = "escalated"
    DECIDED = "decided"
    INHERITED = "inherited"


class Case(IdMixin, TimestampMixin, Base):
    """A set of items from one source (a verdict, a scan, a public report) for one organisation.

    ``details`` holds what reports need and the source knows; its keys are documented in
    docs/review.md (``incident``, ``reported_person``, ``ip_events``, ``device``, ``platform``...).
    """

    __tablename__ = "review_case"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    # A short handle for the CLI (`kavach report ncmec NAME`); unique within the organisation.
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[CaseSource] = mapped_column(StrEnumType(CaseSource))
    status: Mapped[CaseStatus] = mapped_column(StrEnumType(CaseStatus), default=CaseStatus.OPEN)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    opened_by: Mapped[str] = mapped_column(String(200), default="system")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    closed_at: Mapped[dt.datetime | None] = mapped_column()

    items: Mapped[list[CaseItem]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True, order_by="CaseItem.id"
    )


class CaseItem(IdMixin, TimestampMixin, Base):
    """One file, URL or hash set in a case, with the matches that put it there."""

    __tablename__ = "case_item"
    __table_args__ = (
        # The queue: open items of an organisation, highest priority first.
        Index("ix_case_item_org_status_priority", "organisation_id", "status", "priority"),
        # "Already decided by this organisation?" for the same content.
        Index("ix_case_item_org_content_key", "organisation_id", "content_key"),
    )

    case_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("review_case.id", ondelete="CASCADE"), index=True
    )
    # Copied from the case so the queue needs no join.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    kind: Mapped[ItemKind] = mapped_column(StrEnumType(ItemKind))
    # {signal type: hex text}, the content's own hashes (the original file's, for NCMEC).
    hashes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # "sha256:<hex>" (else sha1, md5, pdq, the URL): what makes two items the same content.
    content_key: Mapped[str] = mapped_column(String(400))
    url: Mapped[str | None] = mapped_column(String(2000))
    # The bank entries that matched: bank, signal_type, value, distance, labels, trust...
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # What the source knows of the item: file name, size, upload time, uploader IP...
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ItemStatus] = mapped_column(StrEnumType(ItemStatus), default=ItemStatus.QUEUED)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # NCMEC fileViewedByEsp: a person at this organisation looked at the unblurred file.
    viewed_by_person: Mapped[bool] = mapped_column(Boolean, default=False)
    first_viewed_at: Mapped[dt.datetime | None] = mapped_column()
    first_viewed_by: Mapped[str | None] = mapped_column(String(200))
    # The final decision: a label (scheme, value), or scheme "verdict" with "not_abuse".
    decision_scheme: Mapped[str | None] = mapped_column(String(32))
    decision_value: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    # Set when a confirmed decision put the item's hashes into a bank.
    banked_in: Mapped[str | None] = mapped_column(String(100))

    reviews: Mapped[list[Review]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True, order_by="Review.id"
    )

    @property
    def is_decided(self) -> bool:
        """True once the item has a final decision (its own or inherited)."""
        return self.status in (ItemStatus.DECIDED, ItemStatus.INHERITED)


class Review(IdMixin, Base):
    """One reviewer's grade of one item."""

    __tablename__ = "case_review"
    __table_args__ = (
        UniqueConstraint("item_id", "reviewer_id"),
        Index("ix_case_review_reviewer_id_content_key", "reviewer_id", "content_key"),
    )

    item_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("case_item.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    # Kept as text too: the review must still say who graded after the user is deleted.
    reviewer: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    content_key: Mapped[str] = mapped_column(String(400))
    # A label scheme (industry, uk, vics-us) and value; or "verdict" with not_abuse / escalate.
    scheme: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    # Whether the reviewer had revealed the media when grading (blurred grading is allowed).
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReviewPolicy(TimestampMixin, Base):
    """An organisation's review settings: display limits, four-eyes, where confirmed hashes go."""

    __tablename__ = "review_policy"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    # False: reviewers may not turn blur (or greyscale) off for themselves.
    allow_unblur: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_colour: Mapped[bool] = mapped_column(Boolean, default=True)
    # Independent grades that must agree before a decision is final (four-eyes: 2).
    required_agreements: Mapped[int] = mapped_column(Integer, default=2)
    # The bank confirmed items are added to (None: decisions are recorded, nothing is banked).
    target_bank: Mapped[str | None] = mapped_column(String(100))
    # Evidence retention in days (365: US REPORT Act; 180: India IT Rules).
    retention_days: Mapped[int] = mapped_column(Integer, default=365)


class ReviewPreference(TimestampMixin, Base):
    """A reviewer's own display settings, applied within the organisation's limits."""

    __tablename__ = "review_preference"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    blur: Mapped[bool] = mapped_column(Boolean, default=True)
    greyscale: Mapped[bool] = mapped_column(Boolean, default=True)
