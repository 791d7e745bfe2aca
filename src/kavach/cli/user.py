"""``kavach user create``: a user of an organisation, with a role and an argon2id password."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer

from kavach.auth.models import Role
from kavach.cli.db import database_session

user_app = typer.Typer(help="Users who log in to Kavach.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``kavach user`` to the main app."""
    app.add_typer(user_app, name="user")


@user_app.command("create")
def create_command(
    username: Annotated[str, typer.Argument(help="Login name.")],
    org: Annotated[str, typer.Option(help="Organisation (created if new).")],
    role: Annotated[Role, typer.Option(help="admin, analyst, reviewer or platform.")],
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input instead of generating.")
    ] = False,
) -> None:
    """Create a user. Without --password-stdin a strong password is generated and printed once."""
    from kavach.auth.service import create_user
    from kavach.banks.service import ensure_organisation

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        generated = False
    else:
        password = secrets.token_urlsafe(18)
        generated = True
    with database_session() as session:
        organisation = ensure_organisation(session, org)
        user = create_user(session, organisation, username, password, role)
    typer.echo(f"user {user.username} ({role.value}) created in {organisation.name}")
    if generated:
        typer.echo(f"password (shown once): {password}")
