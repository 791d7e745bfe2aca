"""Zip archives inside a scan: members hashed in memory, with limits against zip bombs.

Members are named ``archive.zip!inner/path.jpg`` (``a.zip!b.zip!c.jpg`` when nested). Nothing is
ever extracted to disk. The limits are checked against the central directory before anything is
decompressed, and :mod:`zipfile` itself stops every member at its declared size and checks its
CRC, so a header that lies about sizes ends in an error record, never in unbounded output.
Memory is bounded by ``MediaLimits.max_bytes`` per member (larger members get exact digests
streamed, as large files on disk do) times the nesting depth.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

from kavach.errors import ArchiveError, ArchiveLimitError, KavachError
from kavach.hashing import HashError, HashOptions, HashRecord, hash_bytes
from kavach.signals.exact import digest_stream

__all__ = [
    "ARCHIVE_MEDIA_TYPE",
    "ZIP_READ_ERRORS",
    "ArchiveLimits",
    "ArchivePlan",
    "close_archives",
    "hash_members",
    "is_zip",
    "member_path",
    "plan_archive",
]

ARCHIVE_MEDIA_TYPE = "application/zip"
_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_SUPPORTED = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
# Small members compress extremely well when they are blank (a white PNG, an empty log); the
# ratio limit only means something for members big enough to hurt.
_RATIO_FLOOR = 1024 * 1024
# Errors that zipfile and its decompressors raise for damaged or hostile members.
ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
    ValueError,
)


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Limits on what one archive may unpack to. Each nested archive is checked on its own."""

    max_total_bytes: int = 8 * 1024**3
    """Sum of the declared uncompressed sizes of an archive's members."""
    max_ratio: int = 200
    """Largest uncompressed / compressed size of a member (members above 1 MiB)."""
    max_entries: int = 200_000
    """Members per archive."""
    max_depth: int = 3
    """Archives inside archives: 1 opens members of top-level zips only."""


@dataclass(frozen=True, slots=True)
class ArchivePlan:
    """What to do with an archive: the member indexes to hash, and records known up front
    (members refused by a limit). ``error`` is set when the archive as a whole went past a
    limit or could not be read; the members before that point are still scanned."""

    members: tuple[int, ...]
    refused: tuple[HashRecord, ...]
    error: HashError | None


def is_zip(head: bytes) -> bool:
    """Whether a file starting with ``head`` (4 bytes or more) is a zip archive."""
    return head[:4] in _MAGICS


def member_path(archive: str, name: str) -> str:
    """The display path of a member: ``archive!name``."""
    return f"{archive}!{name}"


def plan_archive(zf: zipfile.ZipFile, display: str, limits: ArchiveLimits) -> ArchivePlan:
    """Check the central directory of ``zf`` against ``limits`` before reading anything."""
    members: list[int] = []
    refused: list[HashRecord] = []
    total = 0
    error: KavachError | None = None
    infos = zf.infolist()
    for index, info in enumerate(infos):
        if info.is_dir():
            continue
        if len(members) + len(refused) >= limits.max_entries:
            error = ArchiveLimitError(
                f"the archive has {len(infos):,} entries, more than the limit of "
                f"{limits.max_entries:,}; only the first {limits.max_entries:,} were scanned"
            )
            break
        path = member_path(display, info.filename)
        problem = _member_problem(info, limits)
        if problem is not None:
            refused.append(_error_record(path, problem, size=info.file_size))
            continue
        if total + info.file_size > limits.max_total_bytes:
            error = ArchiveLimitError(
                f"the archive unpacks to more than the limit of {limits.max_total_bytes:,} "
                f"bytes; members from {info.filename!r} on were not scanned (zip bomb?)"
            )
            break
        total += info.file_size
        members.append(index)
    return ArchivePlan(
        tuple(members),
        tuple(refused),
        None if error is None else HashError(code=error.code, message=error.message),
    )


def _member_problem(info: zipfile.ZipInfo, limits: ArchiveLimits) -> KavachError | None:
    if info.flag_bits & 0x1:
        return ArchiveError("the member is encrypted; it cannot be read without the password")
    if info.compress_type not in _SUPPORTED:
        return ArchiveError(
            f"the member uses compression method {info.compress_type}, not supported"
        )
    if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        ratio = info.file_size / max(info.compress_size, 1)
        return ArchiveLimitError(
            f"the member expands {ratio:,.0f} times ({info.compress_size:,} to "
            f"{info.file_size:,} bytes), more than the limit of {limits.max_ratio} (zip bomb?)"
        )
    return None


def hash_members(
    source: str | IO[bytes],
    display: str,
    members: tuple[int, ...],
    options: HashOptions,
    limits: ArchiveLimits,
    *,
    depth: int = 1,
    keep_open: bool = False,
) -> list[HashRecord]:
    """Hash the members at ``members`` (indexes into the archive's entry list), in order.

    A member that is itself a zip gets its own record (exact digests) followed by the records
    of its members, down to ``limits.max_depth``. With ``keep_open`` an archive on disk stays
    open for the next call (see :class:`OpenArchive`).
    """
    cached = keep_open and isinstance(source, str)
    try:
        zf = _OPEN.get(str(source)) if cached else zipfile.ZipFile(source)
    except ZIP_READ_ERRORS as exc:
        what = f"{display} could not be opened again: {exc}"
        return [_error_record(display, ArchiveError(what))]
    try:
        infos = zf.infolist()
        return [
            rec
            for index in members
            for rec in _hash_member(zf, infos[index], display, options, limits, depth)
        ]
    finally:
        if not cached:
            zf.close()


class OpenArchive:
    """The one archive on disk a worker process keeps open between tasks.

    A big archive is split into many tasks; without this each would parse the central directory
    again (about 0.2 s for 100,000 members). The file is reopened when its size or modification
    time changes.
    """

    def __init__(self) -> None:
        self._path: str | None = None
        self._stamp: tuple[int, int] = (0, 0)
        self._zip: zipfile.ZipFile | None = None

    def get(self, path: str) -> zipfile.ZipFile:
        info = os.stat(path)
        stamp = (info.st_size, info.st_mtime_ns)
        if self._zip is None or self._path != path or self._stamp != stamp:
            self.close()
            self._zip = zipfile.ZipFile(path)
            self._path, self._stamp = path, stamp
        return self._zip

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None


_OPEN = OpenArchive()


def close_archives() -> None:
    """Close the archive kept open by :func:`hash_members` (``keep_open``) in this process."""
    _OPEN.close()


def _hash_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    display: str,
    options: HashOptions,
    limits: ArchiveLimits,
    depth: int,
) -> Iterator[HashRecord]:
    path = member_path(display, info.filename)
    try:
        with zf.open(info) as stream:
            if info.file_size > options.limits.max_bytes:
                # Too big to hold: stream the digests, as hash_file does for a huge file.
                digests, size, _ = digest_stream(cast(BinaryIO, stream), options.exact_signals)
                record = HashRecord(path=path, size=size, **digests)
                if options.wants_pdq:
                    record = _with_error(
                        record,
                        ArchiveError(
                            f"the member has {size:,} bytes, more than the image limit of "
                            f"{options.limits.max_bytes:,}; only exact hashes were computed"
                        ),
                        code="file_too_large",
                    )
                yield record
                return
            data = stream.read()
    except ZIP_READ_ERRORS as exc:
        yield _error_record(path, ArchiveError(f"the member could not be read: {exc}"))
        return
    if not is_zip(data[:4]):
        yield hash_bytes(data, options, path=path)
        return
    yield from _nested(data, path, options, limits, depth)


def _nested(
    data: bytes, path: str, options: HashOptions, limits: ArchiveLimits, depth: int
) -> Iterator[HashRecord]:
    exact = HashOptions(signals=frozenset(options.exact_signals), limits=options.limits)
    record = hash_bytes(data, exact, path=path).model_copy(
        update={"media_type": ARCHIVE_MEDIA_TYPE, "error": None}
    )
    if depth >= limits.max_depth:
        yield _with_error(
            record,
            ArchiveLimitError(
                f"an archive nested {depth + 1} deep, past the limit of {limits.max_depth}; "
                "its members were not scanned"
            ),
        )
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            plan = plan_archive(zf, path, limits)
    except ZIP_READ_ERRORS as exc:
        yield _with_error(record, ArchiveError(f"not a readable zip archive: {exc}"))
        return
    yield record if plan.error is None else record.model_copy(update={"error": plan.error})
    yield from plan.refused
    yield from hash_members(io.BytesIO(data), path, plan.members, options, limits, depth=depth + 1)


def _error_record(path: str, exc: KavachError, *, size: int | None = None) -> HashRecord:
    return HashRecord(path=path, size=size, error=HashError(code=exc.code, message=exc.message))


def _with_error(record: HashRecord, exc: KavachError, *, code: str | None = None) -> HashRecord:
    return record.model_copy(
        update={"error": HashError(code=code or exc.code, message=exc.message)}
    )
