"""``kavach review``: an organisation's review policy, and legal holds and destruction of evidence.

The policy sets what reviewers may change for themselves (blur, colour), how many independent
grades decide an item, the bank confirmed items go to, and how long evidence is kept (365 days,
the US REPORT Act's year; 180 for India's IT Rules). Every change is audited.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from kavach.cli.actor import cli_actor
from kavach.cli.db import database_session
from kavach.errors import InputError

review_app = typer.Typer(
    help="Review policy (blur, colour, four-eyes, target bank, retention) and evidence holds.",
    no_args_is_help=True,
)

ByOpt = Annotated[str | None, typer.Option("--by", help="Who is acting (for the audit log).")]


def register(app: typer.Typer) -> None:
    """Add ``kavach review`` to the main app."""
    app.add_typer(review_app, name="review")


@review_app.command("policy")
def policy_command(
    org: Annotated[str, typer.Argument(help="Organisation name.")],
    retention_days: Annotated[
        int | None, typer.Option(help="Days evidence is kept: 365 (US), 180 (India), 1-3650.")
    ] = None,
    required_agreements: Annotated[
        int | None, typer.Option(help="Independent grades that must agree (four-eyes: 2).")
    ] = None,
    allow_unblur: Annotated[
        bool | None,
        typer.Option("--allow-unblur/--no-allow-unblur", help="May reviewers drop the blur?"),
    ] = None,
    allow_colour: Annotated[
        bool | None,
        typer.Option("--allow-colour/--no-allow-colour", help="May reviewers see colour?"),
    ] = None,
    target_bank: Annotated[
        str | None, typer.Option(help="The organisation's bank that confirmed items go to.")
    ] = None,
    by: ByOpt = None,
) -> None:
    """Show an organisation's review policy; with options, change it (audited)."""
    from kavach.cases import review
    from kavach.store.models import Organisation

    with database_session() as session:
        org_id = session.scalar(select(Organisation.id).where(Organisation.name == org))
        if org_id is None:
            raise InputError(f"no organisation called {org!r}")
        changes = (retention_days, required_agreements, allow_unblur, allow_colour, target_bank)
        if any(c is not None for c in changes):
            policy = review.set_policy(
                session,
                org_id,
                actor=cli_actor(by),
                retention_days=retention_days,
                required_agreements=required_agreements,
                allow_unblur=allow_unblur,
                allow_colour=allow_colour,
                target_bank=target_bank,
            )
        else:
            policy = review.get_policy(session, org_id)
        typer.echo(
            f"{org}: retention {policy.retention_days} days, {policy.required_agreements} "
            f"agreeing grades decide, unblur {'allowed' if policy.allow_unblur else 'not allowed'}"
            f", colour {'allowed' if policy.allow_colour else 'not allowed'}, target bank "
            f"{policy.target_bank or '(none)'}"
        )


@review_app.command("evidence")
def evidence_command(
    item_id: Annotated[int, typer.Argument(help="The case item whose retained file to act on.")],
    hold: Annotated[
        str | None, typer.Option(help="Put it on legal hold, with the reason (an order, a case).")
    ] = None,
    release: Annotated[bool, typer.Option("--release", help="Lift the legal hold.")] = False,
    destroy: Annotated[
        str | None, typer.Option(help="Destroy it now, with the reason (not while on hold).")
    ] = None,
    by: ByOpt = None,
) -> None:
    """Show an item's retained file; put it on legal hold, release it, or destroy it (audited)."""
    from kavach.cases import service
    from kavach.config import get_settings
    from kavach.evidence import destroy as destroy_blob
    from kavach.evidence import for_item, set_legal_hold, vault_from_env

    if sum((hold is not None, release, destroy is not None)) > 1:
        raise InputError("choose one of --hold, --release and --destroy")
    actor = cli_actor(by)
    with database_session() as session:
        item = service.get_item(session, item_id)
        blob = for_item(session, item)
        if blob is None:
            raise InputError(f"item {item_id} has no retained file")
        if hold is not None:
            set_legal_hold(session, blob, actor=actor, hold=True, reason=hold)
        elif release:
            set_legal_hold(session, blob, actor=actor, hold=False)
        elif destroy is not None:
            if not destroy.strip():
                raise InputError("--destroy needs a reason (who asked, and why)")
            destroy_blob(
                session, vault_from_env(get_settings().data_dir), blob, actor=actor, reason=destroy
            )
        state = (
            f"destroyed {blob.destroyed_at:%Y-%m-%d} ({blob.destroy_reason})"
            if blob.destroyed_at
            else f"kept until {blob.retain_until:%Y-%m-%d}"
            + (f", on legal hold: {blob.hold_reason}" if blob.legal_hold else "")
        )
        typer.echo(f"item {item_id}: evidence {blob.id}, {blob.size} bytes, {state}")
