"""Files in, hash records out: the hashing engine behind ``kavach hash``, scans and the API.

One record per file, never an exception: a file that cannot be read or decoded gets a record with
an ``error`` (and whatever digests could still be computed), so one bad file never stops a run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from kavach.errors import InputError, KavachError, MediaError, NotFoundError
from kavach.media.image import MediaLimits, decode_image, sniff_media_type
from kavach.signals.exact import EXACT_SIGNALS, digest_bytes, digest_stream
from kavach.signals.pdq import DIHEDRAL_NAMES, pdq_from_luma

__all__ = [
    "ALL_SIGNALS",
    "HashError",
    "HashOptions",
    "HashRecord",
    "default_jobs",
    "hash_bytes",
    "hash_file",
    "hash_paths",
    "iter_files",
    "parse_signals",
]

ALL_SIGNALS = ("md5", "sha1", "sha256", "pdq")


class HashError(BaseModel):
    """Why a file could not be (fully) hashed."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class HashRecord(BaseModel):
    """The signals of one file. Field names are stable: they are the JSONL/CSV output format."""

    model_config = ConfigDict(frozen=True)

    path: str
    size: int | None = None
    media_type: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    pdq_dihedral: dict[str, str] | None = None
    orientation: int | None = None
    error: HashError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class HashOptions:
    """What to compute, and the limits that keep hostile input in check."""

    signals: frozenset[str] = field(default_factory=lambda: frozenset(ALL_SIGNALS))
    dihedral: bool = False
    full_decode: bool = False
    """Decode every image at full size: bit-exact with the reference, several times slower."""
    limits: MediaLimits = field(default_factory=MediaLimits)

    @property
    def wants_pdq(self) -> bool:
        return "pdq" in self.signals or self.dihedral

    @property
    def exact_signals(self) -> tuple[str, ...]:
        return tuple(name for name in EXACT_SIGNALS if name in self.signals)


def parse_signals(text: str) -> frozenset[str]:
    """Parse a ``md5,sha1,...`` list, or raise :class:`InputError` naming the bad entry."""
    names = {part.strip().lower().replace("-", "") for part in text.split(",") if part.strip()}
    unknown = names - set(ALL_SIGNALS)
    if unknown:
        raise InputError(
            f"unknown signal {sorted(unknown)[0]!r}; choose from {', '.join(ALL_SIGNALS)}"
        )
    if not names:
        raise InputError(f"no signals chosen; choose from {', '.join(ALL_SIGNALS)}")
    return frozenset(names)


def hash_bytes(data: bytes, options: HashOptions | None = None, *, path: str = "") -> HashRecord:
    """Hash an in-memory file (an upload): digests, then PDQ if the bytes are an image."""
    options = options or HashOptions()
    fields: dict[str, Any] = {"path": path, "size": len(data)}
    fields.update(digest_bytes(data, options.exact_signals))
    return _finish(fields, data, options)


def hash_file(path: str | os.PathLike[str], options: HashOptions | None = None) -> HashRecord:
    """Hash one file on disk. Never raises for a bad file: the record carries the error."""
    options = options or HashOptions()
    name = os.fspath(path)
    fields: dict[str, Any] = {"path": name}
    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):
            # Reading a FIFO or device could block forever or never end.
            raise InputError("not a regular file (a directory, device, FIFO or socket)")
        fields["size"] = info.st_size
        keep = options.limits.max_bytes if options.wants_pdq else 0
        if not options.exact_signals and info.st_size > options.limits.max_bytes:
            keep = 0
        with open(name, "rb") as stream:
            digests, size, data = digest_stream(stream, options.exact_signals, keep_up_to=keep)
        fields.update(digests)
        fields["size"] = size
        if options.wants_pdq and data is None and size > 0:
            _media_type_from_file(name, fields)
            raise MediaError(
                f"the file has {size:,} bytes, more than the image limit of "
                f"{options.limits.max_bytes:,}; only exact hashes were computed"
            )
        if data is None:
            _media_type_from_file(name, fields)
            return HashRecord(**fields)
        return _finish(fields, data, options)
    except FileNotFoundError:
        return _error(fields, NotFoundError("no such file"))
    except PermissionError:
        return _error(fields, InputError("permission denied"), code="unreadable")
    except KavachError as exc:
        return _error(fields, exc)
    except OSError as exc:
        return _error(
            fields, InputError(f"could not read the file: {exc.strerror or exc}"), code="unreadable"
        )


def _finish(fields: dict[str, Any], data: bytes, options: HashOptions) -> HashRecord:
    try:
        if options.wants_pdq:
            decoded = decode_image(data, limits=options.limits, fast=not options.full_decode)
            fields["media_type"] = decoded.media_type
            fields["orientation"] = decoded.orientation
            hashes = pdq_from_luma(
                decoded.luma,
                full_height=decoded.height,
                full_width=decoded.width,
                dihedral=options.dihedral,
            )
            if "pdq" in options.signals:
                fields["pdq"] = hashes[0].hex
                fields["pdq_quality"] = hashes[0].quality
            if options.dihedral:
                fields["pdq_dihedral"] = {
                    n: h.hex for n, h in zip(DIHEDRAL_NAMES, hashes, strict=True)
                }
                fields["pdq_quality"] = hashes[0].quality
        else:
            fields["media_type"] = _sniff_or_none(data[:32])
    except KavachError as exc:
        if "media_type" not in fields:
            fields["media_type"] = _sniff_or_none(data[:32])
        return _error(fields, exc)
    return HashRecord(**fields)


def _error(fields: dict[str, Any], exc: KavachError, *, code: str | None = None) -> HashRecord:
    fields["error"] = HashError(code=code or exc.code, message=exc.message)
    return HashRecord(**fields)


def _sniff_or_none(head: bytes) -> str | None:
    try:
        return sniff_media_type(head)[0]
    except MediaError:
        return None


def _media_type_from_file(path: str, fields: dict[str, Any]) -> None:
    with open(path, "rb") as stream:
        fields["media_type"] = _sniff_or_none(stream.read(32))


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Expand files and folders (recursively, sorted, not following folder links) into files.

    A path that does not exist is passed through, so its record says so.
    """
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path) and not os.path.islink(path):
            yield from _walk(path)
        else:
            yield path


def _walk(folder: str) -> Iterator[str]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        yield folder  # its record will carry the error
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path)
        else:
            yield entry.path


def hash_paths(
    paths: Sequence[str | os.PathLike[str]] | Iterable[str | os.PathLike[str]],
    options: HashOptions | None = None,
    *,
    jobs: int = 1,
) -> Iterator[HashRecord]:
    """Hash every file under ``paths``, yielding records in input order.

    ``jobs`` > 1 hashes in that many worker processes (the work is CPU-bound).
    """
    options = options or HashOptions()
    files = list(iter_files(paths))
    if jobs <= 1 or len(files) < 2:
        for name in files:
            yield hash_file(name, options)
        return
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    # Workers start from a server that has already imported the engine (NumPy, Pillow, ...).
    context.set_forkserver_preload(["kavach.hashing"])
    chunk = max(1, min(64, len(files) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield from pool.map(_hash_in_worker, files, [options] * len(files), chunksize=chunk)


def _hash_in_worker(name: str, options: HashOptions) -> HashRecord:
    return hash_file(name, options)


def default_jobs() -> int:
    """Worker processes to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
