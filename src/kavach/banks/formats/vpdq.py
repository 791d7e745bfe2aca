"""Video hash lists: the vPDQ reference's frame lines, and pytx's text form of the signal.

The ``vpdq`` format is the reference's file (``frame,quality,hash,timestamp`` lines, as
``kavach hash`` and Meta's ``vpdq`` tool write them): a file without header lines is one video.
Several videos go in one file each after a header line of their own::

    # video item_id=104 labels=industry:A1|vics-us:1
    0,100,f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,0.000
    30,98,...

Header values are percent-encoded (``urllib.parse.quote``); other ``#`` lines and blank lines are
ignored. A video with a bad line is reported (naming the line) and skipped whole: part of a
video's frames would match differently from the video.

python-threatexchange (and so HMA) writes a vpdq signal as a JSON list of ``"hash,quality,
timestamp"`` strings, without frame numbers: :func:`video_from_pytx` numbers the frames 0, 1, ...
in order, :func:`video_to_pytx` drops the numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING
from urllib.parse import quote, unquote

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
from kavach.errors import FormatError, InvalidHashError

if TYPE_CHECKING:
    from kavach.signals.vpdq import VideoHash

__all__ = ["VpdqFormat", "video_from_pytx", "video_to_pytx"]

_HEADER = "# video"
_MAX_LINE = 4096
# Frames per video read from a file: 11.5 days at 1 frame a second; the index takes 16.7 M.
_MAX_FRAMES = 1_000_000


class VpdqFormat:
    """vPDQ reference lines, one video per file or per ``# video`` header."""

    name = "vpdq"
    description = "vPDQ reference lines (frame,quality,hash,timestamp), '# video' per video"
    per_hash = False
    carries_video = True

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        """Yield one record per video; a video with a bad line becomes one RecordError."""
        with text_reader(stream) as text:
            video = _Video("line 1", 1)
            line_no = 0
            try:
                for line_no, raw in enumerate(text, start=1):
                    line = raw.strip()
                    if line.startswith(_HEADER):
                        if video.lines or video.header:
                            yield video.finish()
                        video = _Video(f"line {line_no}", line_no)
                        video.start(line[len(_HEADER) :])
                    elif not line or line.startswith("#"):
                        continue
                    elif len(raw) > _MAX_LINE:
                        video.fail(f"line {line_no}: line too long")
                    elif len(video.lines) >= _MAX_FRAMES:
                        video.fail(f"more than {_MAX_FRAMES:,} frames")
                    else:
                        video.lines.append((line_no, line))
            except UnicodeDecodeError as exc:
                raise FormatError(
                    f"not UTF-8 text: {exc.reason}", where=f"line {line_no + 1}", line=line_no + 1
                ) from None
            if video.lines or video.header:
                yield video.finish()

    def write(
        self, stream: IO[bytes], records: Iterable[HashRecord | Deletion], options: WriteOptions
    ) -> int:
        """Write each record's video (records without one are skipped) under a header."""
        count = 0
        with text_writer(stream) as out:
            for record in records:
                if isinstance(record, Deletion) or record.video is None:
                    continue
                fields = []
                if record.item_id is not None:
                    fields.append(f"item_id={quote(record.item_id, safe='')}")
                labels = sorted({f"{lb.scheme}:{lb.value}" for lb in record.labels})
                if labels:
                    fields.append("labels=" + "|".join(quote(lb, safe=":") for lb in labels))
                out.write(" ".join((_HEADER, *fields)) + "\n")
                out.write(record.video.to_text())
                count += 1
        return count


class _Video:
    """The lines of one video being read, and its header's item id and labels."""

    def __init__(self, where: str, line: int) -> None:
        self.where = where
        self.line = line
        self.header = False
        self.item_id: str | None = None
        self.labels: list[Label] = []
        self.lines: list[tuple[int, str]] = []
        self.error: str | None = None

    def start(self, rest: str) -> None:
        self.header = True
        for field in rest.split():
            key, sep, value = field.partition("=")
            if not sep:
                self.fail(f"header field {field[:40]!r} is not KEY=VALUE")
            elif key == "item_id":
                self.item_id = unquote(value) or None
            elif key == "labels":
                for pair in filter(None, value.split("|")):
                    scheme, colon, label = unquote(pair).partition(":")
                    if not colon or not scheme.strip() or not label.strip():
                        self.fail(f"label {pair[:40]!r} is not SCHEME:VALUE")
                    else:
                        self.labels.append(Label(scheme.strip(), label.strip()))
            # Unknown keys are ignored, as other formats ignore unknown columns.

    def fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    def finish(self) -> Item:
        if self.error is not None:
            return RecordError(self.where, self.error, self.line)
        if not self.lines:
            return RecordError(self.where, "a video without frame lines", self.line)
        from kavach.signals.vpdq import VideoHash

        try:
            video = VideoHash.from_text("\n".join(line for _, line in self.lines))
        except InvalidHashError as exc:
            # from_text numbers lines within the video; name the file's line instead.
            message = exc.message
            if message.startswith("vPDQ line "):
                number, _, rest = message[len("vPDQ line ") :].partition(":")
                if number.isdigit() and 0 < int(number) <= len(self.lines):
                    line_no = self.lines[int(number) - 1][0]
                    return RecordError(f"line {line_no}", rest.strip(), line_no)
            return RecordError(self.where, message, self.line)
        return HashRecord.with_video(
            video, labels=tuple(self.labels), item_id=self.item_id, where=self.where
        )


def video_from_pytx(text: str) -> VideoHash:
    """A video from python-threatexchange's vpdq signal string (frames numbered in order)."""
    from kavach.signals.vpdq import VideoHash

    try:
        features = json.loads(text or "[]")
    except json.JSONDecodeError:
        raise InvalidHashError(
            "vpdq signal is not a JSON list of 'hash,quality,timestamp'"
        ) from None
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise InvalidHashError("vpdq signal is not a JSON list of 'hash,quality,timestamp'")
    lines = []
    for number, feature in enumerate(features, start=1):
        parts = feature.split(",")
        if len(parts) != 3:
            raise InvalidHashError(
                f"vpdq feature {number}: expected 'hash,quality,timestamp', got {len(parts)} fields"
            )
        hex_hash, quality, stamp = parts
        lines.append(f"{number - 1},{quality},{hex_hash},{stamp}")
    try:
        return VideoHash.from_text("\n".join(lines))
    except InvalidHashError as exc:
        # Lines and features are numbered alike (from 1).
        raise InvalidHashError(exc.message.replace("vPDQ line ", "vpdq feature ")) from None


def video_to_pytx(video: VideoHash) -> str:
    """python-threatexchange's vpdq signal string of a video (JSON, frame numbers dropped)."""
    features = [
        f"{bytes(row).hex()},{quality},{0.0 if math.isnan(stamp) else stamp:.3f}"
        for row, quality, stamp in zip(
            video.hashes, video.qualities.tolist(), video.timestamps.tolist(), strict=True
        )
    ]
    return json.dumps(features)
