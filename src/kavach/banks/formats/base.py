"""What every list format reads and writes: records, tombstones and per-record errors."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

from kavach.errors import InvalidHashError
from kavach.signals.types import SignalType, parse_hash

if TYPE_CHECKING:
    from kavach.signals.vpdq import VideoHash

__all__ = [
    "BankFormat",
    "Deletion",
    "HashRecord",
    "Item",
    "Label",
    "ReadOptions",
    "RecordError",
    "WriteOptions",
    "parse_bool",
    "text_reader",
    "text_writer",
]

Hashes = tuple[tuple[SignalType, bytes], ...]


@dataclass(frozen=True, slots=True)
class Label:
    """A classification ``(scheme, value, assessor, assessed_at)``.

    ``assessor`` None means "whoever made the list"; the importer fills in its name.
    """

    scheme: str
    value: str
    assessor: str | None = None
    assessed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class HashRecord:
    """One media item as a list carries it: its hashes (one or more) and what is known of it.

    ``attributes`` uses the keys documented in docs/banks.md (victim_identified, series, ...).
    ``where`` names the record in its file ("line 12", "value[0].Media[3]") for error messages.
    ``video`` holds the frames of the record's ``vpdq`` hash (whose value in ``hashes`` is their
    :func:`~kavach.signals.types.video_key`); use :meth:`with_video` to attach both.
    """

    hashes: Hashes
    labels: tuple[Label, ...] = ()
    item_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""
    video: VideoHash | None = field(default=None, compare=False)

    @classmethod
    def with_video(
        cls,
        video: VideoHash,
        hashes: Hashes = (),
        labels: tuple[Label, ...] = (),
        item_id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        where: str = "",
    ) -> HashRecord:
        """A record of a video: ``hashes`` (its digests, if known) plus its vpdq key and frames."""
        from kavach.signals.types import video_key

        merged = {"media_type": "video", **(attributes or {})}
        key = (SignalType.VPDQ, video_key(video))
        return cls((*hashes, key), labels, item_id, merged, where, video)


@dataclass(frozen=True, slots=True)
class Deletion:
    """A tombstone from a feed: the item (by id) or the hashes listed must be retracted."""

    item_id: str | None = None
    hashes: Hashes = ()
    where: str = ""


@dataclass(frozen=True, slots=True)
class RecordError:
    """One record that could not be read; the reader carries on with the next."""

    where: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


Item = HashRecord | Deletion | RecordError


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Reader options: the signal type for bare hashes (text format)."""

    signal_type: SignalType | None = None


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Writer options: keep one signal type only; the VICS flavour to write."""

    signal_type: SignalType | None = None
    vics_flavour: str = "US"


class BankFormat(Protocol):
    """A list format: a streaming reader and a streaming writer."""

    name: str
    description: str
    # True when the format writes one hash per row with its own labels (HMA CSV, text), so
    # exports must not merge the hashes of one item into one record.
    per_hash: bool
    # True when the format can carry a vpdq hash (its frames); other formats never see one.
    carries_video: bool

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        """Yield the records of ``stream`` one by one; raise FormatError when it cannot go on."""
        ...

    def write(
        self, stream: IO[bytes], records: Iterable[HashRecord | Deletion], options: WriteOptions
    ) -> int:
        """Write ``records`` to ``stream``; return how many records were written."""
        ...


_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f", ""})


def parse_bool(value: Any) -> bool | None:
    """A boolean from JSON/CSV as lists write them (true, "True", "yes", 1); None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return None if text == "" else False
    raise ValueError(f"not a boolean: {str(value)[:20]!r}")


def parse_hash_field(
    signal_type: SignalType, raw: Any, where: str, errors: list[RecordError], field_name: str
) -> tuple[SignalType, bytes] | None:
    """Parse one hash field; an invalid value becomes a RecordError, an empty one is skipped."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    try:
        return signal_type, parse_hash(signal_type, text)
    except InvalidHashError as exc:
        errors.append(RecordError(where, f"{field_name}: {exc.message}"))
        return None


@contextmanager
def text_reader(stream: IO[bytes]) -> Iterator[io.TextIOWrapper]:
    """Decode ``stream`` as UTF-8 (a BOM is dropped) without closing it afterwards."""
    wrapper = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", errors="strict")
    try:
        yield wrapper
    finally:
        wrapper.detach()


@contextmanager
def text_writer(stream: IO[bytes]) -> Iterator[io.TextIOWrapper]:
    """Encode to ``stream`` as UTF-8 without closing it afterwards."""
    wrapper = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    try:
        yield wrapper
        wrapper.flush()
    finally:
        wrapper.detach()
