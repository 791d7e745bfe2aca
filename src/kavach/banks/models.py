"""Bank tables: banks, their entries, labels, vouches, imports and named-member shares."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import expression

from kavach.store.base import Base, BigIntId, IdMixin, StrEnumType, TimestampMixin, utcnow
from kavach.store.models import Organisation

__all__ = [
    "Bank",
    "BankEntry",
    "BankImport",
    "BankShare",
    "BankSource",
    "EntryLabel",
    "EntryVouch",
    "SharingPolicy",
]


class BankSource(enum.StrEnum):
    """Where a bank's entries come from."""

    NCMEC = "ncmec"
    IWF = "iwf"
    VICS = "vics"
    ICSE = "icse"
    MEMBER = "member"
    LOCAL = "local"


class SharingPolicy(enum.StrEnum):
    """Who may receive a bank: nobody else, every alliance member, or the members named."""

    PRIVATE = "private"
    ALLIANCE = "alliance"
    MEMBERS = "members"


class Bank(IdMixin, TimestampMixin, Base):
    """A hash list with one owner, one source and one sharing policy."""

    __tablename__ = "bank"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    source: Mapped[BankSource] = mapped_column(StrEnumType(BankSource))
    sharing: Mapped[SharingPolicy] = mapped_column(
        StrEnumType(SharingPolicy), default=SharingPolicy.PRIVATE
    )
    # Bumped by every change to the bank or its entries; readers (the index, server replicas)
    # compare it with what they loaded and reload the entries changed since.
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    # The vouching rule: an entry acts (matches automatically) only when vouched by this many
    # distinct members from this many countries. None means 1: a member's own bank acts on its
    # own entries; banks received from alliance peers are created with 2 and 2
    # (kavach.exchange.vouching).
    vouch_members: Mapped[int | None] = mapped_column(Integer)
    vouch_countries: Mapped[int | None] = mapped_column(Integer)
    # The query-side PDQ variant families this bank accepts ("dihedral,trim", "none"); None: all
    # that the matching policy looks up (docs/robustness.md).
    variants: Mapped[str | None] = mapped_column(String(100))

    owner: Mapped[Organisation] = relationship(lazy="raise")
    shares: Mapped[list[BankShare]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    def vouching_rule(self) -> tuple[int, int]:
        """``(members, countries)`` that must vouch for a hash before its entries here act."""
        return (self.vouch_members or 1, self.vouch_countries or 1)


class BankShare(Base):
    """A member a bank with the ``members`` sharing policy is shared with."""

    __tablename__ = "bank_share"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("bank.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    organisation: Mapped[Organisation] = relationship(lazy="raise")


class BankImport(IdMixin, Base):
    """One import of a file (or feed page) into a bank: what came in and what went wrong."""

    __tablename__ = "bank_import"

    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(16))
    # The file name only, never its directory: paths can name cases and people.
    filename: Mapped[str] = mapped_column(String(255), default="")
    imported_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    records: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    retracted: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    # The first errors only (positions and messages), so a broken 50 MB file cannot bloat a row.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class BankEntry(IdMixin, Base):
    """One hash in one bank, with where it came from; retracting keeps the row as a tombstone."""

    __tablename__ = "bank_entry"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value"),
        # Exact lookups across all banks ("is this MD5 listed anywhere?").
        Index("ix_bank_entry_signal_type_value", "signal_type", "value"),
        # Incremental reloads: the entries of a bank changed since version N.
        Index("ix_bank_entry_bank_id_changed_version", "bank_id", "changed_version"),
        # Export groups the hashes of one media item by their item id.
        Index("ix_bank_entry_bank_id_item_id", "bank_id", "item_id"),
    )

    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id", ondelete="CASCADE"))
    # A kavach.signals.types.SignalType value; no enum in the database so new types need no
    # table rebuild.
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[bytes] = mapped_column(LargeBinary)
    # The identifier of the media item in its source list (VICS MediaID, NCMEC entry id, ICSE
    # Image ID). Entries sharing it are hashes of the same file.
    item_id: Mapped[str | None] = mapped_column(String(200))
    # The whole signal where ``value`` is only its key: for vpdq, the video's frame hashes in
    # VideoHash's compact form (41 bytes a frame). Kept out of ``value`` because the unique key
    # and lookup index cover ``value``, and PostgreSQL refuses B-tree entries over ~2.7 kB.
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What the list says about the item besides hashes and labels (victim identified, series...).
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(200))
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("bank_import.id", ondelete="SET NULL"), index=True
    )
    changed_version: Mapped[int] = mapped_column(BigInteger, default=0)
    retracted_at: Mapped[dt.datetime | None] = mapped_column()
    retracted_by: Mapped[str | None] = mapped_column(String(200))
    retraction_reason: Mapped[str | None] = mapped_column(Text)
    # False while the entry is below its bank's vouching rule: it waits for review and never
    # matches automatically.
    acts: Mapped[bool] = mapped_column(Boolean, default=True, server_default=expression.true())

    labels: Mapped[list[EntryLabel]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )
    vouches: Mapped[list[EntryVouch]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_retracted(self) -> bool:
        """True when the entry is a tombstone."""
        return self.retracted_at is not None


class EntryLabel(IdMixin, Base):
    """A classification of an entry under one scheme, by one assessor."""

    __tablename__ = "entry_label"
    __table_args__ = (UniqueConstraint("entry_id", "scheme", "value", "assessor"),)

    entry_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("bank_entry.id", ondelete="CASCADE"), index=True
    )
    scheme: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(64))
    # Who assessed it: an organisation or list name; never empty so the unique key holds.
    assessor: Mapped[str] = mapped_column(String(200))
    assessed_at: Mapped[dt.datetime | None] = mapped_column()


class EntryVouch(IdMixin, Base):
    """An organisation vouching that an entry is correctly listed."""

    __tablename__ = "entry_vouch"
    __table_args__ = (UniqueConstraint("entry_id", "organisation_id"),)

    entry_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("bank_entry.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    vouched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
