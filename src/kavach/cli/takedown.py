"""``kavach takedown``: contacts (abuse desks, hotlines, police), items, re-checks."""

from __future__ import annotations

from typing import Annotated

import typer

from kavach.cli.db import database_session

takedown_app = typer.Typer(
    help="Notice and takedown: contacts and reported URLs.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``kavach takedown`` to the main app."""
    app.add_typer(takedown_app, name="takedown")


@takedown_app.command("contact")
def contact_command(
    scope: Annotated[str, typer.Argument(help="asn, domain, hotline or police.")],
    key: Annotated[str, typer.Argument(help="AS number, domain, country code (police: or *).")],
    address: Annotated[str, typer.Argument(help="E-mail address or https:// webhook URL.")],
    name: Annotated[str, typer.Option(help="Who it is (shown in notices).")] = "",
) -> None:
    """Add or replace a contact: a host's abuse desk, a country's hotline, the police."""
    from kavach.errors import InputError
    from kavach.takedown.models import ContactScope
    from kavach.takedown.service import set_contact

    try:
        chosen = ContactScope(scope)
    except ValueError:
        raise InputError("the scope is asn, domain, hotline or police") from None
    with database_session() as session:
        contact = set_contact(session, chosen, key, address, name)
    typer.echo(f"{contact.scope.value} {contact.key}: {contact.address}")


@takedown_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help="Only items with this status.")] = None,
) -> None:
    """Reported URLs: reference, status, country, network, notices, URL."""
    from sqlalchemy import select

    from kavach.errors import InputError
    from kavach.takedown.models import ItemStatus, TakedownItem

    chosen = None
    if status:
        try:
            chosen = ItemStatus(status)
        except ValueError:
            names = ", ".join(s.value for s in ItemStatus)
            raise InputError(f"unknown status {status!r}; choose one of {names}") from None
    with database_session() as session:
        query = select(TakedownItem).order_by(TakedownItem.id)
        if chosen is not None:
            query = query.where(TakedownItem.status == chosen)
        for item in session.scalars(query):
            network = f"AS{item.asn}" if item.asn else "-"
            typer.echo(
                f"{item.reference}\t{item.status.value}\t{item.country or '-'}\t{network}\t"
                f"{item.notices_sent}\t{item.url}"
            )


@takedown_app.command("check")
def check_command(reference: Annotated[str, typer.Argument(help="The report reference.")]) -> None:
    """Queue a check of a reported URL now (the worker runs it)."""
    from kavach.store.base import utcnow
    from kavach.takedown.service import find_item, schedule_check

    with database_session() as session:
        item = find_item(session, reference)
        schedule_check(session, item, utcnow())
    typer.echo(f"kavach: check of {item.reference} queued", err=True)
