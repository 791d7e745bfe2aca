"""RFC 6962 Merkle proofs: known vectors, and properties over random trees (hypothesis)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from kavach.exchange import merkle


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def _subtree(leaves: list[bytes]):  # type: ignore[no-untyped-def]
    return lambda lo, hi: merkle.root_of(leaves[lo:hi])


def test_hashing_follows_rfc_6962() -> None:
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    # The RFC 6962 test vector: the leaf hash of the empty string.
    assert (
        merkle.leaf_hash(b"").hex()
        == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    a, b, c = (merkle.leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert merkle.root_of([a, b, c]) == merkle.node_hash(merkle.node_hash(a, b), c)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_inclusion_proofs_verify_and_bind_the_position(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    root = merkle.root_of(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(index, size, _subtree(leaves))
    assert merkle.verify_inclusion(index, size, leaves[index], proof, root)
    wrong = merkle.leaf_hash(b"not in the tree")
    assert not merkle.verify_inclusion(index, size, wrong, proof, root)
    if size > 1:
        other = (index + 1) % size
        assert not merkle.verify_inclusion(other, size, leaves[index], proof, root)
    if proof:
        bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert not merkle.verify_inclusion(index, size, leaves[index], bent, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 300), st.data())
def test_consistency_proofs_verify_and_catch_rewrites(second: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(0, second))
    leaves = _leaves(second)
    proof = merkle.consistency_proof(first, second, _subtree(leaves))
    old_root, new_root = merkle.root_of(leaves[:first]), merkle.root_of(leaves)
    assert merkle.verify_consistency(first, second, old_root, new_root, proof)
    if 0 < first < second:
        # History rewritten: one old leaf changed, the rest re-signed.
        at = data.draw(st.integers(0, first - 1))
        forged = list(leaves)
        forged[at] = merkle.leaf_hash(b"rewritten")
        forged_proof = merkle.consistency_proof(first, second, _subtree(forged))
        assert not merkle.verify_consistency(
            first, second, old_root, merkle.root_of(forged), forged_proof
        )
        assert not merkle.verify_consistency(first, second, old_root, new_root, proof[:-1])


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 200), st.integers(0, 200))
def test_a_frontier_tracks_the_root_and_round_trips(start: int, extra: int) -> None:
    leaves = _leaves(start + extra)
    frontier = merkle.Frontier()
    closed: dict[tuple[int, int], bytes] = {}
    for leaf in leaves[:start]:
        for level, idx, h in frontier.append(leaf):
            closed[(level, idx)] = h
    assert frontier.root() == merkle.root_of(leaves[:start])
    again = merkle.Frontier.from_json(start, frontier.to_json())
    for leaf in leaves[start:]:
        again.append(leaf)
    assert again.root() == merkle.root_of(leaves)
    for (level, idx), h in closed.items():
        assert h == merkle.root_of(leaves[idx << level : (idx + 1) << level])
