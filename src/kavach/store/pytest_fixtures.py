"""Pytest fixtures for a migrated test database, on SQLite and on PostgreSQL.

Import them into a ``conftest.py``::

    from kavach.store.pytest_fixtures import database_url, engine, session  # noqa: F401

``database_url`` is module-scoped and parametrised over both backends, so every test using it
runs twice; ``session`` rolls back everything after each test.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kavach.store.db import make_engine
from kavach.store.testing import find_postgres, postgres_database, sqlite_database

__all__ = ["database_url", "engine", "session"]


@functools.cache
def _postgres() -> str | None:
    # Probed once per run, on first use, not at import.
    return find_postgres()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database, private to this test module and backend."""
    if request.param == "sqlite":
        with sqlite_database(Path(tmp_path_factory.mktemp("db"))) as url:
            yield url
    else:
        server = _postgres()
        if server is None:
            pytest.skip("PostgreSQL is not reachable (set KAVACH_TEST_POSTGRES_URL)")
        with postgres_database(server) as url:
            yield url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url``."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose commits land in a savepoint; everything is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield sess
        finally:
            sess.close()
            outer.rollback()
