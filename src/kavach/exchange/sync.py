"""Pulling peers' feeds: fetch a page, verify it completely, apply it, move the cursor — one
transaction per page, so a failure anywhere resumes from the last verified page.

Verification of a page (docs/exchange.md, "Verifying a page"): the page signature; the tree
head's signature; that the head extends the last head we verified (a consistency proof, else
the feed rewrote history: alarm and halt); that the page's entries, appended to our frontier,
give a tree the head's tree extends (a consistency proof from the page's end to the head), which
proves every entry's inclusion at its position.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from kavach.banks.formats import HashRecord, Label
from kavach.banks.models import Bank, BankEntry, BankSource, EntryLabel, EntryVouch, SharingPolicy
from kavach.banks.service import add_entries, create_bank, retract_entries
from kavach.errors import InvalidHashError, KavachError
from kavach.exchange import canonical, merkle
from kavach.exchange.client import signed_get
from kavach.exchange.identity import NodeIdentity, from_b64, verify
from kavach.exchange.models import Peer, PeerFeed, Trust
from kavach.exchange.peers import raise_alarm
from kavach.exchange.video import video_of
from kavach.exchange.vouching import ALLIANCE_RULE, refresh_acting
from kavach.signals.types import SignalType, parse_hash
from kavach.signals.vpdq import VideoHash
from kavach.store.base import utcnow
from kavach.store.db import session_scope

__all__ = [
    "FeedRefusedError",
    "SyncReport",
    "VerifiedPage",
    "apply_events",
    "sync_all",
    "sync_peer",
    "verify_page",
]

log = logging.getLogger(__name__)

_OPS = frozenset({"add", "vouch", "relabel", "retract"})
# Values per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
_IN_BATCH = 2000


class FeedRefusedError(KavachError):
    """A peer served a page we will not apply; ``kind`` names why (an alarm kind)."""

    code = "feed_refused"
    exit_code = 3
    http_status = 502

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.detail = message


@dataclass
class VerifiedPage:
    """A page that passed every check: its events, new frontier and the head it proves into."""

    events: list[dict[str, Any]]
    frontier: merkle.Frontier
    head: dict[str, Any]
    head_root: bytes
    head_signature: bytes


@dataclass
class SyncReport:
    """What one sync of one peer did."""

    peer: str
    applied: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    alarms: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was refused and nothing failed."""
        return not self.alarms and not self.errors


def _signed_object(
    obj: dict[str, Any], key: bytes, what: str, encoded: dict[str, bytes] | None = None
) -> bytes:
    sig_text = obj.get("signature")
    if not isinstance(sig_text, str):
        raise FeedRefusedError("bad_signature", f"the {what} carries no signature")
    body = {k: v for k, v in obj.items() if k != "signature"}
    try:
        signature = from_b64(sig_text, size=64, what="signature")
        message = canonical.encode_members(body, encoded) if encoded else canonical.encode(body)
    except KavachError as exc:
        raise FeedRefusedError(
            "bad_signature", f"the {what} signature is unreadable: {exc}"
        ) from None
    if not verify(key, signature, message):
        raise FeedRefusedError("bad_signature", f"the {what} signature does not verify")
    return signature


def verify_page(
    raw: bytes,
    *,
    key: bytes,
    node_id: str,
    bank: str,
    after: int,
    frontier: merkle.Frontier,
    known_size: int,
    known_root: bytes | None,
    consistency: Callable[[int, int], Sequence[bytes]],
) -> VerifiedPage:
    """Check a feed page from top to bottom; raise FeedRefusedError naming the first failure."""
    try:
        page = canonical.decode(raw, strict=False)
    except KavachError:
        raise FeedRefusedError(
            "torn_page", f"the page is not complete JSON ({len(raw)} bytes)"
        ) from None
    if not isinstance(page, dict) or page.get("type") != "feed_page" or page.get("v") != 1:
        raise FeedRefusedError("torn_page", "the body is not a version 1 feed page")
    entries = page.get("entries")
    # Each entry is encoded once: its bytes are both its leaf data and part of the signed page.
    leaf_data: list[bytes] | None = None
    if isinstance(entries, list):
        try:
            canonical.validate(entries)
        except KavachError as exc:
            raise FeedRefusedError(
                "bad_signature", f"the page signature is unreadable: {exc}"
            ) from None
        leaf_data = [canonical.encode(entry, validate=False) for entry in entries]
    encoded = None if leaf_data is None else {"entries": b"[" + b",".join(leaf_data) + b"]"}
    _signed_object(page, key, "page", encoded)
    head = page.get("head")
    proof_hex = page.get("proof")
    if (
        not isinstance(head, dict)
        or not isinstance(entries, list)
        or not isinstance(proof_hex, list)
    ):
        raise FeedRefusedError("torn_page", "the page lacks its head, entries or proof")
    head_signature = _signed_object(head, key, "tree head")
    if page.get("node") != node_id or head.get("node") != node_id:
        raise FeedRefusedError("bad_signature", "the page names another node")
    if page.get("bank") != bank or head.get("bank") != bank or page.get("after") != after:
        raise FeedRefusedError("torn_page", "the page is for another feed or position")
    try:
        size = int(head["size"])
        root = bytes.fromhex(str(head["root"]))
        proof = [bytes.fromhex(str(h)) for h in proof_hex]
    except (KeyError, ValueError, TypeError):
        raise FeedRefusedError("torn_page", "the tree head or proof is malformed") from None
    # 1. The new head must extend the last one we verified.
    if known_root is not None:
        if size < known_size:
            raise FeedRefusedError(
                "history_rewritten", f"the feed shrank from {known_size} to {size} entries"
            )
        if size == known_size:
            extends = root == known_root
        else:
            try:
                extends = merkle.verify_consistency(
                    known_size, size, known_root, root, consistency(known_size, size)
                )
            except FeedRefusedError:
                raise
            except Exception as exc:
                raise FeedRefusedError("torn_page", f"no consistency proof: {exc}") from None
        if not extends:
            raise FeedRefusedError(
                "history_rewritten",
                f"the head of size {size} does not extend the verified head of size {known_size}",
            )
    # 2. The entries, at their positions, must be in the head's tree.
    end = after + len(entries)
    if end > size or (not entries and after < size):
        raise FeedRefusedError(
            "torn_page", f"page holds entries {after}..{end} of a {size}-entry feed"
        )
    grown = frontier.copy()
    if grown.size != after:
        raise FeedRefusedError("torn_page", "page does not start where we stopped")
    assert leaf_data is not None  # entries is a list
    for offset, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("seq") != after + offset:
            raise FeedRefusedError(
                "torn_page", f"entry {after + offset} is missing or out of place"
            )
        grown.append(merkle.leaf_hash(leaf_data[offset]))
    if not merkle.verify_consistency(end, size, grown.root(), root, proof):
        raise FeedRefusedError(
            "bad_proof", f"entries {after}..{end} are not the ones under the signed head"
        )
    return VerifiedPage(entries, grown, head, root, head_signature)


def _mirror_name(peer: Peer, remote_bank: str) -> str:
    return f"{peer.name}.{remote_bank}"[:100]


def _feed_state(session: Session, peer: Peer, remote_bank: str) -> PeerFeed:
    feed = session.scalars(
        select(PeerFeed).where(PeerFeed.peer_id == peer.id, PeerFeed.remote_bank == remote_bank)
    ).one_or_none()
    if feed is None:
        name = _mirror_name(peer, remote_bank)
        bank = session.scalars(select(Bank).where(Bank.name == name)).one_or_none()
        if bank is None:
            from kavach.store.models import Organisation

            owner = session.get(Organisation, peer.organisation_id)
            assert owner is not None  # FK
            bank = create_bank(
                session,
                name=name,
                owner=owner,
                source=BankSource.MEMBER,
                # Every organisation on this node may match against it (once entries act).
                sharing=SharingPolicy.ALLIANCE,
                description=f"received from peer {peer.name} (feed {remote_bank})",
            )
            bank.vouch_members, bank.vouch_countries = ALLIANCE_RULE
        feed = PeerFeed(peer_id=peer.id, remote_bank=remote_bank, bank_id=bank.id, frontier=[])
        session.add(feed)
        session.flush()
    return feed


def _labels(raw: Any, default_assessor: str) -> tuple[Label, ...]:
    labels: list[Label] = []
    for item in raw or []:
        if isinstance(item, list) and len(item) >= 2:
            assessor = str(item[2]) if len(item) > 2 and item[2] else default_assessor
            labels.append(Label(str(item[0])[:32], str(item[1])[:64], assessor[:200]))
    return tuple(labels)


_SIGNALS = {st.value: st for st in SignalType}


def _hash_of(event: dict[str, Any]) -> tuple[SignalType, bytes]:
    """The event's signal type and raw hash, or InvalidHashError (the event is skipped)."""
    st = _SIGNALS.get(event.get("signal"))  # type: ignore[arg-type]
    text = event.get("value")
    if st is None or not isinstance(text, str):
        raise InvalidHashError(f"unknown signal type {event.get('signal')!r} or no value")
    if st is SignalType.PHOTODNA:
        return st, parse_hash(st, text)
    # Hex, exactly the type's size (the general parser is slower: this runs once per entry).
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InvalidHashError(f"{st.value} value is not hexadecimal") from None
    if len(raw) != st.size or len(text) != 2 * st.size:
        raise InvalidHashError(f"{st.value} value must be {2 * st.size} hex digits")
    return st, raw


def apply_events(
    session: Session, peer: Peer, bank: Bank, events: Sequence[dict[str, Any]], assessor: str
) -> tuple[int, int]:
    """Apply verified events to the peer's mirror bank, idempotently; return (applied, skipped).

    Adds and vouches record the peer's vouch when we trust it fully; retractions tombstone the
    entry (and so withdraw its vouch); the vouching rule is then re-checked for every hash
    touched.
    """
    accept = set(peer.accept_labels)
    actor = f"peer:{peer.node_id}"
    touched: list[tuple[str, bytes]] = []
    vouched: list[tuple[SignalType, bytes]] = []
    adds: list[HashRecord] = []
    applied = skipped = 0

    def flush_adds() -> None:
        if adds:
            add_entries(session, bank, adds, added_by=actor, reinstate=True)
            adds.clear()

    for event in events:
        op = event.get("op")
        try:
            st, value = _hash_of(event)
        except InvalidHashError as exc:
            log.warning("peer %s feed entry %s skipped: %s", peer.name, event.get("seq"), exc)
            skipped += 1
            continue
        if op not in _OPS:
            skipped += 1
            continue
        labels = _labels(event.get("labels"), assessor)
        wanted = (
            not accept or not labels or any(f"{lb.scheme}:{lb.value}" in accept for lb in labels)
        )
        if op != "retract" and not wanted:
            skipped += 1
            continue
        video = None
        if st is SignalType.VPDQ and op in ("add", "vouch"):
            try:
                video = video_of(event.get("frames"), value)
            except InvalidHashError as exc:
                log.warning("peer %s feed entry %s skipped: %s", peer.name, event.get("seq"), exc)
                skipped += 1
                continue
        touched.append((st.value, value))
        applied += 1
        if op in ("add", "vouch"):
            item = event.get("item")
            item_id = str(item)[:200] if item else None
            attrs: dict[str, Any] = {}
            if op == "vouch" and event.get("origin"):
                attrs["exchange_origin"] = str(event["origin"])[:64]
            if video is not None:
                adds.append(HashRecord.with_video(video, (), labels, item_id, attrs))
            else:
                adds.append(HashRecord(((st, value),), labels, item_id, attrs))
            vouched.append((st, value))
        elif op == "retract":
            flush_adds()
            retract_entries(
                session,
                bank,
                [(st, value)],
                retracted_by=actor,
                reason=str(event.get("reason") or "retracted by the peer")[:500],
            )
        else:  # relabel: the peer's label set replaces the one we hold
            flush_adds()
            held = session.execute(
                select(BankEntry.id, BankEntry.payload).where(
                    BankEntry.bank_id == bank.id,
                    BankEntry.signal_type == st.value,
                    BankEntry.value == value,
                )
            ).one_or_none()
            if held is not None:
                session.execute(delete(EntryLabel).where(EntryLabel.entry_id == held.id))
            if st is not SignalType.VPDQ:
                adds.append(HashRecord(((st, value),), labels))
            elif held is not None and held.payload is not None:
                # The bank writer keeps a video's frames with its key: give it the held ones.
                video = VideoHash.from_bytes(bytes(held.payload))
                adds.append(HashRecord.with_video(video, (), labels, None, {}))
    flush_adds()
    if peer.trust is Trust.FULL and vouched:
        _record_vouches(session, bank, peer.organisation_id, vouched)
    refresh_acting(session, touched)
    return applied, skipped


def _record_vouches(
    session: Session, bank: Bank, organisation_id: int, keys: list[tuple[SignalType, bytes]]
) -> None:
    by_type: dict[str, set[bytes]] = {}
    for st, value in keys:
        by_type.setdefault(st.value, set()).add(value)
    ids: list[int] = []
    for signal_type, values in by_type.items():
        unique = list(values)
        for start in range(0, len(unique), _IN_BATCH):
            # (bank, signal type, value) is the unique index: a search, not a scan of the bank.
            ids.extend(
                session.scalars(
                    select(BankEntry.id).where(
                        BankEntry.bank_id == bank.id,
                        BankEntry.signal_type == signal_type,
                        BankEntry.value.in_(unique[start : start + _IN_BATCH]),
                        BankEntry.retracted_at.is_(None),
                    )
                )
            )
    if not ids:
        return
    have: set[int] = set()
    for start in range(0, len(ids), _IN_BATCH):
        have.update(
            session.scalars(
                select(EntryVouch.entry_id).where(
                    EntryVouch.entry_id.in_(ids[start : start + _IN_BATCH]),
                    EntryVouch.organisation_id == organisation_id,
                )
            )
        )
    now = utcnow()
    new = [
        {"entry_id": i, "organisation_id": organisation_id, "vouched_at": now}
        for i in ids
        if i not in have
    ]
    if new:
        session.execute(insert(EntryVouch.__table__), new)  # type: ignore[arg-type]


def sync_all(
    factory: sessionmaker[Session], client: httpx.Client, identity: NodeIdentity, **kw: Any
) -> list[SyncReport]:
    """Sync every active peer that is not halted."""
    with session_scope(factory) as session:
        names = list(
            session.scalars(select(Peer.name).where(Peer.active.is_(True), Peer.halted.is_(False)))
        )
    return [sync_peer(factory, client, identity, name, **kw) for name in names]


def sync_peer(
    factory: sessionmaker[Session],
    client: httpx.Client,
    identity: NodeIdentity,
    name: str,
    *,
    limit: int = 1000,
    max_pages: int | None = None,
) -> SyncReport:
    """Pull every accepted feed of peer ``name`` up to its current head (or ``max_pages``)."""
    from kavach.exchange.peers import get_peer

    report = SyncReport(peer=name)
    with session_scope(factory) as session:
        peer = get_peer(session, name)
        if peer.halted:
            report.errors.append(
                "halted after an alarm; see `kavach exchange peer status`, then `peer clear`"
            )
            return report
        url, accept = peer.url, set(peer.accept_banks)
    try:
        response = signed_get(client, identity, f"{url}/exchange/v1/feeds")
        response.raise_for_status()
        listing = response.json()
        banks = [str(f["bank"]) for f in listing["feeds"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return _failed(factory, name, report, f"listing feeds failed: {exc}")
    pages = 0
    for remote in banks:
        if accept and remote not in accept:
            continue
        while True:
            if max_pages is not None and pages >= max_pages:
                return report
            try:
                done = _sync_page(factory, client, identity, name, remote, limit, report)
            except FeedRefusedError as exc:
                with session_scope(factory) as session:
                    peer = get_peer(session, name)
                    raise_alarm(
                        session,
                        peer,
                        remote,
                        exc.kind,
                        exc.detail,
                        halt=exc.kind == "history_rewritten",
                    )
                report.alarms.append(f"{remote}: {exc.message}")
                return report
            except (httpx.HTTPError, ValueError, KavachError) as exc:
                return _failed(factory, name, report, f"feed {remote}: {exc}")
            pages += 1
            if done:
                break
    with session_scope(factory) as session:
        peer = get_peer(session, name)
        peer.last_sync_at = utcnow()
        peer.last_error = None
    return report


def _failed(
    factory: sessionmaker[Session], name: str, report: SyncReport, message: str
) -> SyncReport:
    from kavach.exchange.peers import get_peer

    report.errors.append(message)
    with session_scope(factory) as session:
        get_peer(session, name).last_error = message[:2000]
    return report


def _sync_page(
    factory: sessionmaker[Session],
    client: httpx.Client,
    identity: NodeIdentity,
    name: str,
    remote: str,
    limit: int,
    report: SyncReport,
) -> bool:
    """Fetch, verify and apply one page; True when the feed's head has been reached."""
    from kavach.exchange.peers import get_peer

    with session_scope(factory) as session:
        peer = get_peer(session, name)
        feed = _feed_state(session, peer, remote)
        after = feed.cursor
        frontier = merkle.Frontier.from_json(feed.cursor, feed.frontier)
        known = (feed.head_size, feed.head_root)
        url, key, node_id = peer.url, peer.public_key, peer.node_id
    base = f"{url}/exchange/v1/feeds/{remote}"
    response = signed_get(client, identity, f"{base}?after={after}&limit={limit}")
    response.raise_for_status()

    def consistency(first: int, second: int) -> list[bytes]:
        got = signed_get(client, identity, f"{base}/consistency?first={first}&second={second}")
        got.raise_for_status()
        return [bytes.fromhex(h) for h in got.json()["proof"]]

    page = verify_page(
        response.content,
        key=key,
        node_id=node_id,
        bank=remote,
        after=after,
        frontier=frontier,
        known_size=known[0],
        known_root=None if known[1] is None else bytes(known[1]),
        consistency=consistency,
    )
    with session_scope(factory) as session:
        peer = get_peer(session, name)
        feed = _feed_state(session, peer, remote)
        if feed.cursor != after:
            return False  # another worker applied this page meanwhile; go on from its cursor
        bank = session.get(Bank, feed.bank_id)
        assert bank is not None  # FK
        from kavach.store.models import Organisation

        org = session.get(Organisation, peer.organisation_id)
        applied, skipped = apply_events(
            session, peer, bank, page.events, org.name if org else peer.name
        )
        feed.cursor = page.frontier.size
        feed.frontier = page.frontier.to_json()
        feed.head_size = int(page.head["size"])
        feed.head_root = page.head_root
        feed.head_timestamp = int(page.head.get("timestamp") or 0)
        feed.head_signature = page.head_signature
        feed.updated_at = dt.datetime.now(dt.UTC)
    report.applied[remote] = report.applied.get(remote, 0) + applied
    report.skipped += skipped
    return page.frontier.size >= int(page.head["size"])
