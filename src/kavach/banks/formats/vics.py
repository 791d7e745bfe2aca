"""Project VIC VICS JSON (OData), versions 1.x and 2.0, read as a stream with ijson.

Reads case files (``value[].Media[]``) and bare hash sets (``value[]`` of Media), whether the
top-level metadata key is ``odata.metadata`` (1.x) or ``@odata.context`` (2.0, flavours Default,
US, UK, CUSTOM). One Media object is in memory at a time, however big the case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

from kavach.banks.formats.base import (
    Deletion,
    HashRecord,
    Item,
    Label,
    ReadOptions,
    RecordError,
    WriteOptions,
    parse_bool,
    parse_hash_field,
    text_writer,
)
from kavach.errors import FormatError, InputError
from kavach.signals.types import SignalType, format_hash

__all__ = ["FLAVOURS", "VicsFormat", "category_label", "label_category"]

FLAVOURS = ("Default", "US", "UK", "CUSTOM")

# VICS field -> signal type. SHA256 is not in the documented Media fields but some tools add it.
_HASH_FIELDS = (
    ("MD5", SignalType.MD5),
    ("SHA1", SignalType.SHA1),
    ("SHA256", SignalType.SHA256),
    ("PhotoDNA", SignalType.PHOTODNA),
)
_BOOL_FIELDS = (
    ("VictimIdentified", "victim_identified"),
    ("OffenderIdentified", "offender_identified"),
    ("IsDistributed", "is_distributed"),
)
_UK_NUMBERS = {"1": "A", "2": "B", "3": "C"}
_UK_LETTERS = {v: k for k, v in _UK_NUMBERS.items()}
_CONTEXT_FLAVOUR = re.compile(r"2\.0\.xml/(\w+)\$metadata", re.IGNORECASE)
_BOM = b"\xef\xbb\xbf"
_MEDIA = "value.item.Media.item"
_META_KEYS = ("odata.metadata", "@odata.context")


def category_label(flavour: str, category: Any) -> Label | None:
    """The label for a VICS ``Category`` in a file of ``flavour`` (see docs/banks.md)."""
    if category is None or (isinstance(category, str) and not category.strip()):
        return None
    text = str(int(category)) if isinstance(category, int | float) else str(category).strip()
    if flavour == "UK":
        return Label("vics-uk", _UK_NUMBERS.get(text, text.upper()))
    if flavour == "CUSTOM":
        return Label("vics-custom", text)
    # Default and 1.x files use the US categories 0-4 (Project VIC started in the US).
    if not text.isdigit():
        raise ValueError(f"Category {text[:20]!r} is not a VICS US category (0-4)")
    return Label("vics-us", text)


def label_category(flavour: str, labels: Iterable[Label]) -> int | str | None:
    """The VICS ``Category`` to write for ``labels`` in ``flavour``, or None."""
    scheme = {"UK": "vics-uk", "CUSTOM": "vics-custom"}.get(flavour, "vics-us")
    for label in sorted(labels, key=lambda lb: (lb.scheme, lb.value)):
        if label.scheme != scheme:
            continue
        value = _UK_LETTERS.get(label.value, label.value) if flavour == "UK" else label.value
        return int(value) if value.isdigit() else value
    return None


class VicsFormat:
    """Project VIC VICS JSON."""

    name = "vics"
    description = "Project VIC VICS JSON 1.x/2.0 (case files and hash sets)"
    per_hash = False
    carries_video = False

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        """Yield one HashRecord per Media object (errors per Media, FormatError for bad JSON)."""
        reader = _Reader(_skip_bom(stream))
        yield from reader.items()

    def write(
        self, stream: IO[bytes], records: Iterable[HashRecord | Deletion], options: WriteOptions
    ) -> int:
        """Write a VICS 2.0 hash set (``value[]`` of Media); tombstones are left out."""
        flavour = _flavour_name(options.vics_flavour)
        context = f"http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/{flavour}$metadata#Media"
        count = 0
        with text_writer(stream) as out:
            out.write('{"@odata.context": ' + json.dumps(context) + ',\n "value": [')
            for record in records:
                if isinstance(record, Deletion):
                    continue
                media = _media(record, flavour)
                out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(media, sort_keys=False))
                count += 1
            out.write("\n ]\n}\n")
        return count


def _flavour_name(text: str) -> str:
    for flavour in FLAVOURS:
        if flavour.lower() == text.strip().lower():
            return flavour
    raise InputError(f"unknown VICS flavour {text!r}; expected one of {', '.join(FLAVOURS)}")


def _skip_bom(stream: IO[bytes]) -> _Prefixed:
    # yajl rejects a BOM, and VICS exports from Windows tools often start with one.
    head = stream.read(3)
    return _Prefixed(b"" if head == _BOM else head, stream)


class _Prefixed:
    """A readable that yields ``head`` and then the rest of ``stream`` (for ijson)."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size < 0:
            data, self._head = self._head + self._stream.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        return data


class _Reader:
    """Walks ijson events, building one Media object at a time."""

    def __init__(self, stream: _Prefixed) -> None:
        self._stream = stream
        self.flavour = "Default"
        self._count = 0

    def items(self) -> Iterator[Item]:
        # ijson prefixes say exactly where each event sits, so routing on them needs no depth
        # counting: "value.item" is a case or a bare Media, "value.item.Media.item" a case's Media.
        item: ijson.ObjectBuilder | None = None
        media: ijson.ObjectBuilder | None = None
        is_case = False
        case_index = media_index = -1
        saw_value = False
        try:
            for prefix, event, value in ijson.parse(self._stream, use_float=True):
                if media is not None:
                    media.event(event, value)
                    if prefix == _MEDIA and event == "end_map":
                        where = f"value[{case_index}].Media[{media_index}]"
                        yield from self._media(media.value, where)
                        media = None
                    continue
                if item is None:
                    if prefix in _META_KEYS and event == "string":
                        self.flavour = _detect_flavour(str(value))
                    elif prefix == "value" and event == "start_array":
                        saw_value = True
                    elif prefix == "value.item":
                        case_index += 1
                        if event == "start_map":
                            item, is_case, media_index = ijson.ObjectBuilder(), False, -1
                            item.event(event, value)
                        else:
                            yield RecordError(f"value[{case_index}]", "entry is not an object")
                    continue
                if prefix == _MEDIA:
                    if event == "start_map":
                        media_index += 1
                        media = ijson.ObjectBuilder()
                        media.event(event, value)
                    elif event not in ("start_array", "end_array"):
                        media_index += 1
                        where = f"value[{case_index}].Media[{media_index}]"
                        yield RecordError(where, "Media entry is not an object")
                    continue
                if prefix == "value.item.Media" or prefix.startswith("value.item.Media."):
                    continue
                if prefix == "value.item" and event == "map_key" and value == "Media":
                    is_case = True
                    continue
                item.event(event, value)
                if prefix == "value.item" and event == "end_map":
                    if not is_case:
                        yield from self._media(item.value, f"value[{case_index}]")
                    item = None
        except ijson.JSONError as exc:
            raise FormatError(
                f"not valid JSON after {self._count} media records: {_short(exc)}",
                where=f"value[{max(case_index, 0)}]",
            ) from None
        if not saw_value:
            raise FormatError("not a VICS file: no top-level 'value' array")

    def _media(self, obj: Any, where: str) -> Iterator[Item]:
        self._count += 1
        if not isinstance(obj, dict):
            yield RecordError(where, "Media entry is not a JSON object")
            return
        media_id = obj.get("MediaID")
        if media_id is not None and str(media_id).strip():
            where = f"{where} (MediaID {str(media_id)[:40]})"
        errors: list[RecordError] = []
        hashes = tuple(
            h
            for field_name, st in _HASH_FIELDS
            if (h := parse_hash_field(st, obj.get(field_name), where, errors, field_name))
        )
        labels: tuple[Label, ...] = ()
        try:
            label = category_label(self.flavour, obj.get("Category"))
            labels = (label,) if label else ()
        except (ValueError, TypeError) as exc:
            errors.append(RecordError(where, str(exc)))
        attributes = _attributes(obj, where, errors)
        yield from errors
        if not hashes:
            if not errors:
                yield RecordError(where, "Media entry has no MD5, SHA1 or PhotoDNA hash")
            return
        item_id = str(media_id).strip() if media_id is not None and str(media_id).strip() else None
        yield HashRecord(hashes, labels, item_id, attributes, where)


def _detect_flavour(context: str) -> str:
    match = _CONTEXT_FLAVOUR.search(context)
    if not match:
        return "Default"
    name = match.group(1)
    for flavour in FLAVOURS:
        if flavour.lower() == name.lower():
            return flavour
    return "CUSTOM"


def _attributes(obj: dict[str, Any], where: str, errors: list[RecordError]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for field_name, key in _BOOL_FIELDS:
        try:
            flag = parse_bool(obj.get(field_name))
        except ValueError as exc:
            errors.append(RecordError(where, f"{field_name}: {exc}"))
            continue
        if flag is not None:
            attributes[key] = flag
    series = obj.get("Series")
    if series is not None and str(series).strip():
        attributes["series"] = str(series).strip()
    tags = _tags(obj.get("Tags"))
    if tags:
        attributes["tags"] = tags
    files = obj.get("MediaFiles")
    if isinstance(files, list):
        # File names only: paths on a seized device belong to the case, not to the list.
        names = sorted(
            {
                str(f.get("FileName")).strip()
                for f in files
                if isinstance(f, dict) and f.get("FileName")
            }
        )
        if names:
            attributes["file_names"] = names
    return attributes


def _tags(raw: Any) -> list[str]:
    if raw is None:
        return []
    parts = raw if isinstance(raw, list) else re.split(r"[,;]", str(raw))
    return sorted({str(p).strip() for p in parts if str(p).strip()})


def _media(record: HashRecord, flavour: str) -> dict[str, Any]:
    media: dict[str, Any] = {}
    if record.item_id is not None:
        # VICS tools write MediaID as a number; keep any other id (leading zeros too) as text.
        is_number = record.item_id.isdigit() and str(int(record.item_id)) == record.item_id
        media["MediaID"] = int(record.item_id) if is_number else record.item_id
    category = label_category(flavour, record.labels)
    if category is not None:
        media["Category"] = category
    by_type = dict(record.hashes)
    for field_name, st in _HASH_FIELDS:
        if st in by_type:
            media[field_name] = format_hash(st, by_type[st])
    attrs = record.attributes
    for field_name, key in _BOOL_FIELDS:
        if key in attrs:
            media[field_name] = bool(attrs[key])
    if attrs.get("series"):
        media["Series"] = attrs["series"]
    if attrs.get("tags"):
        media["Tags"] = ",".join(attrs["tags"])
    if attrs.get("file_names"):
        media["MediaFiles"] = [{"FileName": name} for name in attrs["file_names"]]
    return media


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:200]
