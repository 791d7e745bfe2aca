"""Exchange tables: peers and what we verified of their feeds, our published feeds (log leaves,
stored Merkle subtrees, signed heads), alarms, referrals and the NCMEC checkpoint."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kavach.store.base import Base, BigIntId, IdMixin, StrEnumType, TimestampMixin, utcnow

__all__ = [
    "Alarm",
    "FeedLeaf",
    "FeedNode",
    "FeedPublished",
    "FeedState",
    "NcmecCheckpoint",
    "Peer",
    "PeerFeed",
    "Referral",
    "Trust",
]


class Trust(enum.StrEnum):
    """``full``: a peer's adds and vouches count toward vouching rules; ``listen``: its entries
    are mirrored (for review) but never count as a vouch."""

    FULL = "full"
    LISTEN = "listen"


class Peer(IdMixin, TimestampMixin, Base):
    """Another member node: where it is, the key we pinned, and how far we trust it."""

    __tablename__ = "exchange_peer"

    node_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    trust: Mapped[Trust] = mapped_column(StrEnumType(Trust), default=Trust.FULL)
    # Remote bank names to pull (empty: all it shares with us) and "scheme:value" labels to
    # accept (empty: any).
    accept_banks: Mapped[list[str]] = mapped_column(JSON, default=list)
    accept_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when a feed of this peer rewrote history: no more syncing until an operator clears it.
    halted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_sync_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)


class PeerFeed(IdMixin, Base):
    """One feed of a peer as far as we verified and applied it."""

    __tablename__ = "exchange_peer_feed"
    __table_args__ = (UniqueConstraint("peer_id", "remote_bank"),)

    peer_id: Mapped[int] = mapped_column(ForeignKey("exchange_peer.id", ondelete="CASCADE"))
    remote_bank: Mapped[str] = mapped_column(String(100))
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id", ondelete="CASCADE"), index=True)
    # Leaves applied so far, and the Merkle frontier over them (hex hashes).
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The latest signed tree head verified (it may be ahead of the cursor).
    head_size: Mapped[int] = mapped_column(BigInteger, default=0)
    head_root: Mapped[bytes | None] = mapped_column(LargeBinary)
    head_timestamp: Mapped[int] = mapped_column(BigInteger, default=0)
    head_signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Alarm(IdMixin, Base):
    """A peer served something we refused: a bad signature, a torn page, a rewritten history."""

    __tablename__ = "exchange_alarm"

    peer_id: Mapped[int | None] = mapped_column(
        ForeignKey("exchange_peer.id", ondelete="CASCADE"), index=True
    )
    bank: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[dt.datetime | None] = mapped_column()


class FeedState(Base):
    """Our feed of one shared bank: how far the bank was published and its latest signed head."""

    __tablename__ = "exchange_feed"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("bank.id", ondelete="CASCADE"), primary_key=True
    )
    published_version: Mapped[int] = mapped_column(BigInteger, default=0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    head_timestamp: Mapped[int] = mapped_column(BigInteger, default=0)
    head_signature: Mapped[bytes] = mapped_column(LargeBinary)


class FeedLeaf(Base):
    """One change in a feed: its canonical bytes and leaf hash, at position ``seq``."""

    __tablename__ = "exchange_feed_leaf"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("bank.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)


class FeedNode(Base):
    """The hash of a complete subtree (level ≥ 1) of a feed's Merkle tree, for proofs."""

    __tablename__ = "exchange_feed_node"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("bank.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class FeedPublished(Base):
    """What the feed last said about one entry, so publishing emits only the differences."""

    __tablename__ = "exchange_feed_published"

    entry_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("bank_entry.id", ondelete="CASCADE"), primary_key=True
    )
    live: Mapped[bool] = mapped_column(Boolean)
    labels_digest: Mapped[str] = mapped_column(String(32))


class Referral(IdMixin, TimestampMixin, Base):
    """A case referred to a peer (``out``) or by a peer to us (``in``), with its status trail."""

    __tablename__ = "exchange_referral"
    __table_args__ = (UniqueConstraint("uid", "direction"),)

    uid: Mapped[str] = mapped_column(String(36))
    direction: Mapped[str] = mapped_column(String(3))
    peer_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_peer.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    # Every signed message of the exchange, as received or sent (canonical JSON objects).
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class NcmecCheckpoint(Base):
    """The end of the last time range fully read from NCMEC into a bank."""

    __tablename__ = "exchange_ncmec_checkpoint"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("bank.id", ondelete="CASCADE"), primary_key=True
    )
    through: Mapped[dt.datetime] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
