"""Job tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from kavach.store.pytest_fixtures import database_url, engine
from kavach.store.testing import clear_tables

__all__ = ["database_url", "engine"]


@pytest.fixture
def clean(engine: Engine) -> Iterator[Engine]:
    """The engine, with every table emptied after the test (workers commit on their own)."""
    yield engine
    clear_tables(engine)
