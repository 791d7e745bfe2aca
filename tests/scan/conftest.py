"""Scan tests that need banks run on SQLite and PostgreSQL (fixtures shared with tests/match)."""

from tests.match.conftest import database_url, engine, factory

__all__ = ["database_url", "engine", "factory"]
