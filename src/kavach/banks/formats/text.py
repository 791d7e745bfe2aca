"""Plain text: one hash per line, ``#`` comments and blank lines ignored.

A line is either a bare hash (its type from ``--signal-type``, else guessed from its length) or
``TYPE HASH`` (a signal type name, white space, the hash), which is what the writer produces
when a bank holds more than one signal type.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO

from kavach.banks.formats.base import (
    Deletion,
    HashRecord,
    Item,
    ReadOptions,
    RecordError,
    WriteOptions,
    text_reader,
    text_writer,
)
from kavach.errors import FormatError, InvalidHashError
from kavach.signals.types import SignalType, format_hash, parse_hash

__all__ = ["TextFormat", "guess_signal_type"]

# 64 hex characters are either SHA-256 or PDQ, so that length is never guessed.
_BY_LENGTH = {
    32: SignalType.MD5,
    40: SignalType.SHA1,
    192: SignalType.PHOTODNA,
    288: SignalType.PHOTODNA,
}
_MAX_LINE = 4096


def guess_signal_type(text: str) -> SignalType:
    """The signal type a bare hash must be, from its length; ambiguous lengths are an error."""
    st = _BY_LENGTH.get(len(text))
    if st is not None:
        return st
    if len(text) == 64:
        raise InvalidHashError(
            "64 hex characters could be sha256 or pdq; give the signal type (--signal-type)"
        )
    raise InvalidHashError(f"cannot tell the signal type of a {len(text)}-character hash")


class TextFormat:
    """One hash per line."""

    name = "text"
    description = "plain text, one hash per line (optionally 'TYPE HASH')"
    per_hash = True
    carries_video = False

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        """Yield one single-hash record per line; bad lines become RecordErrors."""
        with text_reader(stream) as text:
            line_no = 0
            try:
                for line_no, raw in enumerate(text, start=1):
                    if len(raw) > _MAX_LINE:
                        yield RecordError(f"line {line_no}", "line too long", line_no)
                        continue
                    line = raw.split("#", 1)[0].strip()
                    if not line:
                        continue
                    yield _line(line, line_no, options.signal_type)
            except UnicodeDecodeError as exc:
                raise FormatError(
                    f"not UTF-8 text: {exc.reason}", where=f"line {line_no + 1}", line=line_no + 1
                ) from None

    def write(
        self, stream: IO[bytes], records: Iterable[HashRecord | Deletion], options: WriteOptions
    ) -> int:
        """Write bare hashes of ``options.signal_type``, or ``TYPE HASH`` lines for all types."""
        count = 0
        only = options.signal_type
        with text_writer(stream) as out:
            for record in records:
                if isinstance(record, Deletion):
                    continue
                for st, value in record.hashes:
                    if st is SignalType.VPDQ:
                        continue  # a key without its frames could never be imported back
                    if only is None:
                        out.write(f"{st.value} {format_hash(st, value)}\n")
                    elif st is only:
                        out.write(format_hash(st, value) + "\n")
                    else:
                        continue
                    count += 1
        return count


def _line(line: str, line_no: int, signal_type: SignalType | None) -> Item:
    where = f"line {line_no}"
    parts = line.split()
    try:
        if len(parts) == 2:
            st = SignalType.parse(parts[0])
            value = parts[1]
        elif len(parts) == 1:
            value = parts[0]
            st = signal_type or guess_signal_type(value)
        else:
            return RecordError(where, "expected one hash, or a signal type and a hash", line_no)
        if st is SignalType.VPDQ:
            return RecordError(
                where,
                "a vpdq entry needs the video's frames: import them with --format vpdq or hma",
                line_no,
            )
        return HashRecord(((st, parse_hash(st, value)),), where=where)
    except InvalidHashError as exc:
        return RecordError(where, exc.message, line_no)
