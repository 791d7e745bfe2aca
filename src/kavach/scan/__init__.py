"""Forensic scan: walk folders, files and zip archives, hash in parallel, match, report.

Resumable (JSONL journal with checkpoints), safe against zip bombs (limits checked before
decompressing), with a VICS 2.0 case file and a self-contained HTML summary as reports.
"""

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
