"""Fixtures for the index tests."""

from __future__ import annotations

import pytest

from kavach.index import PDQIndex, pdq


@pytest.fixture(params=["auto", "probe"])
def make_index(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> type[PDQIndex]:
    """Index factory; "probe" indexes every segment and never falls back to a scan."""
    if request.param == "auto":
        return PDQIndex

    monkeypatch.setattr(pdq, "_prefer_scan", lambda n, kb, radii: False)
    monkeypatch.setattr(pdq, "_SCAN_NS", float("inf"))  # reliable search: probe whenever it can

    class Probing(PDQIndex):
        def __init__(self, *, tail_limit: int = 0, merge_ratio: int = 4) -> None:
            super().__init__(tail_limit=tail_limit, merge_ratio=merge_ratio)

    return Probing
