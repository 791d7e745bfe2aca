from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kavach.store import Organisation, make_engine, make_session_factory, session_scope
from kavach.store.testing import sqlite_database


def test_organisation_round_trip_keeps_utc(session: Session) -> None:
    org = Organisation(name="Hotline A", country="IN")
    session.add(org)
    session.commit()
    session.expire_all()
    loaded = session.scalars(select(Organisation).where(Organisation.name == "Hotline A")).one()
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == dt.timedelta(0)
    assert abs(loaded.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_naive_datetimes_are_refused(session: Session) -> None:
    org = Organisation(name="naive", created_at=dt.datetime(2024, 1, 1))
    session.add(org)
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_unique_names_are_enforced(session: Session) -> None:
    session.add(Organisation(name="dup"))
    session.flush()
    session.add(Organisation(name="dup"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_sessions_are_rolled_back_between_tests(session: Session) -> None:
    # The rows added by the tests above are gone.
    assert session.scalars(select(Organisation)).all() == []


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        engine.dispose()


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    factory = make_session_factory(engine)

    def failing_unit_of_work() -> None:
        with session_scope(factory) as s:
            s.add(Organisation(name="rolled back"))
            s.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_unit_of_work()
    with session_scope(factory) as s:
        s.add(Organisation(name="kept"))
    with session_scope(factory) as s:
        names = set(s.scalars(select(Organisation.name)))
        assert "kept" in names
        assert "rolled back" not in names
        s.execute(Organisation.__table__.delete())


def test_make_engine_creates_the_data_dir(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'a' / 'b' / 'k.db').as_posix()}"
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("select 1"))
    engine.dispose()
    assert (tmp_path / "a" / "b").is_dir()
