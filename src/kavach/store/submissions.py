"""Content a platform submitted that matched a bank, and the entries it matched.

Only matching submissions are kept: a platform sends every upload, and the hashes of content that
matched nothing are not Kavach's to hold.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kavach.store.base import Base, BigIntId, IdMixin, TimestampMixin

__all__ = ["Submission", "SubmissionMatch"]


class Submission(IdMixin, TimestampMixin, Base):
    """One piece of content a platform submitted for a verdict, and that matched."""

    __tablename__ = "submission"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    # The platform's own identifiers for the content (and whatever it wants back in webhooks).
    content_id: Mapped[str] = mapped_column(String(200), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The submitted hashes, {signal type: [hex, ...]}.
    hashes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="SET NULL"), index=True
    )
    matches: Mapped[list[SubmissionMatch]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class SubmissionMatch(IdMixin, Base):
    """One bank entry a submission matched, as it was when it matched."""

    __tablename__ = "submission_match"

    submission_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    bank: Mapped[str] = mapped_column(String(100))
    # No foreign key: the record must outlive a deleted bank (entries are only ever tombstoned).
    entry_id: Mapped[int] = mapped_column(BigInteger)
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(300))
    distance: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # How a PDQ match was found: the query-side variant and its hash (docs/robustness.md).
    variant: Mapped[str | None] = mapped_column(String(40))
    query_value: Mapped[str | None] = mapped_column(String(300))
    # Set when only the query's reliable bits matched: their distance (of 192).
    reliable_distance: Mapped[int | None] = mapped_column(Integer)
    # vpdq: the share of the submitted video's frames that matched, and of the listed one's.
    query_match_percent: Mapped[float | None] = mapped_column(Float)
    compared_match_percent: Mapped[float | None] = mapped_column(Float)
