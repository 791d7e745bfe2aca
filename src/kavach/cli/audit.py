"""``kavach audit``: verify the hash chain, show its head, list records."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kavach import audit
from kavach.cli.db import database_session

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

# Exit status of `kavach audit verify` when the chain is broken (2 is bad input/configuration).
BROKEN = 3


def register(app: typer.Typer) -> None:
    """Add ``kavach audit`` to the main app."""
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify_command() -> None:
    """Check every record against the chain; list each edited, deleted or reordered one."""
    with database_session() as session:
        problems = audit.verify(session)
        seq, _ = audit.head(session)
    if not problems:
        typer.echo(f"audit log intact: {seq} records")
        return
    for problem in problems:
        typer.echo(str(problem), err=True)
    typer.echo(f"audit log BROKEN: {len(problems)} problem(s) in {seq} records", err=True)
    raise typer.Exit(BROKEN)


@audit_app.command("head")
def head_command() -> None:
    """Print the last sequence number and hash (publish it elsewhere to anchor the chain)."""
    with database_session() as session:
        seq, digest = audit.head(session)
    typer.echo(f"{seq} {digest}")


@audit_app.command("list")
def list_command(
    subject: Annotated[str | None, typer.Option(help="e.g. case:12, item:40, evidence:3")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. media.reveal, or review.*")] = None,
    actor: Annotated[str | None, typer.Option(help="e.g. user:alice")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The newest records first."""
    with database_session() as session:
        rows = audit.records(session, subject=subject, action=action, actor=actor, limit=limit)
        for row in rows:
            if as_json:
                typer.echo(
                    json.dumps(
                        {
                            "seq": row.seq,
                            "at": row.at.isoformat(),
                            "actor": row.actor,
                            "action": row.action,
                            "subject": row.subject,
                            "organisation_id": row.organisation_id,
                            "details": row.details,
                            "hash": row.hash,
                        },
                        ensure_ascii=False,
                    )
                )
            else:
                typer.echo(
                    f"{row.seq}\t{row.at:%Y-%m-%d %H:%M:%S}\t{row.actor}\t{row.action}\t"
                    f"{row.subject or ''}"
                )
