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


# -- search on a query's reliable bits ---------------------------------------------------------
#
# A query comes with a mask (1 = reliable bit) and matches every row whose distance on the mask's
# bits is within the radius. Each probed chunk enumerates all settings of the mask's unset key
# bits ("wildcards") and flips up to its probing radius among the set ones. See docs/index.md.


@njit(cache=True, nogil=True)
def _masked_distance(h64: Any, i: int, q64: Any, m64: Any, j: int) -> Any:
    d: Any = 0
    for w in range(4):
        d += np.int64(_ctpop((h64[i, w] ^ q64[j, w]) & m64[j, w]))
    return d


@njit(cache=True, nogil=True)
def _binomials(n: int) -> Any:
    """``C(a, b)`` for ``a, b ≤ n`` as float64 (costs) — Pascal's triangle."""
    t = np.zeros((n + 1, n + 1), dtype=np.float64)
    for a in range(n + 1):
        t[a, 0] = 1.0
        for b in range(1, a + 1):
            t[a, b] = t[a - 1, b - 1] + t[a - 1, b]
    return t


@njit(cache=True, nogil=True)
def _chunk_shape(q8: Any, m8: Any, qi: int, start: int, kb: int) -> tuple[Any, Any, Any, int, int]:
    """A query's key in one chunk, split for probing: ``(qkey, rel, wild, low, r)``.

    The mask's unset key bits at the low end (``low`` of them) need no enumeration: all keys that
    differ only there are one contiguous run of buckets. ``qkey``, ``rel`` (reliable bits) and
    ``wild`` (wildcards to enumerate) are the key without those ``low`` bits; ``r`` = popcount(rel).
    """
    full = np.int64((1 << kb) - 1)
    mk = np.int64(_key(m8, qi, start, kb))
    wild = ~mk & full
    low = 0
    while low < kb and (wild >> low) & 1:
        low += 1
    qkey = np.int64(_key(q8, qi, start, kb)) >> low
    rel = mk >> low
    r = 0
    x = rel
    while x:
        x &= x - 1
        r += 1
    return qkey, rel, wild >> low, low, r


# Two-hit plans cap every chunk's radius at one of 0 .. _TWO_HIT_CAPS - 1 (see plan_reliable).
_TWO_HIT_CAPS = 4


@njit(cache=True, nogil=True)
def _greedy(
    unit: Any, reliable: Any, cap: int, need: int, budget: float, binom: Any, radii: Any
) -> float:
    """Radii (≤ ``cap``, < the chunk's reliable bits) whose radii + 1 add up to ``need``, at
    least cost; the cost, or inf if there is none within ``budget``.

    Chunk ``c`` at radius ``s`` costs ``unit[c] · Σ_{d≤s} C(r_c, d)``. The marginal cost of a
    chunk's next unit of radius grows with the radius (for ``s < r/2``, all that is ever used),
    so taking the cheapest unit at each step is optimal.
    """
    m = unit.shape[0]
    for c in range(m):
        radii[c] = -1
    total = 0.0
    weight = 0
    while weight < need:
        best = -1
        best_cost = np.inf
        for c in range(m):
            s = radii[c] + 1  # the radius this step would give chunk c
            if s < reliable[c] and s <= cap:
                cost = unit[c] * binom[reliable[c], s]
                if cost < best_cost:
                    best_cost = cost
                    best = c
        if best < 0:
            return np.inf
        radii[best] += 1
        total += best_cost
        weight += 1
        if total > budget:
            return np.inf
    return total


@njit(cache=True, nogil=True)
def plan_reliable(
    q8: Any,
    m8: Any,
    starts: Any,
    kb: int,
    n_rows: int,
    radius: int,
    costs: Any,
    mode: int,
    plan: Any,
    probes: Any,
    hits: Any,
) -> None:
    """Choose, per query, each chunk's probing radius on its reliable key bits (``plan[q, c]``,
    -1: not probed), at least cost.

    Chunk ``c`` at radius ``s`` reads ``2**u · Σ_{d≤s} C(r, d)`` bucket runs (``u`` wildcards,
    ``r`` reliable key bits), each of ``2**low`` buckets. A radius of ``r`` (the whole chunk) is
    never chosen: that reads every row of the segment and more.

    One-hit plans (``hits[q] = 1``) have radii + 1 adding up to more than ``radius``: a match
    is within its radius in some probed chunk, and every candidate is verified. Two-hit plans
    (``hits[q] = 2``) add up to more than ``radius`` even without their largest term: a match
    is then found in two probed chunks, so only rows met twice are verified, and the others cost
    a bit in a small bitmap instead of a random row load. ``costs`` (ns): a bucket run, a
    verified candidate, a candidate marked in the bitmap, clearing it, scanning the segment.
    ``mode`` 1 or 2 allows only that kind of plan (tests), 0 both. ``probes[q]`` is the number
    of runs, or -1 where a scan is cheaper (or no plan exists, e.g. for an empty mask).
    """
    probe_cost = costs[0]
    row_cost = costs[1]
    mark_cost = costs[2]
    clear_cost = costs[3]
    scan_cost = costs[4]
    m = starts.shape[0]
    binom = _binomials(kb)
    rows_per_bucket = n_rows / float(1 << kb)
    unit1 = np.empty(m, dtype=np.float64)
    unit2 = np.empty(m, dtype=np.float64)
    reliable = np.empty(m, dtype=np.int64)
    wild_bits = np.empty(m, dtype=np.int64)
    trial = np.empty(m, dtype=np.int64)
    for qi in range(q8.shape[0]):
        for c in range(m):
            _, _, wild, low, r = _chunk_shape(q8, m8, qi, starts[c], kb)
            u = 0
            while wild:
                wild &= wild - 1
                u += 1
            reliable[c] = r
            wild_bits[c] = u
            rows = float(1 << low) * rows_per_bucket
            unit1[c] = float(1 << u) * (probe_cost + rows * row_cost)
            unit2[c] = float(1 << u) * (probe_cost + rows * mark_cost)
        best = scan_cost
        hits[qi] = 0
        if mode != 2:
            cost = _greedy(unit1, reliable, kb, radius + 1, best, binom, trial)
            if cost < np.inf and cost <= best:
                best = cost
                hits[qi] = 1
                plan[qi, :] = trial
        if mode != 1:
            for cap in range(_TWO_HIT_CAPS):
                budget = best - clear_cost
                cost = _greedy(unit2, reliable, cap, radius + 2 + cap, budget, binom, trial)
                if cost < np.inf and cost + clear_cost <= best:
                    best = cost + clear_cost
                    hits[qi] = 2
                    plan[qi, :] = trial
        if hits[qi] == 0:
            probes[qi] = -1
            continue
        count = 0
        for c in range(m):
            s = plan[qi, c]
            if s >= 0:
                ball = 0
                for d in range(s + 1):
                    ball += int(binom[reliable[c], d])
                count += ball << wild_bits[c]
        probes[qi] = count


@njit(cache=True, nogil=True)
def _emit_reliable(
    h64: Any,
    alive: Any,
    q64: Any,
    m64: Any,
    qi: int,
    cand: Any,
    n: int,
    dist: Any,
    radius: int,
    out: Any,
    count: int,
) -> int:
    """:func:`_emit` on the reliable bits; rows are (query, position, distance, reliable one)."""
    for j in range(n):
        if j + _AHEAD < n:
            _prefetch(h64, cand[j + _AHEAD])
        dist[j] = _masked_distance(h64, cand[j], q64, m64, qi)
    check_alive = alive.shape[0] > 0
    for j in range(n):
        if dist[j] <= radius and not (check_alive and not alive[cand[j]]):
            if count == out.shape[0]:
                return -1
            out[count, 0] = qi
            out[count, 1] = cand[j]
            out[count, 2] = _distance(h64, cand[j], q64, qi)
            out[count, 3] = dist[j]
            count += 1
    return count


@njit(cache=True, nogil=True)
def _scan_one_reliable(
    h64: Any, alive: Any, q64: Any, m64: Any, qi: int, radius: int, dist: Any, out: Any, count: int
) -> int:
    """Append query ``qi``'s matches among all rows of ``h64``; new count, -1 if ``out`` is full."""
    rows = h64.shape[0]
    check_alive = alive.shape[0] > 0
    for lo in range(0, rows, _BLOCK):
        n = min(_BLOCK, rows - lo)
        for j in range(n):  # contiguous and branch-free: vectorises
            dist[j] = _masked_distance(h64, lo + j, q64, m64, qi)
        for j in range(n):
            if dist[j] <= radius and not (check_alive and not alive[lo + j]):
                if count == out.shape[0]:
                    return -1
                out[count, 0] = qi
                out[count, 1] = lo + j
                out[count, 2] = _distance(h64, lo + j, q64, qi)
                out[count, 3] = dist[j]
                count += 1
    return count


@njit(cache=True, nogil=True)
def scan_reliable(
    h64: Any, alive: Any, q64: Any, m64: Any, radius: int, out: Any, q_start: int
) -> tuple[int, int]:
    """Linear scan on the reliable bits; same contract as :func:`mih_reliable`."""
    count = 0
    dist = np.empty(_BLOCK, dtype=np.int64)
    for qi in range(q_start, q64.shape[0]):
        first = count
        count = _scan_one_reliable(h64, alive, q64, m64, qi, radius, dist, out, count)
        if count < 0:
            return first, qi
    return count, q64.shape[0]


@njit(cache=True, nogil=True)
def _clear(seen: Any, used: bool) -> None:
    if used:
        seen[:] = 0


@njit(cache=True, nogil=True)
def mih_reliable(
    h64: Any,
    alive: Any,
    offsets: Any,
    positions: Any,
    starts: Any,
    kb: int,
    plan: Any,
    probes: Any,
    q8: Any,
    m8: Any,
    q64: Any,
    m64: Any,
    radius: int,
    hits: Any,
    seen: Any,
    shift: int,
    runs: Any,
    out: Any,
    q_start: int,
) -> tuple[int, int]:
    """Multi-index search on the reliable bits, following :func:`plan_reliable`'s plan.

    Writes (query row, position, distance, reliable distance) rows; ``runs`` holds at least
    ``probes.max()`` entries (a query's bucket runs, listed first so they can be prefetched).
    Queries whose plan is a scan (``probes[q] < 0``) are scanned. For two-hit plans ``seen``
    (zeros, one bit per ``2**shift`` rows) marks the rows met so far; a row is verified when its
    bit is already set (by itself or a neighbour: extra candidates, never a miss). Same return
    contract as :func:`mih_search`.
    """
    size = 1 << kb
    m = starts.shape[0]
    count = 0
    cand = np.empty(_BLOCK, dtype=np.int64)
    dist = np.empty(_BLOCK, dtype=np.int64)
    bits = np.empty(kb, dtype=np.int64)
    idx = np.empty(kb + 1, dtype=np.int64)
    for qi in range(q_start, q8.shape[0]):
        first = count
        if probes[qi] < 0:
            count = _scan_one_reliable(h64, alive, q64, m64, qi, radius, dist, out, count)
            if count < 0:
                return first, qi
            continue
        # Phase 1: the first bucket of every run (run length 2**low per chunk, kept in the top
        # bits so one array serves), so that phase 2 can prefetch the table slots ahead of use.
        k = 0
        for c in range(m):
            s = plan[qi, c]
            if s < 0:
                continue
            qkey, rel, wild, low, r = _chunk_shape(q8, m8, qi, starts[c], kb)
            nb = 0
            for b in range(kb):
                if (rel >> b) & 1:
                    bits[nb] = 1 << b
                    nb += 1
            base = c * size
            for d in range(s + 1):
                for i in range(d):
                    idx[i] = i
                while True:
                    g = qkey
                    for i in range(d):
                        g ^= bits[idx[i]]
                    f = 0
                    while True:  # every subset f of the wildcards
                        runs[k] = ((base + ((g ^ f) << low)) << 5) | low
                        k += 1
                        f = (f - wild) & wild
                        if f == 0:
                            break
                    i = d - 1  # next combination of d reliable bits
                    while i >= 0 and idx[i] == r - d + i:
                        i -= 1
                    if i < 0:
                        break
                    idx[i] += 1
                    for j in range(i + 1, d):
                        idx[j] = idx[j - 1] + 1
        for t in range(min(k, 2 * _AHEAD)):
            _prefetch(offsets, runs[t] >> 5)
        two = hits[qi] == 2
        n = 0
        for t in range(k):
            # Two stages: a slot 2·_AHEAD runs ahead, then the positions it points at.
            if t + 2 * _AHEAD < k:
                _prefetch(offsets, runs[t + 2 * _AHEAD] >> 5)
            if t + _AHEAD < k:
                _prefetch(positions, offsets[runs[t + _AHEAD] >> 5])
            b = runs[t] >> 5
            for i in range(offsets[b], offsets[b + (1 << (runs[t] & 31))]):
                if n == _BLOCK:
                    count = _emit_reliable(
                        h64, alive, q64, m64, qi, cand, n, dist, radius, out, count
                    )
                    if count < 0:
                        _clear(seen, two)
                        return first, qi
                    n = 0
                p = positions[i]
                cand[n] = p
                if two:  # keep p only if its bit was already set, without branching on it
                    cell = np.int64(p) >> shift
                    word = seen[cell >> 6]
                    bit = np.uint64(1) << np.uint64(cell & 63)
                    n += int((word & bit) != 0)
                    seen[cell >> 6] = word | bit
                else:
                    n += 1
        _clear(seen, two)
        count = _emit_reliable(h64, alive, q64, m64, qi, cand, n, dist, radius, out, count)
        if count < 0:
            return first, qi
        count = _dedupe(out, first, count)
    return count, q8.shape[0]
