"""Service tests run a real Uvicorn server on loopback, against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.auth.models import Role
from kavach.store.pytest_fixtures import database_url, engine
from tests.web.helpers import LiveServer, live_server, make_app, make_keys

__all__ = ["database_url", "engine"]


@pytest.fixture(scope="module")
def server(
    database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per module and database (its state is shared by the module's tests)."""
    app = make_app(database_url, Path(tmp_path_factory.mktemp("data")))
    with live_server(app) as live:
        yield live


@pytest.fixture(scope="module")
def keys(server: LiveServer, engine: Engine) -> dict[Role, str]:
    """API keys of organisation "Org A", one per role."""
    return make_keys(engine, "Org A")


@pytest.fixture(scope="module")
def other_keys(server: LiveServer, engine: Engine) -> dict[Role, str]:
    """API keys of another organisation, "Org B"."""
    return make_keys(engine, "Org B")
