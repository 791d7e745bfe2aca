"""Exact PDQ radius search by multi-index hashing.

The 256 bits are cut into 12 chunks (4 × 22 + 8 × 21 bits); each segment keeps, per chunk, a
bucket table keyed by the chunk's first ``kb`` bits (``kb`` ≤ 21, sized to the segment). By the
pigeonhole principle a hash within ``r`` of the query has, for ``r = 12·s + a``, one of the first
``a + 1`` chunks within ``s`` bits or one of the others within ``s - 1`` bits, so probing those
balls of keys finds every match; candidates are then verified with popcount. Where probing would
read more than a scan (large radii, small segments), the segment is scanned instead. Both paths
are exact. See ``docs/index.md`` for the numbers behind the choices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kavach.errors import IndexFormatError
from kavach.index import _kernels
from kavach.index._segments import FlatMatches, Matches, Segment, SegmentedIndex, run_kernel

HASH_BYTES = 32
DEFAULT_RADIUS = 31
# 4 × 22 + 8 × 21 = 256; 12 chunks keep radius 31 at probing radius 2 (refined pigeonhole).
CHUNK_WIDTHS = (22, 22, 22, 22, 21, 21, 21, 21, 21, 21, 21, 21)
CHUNK_STARTS = tuple(int(x) for x in np.cumsum((0, *CHUNK_WIDTHS[:-1])))
# 2**21 buckets per chunk keep the tables at ~100 MB for 10 M hashes (memory target 1 GB).
MAX_KEY_BITS = 21
_STARTS = np.array(CHUNK_STARTS, dtype=np.int64)


def key_bits(n: int) -> int:
    """Bits of each chunk used as bucket key for a segment of ``n`` rows (~2 rows per bucket)."""
    return max(1, min(MAX_KEY_BITS, math.ceil(math.log2(max(n, 2))) - 1))


@lru_cache(maxsize=32)
def _masks(kb: int) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """All ``kb``-bit XOR masks ordered by popcount, and how many have popcount ≤ s, per s."""
    allm = np.arange(1 << kb, dtype=np.uint32)
    pc = np.bitwise_count(allm)
    order = np.argsort(pc, kind="stable")
    sizes = np.searchsorted(pc[order], np.arange(kb + 1), side="right").astype(np.int64)
    masks = allm[order]
    masks.flags.writeable = False
    return masks, sizes


def chunk_radii(radius: int, kb: int) -> NDArray[np.int64]:
    """Probing radius per chunk for ``radius`` (-1: not probed), capped at the key width."""
    m = len(CHUNK_WIDTHS)
    s, a = divmod(radius, m)
    radii = np.array([s] * (a + 1) + [s - 1] * (m - a - 1), dtype=np.int64)
    return np.minimum(radii, kb)


def _prefer_scan(n: int, kb: int, radii: NDArray[np.int64]) -> bool:
    """Whether scanning ``n`` rows is cheaper than probing (costs measured in ns at 10 M)."""
    probes = sum(math.comb(kb, d) for s in radii.tolist() for d in range(s + 1))
    candidates = probes * n / (1 << kb)
    return 4 * n < 20 * (probes + candidates)


class PDQIndex(SegmentedIndex):
    """Exact radius search over PDQ hashes (``uint8[N, 32]``) with 64-bit ids.

    ``tail_limit``: segments smaller than this get no tables and are scanned (cheaper there).
    """

    _kind = "pdq"
    _width = HASH_BYTES

    def __init__(self, *, tail_limit: int = 8192, merge_ratio: int = 4) -> None:
        super().__init__(tail_limit=tail_limit, merge_ratio=merge_ratio)

    def search(self, queries: ArrayLike, radius: int = DEFAULT_RADIUS) -> list[Matches]:
        """Per query row, the ids within ``radius`` bits and their distances, nearest first.

        ``queries`` is ``uint8[Q, 32]`` (or one ``uint8[32]``). For dihedral search pass the 8
        transformed hashes as 8 rows: the result says which row matched.
        """
        flat = self.search_flat(queries, radius)
        n = 1 if np.ndim(queries) == 1 else len(np.asarray(queries))
        return flat.split(n)

    def search_flat(
        self, queries: ArrayLike, radius: int = DEFAULT_RADIUS, *, threads: int = 1
    ) -> FlatMatches:
        """Like :meth:`search`, as three parallel arrays (query row, id, distance)."""
        return super().search_flat(queries, radius, threads=threads)

    def _build_tables(
        self, rows: NDArray[np.uint8]
    ) -> tuple[dict[str, NDArray[Any]], dict[str, int]]:
        n = len(rows)
        kb = key_bits(n)
        m = len(CHUNK_WIDTHS)
        dtype = np.uint32 if m * n < 2**32 else np.uint64
        offsets = np.empty(m * (1 << kb) + 1, dtype=dtype)
        positions = np.empty(m * n, dtype=np.uint32)
        _kernels.build_tables(rows, _STARTS, kb, offsets, positions)
        return {"offsets": offsets, "positions": positions}, {"kb": kb}

    def _search_segment(
        self, seg: Segment, queries: NDArray[np.uint8], radius: int
    ) -> NDArray[np.int64]:
        alive = np.empty(0, dtype=np.bool_) if seg.alive is None else seg.alive
        h64 = seg.rows.view(np.uint64)
        q64 = queries.view(np.uint64)
        if seg.tables:
            kb = seg.meta["kb"]
            radii = chunk_radii(radius, kb)
            if not _prefer_scan(len(seg.ids), kb, radii):
                masks, sizes = _masks(kb)
                args = (
                    h64,
                    alive,
                    seg.tables["offsets"],
                    seg.tables["positions"],
                    _STARTS,
                    kb,
                    radii,
                    masks,
                    sizes,
                    queries,
                    q64,
                    radius,
                )
                return run_kernel(_kernels.mih_search, args, len(queries))
        return run_kernel(_kernels.scan_search, (h64, alive, q64, radius), len(queries))

    def _params(self) -> dict[str, Any]:
        return {
            "chunk_starts": list(CHUNK_STARTS),
            "max_key_bits": MAX_KEY_BITS,
            "tail_limit": self._tail_limit,
            "merge_ratio": self._merge_ratio,
        }

    @classmethod
    def _from_params(cls, params: Mapping[str, Any]) -> PDQIndex:
        if list(params["chunk_starts"]) != list(CHUNK_STARTS):
            raise ValueError("built with a different chunk layout; rebuild the index")
        return cls(tail_limit=int(params["tail_limit"]), merge_ratio=int(params["merge_ratio"]))

    def _check_loaded(self, seg: Segment) -> None:
        if not seg.tables:
            return
        try:
            kb = int(seg.meta["kb"])
            offsets = seg.tables["offsets"]
            positions = seg.tables["positions"]
        except KeyError as e:
            raise IndexFormatError(f"an indexed segment lacks {e}") from e
        ok = (
            set(seg.tables) == {"offsets", "positions"}
            and 1 <= kb <= MAX_KEY_BITS
            and offsets.dtype in (np.uint32, np.uint64)
            and positions.dtype == np.uint32
            and _kernels.tables_valid(offsets, positions, len(seg.ids), len(CHUNK_WIDTHS), kb)
        )
        if not ok:
            raise IndexFormatError("a segment's search tables are inconsistent (corrupt file)")
