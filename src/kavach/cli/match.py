"""``kavach match``: look hashes up in banks, from arguments or a file; JSON or a table.

Exit status like ``kavach scan``: 0 nothing matched, 1 something matched, 2 errors.
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel

from kavach.cli.scan import open_matcher
from kavach.errors import InputError, InvalidHashError, MediaError
from kavach.match.models import Match, MatchPolicy
from kavach.signals.pdq import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from kavach.signals.types import SignalType, parse_hash
from kavach.signals.variants import parse_variants

if TYPE_CHECKING:
    from kavach.match import Query

# Hashes read from one file at most: a lookup, not a scan (use `kavach bank import` for lists).
_MAX_HASHES = 1_000_000


class OutputFormat(enum.StrEnum):
    json = "json"
    table = "table"


class HashResult(BaseModel):
    """The matches of one hash given to ``kavach match``."""

    query: str
    signal_types: list[SignalType]
    matches: list[Match]


def register(app: typer.Typer) -> None:
    """Add ``kavach match`` to the main app."""
    app.command("match")(match_command)


def match_command(
    hashes: Annotated[
        list[str] | None, typer.Argument(help="Hashes: TYPE:HASH or a bare hash.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="File of hashes, one per line (- for standard input)."),
    ] = None,
    signal_type: Annotated[
        str | None,
        typer.Option(
            help="Type of bare hashes (default: from the length; 64 hex: sha256 and pdq)."
        ),
    ] = None,
    vpdq: Annotated[
        list[Path] | None,
        typer.Option(
            "--vpdq",
            help="A video's vPDQ file (frame,quality,hash,timestamp lines) to match (repeat).",
        ),
    ] = None,
    media: Annotated[
        list[Path] | None,
        typer.Option(
            "--media",
            "-m",
            help="An image or video to hash and match, with the query-side variants (repeat).",
        ),
    ] = None,
    variants: Annotated[
        str,
        typer.Option(
            help="Variants looked up for --media: any of dihedral,trim,crop,rotate,reliable,"
            "cropgrid; or default (all of them), fast (all but cropgrid) or none "
            "(docs/robustness.md)."
        ),
    ] = "default",
    bank: Annotated[
        list[str] | None,
        typer.Option("--bank", "-b", help="Bank to search (repeat; default: all)."),
    ] = None,
    threshold: Annotated[
        int, typer.Option(min=0, max=256, help="Largest PDQ distance that matches.")
    ] = PDQ_MATCH_THRESHOLD,
    output_format: Annotated[
        OutputFormat | None,
        typer.Option("--format", help="json or table (default: table on a terminal, else json)."),
    ] = None,
) -> None:
    """Look hashes up in banks. Exit status: 0 no match, 1 matches found, 2 errors."""
    default = SignalType.parse(signal_type) if signal_type else None
    texts = list(hashes or [])
    if file is not None:
        texts.extend(_read_lines(file))
    if not texts and not vpdq and not media:
        raise InputError("no hashes given; pass them as arguments, with --file, --vpdq or --media")
    families = parse_variants(variants)
    items = [_parse(text, default) for text in texts]
    for video_file in vpdq or []:
        texts.append(str(video_file))
        items.append([_read_video(video_file)])
    for path in media or []:
        texts.append(str(path))
        items.append(_hash_media(path, families))
    # A query hash has no quality to check: the person asking vouches for it (a --media file's
    # PDQ hashes were checked against the quality floor when it was hashed).
    policy = MatchPolicy(threshold=threshold, min_quality=0, variants=tuple(families))
    with open_matcher(bank, policy) as matcher:
        found = matcher.match(items)
    results = [
        HashResult(
            query=text.strip(),
            signal_types=list(dict.fromkeys(q.signal_type for q in item)),
            matches=matches,
        )
        for text, item, matches in zip(texts, items, found, strict=True)
    ]
    fmt = output_format or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.json)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in results], indent=1) + "\n")
    else:
        _print_table(results)
    hits = sum(1 for r in results if r.matches)
    sys.stderr.write(f"kavach: {hits} of {len(results)} hashes matched\n")
    raise typer.Exit(1 if hits else 0)


def _read_lines(file: Path) -> list[str]:
    try:
        stream = sys.stdin if str(file) == "-" else file.open(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from None
    lines: list[str] = []
    with stream:
        for raw in stream:
            line = raw.strip()
            if line and not line.startswith("#"):
                lines.append(line)
                if len(lines) > _MAX_HASHES:
                    raise InputError(
                        f"{file} has more than {_MAX_HASHES:,} hashes; import it as a bank "
                        "(`kavach bank import`) or split it"
                    )
    return lines


def _hash_media(path: Path, families: frozenset[str]) -> list[Query]:
    from kavach.hashing import HashOptions, hash_file
    from kavach.match.matcher import record_queries

    record = hash_file(path, HashOptions(variants=families))
    if record.error is not None:
        raise MediaError(f"{path}: {record.error.message}")
    return [
        q
        for q in record_queries(record, families)
        if q.signal_type is not SignalType.PDQ or (q.quality or 0) >= PDQ_MIN_QUALITY
    ]


def _read_video(file: Path) -> Query:
    from kavach.match import Query
    from kavach.signals.vpdq import VideoHash

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"cannot read {file}: {reason or exc}") from None
    try:
        video = VideoHash.from_text(text)
    except InvalidHashError as exc:
        raise InvalidHashError(f"{file}: {exc.message}") from None
    if not len(video):
        raise InputError(f"{file} has no frame lines (frame,quality,hash,timestamp)")
    return Query.for_video(video)


def _parse(text: str, default: SignalType | None) -> list[Query]:
    from kavach.banks.formats.text import guess_signal_type
    from kavach.match import Query

    value = text.strip()
    kind, sep, rest = value.partition(":")
    try:
        if sep and len(kind) < 10:
            st = SignalType.parse(kind)
            if st is SignalType.VPDQ:
                raise InvalidHashError(
                    "a video is matched by its frames: give its file with --vpdq"
                )
            return [Query(st, parse_hash(st, rest))]
        if default is not None:
            return [Query(default, parse_hash(default, value))]
        if len(value) == 64:
            # sha256 or pdq: both are 64 hex characters, so look the value up as both.
            raw = parse_hash(SignalType.SHA256, value)
            return [Query(SignalType.SHA256, raw), Query(SignalType.PDQ, raw)]
        st = guess_signal_type(value)
        return [Query(st, parse_hash(st, value))]
    except InvalidHashError as exc:
        raise InvalidHashError(f"{exc.message} (in {value[:80]!r})") from None


def _print_table(results: list[HashResult]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    for column in ("query", "bank", "entry", "type", "distance", "variant", "labels"):
        table.add_column(column, overflow="fold")
    for result in results:
        if not result.matches:
            table.add_row(escape(result.query), "[dim]no match[/dim]", "", "", "", "", "")
        for m in result.matches:
            table.add_row(
                escape(result.query),
                escape(m.bank),
                str(m.entry_id),
                m.signal_type.value,
                str(m.distance)
                if m.query_match_percent is None
                else f"{m.query_match_percent:.0f}%/{m.compared_match_percent or 0:.0f}%",
                escape(m.found_by() or m.variant or ""),
                escape(" ".join(str(label) for label in m.labels)),
            )
    Console().print(table)
