"""ExactIndex: digest lookups against a dict reference, and its input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kavach.errors import InputError, InvalidHashError
from kavach.index import ExactIndex


@settings(max_examples=30, deadline=None)
@given(
    size=st.sampled_from([16, 20, 32, 144]),
    n=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 300),
)
def test_lookup_matches_dict(size: int, n: int, seed: int, batch: int) -> None:
    rng = np.random.default_rng(seed)
    distinct = rng.integers(0, 256, size=(max(1, n // 3), size), dtype=np.uint8)
    rows = distinct[rng.integers(0, len(distinct), size=n)]  # repeated digests, distinct ids
    ids = np.arange(n, dtype=np.uint64) * 3
    index = ExactIndex(size)
    for a in range(0, n, batch):
        index.add(ids[a : a + batch], rows[a : a + batch])
    gone = ids[::4]
    index.remove(gone)
    reference: dict[bytes, list[int]] = {}
    for i, r in zip(ids.tolist(), rows, strict=True):
        if i % 4 != 0 or i not in gone:
            reference.setdefault(r.tobytes(), []).append(i)
    queries = np.concatenate([distinct, rng.integers(0, 256, size=(5, size), dtype=np.uint8)])
    for q, m in zip(queries, index.search(queries), strict=True):
        assert m.ids.tolist() == sorted(reference.get(q.tobytes(), []))
        assert not m.distances.any()
    assert len(index) == sum(len(v) for v in reference.values())


def test_bad_input() -> None:
    with pytest.raises(InputError):
        ExactIndex(0)
    index = ExactIndex(16)
    with pytest.raises(InvalidHashError):
        index.add([1], np.zeros((1, 20), np.uint8))
    with pytest.raises(InputError):
        index.search(np.zeros(16, np.uint8), radius=1)
