"""Searches stay correct while another thread adds and removes."""

from __future__ import annotations

import threading

import numpy as np

from kavach.index import PDQIndex
from tests.index.helpers import hash_set


def test_reads_while_writing() -> None:
    stable = hash_set("random", 2000, 1)
    churn = hash_set("random", 3000, 2)
    index = PDQIndex(tail_limit=64)
    index.add(np.arange(2000, dtype=np.uint64), stable)
    stop = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        next_id = 10_000
        while not stop.is_set():
            ids = np.arange(next_id, next_id + 100, dtype=np.uint64)
            index.add(ids, churn[(next_id - 10_000) % 2900 :][:100])
            index.remove(ids[::2])
            next_id += 100

    def reader() -> None:
        rng = np.random.default_rng(threading.get_ident() % 2**32)
        for _ in range(150):
            k = rng.integers(0, 2000, size=8)
            for row, m in zip(k.tolist(), index.search(stable[k], 0), strict=True):
                if row not in m.ids.tolist():
                    errors.append(f"stable hash {row} not found")

    w = threading.Thread(target=writer)
    readers = [threading.Thread(target=reader) for _ in range(2)]
    w.start()
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    w.join()
    assert errors == []
    assert len(index) >= 2000
