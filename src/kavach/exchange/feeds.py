"""Our feeds: each shared bank's changes published as log leaves, served in signed pages.

A feed is the bank's history as events (``add``, ``vouch``, ``relabel``, ``retract``), one leaf
per event, each the canonical JSON of the event (docs/exchange.md, "Feed events"). Publishing
diffs the bank against what the feed last said of each entry, so it can run any time (before a
page is served, from the worker) and emits each change once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kavach.banks.models import Bank, BankEntry, BankShare, EntryLabel, SharingPolicy
from kavach.errors import InputError, NotFoundError
from kavach.exchange import canonical, log
from kavach.exchange.identity import NodeIdentity, b64
from kavach.exchange.models import FeedPublished, FeedState, Peer
from kavach.exchange.video import frames_of
from kavach.signals.types import SignalType, format_hash
from kavach.store.models import Organisation

__all__ = [
    "MAX_PAGE",
    "ORIGIN_ATTRIBUTE",
    "PAGE_BYTES",
    "event_time",
    "local_organisation",
    "page",
    "publish",
    "shared_banks",
]

# An entry copied from a peer's feed to vouch for it carries the node id it came from.
ORIGIN_ATTRIBUTE = "exchange_origin"
MAX_PAGE = 5000
_BATCH = 1000
# A page stops early past this many bytes of leaves (video entries carry their frames).
PAGE_BYTES = 8 * 1024 * 1024


def event_time(when: dt.datetime | None = None) -> str:
    """A UTC timestamp as feeds write it: ISO 8601 with milliseconds and ``Z``."""
    when = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def local_organisation(session: Session, identity: NodeIdentity) -> Organisation:
    """This node's organisation row (made by ``kavach exchange init``)."""
    org = session.scalars(
        select(Organisation).where(Organisation.name == identity.organisation)
    ).one_or_none()
    if org is None:
        org = Organisation(name=identity.organisation, country=identity.country)
        session.add(org)
        session.flush()
    return org


def shared_banks(session: Session, identity: NodeIdentity, peer: Peer | None) -> list[Bank]:
    """Our banks with an alliance or named-member policy; with ``peer``, those it may read."""
    org = local_organisation(session, identity)
    banks = session.scalars(
        select(Bank)
        .where(
            Bank.owner_id == org.id,
            Bank.sharing.in_([SharingPolicy.ALLIANCE, SharingPolicy.MEMBERS]),
        )
        .order_by(Bank.name)
    ).all()
    if peer is None:
        return list(banks)
    named = set(
        session.scalars(
            select(BankShare.bank_id).where(BankShare.organisation_id == peer.organisation_id)
        )
    )
    return [b for b in banks if b.sharing is SharingPolicy.ALLIANCE or b.id in named]


def _labels_digest(labels: list[list[str]]) -> str:
    return hashlib.sha256(canonical.encode(labels)).hexdigest()[:32]


def publish(session: Session, bank: Bank, identity: NodeIdentity) -> FeedState:
    """Append the bank's changes since the last publish to its feed; return the feed state."""
    state = log.state_for(session, bank, identity)
    # Take the feed's write lock before reading anything (row lock on PostgreSQL, the database
    # lock on SQLite), so two processes publishing at once cannot both claim the same seq.
    session.execute(
        update(FeedState)
        .where(FeedState.bank_id == bank.id)
        .values(published_version=FeedState.published_version)
    )
    session.refresh(state)
    version = session.scalar(select(Bank.version).where(Bank.id == bank.id)) or 0
    if version <= state.published_version:
        return state
    stmt = (
        select(
            BankEntry.id,
            BankEntry.signal_type,
            BankEntry.value,
            BankEntry.item_id,
            BankEntry.attributes,
            BankEntry.retracted_at,
            BankEntry.retraction_reason,
            BankEntry.payload,
        )
        .where(
            BankEntry.bank_id == bank.id,
            BankEntry.changed_version > state.published_version,
        )
        .order_by(BankEntry.id)
    )
    result = session.execute(stmt.execution_options(yield_per=_BATCH))
    for part in result.partitions():
        _publish_batch(session, state, bank, identity, part)
    state.published_version = version
    session.flush()
    return state


def _publish_batch(
    session: Session, state: FeedState, bank: Bank, identity: NodeIdentity, rows: Any
) -> None:
    ids = [row.id for row in rows]
    labels: dict[int, list[list[str]]] = {}
    for entry_id, scheme, value, assessor in session.execute(
        select(EntryLabel.entry_id, EntryLabel.scheme, EntryLabel.value, EntryLabel.assessor)
        .where(EntryLabel.entry_id.in_(ids))
        .order_by(EntryLabel.scheme, EntryLabel.value, EntryLabel.assessor)
    ):
        labels.setdefault(entry_id, []).append([scheme, value, assessor])
    known = {
        p.entry_id: p
        for p in session.scalars(select(FeedPublished).where(FeedPublished.entry_id.in_(ids)))
    }
    at = event_time()
    datas: list[bytes] = []
    new_rows: list[dict[str, Any]] = []
    seq = state.size
    for row in rows:
        entry_labels = labels.get(row.id, [])
        digest = _labels_digest(entry_labels)
        live = row.retracted_at is None
        seen = known.get(row.id)
        st = SignalType(row.signal_type)
        base: dict[str, Any] = {
            "v": 1,
            "seq": seq,
            "at": at,
            "signal": st.value,
            "value": format_hash(st, bytes(row.value)),
        }
        event: dict[str, Any] | None = None
        if live and (seen is None or not seen.live):
            origin = (row.attributes or {}).get(ORIGIN_ATTRIBUTE)
            event = {**base, "op": "vouch" if origin else "add", "item": row.item_id}
            event["labels"] = entry_labels
            if origin:
                event["origin"] = str(origin)
            if st is SignalType.VPDQ:
                if row.payload is None:
                    continue  # a key without frames could never match anywhere
                event["frames"] = frames_of(bytes(row.payload))
        elif not live and seen is not None and seen.live:
            event = {**base, "op": "retract", "reason": row.retraction_reason or ""}
        elif live and seen is not None and seen.labels_digest != digest:
            event = {**base, "op": "relabel", "labels": entry_labels}
        if event is not None:
            datas.append(canonical.encode(event))
            seq += 1
        if seen is None:
            if live:
                new_rows.append({"entry_id": row.id, "live": True, "labels_digest": digest})
        else:
            seen.live = live
            seen.labels_digest = digest
    if new_rows:
        session.execute(insert(FeedPublished), new_rows)
    log.append(session, state, datas, bank.name, identity)


def page(session: Session, bank: Bank, identity: NodeIdentity, *, after: int, limit: int) -> bytes:
    """The canonical bytes of the signed page of leaves after ``after`` (at most ``limit``)
    with the current head.

    The stored leaves are canonical bytes already, so they are spliced into the page as they
    are: no leaf is parsed or encoded again to serve or sign it.
    """
    if after < 0 or not 1 <= limit <= MAX_PAGE:
        raise InputError(f"after must be >= 0 and limit between 1 and {MAX_PAGE}")
    state = publish(session, bank, identity)
    if after > state.size:
        raise NotFoundError(f"the feed has {state.size} entries; nothing after {after}")
    datas = log.leaves(session, bank.id, after, limit, max_bytes=PAGE_BYTES)
    end = after + len(datas)
    body: dict[str, Any] = {
        "v": 1,
        "type": "feed_page",
        "node": identity.node_id,
        "bank": bank.name,
        "after": after,
        "entries": None,  # spliced in below
        "head": log.head_object(state, bank.name, identity.node_id),
        "proof": [h.hex() for h in log.consistency(session, state, end, state.size)],
    }
    entries = {"entries": b"[" + b",".join(datas) + b"]"}
    body["signature"] = b64(identity.sign(canonical.encode_members(body, entries)))
    return canonical.encode_members(body, entries)
