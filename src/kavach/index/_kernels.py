# numba's intrinsics take their typing context as a hidden first argument, which mypy sees as a
# missing one; numba.core.cgutils is untyped.
# mypy: disable-error-code="call-arg,no-untyped-call"
"""Compiled inner loops of the PDQ index (numba, cached on disk).

NumPy alone spends ~1 ms per query at 10 M hashes on call overhead and small gathers (measured);
these loops do the same work in ~0.1 ms. They trust their inputs: callers validate shapes, and
loaded files are checked before any array reaches them, because numba does no bounds checking.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

HASH_BYTES = 32


@intrinsic
def _ctpop(typingctx: Any, x: Any) -> Any:
    """The CPU's popcount instruction (numba has no portable spelling of it)."""
    sig = types.uint64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def _prefetch(typingctx: Any, arr: Any, idx: Any) -> Any:
    """Ask the CPU to start loading ``arr[idx]`` (1-D) or row ``arr[idx, :]`` (2-D) into cache.

    Verification and probing are bound by cache misses on random rows; prefetching a few
    iterations ahead measured ~35% faster at 10 M hashes.
    """
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        inds = [args[1]] + [context.get_constant(types.intp, 0)] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer2(
            context,
            builder,
            data=ary.data,
            shape=cgutils.unpack_tuple(builder, ary.shape),
            strides=cgutils.unpack_tuple(builder, ary.strides),
            layout=aryty.layout,
            inds=inds,
        )
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


_AHEAD = 16


@njit(cache=True, nogil=True)
def _distance(a: Any, i: int, b: Any, j: int) -> Any:
    d: Any = 0
    for w in range(4):
        d += np.int64(_ctpop(a[i, w] ^ b[j, w]))
    return d


@njit(cache=True, nogil=True)
def _key(h8: Any, row: int, start: int, kb: int) -> int:
    """The ``kb`` bits of row ``row`` starting at bit ``start`` (bit 0 = high bit of byte 0)."""
    j = start >> 3
    v = np.uint32(0)
    for t in range(4):
        if j + t < HASH_BYTES:
            v |= np.uint32(h8[row, j + t]) << np.uint32(24 - 8 * t)
    return int((v >> np.uint32(32 - (start & 7) - kb)) & np.uint32((1 << kb) - 1))


_BLOCK = 4096


@njit(cache=True, nogil=True)
def _emit(
    h64: Any,
    alive: Any,
    q64: Any,
    qi: int,
    cand: Any,
    n: int,
    dist: Any,
    radius: int,
    out: Any,
    count: int,
) -> int:
    """Verify ``cand[:n]`` against query ``qi``, append matches to ``out``; new count, -1 if full.

    Distances get a loop of their own: with no stores or branches in it the CPU overlaps the
    cache misses of the random row loads. ``out`` is never reallocated in here, because numba then
    adds atomic reference counting to every loop iteration (measured 4x slower).
    """
    for j in range(n):
        if j + _AHEAD < n:
            _prefetch(h64, cand[j + _AHEAD])
        dist[j] = _distance(h64, cand[j], q64, qi)
    check_alive = alive.shape[0] > 0
    for j in range(n):
        if dist[j] <= radius and not (check_alive and not alive[cand[j]]):
            if count == out.shape[0]:
                return -1
            out[count, 0] = qi
            out[count, 1] = cand[j]
            out[count, 2] = dist[j]
            count += 1
    return count


@njit(cache=True, nogil=True)
def _dedupe(out: Any, first: int, count: int) -> int:
    """Drop repeated positions among ``out[first:count]`` (one query's matches); new count."""
    if count - first < 2:
        return count
    order = np.argsort(out[first:count, 1]) + first
    rows = out[order]
    kept = first
    for j in range(rows.shape[0]):
        if j == 0 or rows[j, 1] != rows[j - 1, 1]:
            out[kept] = rows[j]
            kept += 1
    return kept


@njit(cache=True, nogil=True)
def build_tables(h8: Any, starts: Any, kb: int, offsets: Any, positions: Any) -> None:
    """Fill the per-chunk bucket tables by counting sort.

    ``offsets[c * 2**kb + key]`` is where chunk ``c``'s bucket ``key`` begins in ``positions``;
    chunk ``c`` owns ``positions[c * n:(c + 1) * n]``, so one flat array serves every chunk.
    """
    n = h8.shape[0]
    size = 1 << kb
    for c in range(starts.shape[0]):
        base = c * size
        for k in range(size + 1):
            offsets[base + k] = 0
        for r in range(n):
            offsets[base + _key(h8, r, starts[c], kb) + 1] += 1
        offsets[base] = c * n
        for k in range(1, size + 1):
            offsets[base + k] += offsets[base + k - 1]
        # Use each bucket's start as its fill cursor; afterwards it points at the next bucket.
        for r in range(n):
            k = _key(h8, r, starts[c], kb)
            positions[offsets[base + k]] = r
            offsets[base + k] += 1
        for k in range(size, 0, -1):
            offsets[base + k] = offsets[base + k - 1]
        offsets[base] = c * n


@njit(cache=True, nogil=True)
def mih_search(
    h64: Any,
    alive: Any,
    offsets: Any,
    positions: Any,
    starts: Any,
    kb: int,
    chunk_radius: Any,
    masks: Any,
    ball_sizes: Any,
    q8: Any,
    q64: Any,
    radius: int,
    out: Any,
    q_start: int,
) -> tuple[int, int]:
    """Multi-index search from query ``q_start`` on, writing (query row, position, distance) rows.

    Chunk ``c`` is probed with every key within ``chunk_radius[c]`` bits of the query's key
    (``-1``: not probed). ``masks`` lists XOR masks by popcount, ``ball_sizes[s]`` of them have
    popcount ≤ s. ``alive`` is empty when nothing in the segment was removed. Returns
    ``(count, next_query)``: when ``out`` fills up, the rows of ``next_query`` are left out and
    the caller resumes from it with a new buffer.
    """
    size = 1 << kb
    m = starts.shape[0]
    probes = 0
    for c in range(m):
        if chunk_radius[c] >= 0:
            probes += ball_sizes[chunk_radius[c]]
    buckets = np.empty(probes, dtype=np.int64)
    count = 0
    cand = np.empty(_BLOCK, dtype=np.int64)
    dist = np.empty(_BLOCK, dtype=np.int64)
    for qi in range(q_start, q8.shape[0]):
        first = count
        # Phase 1: the table slots to read, so that phase 2 can prefetch them ahead of use.
        k = 0
        for c in range(m):
            s = chunk_radius[c]
            if s >= 0:
                base = c * size
                qk = _key(q8, qi, starts[c], kb)
                for t in range(ball_sizes[s]):
                    buckets[k] = base + (qk ^ masks[t])
                    k += 1
        n = 0
        for t in range(probes):
            if t + _AHEAD < probes:
                _prefetch(offsets, buckets[t + _AHEAD])
            b = buckets[t]
            for i in range(offsets[b], offsets[b + 1]):
                if n == _BLOCK:
                    count = _emit(h64, alive, q64, qi, cand, n, dist, radius, out, count)
                    if count < 0:
                        return first, qi
                    n = 0
                cand[n] = positions[i]
                n += 1
        count = _emit(h64, alive, q64, qi, cand, n, dist, radius, out, count)
        if count < 0:
            return first, qi
        count = _dedupe(out, first, count)
    return count, q8.shape[0]


@njit(cache=True, nogil=True)
def scan_search(
    h64: Any, alive: Any, q64: Any, radius: int, out: Any, q_start: int
) -> tuple[int, int]:
    """Linear scan; same contract as :func:`mih_search`."""
    count = 0
    dist = np.empty(_BLOCK, dtype=np.int64)
    rows = h64.shape[0]
    check_alive = alive.shape[0] > 0
    for qi in range(q_start, q64.shape[0]):
        first = count
        for lo in range(0, rows, _BLOCK):
            n = min(_BLOCK, rows - lo)
            # Contiguous rows and no branches: this loop vectorises.
            for j in range(n):
                dist[j] = _distance(h64, lo + j, q64, qi)
            for j in range(n):
                if dist[j] <= radius and not (check_alive and not alive[lo + j]):
                    if count == out.shape[0]:
                        return first, qi
                    out[count, 0] = qi
                    out[count, 1] = lo + j
                    out[count, 2] = dist[j]
                    count += 1
    return count, q64.shape[0]


@njit(cache=True, nogil=True)
def tables_valid(offsets: Any, positions: Any, n: int, m: int, kb: int) -> bool:
    """Whether loaded tables are safe to search: monotone offsets inside each chunk's range."""
    size = 1 << kb
    if offsets.shape[0] != m * size + 1 or positions.shape[0] != m * n:
        return False
    for c in range(m):
        base = c * size
        if offsets[base] != c * n or offsets[base + size] != (c + 1) * n:
            return False
        for k in range(size):
            if offsets[base + k] > offsets[base + k + 1]:
                return False
    return bool(positions.shape[0] == 0 or positions.max() < n)
