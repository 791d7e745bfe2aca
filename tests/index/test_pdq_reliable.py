"""PDQIndex.search_reliable is exact on the reliable bits: brute force, plans, edge cases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kavach.errors import InputError, InvalidHashError
from kavach.index import PDQIndex, pdq
from kavach.index._kernels import plan_reliable
from kavach.index.pdq import ReliableMatches
from tests.index.helpers import (
    CHUNK_BOUNDS,
    brute_force_reliable,
    hash_set,
    make_mask,
    reliable_queries,
)

KINDS = ["random", "families", "extremes", "duplicates"]
MASKS = ["random", "clustered", "empty", "full", "sparse"]
RADII = st.one_of(st.sampled_from([0, 1, 11, 23, 31]), st.integers(0, 40))


def assert_exact(index: PDQIndex, hashes, ids, queries, masks, radius: int, **kw) -> None:
    got = index.search_reliable(queries, masks, radius, **kw)
    assert isinstance(got, ReliableMatches)
    assert got.rows.dtype == np.int64
    assert got.ids.dtype == np.uint64
    assert got.distances.dtype == got.reliable_distances.dtype == np.int32
    expected = [
        (row, *hit)
        for row, (q, m) in enumerate(zip(queries, masks, strict=True))
        for hit in brute_force_reliable(hashes, ids, q, m, radius)
    ]
    found = list(
        zip(
            got.rows.tolist(),
            got.reliable_distances.tolist(),
            got.ids.tolist(),
            got.distances.tolist(),
            strict=True,
        )
    )
    assert found == expected


@pytest.fixture(params=[0, 1, 2], ids=["cheapest", "one-hit", "two-hit"])
def plans(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Which plans the index may choose; two-hit ones also with rows sharing bitmap bits."""
    monkeypatch.setattr(pdq, "_RELIABLE_MODE", request.param)
    if request.param == 2:
        monkeypatch.setattr(pdq, "_SEEN_BITS", 5)
    return int(request.param)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(KINDS),
    mask_kind=st.sampled_from(MASKS),
    n=st.integers(0, 400),
    seed=st.integers(0, 2**32 - 1),
    radius=RADII,
    batch=st.integers(1, 400),
)
def test_matches_brute_force(make_index, plans, kind, mask_kind, n, seed, radius, batch) -> None:
    hashes = hash_set(kind, n, seed)
    ids = np.random.default_rng(seed).permutation(2**20)[:n].astype(np.uint64) * 7919
    index = make_index()
    for a in range(0, n, batch):  # several adds make several segments
        index.add(ids[a : a + batch], hashes[a : a + batch])
    queries, masks = reliable_queries(hashes, 12, seed + 1, mask_kind, radius)
    assert_exact(index, hashes, ids, queries, masks, radius)


@pytest.fixture(scope="module")
def large() -> tuple[PDQIndex, np.ndarray, np.ndarray]:
    """An index big enough for probing to beat scanning (kb = 14), plus a scanned tail."""
    hashes = hash_set("random", 30_000, 3)
    hashes[20_000:20_500] = hash_set("families", 500, 4)  # near-duplicate clusters too
    ids = np.arange(30_000, dtype=np.uint64) * 5
    index = PDQIndex()
    index.add(ids[:29_000], hashes[:29_000])
    index.add(ids[29_000:], hashes[29_000:])
    index.remove(ids[::9])
    return index, hashes, ids


def live(index: PDQIndex, hashes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.ones(len(ids), bool)
    keep[::9] = False
    return hashes[keep], ids[keep]


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("radius", [0, 23, 31])
def test_indexed_and_tail_segments(large, plans, mask_kind: str, radius: int) -> None:
    index, hashes, ids = large
    assert [bool(s.tables) for s in index._segments] == [True, False]
    queries, masks = reliable_queries(hashes, 40, radius, mask_kind, radius)
    lh, lids = live(index, hashes, ids)
    assert_exact(index, lh, lids, queries, masks, radius)


def test_planted_copies_are_found_and_removed_rows_are_not(large, plans) -> None:
    index, hashes, ids = large
    rng = np.random.default_rng(7)
    rows = np.array([1, 9, 100, 20_001, 29_500])  # 9: removed
    masks = np.stack([make_mask(rng, "random") for _ in rows])
    queries = hashes[rows].copy()
    for q, m in zip(queries, masks, strict=True):  # all wildcards flipped, 23 reliable bits
        bits, mb = np.unpackbits(q), np.unpackbits(m).astype(bool)
        bits[~mb] ^= 1
        bits[rng.choice(np.flatnonzero(mb), 23, replace=False)] ^= 1
        q[:] = np.packbits(bits)
    got = index.search_reliable(queries, masks, 23)
    for row, stored in enumerate(rows.tolist()):
        mine = got.ids[got.rows == row].tolist()
        assert (int(ids[stored]) in mine) == (stored % 9 != 0)
    hit = got.ids == ids[rows[0]]
    assert got.reliable_distances[hit].tolist() == [23]
    assert got.distances[hit].tolist() == [23 + 64]


def test_threads_return_what_one_thread_does(large, plans) -> None:
    index, hashes, _ = large
    queries, masks = reliable_queries(hashes, 300, 5, "random", 23)
    one = index.search_reliable(queries, masks, 23)
    assert len(one.ids) > 0
    for threads in (2, 3):
        many = index.search_reliable(queries, masks, 23, threads=threads)
        for a, b in zip(one, many, strict=True):
            np.testing.assert_array_equal(a, b)


def test_saved_and_loaded(tmp_path: Path, large, plans) -> None:
    index, hashes, _ = large
    index.save(tmp_path / "bank.kvx")
    loaded = PDQIndex.load(tmp_path / "bank.kvx")
    queries, masks = reliable_queries(hashes, 60, 8, "clustered", 23)
    a = index.search_reliable(queries, masks, 23)
    b = loaded.search_reliable(queries, masks, 23)
    assert len(a.ids) > 0
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_empty_mask_matches_every_live_row(large) -> None:
    index, hashes, ids = large
    got = index.search_reliable(hashes[:2], np.zeros((2, 32), np.uint8), 0)
    _, lids = live(index, hashes, ids)
    assert got.rows.tolist() == [0] * len(lids) + [1] * len(lids)
    assert got.ids.tolist() == lids.tolist() * 2
    assert not got.reliable_distances.any()


def test_full_mask_is_plain_search(large) -> None:
    index, hashes, _ = large
    queries, _ = reliable_queries(hashes, 50, 9, "full", 20)
    plain = index.search_flat(queries, 20)
    got = index.search_reliable(queries, np.full((50, 32), 255, np.uint8), 20)
    np.testing.assert_array_equal(got.rows, plain.rows)
    np.testing.assert_array_equal(got.ids, plain.ids)
    np.testing.assert_array_equal(got.distances, plain.distances)
    np.testing.assert_array_equal(got.reliable_distances, plain.distances)


def ball(r: int, s: int) -> int:
    return sum(math.comb(r, d) for d in range(s + 1))


def cheapest(units: np.ndarray, reliable: np.ndarray, need: int, cap: int) -> float:
    """The least cost of radii ≤ ``cap`` adding up (+1 each) to ``need``, by dynamic
    programming over chunks."""
    best = np.full(need + 1, np.inf)
    best[0] = 0.0
    for u, r in zip(units.tolist(), reliable.tolist(), strict=True):
        nxt = best.copy()
        for s in range(min(r, cap + 1)):  # radius s adds s + 1
            for w in range(need + 1):
                to = min(need, w + s + 1)
                nxt[to] = min(nxt[to], best[w] + u * ball(r, s))
        best = nxt
    return float(best[need])


COSTS = np.array([20.0, 20.0, 3.0, 1000.0, np.inf])  # run, row, mark, clear, scan


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kb=st.integers(12, 21),
    radius=st.sampled_from([0, 5, 15, 23, 31]),
    mask_kind=st.sampled_from(["random", "clustered", "full"]),
    mode=st.sampled_from([0, 1, 2]),
)
def test_plan_is_valid_and_cheapest(
    seed: int, kb: int, radius: int, mask_kind: str, mode: int
) -> None:
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 256, size=(1, 32), dtype=np.uint8)
    m = make_mask(rng, mask_kind)[None, :]
    n = 2 << kb  # two rows per bucket
    plan, probes, hits = np.empty((1, 12), np.int64), np.empty(1, np.int64), np.empty(1, np.int64)
    plan_reliable(q, m, pdq._STARTS, kb, n, radius, COSTS, mode, plan, probes, hits)
    bits = np.unpackbits(m[0]).astype(bool)
    key = [bits[s : s + kb] for s in CHUNK_BOUNDS[:-1]]
    reliable = np.array([k.sum() for k in key])
    low = np.array([len(k) - len(np.trim_zeros(k.astype(int), "b")) for k in key])
    wild = kb - low - reliable
    rows = 2.0**low * 2.0
    radii = plan[0]
    probed = radii >= 0
    assert (radii < reliable).all()  # never a whole chunk
    assert probes[0] == sum(
        2 ** int(w) * ball(int(r), int(s))
        for w, r, s in zip(wild[probed], reliable[probed], radii[probed], strict=True)
    )
    weight = int((radii[probed] + 1).sum())
    cost = {}
    one = 2.0**wild * (20.0 + rows * 20.0)
    cost[1] = cheapest(one, reliable, radius + 1, kb)
    two = 2.0**wild * (20.0 + rows * 3.0)
    cost[2] = 1000.0 + min(cheapest(two, reliable, radius + 2 + c, c) for c in range(4))
    chosen = cost[1] if hits[0] == 1 else cost[2]
    spent = sum(
        u * ball(int(r), int(s))
        for u, r, s in zip(
            (one if hits[0] == 1 else two)[probed], reliable[probed], radii[probed], strict=True
        )
    ) + (1000.0 if hits[0] == 2 else 0.0)
    if hits[0] == 1:  # some probed chunk is within its radius
        assert mode != 2
        assert weight > radius
    else:  # two probed chunks are within theirs
        assert hits[0] == 2
        assert mode != 1
        assert weight - int(radii.max()) - 1 > radius
    assert spent == pytest.approx(chosen)
    allowed = [cost[k] for k in (1, 2) if mode in (0, k)]
    assert chosen == pytest.approx(min(allowed))


def test_scan_where_probing_costs_more() -> None:
    rng = np.random.default_rng(1)
    q = rng.integers(0, 256, size=(3, 32), dtype=np.uint8)
    m = np.stack([make_mask(rng, "random"), make_mask(rng, "empty"), make_mask(rng, "full")])
    plan, probes, hits = np.empty((3, 12), np.int64), np.empty(3, np.int64), np.empty(3, np.int64)
    n = 1 << 20
    costs = np.array([20.0, 20.0, 3.0, 4000.0, 4.0 * n])
    plan_reliable(q, m, pdq._STARTS, 19, n, 23, costs, 0, plan, probes, hits)
    assert probes[0] > 0
    assert probes[1] == -1  # an empty mask has no plan: every row matches
    assert 0 < probes[2] < probes[0]
    plan_reliable(q, m, pdq._STARTS, 19, n, 120, costs, 0, plan, probes, hits)
    assert (probes == -1).all()


def test_rejects_bad_input() -> None:
    index = PDQIndex()
    q = np.zeros((2, 32), np.uint8)
    with pytest.raises(InputError, match="1 masks for 2 queries"):
        index.search_reliable(q, np.zeros((1, 32), np.uint8), 23)
    with pytest.raises(InvalidHashError, match="packbits"):
        index.search_reliable(q, np.zeros((2, 256), bool), 23)
    with pytest.raises(InvalidHashError):
        index.search_reliable(q, np.zeros((2, 32), np.int64), 23)
    with pytest.raises(InvalidHashError):
        index.search_reliable(np.zeros((2, 31), np.uint8), q, 23)
    for radius in (-1, 257, 2.5, True):
        with pytest.raises(InputError):
            index.search_reliable(q, q, radius)  # type: ignore[arg-type]


def test_one_query_and_empty_index() -> None:
    index = PDQIndex()
    got = index.search_reliable(np.zeros(32, np.uint8), np.full(32, 255, np.uint8), 23)
    assert len(got.rows) == 0
    index.add([4], np.zeros((1, 32), np.uint8))
    got = index.search_reliable(np.zeros(32, np.uint8), np.full(32, 255, np.uint8), 0)
    assert got.ids.tolist() == [4]
    assert got.rows.tolist() == [0]
    empty = index.search_reliable(np.empty((0, 32), np.uint8), np.empty((0, 32), np.uint8), 23)
    assert len(empty.ids) == 0
