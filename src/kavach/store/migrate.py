"""Run the Alembic migrations shipped inside the package (an installed wheel can upgrade itself)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at ``kavach/store/migrations``; no alembic.ini needed."""
    cfg = Config()
    location = resources.files("kavach.store") / "migrations"
    cfg.set_main_option("script_location", str(location))
    if connection is not None:
        # env.py runs on this connection instead of opening its own.
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision``; return the revision it is at afterwards."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of Kavach."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
