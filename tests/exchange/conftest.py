"""Exchange tests run on SQLite and PostgreSQL (fixtures from kavach.store.pytest_fixtures)."""

from kavach.store.pytest_fixtures import database_url, engine, session

__all__ = ["database_url", "engine", "session"]
