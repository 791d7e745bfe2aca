"""python-threatexchange / HMA style bank CSV: one signal per row, comma-separated.

Accepted columns (header names case-insensitive; the first row is a header unless its first
cell is a signal type name, in which case the columns are ``signal_type,signal``):

``signal_type`` (or ``type``)
    ``pdq``, ``md5``, ``sha1``, ``sha256``, ``photodna``, ``vpdq``, and HMA's ``video_md5`` (read
    as md5 with media_type video). Other pytx types (url, raw_text, trend_query...) are not media
    hashes: such rows are reported and skipped.
``signal`` (or ``hash``, ``signal_value``, ``value``)
    The hash in its usual text form; for ``vpdq`` pytx's JSON list of ``"hash,quality,timestamp"``
    strings (see :mod:`kavach.banks.formats.vpdq`).
``item_id`` (or ``content_id``, ``bank_content_id``), optional
    Rows sharing it are hashes of the same media item.
``labels``, optional
    ``scheme:value`` pairs separated by ``|``, e.g. ``industry:A1|vics-us:1``.
``tags``, optional
    Tags separated by ``,`` within the cell (quoted by CSV rules).

Every other column is ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO, Any

from kavach.banks.formats.base import (
    Deletion,
    HashRecord,
    Item,
    Label,
    ReadOptions,
    RecordError,
    WriteOptions,
    text_reader,
    text_writer,
)
from kavach.banks.formats.vpdq import video_from_pytx, video_to_pytx
from kavach.errors import FormatError, InvalidHashError
from kavach.signals.types import SignalType, format_hash, parse_hash

__all__ = ["HmaCsvFormat"]

_ALIASES = {
    "signal_type": ("signal_type", "type", "signal type"),
    "signal": ("signal", "hash", "signal_value", "value"),
    "item_id": ("item_id", "content_id", "bank_content_id"),
    "labels": ("labels",),
    "tags": ("tags",),
}
# pytx names that are media hashes under another name.
_PYTX_TYPES = {"video_md5": (SignalType.MD5, "video"), "photo_md5": (SignalType.MD5, "image")}
_HEADER = ("signal_type", "signal", "item_id", "labels", "tags")
# A vpdq cell holds ~82 characters a frame; csv's default limit (131,072) would stop at ~26
# minutes of video. 64 MiB covers ~9 days at 1 frame a second.
_FIELD_LIMIT = 64 * 1024 * 1024


def _signal_type(name: str) -> tuple[SignalType, str | None]:
    key = name.strip().lower()
    if key in _PYTX_TYPES:
        return _PYTX_TYPES[key]
    return SignalType.parse(key), None


def _is_signal_type(name: str) -> bool:
    try:
        _signal_type(name)
    except InvalidHashError:
        return False
    return True


class HmaCsvFormat:
    """HMA / python-threatexchange bank CSV."""

    name = "hma"
    description = "HMA / python-threatexchange bank CSV (signal_type,signal,...)"
    per_hash = True
    carries_video = True

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        """Yield one single-hash record per row; bad rows become RecordErrors."""
        if csv.field_size_limit() < _FIELD_LIMIT:
            csv.field_size_limit(_FIELD_LIMIT)
        with text_reader(stream) as text:
            reader = csv.reader(text)
            try:
                first = next(reader, None)
                if first is None:
                    return
                if first and _is_signal_type(first[0]):
                    positions = {"signal_type": 0, "signal": 1}
                    yield from _row(first, positions, reader.line_num)
                else:
                    positions = _positions(first)
                for row in reader:
                    if any(cell.strip() for cell in row):
                        yield from _row(row, positions, reader.line_num)
            except csv.Error as exc:
                raise FormatError(
                    f"malformed CSV: {exc}", where=f"line {reader.line_num}", line=reader.line_num
                ) from None
            except UnicodeDecodeError as exc:
                raise FormatError(f"not UTF-8 text: {exc.reason}") from None

    def write(
        self, stream: IO[bytes], records: Iterable[HashRecord | Deletion], options: WriteOptions
    ) -> int:
        """Write ``signal_type,signal,item_id,labels,tags``, one row per hash (video MD5s as
        ``video_md5``)."""
        count = 0
        with text_writer(stream) as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(_HEADER)
            for record in records:
                if isinstance(record, Deletion):
                    continue
                labels = "|".join(sorted({f"{lb.scheme}:{lb.value}" for lb in record.labels}))
                tags = ",".join(record.attributes.get("tags", ()))
                for st, value in record.hashes:
                    if options.signal_type is not None and st is not options.signal_type:
                        continue
                    if st is SignalType.VPDQ and record.video is None:
                        continue  # a key without its frames: nothing a reader could match
                    writer.writerow(
                        (
                            _type_name(st, record),
                            video_to_pytx(record.video)
                            if st is SignalType.VPDQ and record.video is not None
                            else format_hash(st, value),
                            record.item_id or "",
                            labels,
                            tags,
                        )
                    )
                    count += 1
        return count


def _type_name(st: SignalType, record: HashRecord) -> str:
    # HMA keeps video MD5s apart from photo ones; say which this is so a re-read keeps it.
    if st is SignalType.MD5 and record.attributes.get("media_type") == "video":
        return "video_md5"
    return st.value


def _positions(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    positions: dict[str, int] = {}
    for key, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in names:
                positions[key] = names.index(alias)
                break
    missing = [k for k in ("signal_type", "signal") if k not in positions]
    if missing:
        raise FormatError(
            f"the header has no {' or '.join(missing)} column; see docs/banks.md for the columns",
            where="line 1",
            line=1,
        )
    return positions


def _cell(row: list[str], positions: dict[str, int], key: str) -> str:
    index = positions.get(key)
    return row[index].strip() if index is not None and index < len(row) else ""


def _row(row: list[str], positions: dict[str, int], line: int) -> Iterator[Item]:
    where = f"line {line}"
    video = None
    try:
        st, media_type = _signal_type(_cell(row, positions, "signal_type"))
        if st is SignalType.VPDQ:
            video = video_from_pytx(_cell(row, positions, "signal"))
            value = b""
        else:
            value = parse_hash(st, _cell(row, positions, "signal"))
    except InvalidHashError as exc:
        yield RecordError(where, exc.message, line)
        return
    labels: list[Label] = []
    for pair in filter(None, (p.strip() for p in _cell(row, positions, "labels").split("|"))):
        scheme, sep, label_value = pair.partition(":")
        if not sep or not scheme.strip() or not label_value.strip():
            yield RecordError(where, f"label {pair[:40]!r} is not SCHEME:VALUE", line)
            continue
        labels.append(Label(scheme.strip(), label_value.strip()))
    attributes: dict[str, Any] = {}
    if media_type:
        attributes["media_type"] = media_type
    tags = sorted({t.strip() for t in _cell(row, positions, "tags").split(",") if t.strip()})
    if tags:
        attributes["tags"] = tags
    item_id = _cell(row, positions, "item_id") or None
    if video is not None:
        yield HashRecord.with_video(video, (), tuple(labels), item_id, attributes, where)
    else:
        yield HashRecord(((st, value),), tuple(labels), item_id, attributes, where)
