"""Exact lookup of fixed-size digests: MD5, SHA-1, SHA-256, stored PhotoDNA vectors.

Each segment keeps a 64-bit fingerprint of every digest, sorted, with the row it came from;
a lookup binary-searches the fingerprints and compares the full digests of the hits, so
fingerprint collisions cost time, never correctness.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kavach.errors import IndexFormatError, InputError
from kavach.index._segments import FlatMatches, Matches, Segment, SegmentedIndex

DIGEST_SIZES = {"md5": 16, "sha1": 20, "sha256": 32, "photodna": 144}
_MIX = np.uint64(0x9E3779B97F4A7C15)


def fingerprint(rows: NDArray[np.uint8]) -> NDArray[np.uint64]:
    """A well-mixed 64-bit value per row (not cryptographic; collisions are re-checked)."""
    n, width = rows.shape
    padded = np.zeros((n, -(-width // 8) * 8), dtype=np.uint8)
    padded[:, :width] = rows
    words = padded.view("<u8")
    h = np.full(n, width, dtype=np.uint64)
    for w in range(words.shape[1]):
        h ^= words[:, w]
        h *= _MIX
        h ^= h >> np.uint64(29)
    return h


class ExactIndex(SegmentedIndex):
    """Exact-match index over digests of ``digest_size`` bytes (``uint8[N, digest_size]``)."""

    _kind = "exact"

    def __init__(self, digest_size: int, *, merge_ratio: int = 4) -> None:
        if isinstance(digest_size, bool) or not isinstance(digest_size, int) or digest_size < 1:
            raise InputError(f"digest_size must be a positive integer, got {digest_size!r}")
        self._width = digest_size
        super().__init__(tail_limit=0, merge_ratio=merge_ratio)

    @property
    def digest_size(self) -> int:
        return self._width

    def search(self, queries: ArrayLike, radius: int = 0) -> list[Matches]:
        """Per query row, the ids stored under exactly that digest (distances are all 0)."""
        flat = self.search_flat(queries, radius)
        n = 1 if np.ndim(queries) == 1 else len(np.asarray(queries))
        return flat.split(n)

    def search_flat(self, queries: ArrayLike, radius: int = 0, *, threads: int = 1) -> FlatMatches:
        """Like :meth:`search`, as three parallel arrays (query row, id, distance)."""
        if radius != 0:
            raise InputError("an exact index only answers radius 0")
        return super().search_flat(queries, 0, threads=threads)

    def _build_tables(
        self, rows: NDArray[np.uint8]
    ) -> tuple[dict[str, NDArray[Any]], dict[str, int]]:
        fp = fingerprint(rows)
        order = np.argsort(fp, kind="stable")
        return {"fingerprints": fp[order], "order": order.astype(np.int64)}, {}

    def _search_segment(
        self, seg: Segment, queries: NDArray[np.uint8], radius: int
    ) -> NDArray[np.int64]:
        fps = seg.tables["fingerprints"]
        qfp = fingerprint(queries)
        lo = np.searchsorted(fps, qfp, side="left")
        hi = np.searchsorted(fps, qfp, side="right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return np.empty((0, 3), dtype=np.int64)
        qrow = np.repeat(np.arange(len(queries), dtype=np.int64), counts)
        ends = np.cumsum(counts)
        idx = np.repeat(lo - (ends - counts), counts) + np.arange(total)
        pos = seg.tables["order"][idx]
        keep = (seg.rows[pos] == queries[qrow]).all(axis=1)
        if seg.alive is not None:
            keep &= seg.alive[pos]
        qrow, pos = qrow[keep], pos[keep]
        return np.stack([qrow, pos, np.zeros_like(pos)], axis=1)

    def _params(self) -> dict[str, Any]:
        return {"digest_size": self._width, "merge_ratio": self._merge_ratio}

    @classmethod
    def _from_params(cls, params: Mapping[str, Any]) -> ExactIndex:
        return cls(int(params["digest_size"]), merge_ratio=int(params["merge_ratio"]))

    def _check_loaded(self, seg: Segment) -> None:
        fps = seg.tables.get("fingerprints")
        order = seg.tables.get("order")
        n = len(seg.ids)
        ok = (
            set(seg.tables) == {"fingerprints", "order"}
            and fps is not None
            and order is not None
            and fps.dtype == np.uint64
            and order.dtype == np.int64
            and fps.shape == (n,)
            and order.shape == (n,)
            and (n == 0 or (int(order.min()) >= 0 and int(order.max()) < n))
            and bool((fps[1:] >= fps[:-1]).all())
        )
        if not ok:
            raise IndexFormatError("a segment's lookup tables are inconsistent (corrupt file)")
