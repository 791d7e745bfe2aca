"""``kavach demo``: the whole identify path on generated benign images, in one command."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kavach.demo.media import make_demo_media


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def demo_command(
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to write the demo (default: a new temporary folder)."),
    ] = None,
) -> None:
    """Make a demo device of benign images, list the known ones in a bank, and scan the device.

    Everything goes under one folder, including its own SQLite database, so the demo never
    touches your real data.
    """
    console = Console(stderr=True)
    root = (folder or Path(tempfile.mkdtemp(prefix="kavach-demo-"))).resolve()
    os.environ["KAVACH_DATA_DIR"] = str(root / "data")
    os.environ.pop("KAVACH_DATABASE_URL", None)
    media = make_demo_media(root)
    console.rule("[bold]1. Hash the files of a seized device")
    _run(["hash", str(media.device), "--format", "table", "--signals", "md5,pdq"], {0, 2})
    console.rule("[bold]2. A hotline lists the images its analysts confirmed")
    _run(["db", "upgrade"], {0})
    _run(["bank", "create", "demo-known", "--owner", "Demo Hotline", "--country", "IN"], {0})
    _run(["bank", "add", "demo-known", str(media.known), "--label", "demo:known"], {0})
    console.rule("[bold]3. Scan the device against the bank")
    out, html = root / "scan.jsonl", root / "summary.html"
    code = _run(
        ["scan", str(media.device), "--bank", "demo-known", "--out", str(out), "--html", str(html)],
        {0, 1, 2},
    )
    console.print(
        f"\nScan exit status {code} (0 nothing matched, 1 matches, 2 errors). Expected "
        f"{media.expected_matches} matches: an exact copy, two messenger recompressions and a "
        "copy inside a zip; the mirrored copy needs dihedral matching."
    )
    console.print(f"Every file's record: {out}\nSummary to open in a browser: {html}")
    console.print(f"Demo folder (delete when done): {root}")


def _run(argv: list[str], allowed: set[int]) -> int:
    from kavach.cli.main import main as cli_main

    Console(stderr=True).print(f"[dim]$ kavach {' '.join(argv)}[/dim]")
    code = cli_main(argv)
    if code not in allowed:
        raise typer.Exit(code)
    return code
