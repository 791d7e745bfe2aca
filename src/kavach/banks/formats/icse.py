"""INTERPOL ICSE CSV exports: ``;``-separated, one media item per row, header names as ICSE writes.

Columns (matched case-insensitively, surrounding spaces ignored, any order, unknown ones skipped):
MD5, SHA1, PhotoDNA, Image ID, Is distributed, Victim identified, Offender identified,
Series name, Number of submissions, Media Type, Baseline.
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
    parse_bool,
    parse_hash_field,
    text_reader,
    text_writer,
)
from kavach.errors import FormatError
from kavach.signals.types import SignalType, format_hash

__all__ = ["BASELINE", "COLUMNS", "IcseFormat"]

COLUMNS = (
    "MD5",
    "SHA1",
    "PhotoDNA",
    "Image ID",
    "Is distributed",
    "Victim identified",
    "Offender identified",
    "Series name",
    "Number of submissions",
    "Media Type",
    "Baseline",
)
# INTERPOL's baseline: material any country would judge illegal (the "worst of the worst").
BASELINE = Label("interpol-baseline", "baseline")
_HASHES = (("md5", SignalType.MD5), ("sha1", SignalType.SHA1), ("photodna", SignalType.PHOTODNA))
_BOOLS = (
    ("is distributed", "is_distributed"),
    ("victim identified", "victim_identified"),
    ("offender identified", "offender_identified"),
)
# Some exports put the whole row in one field when read with the wrong delimiter: a long line
# with no ';' is reported instead of silently yielding nothing.
_MAX_FIELD = 1 << 20


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


class IcseFormat:
    """INTERPOL ICSE CSV."""

    name = "icse"
    description = "INTERPOL ICSE ';'-separated CSV export"
    per_hash = False
    carries_video = False

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        """Yield one HashRecord per row; a row with bad values becomes a RecordError."""
        with text_reader(stream) as text:
            reader = csv.reader(text, delimiter=";")
            try:
                header = next(reader, None)
                if header is None:
                    return
                columns = [_key(h) for h in header]
                if not {"md5", "sha1", "photodna"} & set(columns):
                    raise FormatError(
                        "not an ICSE export: the header has no MD5, SHA1 or PhotoDNA column "
                        "(is the file ';'-separated?)",
                        where="line 1",
                        line=1,
                    )
                for row in reader:
                    line = reader.line_num
                    if not any(cell.strip() for cell in row):
                        continue
                    yield from _row(
                        dict(zip(columns, row, strict=False)), line, len(row), len(columns)
                    )
            except csv.Error as exc:
                raise FormatError(
                    f"malformed CSV: {exc}", where=f"line {reader.line_num}", line=reader.line_num
                ) from None
            except UnicodeDecodeError as exc:
                raise FormatError(f"not UTF-8 text: {exc.reason}") from None

    def write(
        self, stream: IO[bytes], records: Iterable[HashRecord | Deletion], options: WriteOptions
    ) -> int:
        """Write the ICSE columns, one row per media item; tombstones are left out."""
        count = 0
        with text_writer(stream) as out:
            writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
            writer.writerow(COLUMNS)
            for record in records:
                if isinstance(record, Deletion):
                    continue
                writer.writerow(_cells(record))
                count += 1
        return count


def _row(row: dict[str, str], line: int, width: int, expected: int) -> Iterator[Item]:
    where = f"line {line}"
    errors: list[RecordError] = []
    if width != expected:
        errors.append(RecordError(where, f"{width} fields, the header has {expected}", line))
    hashes = tuple(
        h
        for key, st in _HASHES
        if (h := parse_hash_field(st, row.get(key), where, errors, key.upper()))
    )
    attributes: dict[str, Any] = {}
    labels: tuple[Label, ...] = ()
    for column, key in _BOOLS:
        try:
            flag = parse_bool(row.get(column))
        except ValueError as exc:
            errors.append(RecordError(where, f"{column}: {exc}", line))
            continue
        if flag is not None:
            attributes[key] = flag
    series = (row.get("series name") or "").strip()
    if series:
        attributes["series"] = series
    media_type = (row.get("media type") or "").strip().lower()
    if media_type:
        attributes["media_type"] = media_type
    submissions = (row.get("number of submissions") or "").strip()
    if submissions:
        try:
            attributes["submissions"] = int(submissions)
        except ValueError:
            errors.append(RecordError(where, f"Number of submissions: {submissions[:20]!r}", line))
    try:
        if parse_bool(row.get("baseline")):
            labels = (BASELINE,)
    except ValueError:
        # ICSE writes "Baseline" itself in some exports.
        if (row.get("baseline") or "").strip().lower() == "baseline":
            labels = (BASELINE,)
        else:
            errors.append(RecordError(where, f"Baseline: {row.get('baseline', '')[:20]!r}", line))
    for error in errors:
        yield RecordError(error.where, error.message, line)
    if not hashes:
        if not any(e.message.startswith(("MD5", "SHA1", "PHOTODNA")) for e in errors):
            yield RecordError(where, "row has no MD5, SHA1 or PhotoDNA hash", line)
        return
    item_id = (row.get("image id") or "").strip() or None
    yield HashRecord(hashes, labels, item_id, attributes, where)


def _cells(record: HashRecord) -> list[str]:
    by_type = dict(record.hashes)
    attrs = record.attributes

    def flag(key: str) -> str:
        return "" if key not in attrs else ("Yes" if attrs[key] else "No")

    baseline = any(
        lb.scheme == BASELINE.scheme and lb.value == BASELINE.value for lb in record.labels
    )
    return [
        format_hash(SignalType.MD5, by_type[SignalType.MD5]) if SignalType.MD5 in by_type else "",
        format_hash(SignalType.SHA1, by_type[SignalType.SHA1])
        if SignalType.SHA1 in by_type
        else "",
        format_hash(SignalType.PHOTODNA, by_type[SignalType.PHOTODNA])
        if SignalType.PHOTODNA in by_type
        else "",
        record.item_id or "",
        flag("is_distributed"),
        flag("victim_identified"),
        flag("offender_identified"),
        str(attrs.get("series", "")),
        str(attrs["submissions"]) if "submissions" in attrs else "",
        str(attrs.get("media_type", "")),
        "Yes" if baseline else "No",
    ]
