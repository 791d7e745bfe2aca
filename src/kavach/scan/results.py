"""Scan results: the per-file record of the JSONL output, and the running summary of a scan."""

from __future__ import annotations

import datetime as dt
import os

from pydantic import BaseModel, Field

from kavach.hashing import HashRecord
from kavach.match.models import Match
from kavach.signals.types import SignalType

__all__ = ["FolderCounts", "ScanRecord", "ScanSummary", "folder_of", "split_path"]

UNLABELLED = "unlabelled"
"""Category of a match whose entry carries no label."""


class ScanRecord(HashRecord):
    """One scanned file: its hashes (as ``kavach hash`` writes them) and what it matched.

    ``matches`` is empty when nothing matched. Inside zips, ``path`` is ``archive.zip!inner/x``.
    """

    matches: list[Match] = Field(default_factory=list)

    @property
    def categories(self) -> list[str]:
        """``scheme:value`` of every label of every match (``unlabelled`` for bare entries)."""
        found: dict[str, None] = {}
        for match in self.matches:
            if not match.labels:
                found[UNLABELLED] = None
            for label in match.labels:
                found[f"{label.scheme}:{label.value}"] = None
        return sorted(found)


class FolderCounts(BaseModel):
    """Files scanned, matched and failed in one folder (members of a zip: the zip's folder)."""

    files: int = 0
    matched: int = 0
    errors: int = 0


def split_path(path: str) -> tuple[str, str]:
    """``(folder, name)`` of a scan path; a zip member's folder is inside its archive
    (``a.zip!inner/x.jpg`` → ``a.zip!inner``, ``x.jpg``; ``a.zip!x.jpg`` → ``a.zip``, ``x.jpg``)."""
    cut = max(path.rfind("/"), path.rfind(os.sep), path.rfind("!"))
    if cut < 0:
        return ".", path
    return (path[:cut] or "/"), path[cut + 1 :]


def folder_of(path: str) -> str:
    """The folder part of a scan path (``.`` for a bare name); see :func:`split_path`."""
    return split_path(path)[0]


class ScanSummary(BaseModel):
    """Counts of a whole scan (a resumed one included) and every matched record."""

    started_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    banks: dict[str, int] = {}
    """Bank name → version matched against."""
    files: int = 0
    matched_files: int = 0
    matches: int = 0
    errors: int = 0
    error_codes: dict[str, int] = {}
    categories: dict[str, int] = {}
    """Category → number of files matched under it."""
    by_bank: dict[str, int] = {}
    """Bank → number of files that matched it."""
    folders: dict[str, FolderCounts] = {}
    matched: list[ScanRecord] = []
    videos: int = 0
    """Files hashed as video (they have vPDQ frames)."""
    matched_videos: int = 0
    """Videos that matched a listed video by their frames (vpdq)."""
    resumed: int = 0
    """How many times the scan was resumed."""

    def add(self, record: ScanRecord) -> None:
        """Count one record."""
        self.files += 1
        folder = self.folders.get(folder_of(record.path))
        if folder is None:
            folder = self.folders[folder_of(record.path)] = FolderCounts()
        folder.files += 1
        if record.vpdq is not None:
            self.videos += 1
            if any(m.signal_type is SignalType.VPDQ for m in record.matches):
                self.matched_videos += 1
        if record.error is not None:
            self.errors += 1
            folder.errors += 1
            _bump(self.error_codes, [record.error.code])
        if record.matches:
            self.matched_files += 1
            folder.matched += 1
            self.matches += len(record.matches)
            _bump(self.categories, record.categories)
            _bump(self.by_bank, sorted({m.bank for m in record.matches}))
            self.matched.append(record)

    @property
    def exit_code(self) -> int:
        """1 when anything matched, else 2 when any file failed, else 0 (like virus scanners).

        A match wins over errors: an examiner's script must never miss a hit because some other
        file on the device was corrupt.
        """
        if self.matched_files:
            return 1
        return 2 if self.errors else 0


def _bump(counts: dict[str, int], keys: list[str]) -> None:
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
