"""Forensic scan: walk folders, files and zip archives, hash in parallel, match, report.

Resumable (JSONL journal with checkpoints), safe against zip bombs (limits checked before
decompressing), with a VICS 2.0 case file and a self-contained HTML summary as reports.

Names are imported on first use, so worker processes (which import ``kavach.scan.tasks``) load
only the hashing engine, not the database and index machinery the parent needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kavach.scan.archive import ArchiveLimits
    from kavach.scan.html import html_summary
    from kavach.scan.results import FolderCounts, ScanRecord, ScanSummary
    from kavach.scan.runner import ScanConfig, ScanProgress, run_scan
    from kavach.scan.vics import vics_case

__all__ = [
    "ArchiveLimits",
    "FolderCounts",
    "ScanConfig",
    "ScanProgress",
    "ScanRecord",
    "ScanSummary",
    "html_summary",
    "run_scan",
    "vics_case",
]

_HOMES = {
    "ArchiveLimits": "kavach.scan.archive",
    "FolderCounts": "kavach.scan.results",
    "ScanConfig": "kavach.scan.runner",
    "ScanProgress": "kavach.scan.runner",
    "ScanRecord": "kavach.scan.results",
    "ScanSummary": "kavach.scan.results",
    "html_summary": "kavach.scan.html",
    "run_scan": "kavach.scan.runner",
    "vics_case": "kavach.scan.vics",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kavach.scan' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
