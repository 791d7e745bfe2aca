"""RFC 6962 / RFC 9162 Merkle trees: hashing, proofs and their verification, storage-free.

Leaves hash as SHA-256(0x00 || data), interior nodes as SHA-256(0x01 || left || right); the tree
over n leaves splits at the largest power of two below n. Proof builders take a ``subtree``
callable giving the hash of leaves ``[lo, hi)`` (always a power-of-two-aligned range or the
right edge of the tree), so a database can answer from stored complete subtrees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_of",
    "split_point",
    "verify_consistency",
    "verify_inclusion",
]

Subtree = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly below ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root over leaf hashes (the reference implementation, O(n))."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 6962 PATH)."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            proof.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(lo, lo + k))
            lo = lo + k
    proof.reverse()
    return proof


def consistency_proof(first: int, second: int, subtree: Subtree) -> list[bytes]:
    """The proof that the tree of ``first`` leaves is a prefix of that of ``second`` (PROOF)."""
    if not 0 <= first <= second:
        raise ValueError("first must be between 0 and second")
    if first == 0 or first == second:
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            proof.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(lo, lo + k))
            m -= k
            lo = lo + k
            whole = False
    if not whole:
        proof.append(subtree(lo, hi))
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows ``leaf`` at ``index`` in the tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree (first, first_root) is a prefix of (second, ...)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """The roots of the complete subtrees covering a tree's leaves, left to right.

    Enough to append leaves and compute the root of any larger size without the leaves
    themselves: a follower keeps one per feed (O(log n) hashes).
    """

    __slots__ = ("nodes", "size")

    def __init__(self, size: int = 0, nodes: Sequence[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self.nodes: list[tuple[int, bytes]] = list(nodes)  # (level, hash), levels decreasing
        if sum(1 << level for level, _ in self.nodes) != size:
            raise ValueError("frontier does not cover its size")

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return the complete subtrees it closed as (level, index, hash)."""
        closed: list[tuple[int, int, bytes]] = []
        level, h = 0, leaf
        while self.nodes and self.nodes[-1][0] == level:
            _, left = self.nodes.pop()
            h = node_hash(left, h)
            level += 1
            closed.append((level, self.size >> level, h))
        self.nodes.append((level, h))
        self.size += 1
        return closed

    def root(self) -> bytes:
        """The root of the tree over the leaves appended so far."""
        if not self.nodes:
            return EMPTY_ROOT
        h = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            h = node_hash(left, h)
        return h

    def copy(self) -> Frontier:
        """An independent copy."""
        return Frontier(self.size, self.nodes)

    def to_json(self) -> list[str]:
        """Hex hashes, left to right (levels follow from the size)."""
        return [h.hex() for _, h in self.nodes]

    @classmethod
    def from_json(cls, size: int, hashes: Sequence[str]) -> Frontier:
        """The frontier of ``size`` from :meth:`to_json`."""
        levels = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if len(levels) != len(hashes):
            raise ValueError("frontier has the wrong number of hashes for its size")
        return cls(size, [(lv, bytes.fromhex(h)) for lv, h in zip(levels, hashes, strict=True)])
