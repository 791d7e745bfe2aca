"""Saving and loading indexes: round trips, and clear errors for damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kavach.errors import IndexFormatError
from kavach.index import ExactIndex, PDQIndex
from tests.index.helpers import hash_set, queries_for


def built(tail_limit: int = 0) -> tuple[PDQIndex, np.ndarray]:
    hashes = hash_set("families", 500, 11)
    index = PDQIndex(tail_limit=tail_limit)
    index.add(np.arange(400, dtype=np.uint64), hashes[:400])
    index.add(np.arange(400, 500, dtype=np.uint64), hashes[400:])
    index.remove(np.arange(0, 500, 7, dtype=np.uint64))  # tombstones are saved too
    return index, hashes


@pytest.mark.parametrize("tail_limit", [0, 100, 8192])
def test_pdq_round_trip(tmp_path: Path, tail_limit: int) -> None:
    index, hashes = built(tail_limit)
    path = tmp_path / "bank.kvx"
    index.save(path)
    loaded = PDQIndex.load(path)
    assert len(loaded) == len(index)
    queries = queries_for(hashes, 30, 12)
    for radius in (0, 31, 64):
        a, b = index.search_flat(queries, radius), loaded.search_flat(queries, radius)
        assert np.array_equal(a.rows, b.rows)
        assert np.array_equal(a.ids, b.ids)
        assert np.array_equal(a.distances, b.distances)
    # A loaded index stays writable: its mapped arrays are replaced, never written.
    loaded.remove([1, 2, 3])
    loaded.add([10_000], hashes[:1])
    assert len(loaded) == len(index) - 2


def test_exact_round_trip(tmp_path: Path) -> None:
    index = ExactIndex(144)
    rows = np.random.default_rng(0).integers(0, 256, size=(50, 144), dtype=np.uint8)
    index.add(np.arange(50, dtype=np.uint64), rows)
    index.save(tmp_path / "pdna.kvx")
    loaded = ExactIndex.load(tmp_path / "pdna.kvx")
    assert loaded.digest_size == 144
    assert [m.ids.tolist() for m in loaded.search(rows[:3])] == [[0], [1], [2]]


def saved(tmp_path: Path) -> Path:
    index, _ = built()
    path = tmp_path / "bank.kvx"
    index.save(path)
    return path


def test_truncated_file(tmp_path: Path) -> None:
    path = saved(tmp_path)
    data = path.read_bytes()
    for cut in (0, 5, 20, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(IndexFormatError):
            PDQIndex.load(path)


def test_corrupt_bytes_are_detected(tmp_path: Path) -> None:
    path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    for where in (3, 20, len(data) - 40, len(data) // 2):
        bad = bytearray(data)
        bad[where] ^= 0x10
        path.write_bytes(bytes(bad))
        with pytest.raises(IndexFormatError):
            PDQIndex.load(path)


def test_wrong_kind_and_missing_file(tmp_path: Path) -> None:
    path = saved(tmp_path)
    with pytest.raises(IndexFormatError, match="not 'exact'"):
        ExactIndex.load(path)
    with pytest.raises(IndexFormatError):
        PDQIndex.load(tmp_path / "missing.kvx")
    (tmp_path / "text.kvx").write_text("hello, this is not an index at all")
    with pytest.raises(IndexFormatError, match="magic"):
        PDQIndex.load(tmp_path / "text.kvx")


def test_unverified_load_still_checks_structure(tmp_path: Path) -> None:
    index = PDQIndex(tail_limit=0)
    index.add(np.arange(100, dtype=np.uint64), hash_set("random", 100, 1))
    path = tmp_path / "x.kvx"
    index.save(path)
    data = bytearray(path.read_bytes())
    # The last array is the positions table; an out-of-range position would be unsafe to search.
    data[-4:] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError):
        PDQIndex.load(path, verify=False)
