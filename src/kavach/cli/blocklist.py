"""``kavach blocklist export``: the ISP blocklists (URL list, domain list, DNS RPZ zone)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kavach.cli.db import database_session
from kavach.errors import InputError

blocklist_app = typer.Typer(
    help="Blocklists of live confirmed items for ISPs.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``kavach blocklist`` to the main app."""
    app.add_typer(blocklist_app, name="blocklist")


@blocklist_app.command("export")
def export_command(
    fmt: Annotated[str, typer.Option("--format", help="url, domain or rpz.")] = "url",
    out: Annotated[Path | None, typer.Option(help="Write here (default: standard output).")] = None,
) -> None:
    """Write the current list: live confirmed items only, removed items already gone."""
    from kavach.takedown import blocklist

    if fmt not in blocklist.FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose url, domain or rpz")
    with database_session() as session:
        text = blocklist.export(session, fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(f"kavach: wrote {len(text.splitlines())} lines to {out}", err=True)
