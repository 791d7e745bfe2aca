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
