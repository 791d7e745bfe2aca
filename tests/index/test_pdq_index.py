"""PDQIndex is exact: property tests against brute force, adversarial sets, add/remove."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kavach.errors import InputError, InvalidHashError
from kavach.index import PDQIndex
from tests.index.helpers import brute_force, hash_set, queries_for

KINDS = ["random", "families", "extremes", "duplicates"]
RADII = st.one_of(st.sampled_from([0, 1, 31, 32, 64]), st.integers(0, 70))


def assert_exact(index: PDQIndex, hashes, ids, queries, radius: int) -> None:
    results = index.search(queries, radius)
    assert len(results) == len(queries)
    for q, found in zip(queries, results, strict=True):
        got = list(zip(found.distances.tolist(), found.ids.tolist(), strict=True))
        assert got == brute_force(hashes, ids, q, radius)
    flat = index.search_flat(queries, radius)
    assert len(flat.ids) == sum(len(r.ids) for r in results)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(KINDS),
    n=st.integers(0, 400),
    seed=st.integers(0, 2**32 - 1),
    radius=RADII,
    batch=st.integers(1, 400),
)
def test_search_matches_brute_force(make_index, kind, n, seed, radius, batch) -> None:
    hashes = hash_set(kind, n, seed)
    ids = np.random.default_rng(seed).permutation(2**20)[:n].astype(np.uint64) * 7919
    index = make_index()
    for a in range(0, n, batch):  # several adds make several segments
        index.add(ids[a : a + batch], hashes[a : a + batch])
    assert len(index) == n
    assert_exact(index, hashes, ids, queries_for(hashes, 12, seed + 1), radius)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "remove", "query"]), st.integers(1, 120)),
        min_size=1,
        max_size=12,
    ),
    radius=RADII,
)
def test_interleaved_add_remove_query(make_index, seed, ops, radius) -> None:
    rng = np.random.default_rng(seed)
    pool = hash_set("families", 600, seed)
    index = make_index()
    present: dict[int, int] = {}  # id -> row of pool
    next_id = 0
    for op, k in ops:
        if op == "add":
            rows = rng.integers(0, len(pool), size=k)
            ids = np.arange(next_id, next_id + k, dtype=np.uint64)
            next_id += k
            index.add(ids, pool[rows])
            present.update(zip(ids.tolist(), rows.tolist(), strict=True))
        elif op == "remove" and present:
            gone = rng.choice(list(present), size=min(k, len(present)), replace=False)
            absent = np.array([next_id + 5], dtype=np.uint64)  # unknown ids are ignored
            assert index.remove(np.concatenate([gone.astype(np.uint64), absent])) == len(gone)
            for g in gone.tolist():
                del present[g]
        ids = np.array(sorted(present), dtype=np.uint64)
        hashes = pool[[present[i] for i in ids.tolist()]].reshape(-1, 32)
        assert len(index) == len(ids)
        assert_exact(index, hashes, ids, queries_for(pool, 5, seed + next_id), radius)


def test_radius_beyond_64_scans_exactly() -> None:
    hashes = hash_set("random", 300, 5)
    ids = np.arange(300, dtype=np.uint64)
    index = PDQIndex(tail_limit=0)
    index.add(ids, hashes)
    for radius in (100, 128, 200, 256):
        assert_exact(index, hashes, ids, queries_for(hashes, 4, 6), radius)


def test_query_rows_say_which_dihedral_variant_matched() -> None:
    hashes = hash_set("random", 50, 1)
    index = PDQIndex()
    index.add(np.arange(50, dtype=np.uint64), hashes)
    variants = np.random.default_rng(2).integers(0, 256, size=(8, 32), dtype=np.uint8)
    variants[5] = hashes[17]
    found = index.search(variants)
    assert [len(m.ids) for m in found] == [0, 0, 0, 0, 0, 1, 0, 0]
    assert found[5].ids.tolist() == [17]
    assert found[5].distances.tolist() == [0]
    flat = index.search_flat(variants)
    assert flat.rows.tolist() == [5]
    assert flat.ids.tolist() == [17]


def test_single_query_and_empty_index() -> None:
    index = PDQIndex()
    assert len(index) == 0
    q = np.zeros(32, np.uint8)
    [m] = index.search(q)
    assert m.ids.dtype == np.uint64
    assert len(m.ids) == 0
    assert m.distances.dtype == np.int32
    assert index.search(np.empty((0, 32), np.uint8)) == []


def test_removed_ids_can_be_added_again() -> None:
    index = PDQIndex(tail_limit=0)
    h = hash_set("random", 10, 3)
    index.add(np.arange(10, dtype=np.uint64), h)
    assert index.remove([3, 4]) == 2
    assert index.remove([3]) == 0
    index.add(np.array([3], dtype=np.uint64), h[9:10])
    assert index.search(h[9])[0].ids.tolist() == [3, 9]


@pytest.mark.parametrize(
    ("ids", "hashes", "error"),
    [
        ([1, 2], np.zeros((2, 31), np.uint8), InvalidHashError),
        ([1, 2], np.zeros((2, 32), np.int64), InvalidHashError),
        ([1, 2], np.zeros(32, np.uint8), InvalidHashError),
        ([1], np.zeros((2, 32), np.uint8), InputError),
        ([-1, 2], np.zeros((2, 32), np.uint8), InputError),
        ([1.5, 2.0], np.zeros((2, 32), np.uint8), InputError),
        ([7, 7], np.zeros((2, 32), np.uint8), InputError),
    ],
)
def test_add_rejects_bad_input(ids, hashes, error) -> None:
    with pytest.raises(error):
        PDQIndex().add(ids, hashes)


def test_add_rejects_present_id() -> None:
    index = PDQIndex()
    index.add([1, 2], np.zeros((2, 32), np.uint8))
    with pytest.raises(InputError, match="already in the index"):
        index.add([2], np.zeros((1, 32), np.uint8))
    assert len(index) == 2


@pytest.mark.parametrize("radius", [-1, 257, 1.5, True, "31"])
def test_search_rejects_bad_radius(radius) -> None:
    with pytest.raises(InputError):
        PDQIndex().search(np.zeros(32, np.uint8), radius)


@pytest.mark.parametrize("queries", [np.zeros((1, 16), np.uint8), np.zeros((1, 32), np.float32)])
def test_search_rejects_bad_queries(queries) -> None:
    with pytest.raises(InvalidHashError):
        PDQIndex().search(queries)


@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 2**32 - 1),
    radius=st.sampled_from([0, 10, 31]),
    threads=st.integers(2, 5),
)
def test_threaded_search_returns_what_one_thread_does(kind, seed, radius, threads) -> None:
    hashes = hash_set(kind, 600, seed)
    ids = np.arange(600, dtype=np.uint64) * 3
    index = PDQIndex(tail_limit=64)
    for a in range(0, 600, 200):  # several segments, with tables
        index.add(ids[a : a + 200], hashes[a : a + 200])
    queries = queries_for(hashes, 300, seed + 1)  # enough rows to be split between threads
    one = index.search_flat(queries, radius)
    many = index.search_flat(queries, radius, threads=threads)
    assert len(many.ids) > 0 or len(one.ids) == 0
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, b)
