"""Evidence table: one encrypted file kept for a case item, and how long it may be kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kavach.store.base import Base, BigIntId, IdMixin, TimestampMixin

__all__ = ["EvidenceBlob"]


class EvidenceBlob(IdMixin, TimestampMixin, Base):
    """An AES-GCM encrypted copy of a file under the data directory (never in the database).

    Only the file's SHA-256 and size are in clear; the name on disk is random.
    """

    __tablename__ = "evidence_blob"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("case_item.id", ondelete="SET NULL"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    # Which key encrypted it (the first 16 hex digits of the key's SHA-256), so a rotated key
    # gives a clear error instead of a failed tag check.
    key_id: Mapped[str] = mapped_column(String(16))
    retain_until: Mapped[dt.datetime] = mapped_column(index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column()
    destroyed_by: Mapped[str | None] = mapped_column(String(200))
    destroy_reason: Mapped[str | None] = mapped_column(Text)
