"""``kavach hash``: hash files and folders into JSONL, CSV or a table."""

from __future__ import annotations

import csv
import enum
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, TextIO

import typer

from kavach.errors import InputError
from kavach.hashing import (
    HashOptions,
    HashRecord,
    default_jobs,
    display_path,
    hash_paths,
    iter_files,
    parse_signals,
)

CSV_FIELDS = (
    "path",
    "size",
    "media_type",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "pdq_dihedral",
    "orientation",
    "error_code",
    "error_message",
    "vpdq",
    "duration",
    "frame_count",
    "frame_rate",
    "rotation",
)


class OutputFormat(enum.StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    table = "table"


def register(app: typer.Typer) -> None:
    app.command("hash")(hash_command)


def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    signals: Annotated[
        str, typer.Option("--signals", "-s", help="Comma-separated: md5,sha1,sha256,pdq,vpdq.")
    ] = "md5,sha1,sha256,pdq,vpdq",
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Also compute the 8 rotation/flip PDQ hashes.")
    ] = False,
    output_format: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format", "-f", help="jsonl, csv or table (default: table on a terminal, else jsonl)."
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores)."),
    ] = None,
    full_decode: Annotated[
        bool,
        typer.Option(
            "--full-decode",
            help="Decode JPEGs at full size: bit-exact with the reference PDQ, slower.",
        ),
    ] = False,
    fps: Annotated[
        str | None,
        typer.Option(
            "--fps",
            help="Video frames hashed per second (default 1); 0 or 'all': every frame. "
            "Given explicitly, animated GIF/WebP are hashed as video too.",
        ),
    ] = None,
) -> None:
    """Hash files: MD5, SHA-1, SHA-256, PDQ (images), vPDQ (video), one record per file.

    Records come in input order. Exit status: 0 when every file hashed, 2 when any failed (each
    failure has an error record).
    """
    options = HashOptions(
        signals=parse_signals(signals),
        dihedral=dihedral,
        full_decode=full_decode,
        video_fps=1.0 if fps is None else parse_fps(fps),
        animations_as_video=fps is not None,
    )
    fmt = output_format or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.jsonl)
    files = list(iter_files(paths))
    records = hash_paths(files, options, jobs=jobs or default_jobs())
    records = _with_progress(records, len(files), live_output=fmt is not OutputFormat.table)
    failed: list[HashRecord] = []
    if fmt is OutputFormat.table:
        collected = list(_track_failures(records, failed))
        _print_table(collected)
    elif fmt is OutputFormat.csv:
        _write_csv(_track_failures(records, failed), sys.stdout)
    else:
        for record in _track_failures(records, failed):
            sys.stdout.write(record.model_dump_json(exclude_none=False) + "\n")
    sys.stdout.flush()
    _summary(len(files), failed)
    if failed:
        raise typer.Exit(2)


def parse_fps(text: str) -> float | None:
    """``--fps``: a positive number of frames per second, or ``0``/``all`` for every frame."""
    value = text.strip().lower()
    if value in ("all", "0"):
        return None
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0 or number != number or number == float("inf"):
        raise InputError(f"--fps must be a positive number, 0 or 'all', got {text!r}")
    return number


def _track_failures(
    records: Iterator[HashRecord], failed: list[HashRecord]
) -> Iterator[HashRecord]:
    for record in records:
        if record.error is not None:
            failed.append(record)
        yield record


def _with_progress(
    records: Iterator[HashRecord], total: int, *, live_output: bool
) -> Iterator[HashRecord]:
    # A bar only where a person watches: stderr is a terminal and stdout isn't printing records
    # to the same screen.
    if not sys.stderr.isatty() or (live_output and sys.stdout.isatty()):
        yield from records
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("hashing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    start = time.monotonic()
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("hash", total=total, rate="")
        for done, record in enumerate(records, start=1):
            rate = done / max(time.monotonic() - start, 1e-6)
            progress.update(task, advance=1, rate=f"{rate:.0f} files/s")
            yield record


def _csv_row(record: HashRecord) -> dict[str, object]:
    row: dict[str, object] = record.model_dump(exclude={"error", "pdq_dihedral", "vpdq"})
    row["path"] = display_path(record.path)
    row["pdq_dihedral"] = (
        ";".join(f"{k}={v}" for k, v in record.pdq_dihedral.items()) if record.pdq_dihedral else ""
    )
    # The reference's frame lines, ';'-separated, in one cell.
    video = record.video_hash()
    row["vpdq"] = ";".join(video.lines()) if video is not None else ""
    row["error_code"] = record.error.code if record.error else ""
    row["error_message"] = record.error.message if record.error else ""
    return {key: ("" if value is None else value) for key, value in row.items()}


def _write_csv(records: Iterator[HashRecord], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(_csv_row(record))


def _print_table(records: list[HashRecord]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("path", "type", "md5", "pdq", "q", "status"):
        table.add_column(column, overflow="fold")
    for record in records:
        status = f"[red]{record.error.code}[/red]" if record.error else "ok"
        perceptual = record.pdq or ""
        if record.vpdq is not None:
            perceptual = f"vpdq: {len(record.vpdq)} frames, {record.duration or 0:.1f} s"
        table.add_row(
            display_path(record.path),
            record.media_type or "",
            record.md5 or "",
            perceptual,
            "" if record.pdq_quality is None else str(record.pdq_quality),
            status,
        )
    Console().print(table)


def _summary(total: int, failed: list[HashRecord]) -> None:
    out = sys.stderr
    out.write(f"kavach: hashed {total - len(failed)} of {total} files")
    if failed:
        out.write(f"; {len(failed)} failed:\n")
        for record in failed[:20]:
            assert record.error is not None
            out.write(
                f"  {display_path(record.path)}: {record.error.code}: {record.error.message}\n"
            )
        if len(failed) > 20:
            out.write(f"  … and {len(failed) - 20} more (see the error field of each record)\n")
    else:
        out.write("\n")
