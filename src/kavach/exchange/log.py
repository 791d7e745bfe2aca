"""A feed's transparency log in the database: append leaves, sign tree heads, answer proofs.

Leaves are stored with their hashes; every complete subtree (level ≥ 1) is stored as it closes,
so a proof needs O(log n) single-row reads and appending never rereads old leaves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kavach.banks.models import Bank
from kavach.errors import InputError
from kavach.exchange import canonical, merkle
from kavach.exchange.identity import NodeIdentity, b64
from kavach.exchange.models import FeedLeaf, FeedNode, FeedState

__all__ = [
    "append",
    "consistency",
    "frontier_at",
    "head_object",
    "inclusion",
    "leaves",
    "sign_head",
    "state_for",
    "subtree_hash",
]


def state_for(session: Session, bank: Bank, identity: NodeIdentity) -> FeedState:
    """The feed state of ``bank``, created (empty, with a signed head) on first use."""
    state = session.get(FeedState, bank.id)
    if state is None:
        state = FeedState(bank_id=bank.id, published_version=0, size=0, root=merkle.EMPTY_ROOT)
        sign_head(state, bank.name, identity)
        session.add(state)
        session.flush()
    return state


def head_object(state: FeedState, bank_name: str, node_id: str) -> dict[str, Any]:
    """The signed tree head as it travels (signature included)."""
    body = _head_body(node_id, bank_name, state.size, state.root, state.head_timestamp)
    return {**body, "signature": b64(state.head_signature)}


def _head_body(node_id: str, bank: str, size: int, root: bytes, timestamp: int) -> dict[str, Any]:
    return {
        "v": 1,
        "type": "tree_head",
        "node": node_id,
        "bank": bank,
        "size": size,
        "root": root.hex(),
        "timestamp": timestamp,
    }


def sign_head(state: FeedState, bank_name: str, identity: NodeIdentity) -> None:
    """Stamp and sign the head for the state's current size and root."""
    state.head_timestamp = int(time.time() * 1000)
    body = _head_body(identity.node_id, bank_name, state.size, state.root, state.head_timestamp)
    state.head_signature = identity.sign(canonical.encode(body))


def frontier_at(session: Session, bank_id: int, size: int) -> merkle.Frontier:
    """The frontier of the first ``size`` leaves, read from stored subtrees."""
    nodes: list[tuple[int, bytes]] = []
    offset = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, _stored(session, bank_id, level, offset >> level)))
            offset += 1 << level
    return merkle.Frontier(size, nodes)


def append(
    session: Session,
    state: FeedState,
    datas: Sequence[bytes],
    bank_name: str,
    identity: NodeIdentity,
) -> None:
    """Append leaves (canonical bytes) to the feed and sign the new head."""
    if not datas:
        return
    frontier = frontier_at(session, state.bank_id, state.size)
    leaf_rows: list[dict[str, Any]] = []
    node_rows: list[dict[str, Any]] = []
    for data in datas:
        h = merkle.leaf_hash(data)
        leaf_rows.append(
            {"bank_id": state.bank_id, "seq": frontier.size, "data": data, "leaf_hash": h}
        )
        for level, idx, node in frontier.append(h):
            node_rows.append({"bank_id": state.bank_id, "level": level, "idx": idx, "hash": node})
    for start in range(0, len(leaf_rows), 1000):
        session.execute(insert(FeedLeaf), leaf_rows[start : start + 1000])
    for start in range(0, len(node_rows), 1000):
        session.execute(insert(FeedNode), node_rows[start : start + 1000])
    state.size = frontier.size
    state.root = frontier.root()
    sign_head(state, bank_name, identity)
    session.flush()


def _stored(session: Session, bank_id: int, level: int, idx: int) -> bytes:
    if level == 0:
        value = session.scalar(
            select(FeedLeaf.leaf_hash).where(FeedLeaf.bank_id == bank_id, FeedLeaf.seq == idx)
        )
    else:
        value = session.scalar(
            select(FeedNode.hash).where(
                FeedNode.bank_id == bank_id, FeedNode.level == level, FeedNode.idx == idx
            )
        )
    if value is None:
        raise InputError(f"feed tree node {level}/{idx} is missing")
    return bytes(value)


def subtree_hash(session: Session, bank_id: int, lo: int, hi: int) -> bytes:
    """The Merkle hash of leaves ``[lo, hi)``: a stored node when complete, else composed."""
    width = hi - lo
    if width & (width - 1) == 0 and lo % width == 0:
        level = width.bit_length() - 1
        return _stored(session, bank_id, level, lo >> level)
    k = merkle.split_point(width)
    return merkle.node_hash(
        subtree_hash(session, bank_id, lo, lo + k), subtree_hash(session, bank_id, lo + k, hi)
    )


def inclusion(session: Session, state: FeedState, index: int, size: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree of ``size`` (≤ the feed's size)."""
    if not 0 <= index < size <= state.size:
        raise InputError(f"need 0 <= index < size <= {state.size}")
    return merkle.inclusion_proof(
        index, size, lambda lo, hi: subtree_hash(session, state.bank_id, lo, hi)
    )


def consistency(session: Session, state: FeedState, first: int, second: int) -> list[bytes]:
    """The consistency proof between sizes ``first`` and ``second`` (≤ the feed's size)."""
    if not 0 <= first <= second <= state.size:
        raise InputError(f"need 0 <= first <= second <= {state.size}")
    return merkle.consistency_proof(
        first, second, lambda lo, hi: subtree_hash(session, state.bank_id, lo, hi)
    )


def leaves(
    session: Session, bank_id: int, after: int, limit: int, *, max_bytes: int | None = None
) -> list[bytes]:
    """The canonical bytes of leaves ``after .. after+limit-1``; with ``max_bytes``, fewer once
    they add up to more than that (at least one)."""
    rows = session.scalars(
        select(FeedLeaf.data)
        .where(FeedLeaf.bank_id == bank_id, FeedLeaf.seq >= after, FeedLeaf.seq < after + limit)
        .order_by(FeedLeaf.seq)
    )
    out: list[bytes] = []
    total = 0
    for row in rows:
        data = bytes(row)
        if out and max_bytes is not None and total + len(data) > max_bytes:
            break
        out.append(data)
        total += len(data)
    return out
