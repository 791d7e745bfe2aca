"""Helpers for the index tests: a brute-force reference and hash-set generators."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def brute_force(
    hashes: NDArray[np.uint8], ids: NDArray[np.uint64], query: NDArray[np.uint8], radius: int
) -> list[tuple[int, int]]:
    """(distance, id) of every hash within ``radius`` of ``query``, sorted: the ground truth."""
    if len(hashes) == 0:
        return []
    d = np.unpackbits(hashes ^ query, axis=1).sum(axis=1)
    hit = d <= radius
    return sorted(zip(d[hit].tolist(), ids[hit].tolist(), strict=True))


def flip_bits(rng: np.random.Generator, h: NDArray[np.uint8], k: int) -> NDArray[np.uint8]:
    """``h`` with ``k`` distinct random bits flipped."""
    bits = np.unpackbits(h)
    bits[rng.choice(256, size=k, replace=False)] ^= 1
    return np.packbits(bits)


def hash_set(kind: str, n: int, seed: int) -> NDArray[np.uint8]:
    """Generated hash sets, including adversarial ones for multi-index hashing."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    if kind == "families":  # near-duplicates: most chunks shared within a family
        bases = rng.integers(0, 256, size=(max(1, n // 8), 32), dtype=np.uint8)
        rows = [flip_bits(rng, bases[i % len(bases)], int(rng.integers(0, 40))) for i in range(n)]
        return np.array(rows, dtype=np.uint8).reshape(n, 32)
    if kind == "extremes":  # all-zero, all-one and hashes one or two bits away from them
        rows = []
        for i in range(n):
            base = np.zeros(32, np.uint8) if i % 2 else np.full(32, 255, np.uint8)
            rows.append(flip_bits(rng, base, int(rng.integers(0, 3))))
        return np.array(rows, dtype=np.uint8).reshape(n, 32)
    if kind == "duplicates":
        few = rng.integers(0, 256, size=(3, 32), dtype=np.uint8)
        return few[rng.integers(0, 3, size=n)]
    raise ValueError(kind)


def queries_for(hashes: NDArray[np.uint8], n: int, seed: int) -> NDArray[np.uint8]:
    """Queries near stored hashes (planted at distance 0-64), plus random and extreme ones."""
    rng = np.random.default_rng(seed)
    rows = [np.zeros(32, np.uint8), np.full(32, 255, np.uint8)]
    for _ in range(n):
        if len(hashes) and rng.random() < 0.8:
            h = hashes[rng.integers(0, len(hashes))]
            rows.append(flip_bits(rng, h, int(rng.integers(0, 65))))
        else:
            rows.append(rng.integers(0, 256, size=32, dtype=np.uint8))
    return np.array(rows, dtype=np.uint8)


def brute_force_reliable(
    hashes: NDArray[np.uint8],
    ids: NDArray[np.uint64],
    query: NDArray[np.uint8],
    mask: NDArray[np.uint8],
    radius: int,
) -> list[tuple[int, int, int]]:
    """(reliable distance, id, full distance) of every hash within ``radius`` on ``mask``."""
    if len(hashes) == 0:
        return []
    full = np.unpackbits(hashes ^ query, axis=1).sum(axis=1)
    masked = np.unpackbits((hashes ^ query) & mask, axis=1).sum(axis=1)
    hit = masked <= radius
    return sorted(zip(masked[hit].tolist(), ids[hit].tolist(), full[hit].tolist(), strict=True))


CHUNK_BOUNDS = np.cumsum([0, 22, 22, 22, 22, 21, 21, 21, 21, 21, 21, 21, 21])


def make_mask(rng: np.random.Generator, kind: str) -> NDArray[np.uint8]:
    """A packed reliable-bit mask: ``random`` (64 random wildcards, as real queries have),
    ``clustered`` (all 64 in 3 chunks), ``empty``, ``full``, ``sparse`` (a random 0-256 set)."""
    bits = np.ones(256, np.uint8)
    if kind == "random":
        bits[rng.choice(256, size=64, replace=False)] = 0
    elif kind == "clustered":
        wide = int(rng.integers(0, 4))  # one 22-bit chunk makes room for 64 bits in 3 chunks
        others = rng.choice(np.arange(4, 12), size=2, replace=False)
        pool = np.concatenate(
            [np.arange(CHUNK_BOUNDS[c], CHUNK_BOUNDS[c + 1]) for c in (wide, *others.tolist())]
        )
        bits[rng.choice(pool, size=64, replace=False)] = 0
    elif kind == "empty":
        bits[:] = 0
    elif kind == "sparse":
        bits = (rng.random(256) < rng.random()).astype(np.uint8)
    elif kind != "full":
        raise ValueError(kind)
    return np.packbits(bits)


def reliable_queries(
    hashes: NDArray[np.uint8], n: int, seed: int, mask_kind: str, radius: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Queries with masks: stored hashes with many flips on their wildcards and radius-2 to
    radius+2 flips on their reliable bits (near neighbours on both sides of the radius), and
    random hashes."""
    rng = np.random.default_rng(seed)
    queries, masks = [], []
    for _ in range(n):
        mask = make_mask(rng, mask_kind)
        if len(hashes) and rng.random() < 0.8:
            bits = np.unpackbits(hashes[rng.integers(0, len(hashes))])
            m = np.unpackbits(mask).astype(bool)
            wild, rel = np.flatnonzero(~m), np.flatnonzero(m)
            if len(wild):
                bits[rng.choice(wild, size=int(rng.integers(0, len(wild) + 1)), replace=False)] ^= 1
            k = int(np.clip(radius + rng.integers(-2, 3), 0, len(rel)))
            bits[rng.choice(rel, size=k, replace=False)] ^= 1
            queries.append(np.packbits(bits))
        else:
            queries.append(rng.integers(0, 256, size=32, dtype=np.uint8))
        masks.append(mask)
    return np.array(queries, np.uint8).reshape(-1, 32), np.array(masks, np.uint8).reshape(-1, 32)
