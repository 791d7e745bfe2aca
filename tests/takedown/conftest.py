"""Takedown tests run on SQLite and PostgreSQL (the database fixtures of kavach.store)."""

from __future__ import annotations

from kavach.store.pytest_fixtures import database_url, engine, session

__all__ = ["database_url", "engine", "session"]
