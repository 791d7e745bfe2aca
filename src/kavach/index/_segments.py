"""What the PDQ and exact indexes share: ids, segments, tombstones, snapshots and files.

An index is a tuple of immutable segments, each sorted by id. ``add`` builds a segment from the
new rows and merges it with the last segments while they are small or comparable in size
(size-tiered, like an LSM tree), so a row is rebuilt O(log N) times in total and no add rebuilds
the whole index unless it is as big as the index. ``remove`` marks rows dead in a copy of the
segment's ``alive`` array and compacts a segment once half of it is dead.

Writers serialise on a lock and publish a new tuple; readers take the current tuple and never
lock, so searches run while a writer works and always see a consistent snapshot.
"""

from __future__ import annotations

import itertools
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, Self, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kavach.errors import IndexFormatError, InputError, InvalidHashError
from kavach.index import _format

_MAX_RADIUS = 256
# Below this many queries per thread, splitting a batch costs more than it saves.
_MIN_QUERIES_PER_THREAD = 32
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
_T = TypeVar("_T")


def _search_pool(size: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``size`` search threads (made once per size)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(size)
        if pool is None:
            pool = _POOLS[size] = ThreadPoolExecutor(size, thread_name_prefix="kavach-search")
        return pool


class Matches(NamedTuple):
    """The matches of one query: ids and their distances, nearest first (ties by id)."""

    ids: NDArray[np.uint64]
    distances: NDArray[np.int32]


class FlatMatches(NamedTuple):
    """The matches of a batch as parallel arrays, ordered by query row, distance, id."""

    rows: NDArray[np.int64]
    ids: NDArray[np.uint64]
    distances: NDArray[np.int32]

    def split(self, n_queries: int) -> list[Matches]:
        """One :class:`Matches` per query row."""
        bounds = np.searchsorted(self.rows, np.arange(n_queries + 1))
        return [Matches(self.ids[a:b], self.distances[a:b]) for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True, slots=True)
class Segment:
    """Rows sorted by id, their liveness, and the search tables built over them."""

    ids: NDArray[np.uint64]
    rows: NDArray[np.uint8]
    alive: NDArray[np.bool_] | None  # None: nothing removed
    n_alive: int
    tables: Mapping[str, NDArray[Any]]  # empty: searched by scan
    meta: Mapping[str, int]

    @property
    def nbytes(self) -> int:
        total = self.ids.nbytes + self.rows.nbytes + sum(t.nbytes for t in self.tables.values())
        return total + (0 if self.alive is None else self.alive.nbytes)

    def live(self) -> tuple[NDArray[np.uint64], NDArray[np.uint8]]:
        if self.alive is None:
            return self.ids, self.rows
        return self.ids[self.alive], self.rows[self.alive]


def check_ids(ids: ArrayLike) -> NDArray[np.uint64]:
    """``ids`` as a 1-D ``uint64`` array; :class:`InputError` unless non-negative integers."""
    a = np.asarray(ids)
    if a.ndim != 1:
        raise InputError(f"ids must be a 1-D array, got shape {a.shape}")
    if a.size == 0:
        return np.empty(0, dtype=np.uint64)
    if a.dtype.kind not in "ui":
        raise InputError(f"ids must be unsigned 64-bit integers, got dtype {a.dtype}")
    if a.dtype.kind == "i" and bool((a < 0).any()):
        raise InputError("ids must be non-negative")
    return a.astype(np.uint64, copy=False)


def check_rows(rows: ArrayLike, width: int, what: str, *, allow_1d: bool) -> NDArray[np.uint8]:
    """``rows`` as a C-contiguous ``uint8[n, width]`` array, else :class:`InvalidHashError`."""
    a = np.asarray(rows)
    if a.dtype != np.uint8:
        raise InvalidHashError(
            f"{what} must be a uint8 array of shape (n, {width}), got dtype {a.dtype}"
        )
    if allow_1d and a.shape == (width,):
        a = a.reshape(1, width)
    if a.ndim != 2 or a.shape[1] != width:
        raise InvalidHashError(f"{what} must have shape (n, {width}), got {a.shape}")
    return np.ascontiguousarray(a)


def check_radius(radius: int) -> int:
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer):
        raise InputError(f"radius must be an integer, got {type(radius).__name__}")
    if not 0 <= radius <= _MAX_RADIUS:
        raise InputError(f"radius must be between 0 and {_MAX_RADIUS}, got {radius}")
    return int(radius)


def run_kernel(
    kernel: Any, args: tuple[Any, ...], n_queries: int, columns: int = 3
) -> NDArray[np.int64]:
    """Call a search kernel, giving it a bigger output buffer whenever it fills one."""
    parts: list[NDArray[np.int64]] = []
    capacity = max(1024, 16 * n_queries)
    q = 0
    while q < n_queries:
        out = np.empty((capacity, columns), dtype=np.int64)
        count, q_next = kernel(*args, out, q)
        parts.append(out[:count])
        if q_next == q:
            capacity *= 2  # one query alone has more matches than the buffer holds
        q = q_next
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty((0, columns), dtype=np.int64)


def split_batch(n_queries: int, threads: int, work: Callable[[int, int], _T]) -> list[_T]:
    """``work(a, b)`` on consecutive slices of ``range(n_queries)``, in threads when it pays."""
    parts = min(max(threads, 1), n_queries // _MIN_QUERIES_PER_THREAD)
    if parts <= 1:
        return [work(0, n_queries)]
    bounds = np.linspace(0, n_queries, parts + 1).astype(np.intp).tolist()
    pool = _search_pool(parts)
    futures = [pool.submit(work, a, b) for a, b in itertools.pairwise(bounds)]
    return [f.result() for f in futures]


class SegmentedIndex(ABC):
    """Base of :class:`PDQIndex` and :class:`ExactIndex`: everything but the search tables."""

    _kind: str
    _width: int

    def __init__(self, *, tail_limit: int, merge_ratio: int = 4) -> None:
        if tail_limit < 0 or merge_ratio < 2:
            raise InputError("tail_limit must be ≥ 0 and merge_ratio ≥ 2")
        self._tail_limit = tail_limit
        self._merge_ratio = merge_ratio
        self._segments: tuple[Segment, ...] = ()
        self._lock = threading.Lock()

    # -- what a concrete index provides ---------------------------------------------------------

    @abstractmethod
    def _build_tables(
        self, rows: NDArray[np.uint8]
    ) -> tuple[dict[str, NDArray[Any]], dict[str, int]]:
        """Search tables and metadata for ``rows`` (already sorted by id)."""

    @abstractmethod
    def _search_segment(
        self, seg: Segment, queries: NDArray[np.uint8], radius: int
    ) -> NDArray[np.int64]:
        """``int64[k, 3]`` (query row, row in segment, distance) of the live matches in ``seg``."""

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """What :meth:`load` needs to rebuild this object (stored in the file header)."""

    @abstractmethod
    def _check_loaded(self, seg: Segment) -> None:
        """Raise :class:`IndexFormatError` unless ``seg``'s tables are safe to search."""

    # -- public API -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(s.n_alive for s in self._segments)

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (ids, rows, tables, tombstones)."""
        return sum(s.nbytes for s in self._segments)

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def add(self, ids: ArrayLike, rows: ArrayLike) -> None:
        """Add rows under new, unique ids; :class:`InputError` if an id is already present."""
        new_ids = check_ids(ids)
        new_rows = check_rows(rows, self._width, "hashes", allow_1d=False)
        if len(new_ids) != len(new_rows):
            raise InputError(f"got {len(new_ids)} ids for {len(new_rows)} hashes")
        if len(new_ids) == 0:
            return
        sorted_ids = np.sort(new_ids)
        if bool((sorted_ids[1:] == sorted_ids[:-1]).any()):
            raise InputError("ids repeat within the batch; each id names one hash")
        with self._lock:
            segs = self._segments
            for seg in segs:
                hit = self._find(seg, sorted_ids)
                if hit.size:
                    raise InputError(
                        f"{hit.size} id(s) already in the index (e.g. {int(seg.ids[hit[0]])}); "
                        "remove them first"
                    )
            # Fold the last segments in while they are small or no bigger than ratio × the batch.
            while segs and (
                segs[-1].n_alive < self._tail_limit
                or len(new_ids) * self._merge_ratio >= segs[-1].n_alive
            ):
                old_ids, old_rows = segs[-1].live()
                new_ids = np.concatenate([old_ids, new_ids])
                new_rows = np.concatenate([old_rows, new_rows])
                segs = segs[:-1]
            order = np.argsort(new_ids, kind="stable")
            self._segments = (*segs, self._make_segment(new_ids[order], new_rows[order]))

    def remove(self, ids: ArrayLike) -> int:
        """Remove the rows with these ids; returns how many were present (others are ignored)."""
        gone = check_ids(ids)
        if gone.size == 0:
            return 0
        gone = np.unique(gone)
        removed = 0
        with self._lock:
            out: list[Segment] = []
            for seg in self._segments:
                hit = self._find(seg, gone)
                if hit.size == 0:
                    out.append(seg)
                    continue
                removed += int(hit.size)
                alive = np.ones(len(seg.ids), dtype=np.bool_) if seg.alive is None else seg.alive
                alive = alive.copy()
                alive[hit] = False
                n_alive = seg.n_alive - int(hit.size)
                if n_alive == 0:
                    continue
                if 2 * n_alive < len(seg.ids):
                    out.append(self._make_segment(seg.ids[alive], seg.rows[alive]))
                else:
                    out.append(Segment(seg.ids, seg.rows, alive, n_alive, seg.tables, seg.meta))
            self._segments = tuple(out)
        return removed

    def search_flat(self, queries: ArrayLike, radius: int, *, threads: int = 1) -> FlatMatches:
        """All matches of a batch as parallel arrays (query row, id, distance).

        ``threads`` > 1 splits a large batch between threads (the kernels release the GIL), for
        a caller with many queries and idle cores; the result is the same.
        """
        q = check_rows(queries, self._width, "queries", allow_1d=True)
        r = check_radius(radius)
        segments = self._segments  # one snapshot: writers replace the tuple, never mutate it
        found = split_batch(len(q), threads, lambda a, b: self._search(segments, q[a:b], r, a))
        rows = [f[0] for f in found if len(f[0])]
        if not rows:
            return FlatMatches(np.empty(0, np.int64), np.empty(0, np.uint64), np.empty(0, np.int32))
        all_rows = np.concatenate(rows)
        all_ids = np.concatenate([f[1] for f in found if len(f[0])])
        all_d = np.concatenate([f[2] for f in found if len(f[0])])
        order = np.lexsort((all_ids, all_d, all_rows))
        return FlatMatches(all_rows[order], all_ids[order], all_d[order])

    def _search(
        self, segments: tuple[Segment, ...], q: NDArray[np.uint8], r: int, first_row: int = 0
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]:
        rows, ids, dists = [], [], []
        for seg in segments:
            found = self._search_segment(seg, q, r)
            rows.append(found[:, 0] + first_row)
            ids.append(seg.ids[found[:, 1]])
            dists.append(found[:, 2].astype(np.int32))
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.uint64), np.empty(0, np.int32)
        return np.concatenate(rows), np.concatenate(ids), np.concatenate(dists)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to one file (atomically replaced); see ``docs/index.md``."""
        stored = []
        for seg in self._segments:
            arrays: dict[str, NDArray[Any]] = {"ids": seg.ids, "rows": seg.rows}
            if seg.alive is not None:
                arrays["alive"] = seg.alive
            arrays.update(seg.tables)
            stored.append(
                _format.StoredSegment(meta={**seg.meta, "n_alive": seg.n_alive}, arrays=arrays)
            )
        _format.write(path, _format.StoredIndex(self._kind, self._params(), stored))

    @classmethod
    def _from_params(cls, params: Mapping[str, Any]) -> Self:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = True) -> Self:
        """Map a saved index; :class:`IndexFormatError` if the file is corrupt or truncated.

        ``verify`` checks every array's checksum (about 0.25 s per GB); without it only the
        header and the structure are checked.
        """
        stored = _format.read(path, kind=cls._kind, verify=verify)
        try:
            index = cls._from_params(stored.params)
        except (KeyError, TypeError, ValueError, InputError) as e:
            raise IndexFormatError(f"{path}: bad index parameters ({e})") from e
        segs = []
        for s in stored.segments:
            segs.append(index._segment_from_file(s, str(path)))
        index._segments = tuple(segs)
        return index

    # -- helpers -------------------------------------------------------------------------------

    def _make_segment(self, ids: NDArray[np.uint64], rows: NDArray[np.uint8]) -> Segment:
        """A segment over ``ids`` (sorted, unique) and their rows; small ones get no tables."""
        rows = np.ascontiguousarray(rows)
        if len(ids) < self._tail_limit:
            return Segment(ids, rows, None, len(ids), {}, {})
        tables, meta = self._build_tables(rows)
        return Segment(ids, rows, None, len(ids), tables, meta)

    @staticmethod
    def _find(seg: Segment, ids: NDArray[np.uint64]) -> NDArray[np.intp]:
        """Row numbers in ``seg`` of the live rows whose id is in ``ids`` (sorted)."""
        pos: NDArray[np.intp] = np.searchsorted(seg.ids, ids)
        inside = pos < len(seg.ids)
        pos = pos[inside]
        pos = pos[seg.ids[pos] == ids[inside]]
        if seg.alive is not None:
            pos = pos[seg.alive[pos]]
        return pos

    def _segment_from_file(self, s: _format.StoredSegment, path: str) -> Segment:
        arrays = dict(s.arrays)
        try:
            ids = arrays.pop("ids")
            rows = arrays.pop("rows")
            alive = arrays.pop("alive", None)
            n_alive = int(s.meta["n_alive"])
        except KeyError as e:
            raise IndexFormatError(f"{path}: segment lacks {e}") from e
        n = len(ids)
        ok = (
            ids.dtype == np.uint64
            and ids.ndim == 1
            and rows.dtype == np.uint8
            and rows.shape == (n, self._width)
            and (alive is None or (alive.dtype == np.bool_ and alive.shape == (n,)))
            and n_alive == (n if alive is None else int(np.count_nonzero(alive)))
            and bool((ids[1:] > ids[:-1]).all())
        )
        if not ok:
            raise IndexFormatError(f"{path}: a segment's arrays are inconsistent (corrupt file)")
        meta = {k: v for k, v in s.meta.items() if k != "n_alive"}
        seg = Segment(ids, rows, alive, n_alive, arrays, meta)
        self._check_loaded(seg)
        return seg
