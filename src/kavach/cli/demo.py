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
    service: Annotated[
        bool,
        typer.Option(
            "--service",
            help="Instead: set up the configured database for `kavach serve` (demo organisation, "
            "admin, API key, bank of benign images).",
        ),
    ] = False,
) -> None:
    """Make a demo device of benign images, list the known ones in a bank, and scan the device.

    Everything goes under one folder, including its own SQLite database, so the demo never
    touches your real data. With ``--service`` it prepares the configured database for the
    platform API instead (what ``make run`` does).
    """
    console = Console(stderr=True)
    if service:
        _service_demo(console)
        return
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
        [
            "scan",
            str(media.device),
            "--bank",
            "demo-known",
            "--variants",
            "all",  # so the mirrored copy is found too
            "--out",
            str(out),
            "--html",
            str(html),
        ],
        {0, 1, 2},
    )
    console.print(
        f"\nScan exit status {code} (0 nothing matched, 1 matches, 2 errors). Expected "
        f"{media.expected_matches} matches: an exact copy, two messenger recompressions, a "
        "copy inside a zip, and the mirrored copy (found by its dihedral:flipy variant)."
    )
    console.print(
        f"Every file's record: {out}\nSummary to open in a browser: {html}", soft_wrap=True
    )
    console.print(f"Demo folder (delete when done): {root}", soft_wrap=True)


def _run(argv: list[str], allowed: set[int]) -> int:
    from kavach.cli.main import main as cli_main

    Console(stderr=True).print(f"[dim]$ kavach {' '.join(argv)}[/dim]")
    code = cli_main(argv)
    if code not in allowed:
        raise typer.Exit(code)
    return code


_DEMO_ORG = "Demo Platform"
_DEMO_BANK = "demo-known"
_DEMO_ADMIN = "admin"
_DEMO_REVIEWER = "reviewer"


def _service_demo(console: Console) -> None:
    # The configured database (not a temporary one): this is what `kavach serve` will use.
    import secrets

    from sqlalchemy import select

    from kavach.auth.models import Role, User
    from kavach.auth.service import create_api_key, create_user
    from kavach.banks.models import Bank
    from kavach.banks.service import ensure_organisation
    from kavach.cli.db import database_session
    from kavach.config import get_settings

    settings = get_settings()
    _run(["db", "upgrade"], {0})
    media = make_demo_media(settings.data_dir / "demo-media")
    with database_session() as session:
        ensure_organisation(session, _DEMO_ORG, "IN")
        has_bank = session.scalar(select(Bank.id).where(Bank.name == _DEMO_BANK)) is not None
    if not has_bank:
        _run(["bank", "create", _DEMO_BANK, "--owner", _DEMO_ORG, "--country", "IN"], {0})
        _run(["bank", "add", _DEMO_BANK, str(media.known), "--label", "demo:known"], {0})
    # Two people: four-eyes needs two independent grades before a match is confirmed, so the
    # first case can be finished (the reviewer grades, the admin grades, reports and submits).
    passwords: dict[str, str] = {}
    with database_session() as session:
        org = ensure_organisation(session, _DEMO_ORG, "IN")
        for username, role in ((_DEMO_ADMIN, Role.ADMIN), (_DEMO_REVIEWER, Role.REVIEWER)):
            if session.scalar(select(User.id).where(User.username == username)) is None:
                passwords[username] = secrets.token_urlsafe(15)
                create_user(session, org, username, passwords[username], role)
        issued = create_api_key(session, org, Role.ADMIN, name="demo")
    console.rule("[bold]Kavach service demo ready")
    for username, label in ((_DEMO_ADMIN, "Admin"), (_DEMO_REVIEWER, "Reviewer")):
        if username in passwords:
            console.print(
                f"{label} login: [bold]{username}[/bold] / [bold]{passwords[username]}[/bold]  "
                "(printed once; keep it)"
            )
        else:
            console.print(
                f"{label} user {username!r} exists already (password printed when made).",
                soft_wrap=True,
            )
    console.print(f"API key (admin, shown once): [bold]{issued.token}[/bold]", soft_wrap=True)
    console.print(f"Bank {_DEMO_BANK!r} holds the benign images in {media.known}", soft_wrap=True)
    sample = media.device / "WhatsApp" / "Media" / "IMG-0002.jpg"
    console.print(
        "Try, once `kavach serve` runs:\n"
        f"  curl -H 'Authorization: Bearer {issued.token}' "
        f"-F content_id=demo-1 -F file=@{sample} "
        "http://127.0.0.1:8000/api/v1/submissions/upload\n"
        "The match opens a review case: log in at http://127.0.0.1:8000/console/ as "
        f"{_DEMO_REVIEWER!r} and press g (README: 'A first case').",
        soft_wrap=True,
    )
