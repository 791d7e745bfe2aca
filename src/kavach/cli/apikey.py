"""``kavach apikey create|list|revoke``: API keys of an organisation (stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from kavach.auth.models import Role
from kavach.cli.db import database_session
from kavach.errors import NotFoundError

apikey_app = typer.Typer(help="API keys for platforms and tools.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``kavach apikey`` to the main app."""
    app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def create_command(
    org: Annotated[str, typer.Option(help="Organisation (created if new).")],
    role: Annotated[Role, typer.Option(help="admin, analyst, reviewer or platform.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
) -> None:
    """Make a key. The token is printed once; only its SHA-256 is stored."""
    from kavach.auth.service import create_api_key
    from kavach.banks.service import ensure_organisation

    with database_session() as session:
        issued = create_api_key(session, ensure_organisation(session, org), role, name=name)
    typer.echo(f"API key {issued.id} ({issued.prefix}, {role.value}) for {issued.organisation}")
    typer.echo(f"token (shown once): {issued.token}")


@apikey_app.command("list")
def list_command(
    org: Annotated[str | None, typer.Option(help="Only this organisation's keys.")] = None,
) -> None:
    """Keys with their id, prefix, role and state; never the secret."""
    from kavach.auth.service import list_api_keys
    from kavach.store.models import Organisation

    with database_session() as session:
        organisation = None
        if org is not None:
            organisation = session.scalars(
                select(Organisation).where(Organisation.name == org)
            ).one_or_none()
            if organisation is None:
                raise NotFoundError(f"no organisation called {org!r}")
        keys = list_api_keys(session, organisation)
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        typer.echo(
            f"{key.id}\t{key.prefix}\t{key.role.value}\t{key.organisation}\t{state}\t{key.name}"
        )


@apikey_app.command("revoke")
def revoke_command(
    key: Annotated[str, typer.Argument(help="The key's id or prefix.")],
) -> None:
    """Revoke a key (serve processes stop accepting it within their key cache time, 5 s)."""
    from kavach.auth.service import revoke_api_key

    with database_session() as session:
        revoked = revoke_api_key(session, key)
    typer.echo(f"API key {revoked.id} ({revoked.prefix}) revoked")
