"""``kavach db``: database migrations; and the session helper the other commands use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from kavach.config import Settings, get_settings
from kavach.errors import ConfigurationError
from kavach.store.db import make_engine, make_session_factory, session_scope
from kavach.store.migrate import current_revision, head_revision, upgrade

db_app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``kavach db`` to the main app."""
    app.add_typer(db_app, name="db")


def _where(settings: Settings) -> str:
    # Never print a password from the URL.
    return make_url(settings.database_url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def upgrade_command(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create the database or migrate it to the latest schema."""
    settings = get_settings()
    engine = make_engine(settings)
    try:
        before = current_revision(engine)
        after = upgrade(engine, revision)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"database {_where(settings)} already at revision {after}")
    else:
        typer.echo(f"database {_where(settings)} upgraded from {before or 'empty'} to {after}")


@db_app.command("current")
def current_command() -> None:
    """Show the revision the database is at and the newest one this Kavach ships."""
    settings = get_settings()
    engine = make_engine(settings)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    typer.echo(
        f"database {_where(settings)}: revision {current or 'none'} (head {head_revision()})"
    )


@contextmanager
def database_session() -> Iterator[Session]:
    """A session on the configured database, committed on success; the schema must be current."""
    settings = get_settings()
    engine = make_engine(settings)
    try:
        current = current_revision(engine)
        if current != head_revision():
            raise ConfigurationError(
                f"the database {_where(settings)} is at revision {current or 'none'}, "
                f"not {head_revision()}; run `kavach db upgrade`"
            )
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
