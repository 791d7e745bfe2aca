"""Matching: banks loaded into exact and PDQ indexes, kept in step with bank versions.

Names are imported on first use: scan worker processes need only the models, not the database
and index machinery, and start faster without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kavach.match.matcher import Matcher, Query
    from kavach.match.models import Match, MatchLabel, MatchPolicy

__all__ = ["Match", "MatchLabel", "MatchPolicy", "Matcher", "Query"]

_HOMES = {
    "Match": "kavach.match.models",
    "MatchLabel": "kavach.match.models",
    "MatchPolicy": "kavach.match.models",
    "Matcher": "kavach.match.matcher",
    "Query": "kavach.match.matcher",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kavach.match' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
