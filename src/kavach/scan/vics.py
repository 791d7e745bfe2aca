"""A VICS 2.0 case file of a scan's matches, for the tools police examiners use (Griffeye & co).

One case (``value[0]``) whose ``Media`` are the matched files: their MD5/SHA-1 (and SHA-256),
size, the category the matched lists gave them, and where each sat on the device
(``MediaFiles[].FileName`` / ``FilePath``). ``IsPrecategorized`` is true: the category comes from
a hash list, not from a person looking at the file. Files without a VICS category from the list
get Category 0 (uncategorised) and carry the labels they matched as ``Tags``.
"""

from __future__ import annotations

import json
from typing import Any

from kavach.banks.formats import Label
from kavach.banks.formats.vics import FLAVOURS, label_category
from kavach.errors import InputError
from kavach.match.models import Match
from kavach.scan.results import ScanRecord, ScanSummary, split_path

__all__ = ["vics_case"]


def vics_case(summary: ScanSummary, *, case_number: str = "", flavour: str = "US") -> bytes:
    """The VICS 2.0 case JSON (UTF-8) of the matched files in ``summary``."""
    chosen = next((f for f in FLAVOURS if f.lower() == flavour.strip().lower()), None)
    if chosen is None:
        raise InputError(f"unknown VICS flavour {flavour!r}; expected one of {', '.join(FLAVOURS)}")
    context = f"http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/{chosen}$metadata#Cases"
    media = [_media(number, record, chosen) for number, record in enumerate(summary.matched, 1)]
    case: dict[str, Any] = {
        "CaseNumber": case_number,
        "SourceApplicationName": "Kavach",
        "SourceApplicationVersion": _version(),
        "Media": media,
    }
    document = {"@odata.context": context, "value": [case]}
    return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _media(number: int, record: ScanRecord, flavour: str) -> dict[str, Any]:
    labels = [Label(lb.scheme, lb.value) for m in record.matches for lb in m.labels]
    category = label_category(flavour, labels)
    folder, name = split_path(record.path)
    media: dict[str, Any] = {
        "MediaID": number,
        "Category": 0 if category is None else category,
        "MD5": (record.md5 or "").upper(),
        "SHA1": (record.sha1 or "").upper(),
        "MediaSize": record.size,
        "IsPrecategorized": True,
        "MediaFiles": [{"FileName": name, "FilePath": folder, "FileSize": record.size}],
        "Tags": ",".join(record.categories),
        "Comments": "; ".join(_comment(m) for m in record.matches),
    }
    if record.sha256:
        media["SHA256"] = record.sha256.upper()
    return {key: value for key, value in media.items() if value not in ("", None)}


def _comment(m: Match) -> str:
    text = f"matched {m.bank} entry {m.entry_id} by {m.signal_type.value}"
    if m.signal_type.value == "pdq":
        how = m.found_by()
        found = f" (query variant {how})" if how else ""
        return f"{text} at distance {m.distance}{found}"
    if m.query_match_percent is not None and m.compared_match_percent is not None:
        # VICS has no field for a video's frame hashes: say how well it matched instead.
        return (
            f"{text} ({m.query_match_percent:.0f}% of this video's frames, "
            f"{m.compared_match_percent:.0f}% of the listed video's)"
        )
    return text


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kavach")
    except PackageNotFoundError:
        return "unknown"
