"""``kavach scan``: triage folders, files and zip archives against banks; JSONL, VICS and HTML out.

Exit status like virus scanners: 0 nothing matched, 1 something matched, 2 errors (a file that
could not be hashed, or a scan that could not run) and nothing matched.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from sqlalchemy import Engine, make_url

from kavach.errors import InputError
from kavach.match.models import Match, MatchPolicy
from kavach.scan.archive import ArchiveLimits
from kavach.signals.pdq import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY

if TYPE_CHECKING:
    from kavach.match import Matcher
    from kavach.scan import ScanProgress, ScanRecord, ScanSummary

_DEFAULT_LIMITS = ArchiveLimits()
_MIB = 1024 * 1024


def register(app: typer.Typer) -> None:
    """Add ``kavach scan`` to the main app."""
    app.command("scan")(scan_command)


@contextmanager
def open_matcher(banks: list[str] | None, policy: MatchPolicy) -> Iterator[Matcher]:
    """A matcher on the configured database (all banks when none are named), index cache on."""
    # Imported here: every command loads this module, only scan and match need these.
    from kavach.cli.db import database_session
    from kavach.config import get_settings
    from kavach.match import Matcher
    from kavach.store.db import make_session_factory

    settings = get_settings()
    with database_session() as session:
        if not banks:
            from sqlalchemy import select

            from kavach.banks.models import Bank

            banks = list(session.scalars(select(Bank.name).order_by(Bank.name)))
            if not banks:
                raise InputError("there are no banks yet; create one with `kavach bank create`")
        engine = cast(Engine, session.get_bind())  # database_session binds to an engine
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        yield Matcher(
            make_session_factory(engine),
            banks,
            policy,
            cache_dir=settings.data_dir / "index-cache",
            database_key=where,
        )


def scan_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Folders (searched recursively), files, zip archives.")
    ],
    bank: Annotated[
        list[str] | None, typer.Option("--bank", "-b", help="Bank to match (repeat; default: all).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="JSONL of every file (- for standard output)."),
    ] = None,
    vics: Annotated[
        Path | None, typer.Option(help="Write a VICS 2.0 case file of the matches.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML summary (no images).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue a killed or interrupted scan (needs the same --out).")
    ] = False,
    threshold: Annotated[
        int, typer.Option(min=0, max=256, help="Largest PDQ distance that matches.")
    ] = PDQ_MATCH_THRESHOLD,
    min_quality: Annotated[
        int, typer.Option(min=0, max=100, help="PDQ hashes of lower quality are not matched.")
    ] = PDQ_MIN_QUALITY,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores)."),
    ] = None,
    dihedral: Annotated[
        bool, typer.Option(help="Also match rotated and flipped copies (8 PDQ hashes per image).")
    ] = False,
    variants: Annotated[
        str,
        typer.Option(
            help="Query-side PDQ variants looked up: any of dihedral,trim,crop,rotate,reliable,"
            "cropgrid; or default (all of them), fast (all but cropgrid) or none "
            "(docs/robustness.md)."
        ),
    ] = "default",
    full_decode: Annotated[
        bool, typer.Option(help="Decode JPEGs at full size (bit-exact PDQ, several times slower).")
    ] = False,
    fps: Annotated[
        str,
        typer.Option(
            "--fps", help="Video frames hashed per second (vPDQ); 0 or 'all': every frame."
        ),
    ] = "1",
    video_percent: Annotated[
        float,
        typer.Option(
            min=0, max=100, help="Share of a video's frames that must match a listed video's."
        ),
    ] = 80.0,
    archives: Annotated[
        bool, typer.Option(help="Open zip archives and scan their members.")
    ] = True,
    max_archive_mib: Annotated[
        int, typer.Option(min=1, help="Largest total a zip may unpack to, in MiB.")
    ] = _DEFAULT_LIMITS.max_total_bytes // _MIB,
    max_archive_ratio: Annotated[
        int, typer.Option(min=1, help="Largest compression ratio of a zip member (over 1 MiB).")
    ] = _DEFAULT_LIMITS.max_ratio,
    max_archive_entries: Annotated[
        int, typer.Option(min=1, help="Most members scanned per zip.")
    ] = _DEFAULT_LIMITS.max_entries,
    max_archive_depth: Annotated[
        int, typer.Option(min=0, help="Zips inside zips opened this deep (0: no zips opened).")
    ] = _DEFAULT_LIMITS.max_depth,
    case_number: Annotated[str, typer.Option(help="Case number for the VICS case file.")] = "",
    case: Annotated[
        str | None,
        typer.Option(
            "--case", help="Open (or add to) a review case of this name with the matches."
        ),
    ] = None,
    case_org: Annotated[
        str, typer.Option(help="Organisation the --case belongs to (created if new).")
    ] = "local",
    vics_flavour: Annotated[
        str, typer.Option(help="VICS flavour of the case file: Default, US, UK, CUSTOM.")
    ] = "US",
    batch_size: Annotated[
        int, typer.Option(min=1, hidden=True, help="Records matched and checkpointed together.")
    ] = 256,
) -> None:
    """Scan media for known material: every file hashed, matched against banks, reported.

    Exit status: 0 nothing matched, 1 matches found, 2 errors and no match.
    """
    from kavach.cli.hash import parse_fps
    from kavach.hashing import HashOptions, default_jobs, parse_signals
    from kavach.media.image import MediaLimits
    from kavach.scan import ScanConfig, html_summary, run_scan, vics_case
    from kavach.scan.output import write_atomically
    from kavach.signals.variants import parse_variants

    to_stdout = out is not None and str(out) == "-"
    if resume and (out is None or to_stdout):
        raise InputError("--resume needs the --out FILE of the scan to continue")
    families = parse_variants(variants)
    config = ScanConfig(
        hash_options=HashOptions(
            signals=parse_signals("md5,sha1,sha256,pdq,vpdq"),
            dihedral=dihedral,
            variants=families,
            full_decode=full_decode,
            limits=MediaLimits(),
            video_fps=parse_fps(fps),
        ),
        archive_limits=ArchiveLimits(
            max_total_bytes=max_archive_mib * _MIB,
            max_ratio=max_archive_ratio,
            max_entries=max_archive_entries,
            max_depth=max(max_archive_depth, 1),
        ),
        archives=archives and max_archive_depth > 0,
        jobs=jobs or default_jobs(),
        batch_size=batch_size,
    )
    policy = MatchPolicy(
        threshold=threshold,
        min_quality=min_quality,
        video_query_percent=video_percent,
        # --dihedral asks for the rotations and flips whatever --variants says.
        variants=tuple(families | ({"dihedral"} if dihedral else frozenset())),
    )
    started = time.monotonic()
    on_record = _stdout_writer(to_stdout, show_matches=out is None)
    try:
        with open_matcher(bank, policy) as matcher, _progress() as on_progress:
            summary = run_scan(
                paths,
                matcher,
                config,
                out=None if out is None or to_stdout else out,
                resume=resume,
                on_record=on_record,
                on_progress=on_progress,
            )
    except KeyboardInterrupt:
        sys.stderr.write(
            "kavach: interrupted"
            + (
                "; run the same command with --resume to continue\n"
                if out and not to_stdout
                else "\n"
            )
        )
        raise typer.Exit(130) from None
    sys.stdout.flush()
    if vics is not None:
        write_atomically(vics, vics_case(summary, case_number=case_number, flavour=vics_flavour))
    if html is not None:
        write_atomically(html, html_summary(summary))
    _report(summary, time.monotonic() - started)
    if case is not None:
        _open_case(summary, case, case_org)
    raise typer.Exit(summary.exit_code)


def _open_case(summary: ScanSummary, name: str, organisation: str) -> None:
    from kavach.banks.service import ensure_organisation
    from kavach.cases.intake import case_from_scan
    from kavach.cli.actor import cli_actor
    from kavach.cli.db import database_session

    actor = cli_actor(None)
    with database_session() as session:
        org = ensure_organisation(session, organisation)
        opened, added = case_from_scan(
            session, summary, name=name, organisation_id=org.id, actor=actor
        )
        sys.stderr.write(
            f"kavach: case {opened.name} (id {opened.id}): {len(added)} matched file(s) added "
            "for review\n"
        )


def _stdout_writer(jsonl: bool, *, show_matches: bool) -> Callable[[ScanRecord], None] | None:
    if jsonl:

        def write(record: ScanRecord) -> None:
            sys.stdout.write(record.model_dump_json() + "\n")

        return write
    if show_matches:

        def show(record: ScanRecord) -> None:
            # Without --out, the matched files are the output: one line each, as they are found.
            if record.matches:
                how = ", ".join(sorted({_found(m) for m in record.matches}))
                labels = " ".join(record.categories)
                sys.stdout.write(f"MATCH\t{record.path}\t{labels}\t{how}\n")

        return show
    return None


def _found(m: Match) -> str:
    # bank#entry, and the variant when the file's own hash did not match (a reviewer should
    # know a mirrored or trimmed copy was found).
    how = m.found_by()
    return f"{m.bank}#{m.entry_id} ({how})" if how else f"{m.bank}#{m.entry_id}"


@contextmanager
def _progress() -> Iterator[Callable[[ScanProgress], None] | None]:
    # A bar only where a person watches; never in a pipe or a log file.
    if not sys.stderr.isatty():
        yield None
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
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("scan", total=None, status="")

        def update(p: ScanProgress) -> None:
            rate = p.records / max(p.elapsed, 1e-6)
            bar.update(
                task,
                completed=p.inputs_done,
                total=p.inputs_total,
                status=f"{rate:,.0f} files/s, {p.matched_files:,} matched, {p.errors:,} errors",
            )

        yield update


def _report(summary: ScanSummary, elapsed: float) -> None:
    rate = summary.files / max(elapsed, 1e-6)
    banks = ", ".join(f"{name} v{version}" for name, version in summary.banks.items())
    out = sys.stderr
    out.write(
        f"kavach: scanned {summary.files:,} files in {elapsed:.1f} s ({rate:,.0f} files/s) "
        f"against {banks}: {summary.matched_files:,} matched ({summary.matches:,} matches), "
        f"{summary.errors:,} with errors\n"
    )
    if summary.videos:
        out.write(
            f"kavach: {summary.videos:,} videos hashed (vPDQ), "
            f"{summary.matched_videos:,} matched by their frames\n"
        )
    if summary.resumed:
        out.write(f"kavach: this scan was resumed {summary.resumed} time(s); counts cover it all\n")
    if summary.categories:
        top = ", ".join(f"{c}: {n:,}" for c, n in sorted(summary.categories.items()))
        out.write(f"kavach: matched by category: {top}\n")
    if summary.error_codes:
        codes = ", ".join(f"{c}: {n:,}" for c, n in sorted(summary.error_codes.items()))
        out.write(f"kavach: errors by code: {codes} (see the error field of each record)\n")
