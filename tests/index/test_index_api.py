"""The public surface of kavach.index is declared and documented."""

from __future__ import annotations

from pathlib import Path

import kavach.index

API_DOC = Path(__file__).parents[2] / "docs" / "api.md"


def test_exported_members() -> None:
    assert sorted(kavach.index.__all__) == [
        "DEFAULT_RADIUS",
        "ExactIndex",
        "FlatMatches",
        "Matches",
        "PDQIndex",
        "ReliableMatches",
    ]
    for name in kavach.index.__all__:
        assert name.isupper() or getattr(kavach.index, name).__module__.startswith("kavach.index")


def test_every_export_is_documented() -> None:
    section = API_DOC.read_text().split("## kavach.index", 1)[1].split("\n## ", 1)[0]
    for name in kavach.index.__all__:
        assert f"`{name}" in section, name
