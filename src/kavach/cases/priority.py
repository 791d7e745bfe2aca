"""Queue priority of an item from its matches: bank trust, label severity and distance.

A higher number is reviewed first. The parts are weighted so that a more trusted source always
outranks a worse label, and a worse label always outranks a closer distance::

    priority = 100 * trust + 10 * severity + closeness

``trust`` (0-3) comes from the bank's source, ``severity`` (0-4) from the most severe label any
match carries, ``closeness`` (0-8) from the smallest distance (an exact digest match is 8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["SOURCE_TRUST", "item_priority", "label_severity"]

SOURCE_TRUST: Mapping[str, int] = {
    "ncmec": 3,
    "iwf": 3,
    "vics": 3,
    "icse": 3,
    "member": 2,
    "local": 1,
}
"""Trust in a bank by its source: clearing houses and hotlines, then members, then local lists."""

# (scheme, value) -> severity 0-4; unknown labels count as 1 (listed, grade unknown).
_SEVERITY: Mapping[tuple[str, str], int] = {
    ("industry", "A1"): 4,
    ("industry", "A2"): 3,
    ("industry", "B1"): 3,
    ("industry", "B2"): 2,
    ("uk", "A"): 4,
    ("uk", "B"): 3,
    ("uk", "C"): 2,
    ("vics-uk", "A"): 4,
    ("vics-uk", "B"): 3,
    ("vics-uk", "C"): 2,
    ("vics-us", "1"): 4,
    ("vics-us", "2"): 2,
    ("vics-us", "3"): 1,
    ("vics-us", "4"): 1,
    ("vics-us", "0"): 0,
}


def label_severity(labels: Iterable[Mapping[str, Any]]) -> int:
    """The highest severity among ``labels`` ({scheme, value}); 0 without labels."""
    best = 0
    for label in labels:
        key = (str(label.get("scheme", "")), str(label.get("value", "")))
        best = max(best, _SEVERITY.get(key, 1))
    return best


def item_priority(
    matches: Iterable[Mapping[str, Any]], trust_by_bank: Mapping[str, int] | None = None
) -> int:
    """The priority of an item with ``matches`` (dicts with bank, distance, labels, trust)."""
    trust = severity = closeness = 0
    for match in matches:
        bank_trust = match.get("trust")
        if not isinstance(bank_trust, int):
            bank_trust = (trust_by_bank or {}).get(str(match.get("bank", "")), 1)
        trust = max(trust, min(max(bank_trust, 0), 3))
        labels = match.get("labels") or []
        severity = max(severity, label_severity(labels if isinstance(labels, list) else []))
        distance = match.get("distance", 0)
        distance = distance if isinstance(distance, int | float) else 32
        closeness = max(closeness, 8 - min(int(distance) // 4, 8))
    return 100 * trust + 10 * severity + closeness
