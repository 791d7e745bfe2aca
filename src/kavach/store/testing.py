"""Throw-away migrated databases for tests, on SQLite and PostgreSQL.

Each database is private to its caller (a fresh SQLite file, or a fresh PostgreSQL schema with a
random name), so parallel test runs and reruns never see each other's rows, and it is dropped
afterwards. Used by the test suites' fixtures; nothing here imports pytest.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from kavach.store.db import make_engine
from kavach.store.migrate import upgrade
from kavach.store.registry import metadata

__all__ = ["clear_tables", "find_postgres", "postgres_database", "sqlite_database"]

# Tried in order when KAVACH_TEST_POSTGRES_URL is not set (local trust auth, user postgres or root).
_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


def find_postgres() -> str | None:
    """A reachable PostgreSQL server URL for tests, or None."""
    configured = os.environ.get("KAVACH_TEST_POSTGRES_URL")
    for url in (configured,) if configured else _CANDIDATES:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            return url
        except OperationalError:
            continue
        finally:
            engine.dispose()
    return None


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    """A migrated SQLite database file in ``directory``; yields its URL."""
    url = f"sqlite:///{(directory / f'kavach-{secrets.token_hex(4)}.db').as_posix()}"
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    yield url


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A migrated fresh schema on ``server_url``; yields a URL whose search_path is that schema."""
    schema = f"kavach_test_{secrets.token_hex(6)}"
    admin = create_engine(server_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
        url_text = url.render_as_string(hide_password=False)
        engine = make_engine(url_text)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield url_text
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def clear_tables(engine: Engine) -> None:
    """Delete every row of every Kavach table (children first), keeping the schema."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
