"""Engines and sessions: created once by the application, handed to whoever needs them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from kavach.config import Settings

__all__ = ["make_engine", "make_session_factory", "session_scope"]

# Waiting this long for another writer beats failing at once with "database is locked".
_SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(settings: Settings | str, *, echo: bool | None = None) -> Engine:
    """Create the engine for ``settings`` (or a bare URL), with SQLite tuned for concurrent use."""
    url = settings if isinstance(settings, str) else settings.database_url
    do_echo = echo if echo is not None else (not isinstance(settings, str) and settings.sql_echo)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=do_echo)
        _tune_sqlite(engine)
        return engine
    return create_engine(url, echo=do_echo, pool_pre_ping=True)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin: the module's
        # implicit BEGIN breaks SAVEPOINT and makes reads run outside any transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets readers (serve replicas, the index) run while one writer imports a list.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay usable after commit (no implicit reloads)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
