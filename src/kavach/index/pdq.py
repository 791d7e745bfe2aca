"""Exact PDQ radius search by multi-index hashing.

The 256 bits are cut into 12 chunks (4 × 22 + 8 × 21 bits); each segment keeps, per chunk, a
bucket table keyed by the chunk's first ``kb`` bits (``kb`` ≤ 21, sized to the segment). By the
pigeonhole principle a hash within ``r`` of the query has, for ``r = 12·s + a``, one of the first
``a + 1`` chunks within ``s`` bits or one of the others within ``s - 1`` bits, so probing those
balls of keys finds every match; candidates are then verified with popcount. Where probing would
read more than a scan (large radii, small segments), the segment is scanned instead. Both paths
are exact. See ``docs/index.md`` for the numbers behind the choices.

:meth:`PDQIndex.search_reliable` compares only the bits a query marks reliable, on the same
tables: each chunk's unreliable key bits are enumerated, its reliable ones probed to a radius
chosen per query (see :func:`_kernels.plan_reliable`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kavach.errors import IndexFormatError, InputError, InvalidHashError
from kavach.index import _kernels
from kavach.index._segments import (
    FlatMatches,
    Matches,
    Segment,
    SegmentedIndex,
    check_radius,
    check_rows,
    run_kernel,
    split_batch,
)

HASH_BYTES = 32
DEFAULT_RADIUS = 31
# 4 × 22 + 8 × 21 = 256; 12 chunks keep radius 31 at probing radius 2 (refined pigeonhole).
CHUNK_WIDTHS = (22, 22, 22, 22, 21, 21, 21, 21, 21, 21, 21, 21)
CHUNK_STARTS = tuple(int(x) for x in np.cumsum((0, *CHUNK_WIDTHS[:-1])))
# 2**21 buckets per chunk keep the tables at ~100 MB for 10 M hashes (memory target 1 GB).
MAX_KEY_BITS = 21
_STARTS = np.array(CHUNK_STARTS, dtype=np.int64)
# Cost model of a reliable-bits search, per query (ns, as in _prefer_scan): reading one bucket
# run, verifying one candidate row, marking one in a two-hit plan's bitmap, clearing one bitmap
# word, scanning one row.
_PROBE_NS = 20.0
_ROW_NS = 20.0
_MARK_NS = 3.0
_CLEAR_NS = 0.25
_SCAN_NS = 4.0
# 0: each query gets the cheapest plan; 1 or 2: only one-hit or two-hit plans (tests).
_RELIABLE_MODE = 0
# A two-hit plan's bitmap has at most 2**20 bits (128 KiB, cache-resident): rows share bits.
_SEEN_BITS = 20


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


class ReliableMatches(NamedTuple):
    """Matches on the query's reliable bits, as parallel arrays ordered by query row, reliable
    distance, id. ``distances`` are full 256-bit Hamming distances; ``reliable_distances``
    count only the bits the query's mask sets (what the radius applies to)."""

    rows: NDArray[np.int64]
    ids: NDArray[np.uint64]
    distances: NDArray[np.int32]
    reliable_distances: NDArray[np.int32]


def _check_masks(masks: ArrayLike, n_queries: int) -> NDArray[np.uint8]:
    a = np.asarray(masks)
    if a.dtype == np.bool_ and a.shape[-1:] == (8 * HASH_BYTES,):
        raise InvalidHashError(
            "masks must be packed like the hashes (uint8[n, 32]): use np.packbits(mask, axis=-1)"
        )
    m = check_rows(a, HASH_BYTES, "masks", allow_1d=True)
    if len(m) != n_queries:
        raise InputError(f"got {len(m)} masks for {n_queries} queries; give one mask per query")
    return m


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

    def search_reliable(
        self, queries: ArrayLike, masks: ArrayLike, radius: int, *, threads: int = 1
    ) -> ReliableMatches:
        """Every row within ``radius`` of a query on the bits its mask sets, exactly.

        ``queries`` and ``masks`` are ``uint8[Q, 32]`` (or one ``uint8[32]`` each), the masks
        packed in the hashes' bit order, a set bit meaning "compare this bit". A row matches
        query ``q`` when ``popcount((row ^ q) & mask) <= radius``; removed rows never match.
        Any mask works (an empty one matches every row); the cost depends on how many unset bits
        fall into the index's key bits (``docs/index.md``). ``threads`` as in :meth:`search_flat`.
        """
        q = check_rows(queries, HASH_BYTES, "queries", allow_1d=True)
        m = _check_masks(masks, len(q))
        r = check_radius(radius)
        segments = self._segments  # one snapshot: writers replace the tuple, never mutate it

        def work(a: int, b: int) -> list[NDArray[Any]]:
            qa, ma = np.ascontiguousarray(q[a:b]), np.ascontiguousarray(m[a:b])
            parts = []
            for seg in segments:
                found = self._search_segment_reliable(seg, qa, ma, r)
                parts.append((found, seg.ids[found[:, 1]]))
            if not parts:
                return [np.empty((0, 4), np.int64), np.empty(0, np.uint64)]
            found = np.concatenate([p[0] for p in parts])
            found[:, 0] += a
            return [found, np.concatenate([p[1] for p in parts])]

        results = split_batch(len(q), threads, work)
        found = np.concatenate([x[0] for x in results])
        ids = np.concatenate([x[1] for x in results]).astype(np.uint64, copy=False)
        order = np.lexsort((ids, found[:, 3], found[:, 0]))
        found = found[order]
        return ReliableMatches(
            found[:, 0].copy(),
            ids[order],
            found[:, 2].astype(np.int32),
            found[:, 3].astype(np.int32),
        )

    def _search_segment_reliable(
        self, seg: Segment, queries: NDArray[np.uint8], masks: NDArray[np.uint8], radius: int
    ) -> NDArray[np.int64]:
        """``int64[k, 4]``: (query row, row in segment, distance, reliable distance)."""
        alive = np.empty(0, dtype=np.bool_) if seg.alive is None else seg.alive
        h64 = seg.rows.view(np.uint64)
        q64 = queries.view(np.uint64)
        m64 = masks.view(np.uint64)
        n = len(seg.ids)
        if seg.tables:
            kb = seg.meta["kb"]
            shift = max(0, (n - 1).bit_length() - _SEEN_BITS)
            cells = (n + (1 << shift) - 1) >> shift
            words = (cells + 63) // 64
            plan = np.empty((len(queries), len(CHUNK_WIDTHS)), dtype=np.int64)
            probes = np.empty(len(queries), dtype=np.int64)
            hits = np.empty(len(queries), dtype=np.int64)
            costs = np.array([_PROBE_NS, _ROW_NS, _MARK_NS, _CLEAR_NS * words, _SCAN_NS * n])
            _kernels.plan_reliable(
                queries, masks, _STARTS, kb, n, radius, costs, _RELIABLE_MODE, plan, probes, hits
            )
            if (probes >= 0).any():
                runs = np.empty(int(probes.max()), dtype=np.int64)
                seen = np.zeros(words if (hits == 2).any() else 0, dtype=np.uint64)
                args = (
                    h64,
                    alive,
                    seg.tables["offsets"],
                    seg.tables["positions"],
                    _STARTS,
                    kb,
                    plan,
                    probes,
                    queries,
                    masks,
                    q64,
                    m64,
                    radius,
                    hits,
                    seen,
                    shift,
                    runs,
                )
                return run_kernel(_kernels.mih_reliable, args, len(queries), columns=4)
        scan_args = (h64, alive, q64, m64, radius)
        return run_kernel(_kernels.scan_reliable, scan_args, len(queries), columns=4)

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
