"""Alembic environment: runs on the connection handed over by kavach.store.migrate."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlalchemy.types import TypeDecorator

from kavach.store.registry import metadata


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    # Migrations must not import the models' own column types (a later change to them would
    # rewrite history), so autogenerate writes the plain SQL type underneath.
    if kind == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        return f"sa.{impl!r}"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # Batch mode turns ALTERs into table copies on SQLite and is a no-op on PostgreSQL,
        # so one history serves both.
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Plain `alembic` command line (development): build the engine from the settings.
    from kavach.config import get_settings
    from kavach.store.db import make_engine

    engine = make_engine(get_settings())
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `kavach db upgrade`")
_main()
