"""Matcher tests run on SQLite and PostgreSQL; the matcher reads through its own sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kavach.store.db import make_session_factory
from kavach.store.pytest_fixtures import database_url, engine
from kavach.store.testing import clear_tables

__all__ = ["database_url", "engine", "factory"]


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test database; every table is emptied after the test."""
    yield make_session_factory(engine)
    clear_tables(engine)
