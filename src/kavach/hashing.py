"""Files in, hash records out: the hashing engine behind ``kavach hash``, scans and the API.

One record per file, never an exception: a file that cannot be read or decoded gets a record with
an ``error`` (and whatever digests could still be computed), so one bad file never stops a run.

Videos (MP4, MOV, 3GP, MKV, WebM, AVI, FLV) get the ``vpdq`` signal: the PDQ hash of sampled
frames, streamed from the file (a video is never read into memory whole). Animated GIF/WebP are
hashed as images (their first frame) and, when :attr:`HashOptions.animations_as_video` is set,
as video too.

With :attr:`HashOptions.variants` a record also carries query-side PDQ variants
(:mod:`kavach.signals.variants`: trimmed, uncropped, turned copies) in ``pdq_variants``. They are
for lookups only: ``pdq`` stays the canonical hash of the file, the one stored and shared.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, SkipValidation, field_serializer

from kavach.errors import InputError, KavachError, MediaError, NotFoundError
from kavach.media.image import MediaLimits, decode_image, sniff_media_type
from kavach.media.video import ANIMATED_TYPES, VIDEO_TYPES, VideoLimits, is_animated
from kavach.signals.exact import EXACT_SIGNALS, digest_bytes, digest_stream
from kavach.signals.pdq import DIHEDRAL_NAMES, PDQHash, pdq_from_luma

if TYPE_CHECKING:
    from kavach.signals.vpdq import VideoHash

__all__ = [
    "ALL_SIGNALS",
    "HashError",
    "HashOptions",
    "HashRecord",
    "VariantHash",
    "VariantHashes",
    "VpdqFrame",
    "default_jobs",
    "display_path",
    "hash_bytes",
    "hash_file",
    "hash_paths",
    "iter_files",
    "parse_signals",
]

ALL_SIGNALS = ("md5", "sha1", "sha256", "pdq", "vpdq")
_SNIFF_BYTES = 64


def display_path(path: str) -> str:
    """``path`` as text that any output can carry: undecodable bytes of a file name (which
    ``os.fsdecode`` keeps as lone surrogates) become ``\\xNN`` escapes.

    The escapes are unambiguous enough for a person to find the file; the name itself is
    unchanged in memory, so the file can still be opened.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return path


class HashError(BaseModel):
    """Why a file could not be (fully) hashed."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class VpdqFrame(BaseModel):
    """One sampled video frame: the reference's ``frame,quality,hash,timestamp`` line."""

    model_config = ConfigDict(frozen=True)

    frame: int
    quality: int
    hash: str
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class VariantHash:
    """A query-side PDQ variant of an image (see :mod:`kavach.signals.variants`).

    A plain dataclass, not a model: an image carries ~33 of them, they are never written out,
    and building them as validated models cost ~60 µs per image (a tenth of a small JPEG's hash).
    """

    name: str
    """How it was derived: ``dihedral:rot90``, ``trimmed``, ``crop:c8``, ``rotate:+3``, ..."""
    hash: str
    quality: int
    reliable: str | None = None
    """Hex mask of the hash's reliable bits (:attr:`kavach.signals.pdq.PDQHash.reliable`)."""


class VariantHashes(Sequence[VariantHash]):
    """A file's query-side PDQ variants as the arrays they were computed in: a sequence of
    :class:`VariantHash`, each made only when read.

    A robust hash has ~76 variants; making an object and two hex strings of each cost ~130 µs per
    image, 10-15% of a small JPEG's robust hash, for values the matcher turns straight back into
    bytes (:meth:`rows`).
    """

    __slots__ = ("_names", "_packed", "_qualities", "_reliable")

    def __init__(
        self,
        names: Sequence[str],
        packed: npt.NDArray[np.uint8],
        qualities: Sequence[int],
        reliable: npt.NDArray[np.uint8] | None = None,
    ) -> None:
        if not len(names) == len(packed) == len(qualities):
            raise ValueError("names, hashes and qualities differ in length")
        if reliable is not None and len(reliable) != len(names):
            raise ValueError("masks and names differ in length")
        self._names = tuple(names)
        self._packed = packed.tobytes()
        self._qualities = tuple(qualities)
        self._reliable = None if reliable is None else reliable.tobytes()

    def __len__(self) -> int:
        return len(self._names)

    @overload
    def __getitem__(self, index: int) -> VariantHash: ...
    @overload
    def __getitem__(self, index: slice) -> list[VariantHash]: ...
    def __getitem__(self, index: int | slice) -> VariantHash | list[VariantHash]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        name, value, quality, mask = self._row(index)
        return VariantHash(name, value.hex(), quality, None if mask is None else mask.hex())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable as they are

    def __repr__(self) -> str:
        return f"VariantHashes({len(self)} variants: {', '.join(self._names[:3])}, ...)"

    def rows(self) -> Iterator[tuple[str, bytes, int, bytes | None]]:
        """``(name, hash, quality, reliable mask)`` of each variant, the hash and mask as the
        32 raw bytes the index compares."""
        for k in range(len(self._names)):
            yield self._row(k)

    def _row(self, index: int) -> tuple[str, bytes, int, bytes | None]:
        name = self._names[index]  # raises IndexError, and makes a negative index positive below
        k = index % len(self._names)
        at = 32 * k
        mask = None if self._reliable is None else self._reliable[at : at + 32]
        return name, self._packed[at : at + 32], self._qualities[k], mask


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
    vpdq: list[VpdqFrame] | None = None
    """Video only: PDQ of the sampled frames, in frame order."""
    duration: float | None = None
    """Video only: seconds."""
    frame_count: int | None = None
    """Video only: frames decoded (all of them, not only the sampled ones)."""
    frame_rate: float | None = None
    """Video only: average frames per second (timestamps are ``frame / frame_rate``)."""
    rotation: int | None = None
    """Video only: degrees a player turns the frames counter-clockwise (hashed unrotated)."""
    pdq_variants: SkipValidation[Sequence[VariantHash] | None] = Field(default=None, exclude=True)
    """Lookup-only PDQ variants (see :class:`HashOptions`). Never written out: a file's output
    and stored hash stay its canonical PDQ; matches name the variant that found them."""
    pdq_reliable: str | None = Field(default=None, exclude=True)
    """Lookup-only hex mask of the ``pdq`` hash's reliable bits, when this process hashed the
    file (a hash read back from a file or an API call has none): lets the matcher compare
    those bits alone (docs/robustness.md, *Reliable bits*). Never written out."""

    @field_serializer("path", when_used="json")
    def _path_as_text(self, path: str) -> str:
        # JSON cannot carry a file name's undecodable bytes (lone surrogates): escape them.
        return display_path(path)

    @property
    def ok(self) -> bool:
        return self.error is None

    def video_hash(self) -> VideoHash | None:
        """The ``vpdq`` field as a :class:`~kavach.signals.vpdq.VideoHash` (arrays)."""
        if self.vpdq is None:
            return None
        from kavach.signals.vpdq import VideoHash

        return VideoHash.from_records([frame.model_dump() for frame in self.vpdq])


@dataclass(frozen=True, slots=True)
class HashOptions:
    """What to compute, and the limits that keep hostile input in check."""

    signals: frozenset[str] = field(default_factory=lambda: frozenset(ALL_SIGNALS))
    dihedral: bool = False
    variants: frozenset[str] = frozenset()
    """Query-side PDQ variant families to compute for lookups (``kavach.signals.variants``)."""
    full_decode: bool = False
    """Decode every image at full size: bit-exact with the reference, several times slower."""
    limits: MediaLimits = field(default_factory=MediaLimits)
    video_fps: float | None = 1.0
    """Video frames hashed per second; ``None`` or 0: every frame (as the vPDQ golden files)."""
    animations_as_video: bool = False
    """Also hash animated GIF/WebP as video (they always get the PDQ of their first frame)."""
    video_limits: VideoLimits = field(default_factory=VideoLimits)

    @property
    def wants_pdq(self) -> bool:
        return "pdq" in self.signals or self.dihedral or bool(self.variants)

    @property
    def wants_vpdq(self) -> bool:
        return "vpdq" in self.signals

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
    kind = _sniff_or_none(data[:_SNIFF_BYTES])
    if kind in VIDEO_TYPES:
        return _finish_video(fields, kind, data, options)
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
            kind = _sniff_or_none(stream.read(_SNIFF_BYTES))
            stream.seek(0)
            if kind in VIDEO_TYPES:
                keep = 0  # decoded from the file, never held in memory
            digests, size, data = digest_stream(stream, options.exact_signals, keep_up_to=keep)
        fields.update(digests)
        fields["size"] = size
        if kind in VIDEO_TYPES:
            return _finish_video(fields, kind, name, options)
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
            hashes = _pdq_hashes(decoded.luma, decoded.height, decoded.width, options, fields)
            if "pdq" in options.signals:
                fields["pdq"] = hashes[0].hex
                fields["pdq_quality"] = hashes[0].quality
                if hashes[0].reliable is not None:
                    fields["pdq_reliable"] = hashes[0].reliable.tobytes().hex()
            if options.dihedral:
                fields["pdq_dihedral"] = {
                    n: h.hex for n, h in zip(DIHEDRAL_NAMES, hashes, strict=True)
                }
                fields["pdq_quality"] = hashes[0].quality
        else:
            fields["media_type"] = _sniff_or_none(data[:32])
        if (
            options.animations_as_video
            and options.wants_vpdq
            and fields.get("media_type") in ANIMATED_TYPES
            and is_animated(data)
        ):
            _add_video(fields, data, options)
    except KavachError as exc:
        if "media_type" not in fields:
            fields["media_type"] = _sniff_or_none(data[:32])
        return _error(fields, exc)
    return HashRecord(**fields)


def _pdq_hashes(
    luma: Any, height: int, width: int, options: HashOptions, fields: dict[str, Any]
) -> list[PDQHash]:
    """The canonical hash (and the 8 dihedral ones when asked); variants go into ``fields``."""
    if not options.variants:
        return pdq_from_luma(luma, full_height=height, full_width=width, dihedral=options.dihedral)
    from kavach.signals.variants import pdq_variant_arrays

    families = options.variants | ({"dihedral"} if options.dihedral else frozenset())
    found = pdq_variant_arrays(luma, full_height=height, full_width=width, families=families)
    names, qualities, masks = found.names, found.qualities, found.reliable
    # The original is no variant; of the others, those of the families asked for (the dihedral
    # ones may have been computed for pdq_dihedral alone).
    keep = _kept(tuple(names), options.variants)
    fields["pdq_variants"] = VariantHashes(
        _pick(names, keep),
        found.packed[keep],
        _pick(qualities, keep),
        None if masks is None else masks[keep],
    )
    count = len(DIHEDRAL_NAMES) if options.dihedral else 1
    return [
        PDQHash(found.packed[k], qualities[k], None if masks is None else masks[k])
        for k in range(count)
    ]


@functools.lru_cache(maxsize=256)
def _kept(names: tuple[str, ...], families: frozenset[str]) -> slice | list[int]:
    """The rows of a variant stack that are variants of ``families`` (the original is none): a
    slice when they are every row after the original (the usual case; picking 76 rows one by
    one cost ~25 µs an image), else their indices. Cached: a scan meets the same few lists of
    names again and again."""
    from kavach.signals.variants import variant_allowed

    rows = [k for k in range(1, len(names)) if variant_allowed(names[k], families)]
    return slice(1, None) if len(rows) == len(names) - 1 else rows


def _pick(items: list[Any], rows: slice | list[int]) -> list[Any]:
    return items[rows] if isinstance(rows, slice) else [items[k] for k in rows]


def _finish_video(
    fields: dict[str, Any], kind: str | None, source: str | bytes, options: HashOptions
) -> HashRecord:
    fields["media_type"] = kind
    if not options.wants_vpdq:
        return HashRecord(**fields)  # digests only: the caller did not ask for video hashes
    try:
        _add_video(fields, source, options)
    except KavachError as exc:
        return _error(fields, exc)
    return HashRecord(**fields)


def _add_video(fields: dict[str, Any], source: str | bytes, options: HashOptions) -> None:
    from kavach.signals.vpdq import hash_video

    result = hash_video(source, fps=options.video_fps, limits=options.video_limits)
    fields["vpdq"] = result.vpdq.to_records()
    fields["duration"] = round(result.duration, 3)
    fields["frame_count"] = result.frame_count
    fields["frame_rate"] = round(result.info.frame_rate, 3)
    fields["rotation"] = result.info.rotation


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
        fields["media_type"] = _sniff_or_none(stream.read(_SNIFF_BYTES))


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
