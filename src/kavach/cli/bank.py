"""``kavach bank``: create, list, show, import, export and retract hash lists; add media."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kavach.banks import service
from kavach.banks.formats import FORMATS, Label, ReadOptions, WriteOptions
from kavach.banks.formats.text import guess_signal_type
from kavach.banks.models import BankSource, SharingPolicy
from kavach.cli.actor import cli_actor
from kavach.cli.db import database_session
from kavach.errors import InputError, InvalidHashError, KavachError
from kavach.signals.types import SignalType, parse_hash

bank_app = typer.Typer(
    help="Hash lists (banks): create, import, export, retract.", no_args_is_help=True
)

# Enough to see what went wrong; a file with thousands of bad lines must not flood the terminal.
_SHOWN_ERRORS = 20
_FORMAT_HELP = "List format: " + ", ".join(FORMATS) + "."


def register(app: typer.Typer) -> None:
    """Add ``kavach bank`` to the main app."""
    app.add_typer(bank_app, name="bank")


def _signal_type(name: str | None) -> SignalType | None:
    return SignalType.parse(name) if name else None


@bank_app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="Bank name (no spaces).")],
    owner: Annotated[str, typer.Option(help="Owning organisation (created if new).")],
    source: Annotated[str, typer.Option(help=f"One of: {', '.join(BankSource)}.")] = "local",
    sharing: Annotated[str, typer.Option(help=f"One of: {', '.join(SharingPolicy)}.")] = "private",
    member: Annotated[
        list[str] | None, typer.Option(help="Member to share with (repeat; 'members' sharing).")
    ] = None,
    country: Annotated[str | None, typer.Option(help="Owner's ISO country code.")] = None,
    description: Annotated[str, typer.Option(help="Free text.")] = "",
) -> None:
    """Create an empty bank."""
    with database_session() as session:
        org = service.ensure_organisation(session, owner, country)
        members = [service.ensure_organisation(session, m) for m in member or []]
        bank = service.create_bank(
            session,
            name=name,
            owner=org,
            source=source,
            sharing=sharing,
            members=members,
            description=description,
        )
        typer.echo(f"created bank {bank.name} ({bank.source.value}, {bank.sharing.value})")


@bank_app.command("list")
def list_command() -> None:
    """List banks with their entry counts and versions."""
    with database_session() as session:
        summaries = service.list_banks(session)
    table = Table(title="Banks")
    for column in ("name", "owner", "source", "sharing", "entries", "retracted", "version"):
        table.add_column(
            column, justify="right" if column in ("entries", "retracted", "version") else "left"
        )
    for s in summaries:
        table.add_row(
            s.name,
            s.owner,
            s.source.value,
            s.sharing.value,
            f"{s.entries:,}",
            f"{s.retracted:,}",
            str(s.version),
        )
    Console().print(table)


@bank_app.command("show")
def show_command(name: Annotated[str, typer.Argument(help="Bank name.")]) -> None:
    """Show one bank: settings, counts by signal type."""
    with database_session() as session:
        bank = service.get_bank(session, name)
        s = service.bank_summary(session, bank)
        variants = bank.variants or "default (all the policy looks up)"
    table = Table(title=f"Bank {s.name}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    rows = [
        ("owner", s.owner),
        ("source", s.source.value),
        ("sharing", s.sharing.value + (f" ({', '.join(s.members)})" if s.members else "")),
        ("description", s.description),
        ("version", str(s.version)),
        ("variants", variants),
        ("entries", f"{s.entries:,}"),
        ("retracted", f"{s.retracted:,}"),
        *((f"  {st}", f"{n:,}") for st, n in s.by_signal_type.items()),
        ("created", s.created_at.isoformat(timespec="seconds")),
        ("updated", s.updated_at.isoformat(timespec="seconds")),
    ]
    for field, value in rows:
        table.add_row(field, value)
    Console().print(table)


@bank_app.command("variants")
def variants_command(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    families: Annotated[
        str,
        typer.Argument(
            help="dihedral,trim,crop,rotate,reliable,cropgrid (any of them), all, fast (all "
            "but cropgrid), none, or default: whatever the matching policy looks up."
        ),
    ],
) -> None:
    """Choose which query-side PDQ variants may match this bank (docs/robustness.md)."""
    with database_session() as session:
        bank = service.get_bank(session, name)
        accepted = service.set_bank_variants(session, bank, families)
    shown = "default" if accepted is None else (", ".join(sorted(accepted)) or "none")
    typer.echo(f"bank {name} accepts variants: {shown}")


@bank_app.command("import")
def import_command(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    file: Annotated[Path, typer.Argument(help="The list file.", exists=True, dir_okay=False)],
    format_name: Annotated[str, typer.Option("--format", "-f", help=_FORMAT_HELP)],
    signal_type: Annotated[
        str | None, typer.Option(help="Signal type of bare hashes (text format).")
    ] = None,
    assessor: Annotated[
        str | None, typer.Option(help="Assessor for labels the file does not attribute.")
    ] = None,
    reinstate: Annotated[
        bool, typer.Option(help="Bring back retracted hashes that the file lists.")
    ] = False,
    strict: Annotated[bool, typer.Option(help="Import nothing if any record is bad.")] = False,
    by: Annotated[str | None, typer.Option(help="Who imports (default: cli:USER).")] = None,
) -> None:
    """Import a list file into a bank (records with errors are reported and skipped)."""
    options = ReadOptions(signal_type=_signal_type(signal_type))
    with database_session() as session, file.open("rb") as stream:
        bank = service.get_bank(session, name)
        report = service.import_bank(
            session,
            bank,
            stream,
            format_name,
            imported_by=cli_actor(by),
            filename=file.name,
            options=options,
            reinstate=reinstate,
            assessor=assessor,
        )
        for error in report.errors[:_SHOWN_ERRORS]:
            typer.echo(f"kavach: warning: {error}", err=True)
        if report.error_count > _SHOWN_ERRORS:
            typer.echo(
                f"kavach: warning: ... and {report.error_count - _SHOWN_ERRORS} more bad records",
                err=True,
            )
        if strict and report.error_count:
            raise InputError(
                f"{report.error_count} bad records in {file.name}; nothing imported (--strict)"
            )
    typer.echo(
        f"imported {report.records:,} records into {report.bank}: {report.added:,} added, "
        f"{report.updated:,} updated, {report.unchanged:,} unchanged, "
        f"{report.retracted:,} retracted, {report.skipped_retracted:,} skipped (retracted), "
        f"{report.error_count:,} errors; version {report.version}"
    )
    _warm_index_cache(name)


@bank_app.command("export")
def export_command(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    file: Annotated[Path, typer.Argument(help="Output file, or - for standard output.")],
    format_name: Annotated[str, typer.Option("--format", "-f", help=_FORMAT_HELP)],
    signal_type: Annotated[
        str | None, typer.Option(help="Only this signal type (text, hma).")
    ] = None,
    vics_flavour: Annotated[
        str, typer.Option(help="VICS flavour: Default, US, UK, CUSTOM.")
    ] = "US",
    include_retracted: Annotated[
        bool, typer.Option(help="Write tombstones too (formats that carry them: ncmec).")
    ] = False,
) -> None:
    """Export a bank to a list file."""
    options = WriteOptions(signal_type=_signal_type(signal_type), vics_flavour=vics_flavour)
    with database_session() as session:
        bank = service.get_bank(session, name)
        if str(file) == "-":
            count = service.export_bank(
                session,
                bank,
                sys.stdout.buffer,
                format_name,
                options=options,
                include_retracted=include_retracted,
            )
            sys.stdout.flush()
            return
        # Write beside the target and rename: a failed export never leaves half a list behind.
        target = file.resolve()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                count = service.export_bank(
                    session,
                    bank,
                    out,
                    format_name,
                    options=options,
                    include_retracted=include_retracted,
                )
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    typer.echo(f"exported {count:,} records from {name} to {file}", err=True)


@bank_app.command("retract")
def retract_command(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    hashes: Annotated[list[str], typer.Argument(help="Hashes to retract (TYPE:HASH or HASH).")],
    signal_type: Annotated[
        str | None, typer.Option(help="Signal type of bare hashes (default: guessed by length).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept with the tombstone).")] = "",
    by: Annotated[str | None, typer.Option(help="Who retracts (default: cli:USER).")] = None,
) -> None:
    """Retract hashes from a bank; the entries stay as tombstones."""
    default = _signal_type(signal_type)
    targets = [_parse_target(text, default) for text in hashes]
    with database_session() as session:
        bank = service.get_bank(session, name)
        count = service.retract_entries(
            session, bank, targets, retracted_by=cli_actor(by), reason=reason
        )
        version = bank.version
    missing = len(set(targets)) - count
    typer.echo(
        f"retracted {count} entries from {name}"
        + (f" ({missing} not found or already retracted)" if missing else "")
        + f"; version {version}"
    )
    _warm_index_cache(name)


def _parse_target(text: str, default: SignalType | None) -> tuple[SignalType, bytes]:
    kind, sep, value = text.partition(":")
    try:
        if sep and len(kind) < 10:
            st = SignalType.parse(kind)
            return st, parse_hash(st, value)
        st = default or guess_signal_type(text.strip())
        return st, parse_hash(st, text)
    except InvalidHashError as exc:
        raise InvalidHashError(f"{exc.message} (in {text[:80]!r})") from None


@bank_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    files: Annotated[list[Path], typer.Argument(help="Media files or folders (recursive).")],
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="Label SCHEME:VALUE for every file (repeat)."),
    ] = None,
    assessor: Annotated[
        str | None, typer.Option(help="Who assessed the labels (default: the bank's source).")
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores)."),
    ] = None,
    reinstate: Annotated[
        bool, typer.Option(help="Bring back retracted hashes of these files.")
    ] = False,
    fps: Annotated[
        str,
        typer.Option(
            "--fps", help="Video frames hashed per second (vPDQ); 0 or 'all': every frame."
        ),
    ] = "1",
    by: Annotated[str | None, typer.Option(help="Who adds (default: cli:USER).")] = None,
) -> None:
    """Hash media and add its signals to a bank, with labels: MD5, SHA-1, SHA-256, and PDQ
    (images) or vPDQ (videos: the frame hashes, 1 frame a second by default).

    PDQ hashes of quality under 50 (flat images) are left out: they would match too much.
    Exit status 2 when a file could not be read (the others are still added).
    """
    from kavach.banks.formats import HashRecord as ListRecord
    from kavach.cli.hash import parse_fps
    from kavach.hashing import HashOptions, default_jobs, display_path, hash_paths, iter_files
    from kavach.signals.pdq import PDQ_MIN_QUALITY

    labels = tuple(_parse_label(text) for text in label or [])
    options = HashOptions(video_fps=parse_fps(fps))
    paths = list(iter_files(files))
    records: list[ListRecord] = []
    failed: list[str] = []
    flat = videos = 0
    for record in hash_paths(paths, options, jobs=jobs or default_jobs()):
        hashes = [
            (st, bytes.fromhex(value))
            for st, value in (
                (SignalType.MD5, record.md5),
                (SignalType.SHA1, record.sha1),
                (SignalType.SHA256, record.sha256),
            )
            if value
        ]
        if record.pdq and (record.pdq_quality or 0) >= PDQ_MIN_QUALITY:
            hashes.append((SignalType.PDQ, bytes.fromhex(record.pdq)))
        elif record.pdq:
            flat += 1
        if not hashes:
            reason = record.error.message if record.error else "no hashes"
            failed.append(f"{display_path(record.path)}: {reason}")
            continue
        video = record.video_hash()
        # The SHA-256 names the file as an item, so the bank keeps its hashes together.
        if video is not None and len(video):
            videos += 1
            records.append(ListRecord.with_video(video, tuple(hashes), labels, record.sha256))
        else:
            records.append(ListRecord(tuple(hashes), labels, record.sha256))
    with database_session() as session:
        bank = service.get_bank(session, name)
        stats = service.add_entries(
            session,
            bank,
            records,
            added_by=cli_actor(by),
            reinstate=reinstate,
            assessor=assessor,
        )
        version = bank.version
    for line in failed[:_SHOWN_ERRORS]:
        typer.echo(f"kavach: warning: not added: {line}", err=True)
    if len(failed) > _SHOWN_ERRORS:
        typer.echo(f"kavach: warning: ... and {len(failed) - _SHOWN_ERRORS} more", err=True)
    typer.echo(
        f"added {len(records):,} files to {name}: {stats.added:,} entries added, "
        f"{stats.updated:,} updated, {stats.unchanged:,} unchanged, "
        f"{stats.skipped_retracted:,} skipped (retracted); "
        + (f"{videos:,} videos with their frame hashes (vPDQ); " if videos else "")
        + (f"PDQ left out for {flat:,} flat images; " if flat else "")
        + f"version {version}"
    )
    _warm_index_cache(name)
    if failed:
        raise typer.Exit(2)


def _warm_index_cache(name: str) -> None:
    """Bring the bank's cached index up to date now, so the next scan starts warm.

    The change has just cost seconds to minutes (an import, hashing files); loading the index
    here moves that cost out of the next scan, which then maps the cached file in milliseconds
    instead of reading every entry from the database (2.3 s at 1 M entries).
    """
    from kavach.cli.scan import open_matcher
    from kavach.match import MatchPolicy

    try:
        with open_matcher([name], MatchPolicy()) as matcher:
            matcher.load()
    except KavachError as exc:  # a cold cache only costs the next scan time
        typer.echo(f"kavach: warning: index cache not updated: {exc.message}", err=True)


def _parse_label(text: str) -> Label:
    scheme, sep, value = text.partition(":")
    scheme, value = scheme.strip(), value.strip()
    if not sep or not scheme or not value or len(scheme) > 32 or len(value) > 64:
        raise InputError(
            f"a label is SCHEME:VALUE (scheme up to 32 characters, value up to 64), "
            f"e.g. industry:A1 or vics-us:1; got {text[:80]!r}"
        )
    return Label(scheme, value)
