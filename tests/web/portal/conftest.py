"""Portal tests: one live server per module on SQLite (the database logic itself is tested on
both databases in tests/takedown), and the browser fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.config import get_settings
from kavach.store.db import make_engine
from kavach.store.testing import sqlite_database
from kavach.takedown.settings import get_takedown_settings
from kavach.web import ServiceSettings, create_app
from tests.web.helpers import LiveServer, live_server

__all__ = ["Portal", "portal"]


@dataclass
class Portal:
    server: LiveServer
    engine: Engine

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    data = Path(tmp_path_factory.mktemp("portal"))
    with sqlite_database(data) as url:
        settings = get_takedown_settings({}, portal_rate_per_hour=3600, portal_burst=6)
        app = create_app(
            get_settings({"KAVACH_DATABASE_URL": url, "KAVACH_DATA_DIR": str(data)}),
            ServiceSettings(rate_limit=0),
            settings,
        )
        engine = make_engine(url)
        try:
            with live_server(app) as live:
                yield Portal(live, engine)
        finally:
            engine.dispose()
