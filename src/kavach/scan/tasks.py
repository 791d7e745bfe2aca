"""Units of scan work: planned in order in the parent, run in worker processes.

The plan is deterministic for unchanged inputs (sorted walk, zip directory order, fixed member
chunks), which is what lets a resumed scan skip exactly the tasks a checkpoint says are done.
Each task has a ``key``; the checkpoint chains the keys of completed tasks, so a resume notices
when the inputs changed under it.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from kavach.errors import ArchiveError
from kavach.hashing import HashError, HashOptions, HashRecord, hash_file
from kavach.scan.archive import (
    ARCHIVE_MEDIA_TYPE,
    ZIP_READ_ERRORS,
    ArchiveLimits,
    close_archives,
    hash_members,
    is_zip,
    plan_archive,
)

__all__ = [
    "DoneTask",
    "FileTask",
    "MembersTask",
    "Task",
    "plan_tasks",
    "run_in_worker",
    "run_tasks",
]

MEMBERS_PER_TASK = 32
"""Zip members per task: big archives spread over every worker, each opening the archive."""


@dataclass(frozen=True, slots=True)
class FileTask:
    """Hash one file on disk. An archive gets exact digests only (its members are other tasks)."""

    path: str
    archive: bool = False
    error: HashError | None = None

    @property
    def key(self) -> str:
        return f"f:{self.path}"

    @property
    def weight(self) -> int:
        return 1

    @property
    def input_done(self) -> int:
        """Input files this task finishes (for progress): an archive finishes with its last task."""
        return 0 if self.archive else 1


@dataclass(frozen=True, slots=True)
class MembersTask:
    """Hash some members of a zip archive on disk, by index in its entry list."""

    archive: str
    members: tuple[int, ...]
    last: bool

    @property
    def key(self) -> str:
        return f"m:{self.archive}:{self.members[0]}-{self.members[-1]}"

    @property
    def weight(self) -> int:
        return len(self.members)

    @property
    def input_done(self) -> int:
        return 1 if self.last else 0


@dataclass(frozen=True, slots=True)
class DoneTask:
    """Records known without any work (members refused by a limit before reading)."""

    records: tuple[HashRecord, ...]
    last: bool

    @property
    def key(self) -> str:
        return f"d:{self.records[0].path}:{len(self.records)}"

    @property
    def weight(self) -> int:
        return 0

    @property
    def input_done(self) -> int:
        return 1 if self.last else 0


Task = FileTask | MembersTask | DoneTask


def plan_tasks(
    files: Iterable[str], limits: ArchiveLimits, *, archives: bool = True
) -> Iterator[Task]:
    """Tasks for ``files`` (already expanded from folders), in order.

    With ``archives``, every file that starts like a zip is opened here (only its directory is
    read) and its members become tasks of their own after the archive's own record.
    """
    for path in files:
        if not archives or not _looks_like_zip(path):
            yield FileTask(path)
            continue
        yield from _plan_zip(path, limits)


def _looks_like_zip(path: str) -> bool:
    try:
        with open(path, "rb") as stream:
            return is_zip(stream.read(4))
    except OSError:
        return False  # hash_file will report why


def _plan_zip(path: str, limits: ArchiveLimits) -> Iterator[Task]:
    try:
        with zipfile.ZipFile(path) as zf:
            plan = plan_archive(zf, path, limits)
    except ZIP_READ_ERRORS as exc:
        error = ArchiveError(f"not a readable zip archive: {exc}")
        yield FileTask(path, archive=False, error=HashError(code=error.code, message=error.message))
        return
    chunks = [
        plan.members[i : i + MEMBERS_PER_TASK]
        for i in range(0, len(plan.members), MEMBERS_PER_TASK)
    ]
    yield FileTask(path, archive=bool(chunks or plan.refused), error=plan.error)
    if plan.refused:
        yield DoneTask(plan.refused, last=not chunks)
    for n, chunk in enumerate(chunks):
        yield MembersTask(path, chunk, last=n == len(chunks) - 1)


def run_tasks(
    tasks: Sequence[Task], options: HashOptions, limits: ArchiveLimits, *, worker: bool = False
) -> list[list[HashRecord]]:
    """Run tasks; one list of records per task, in order.

    In a ``worker`` process the last zip archive read stays open for the next chunk (whose tasks
    are most often more members of the same archive); elsewhere it is closed before returning.
    """
    try:
        return [_run(task, options, limits, worker) for task in tasks]
    finally:
        if not worker:
            close_archives()


def run_in_worker(
    tasks: Sequence[Task], options: HashOptions, limits: ArchiveLimits
) -> list[list[HashRecord]]:
    """:func:`run_tasks` as a worker process runs it."""
    return run_tasks(tasks, options, limits, worker=True)


def _run(task: Task, options: HashOptions, limits: ArchiveLimits, worker: bool) -> list[HashRecord]:
    if isinstance(task, DoneTask):
        return list(task.records)
    if isinstance(task, MembersTask):
        return hash_members(
            task.archive, task.archive, task.members, options, limits, keep_open=worker
        )
    if task.archive or task.error is not None:
        exact = HashOptions(signals=frozenset(options.exact_signals), limits=options.limits)
        record = hash_file(task.path, exact)
        update: dict[str, object] = {"media_type": ARCHIVE_MEDIA_TYPE}
        if record.error is None or task.error is not None:
            update["error"] = task.error
        return [record.model_copy(update=update)]
    return [hash_file(task.path, options)]


def expand(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Files under ``paths`` (folders walked recursively, sorted), as the scan lists them."""
    from kavach.hashing import iter_files

    return list(iter_files(paths))
