"""``kavach user``, ``kavach apikey``, ``kavach worker --once`` and ``kavach serve`` refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.auth.service import authenticate_password, authenticate_token
from kavach.cli.main import main
from kavach.errors import AuthenticationError
from kavach.store.db import make_session_factory
from kavach.store.pytest_fixtures import database_url, engine
from kavach.store.testing import clear_tables

__all__ = ["database_url", "engine"]


@pytest.fixture(autouse=True)
def _database(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path))
    yield
    clear_tables(engine)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_user_create_prints_a_password_once_that_logs_in(
    capsys: pytest.CaptureFixture[str], engine: Engine
) -> None:
    code, out, _ = run(capsys, "user", "create", "asha", "--org", "Hotline", "--role", "admin")
    assert code == 0
    password = out.split("password (shown once): ")[1].strip()
    with make_session_factory(engine)() as session:
        assert authenticate_password(session, "asha", password).role.value == "admin"
        with pytest.raises(AuthenticationError):
            authenticate_password(session, "asha", password + "x")
    code, _, err = run(capsys, "user", "create", "asha", "--org", "Hotline", "--role", "admin")
    assert code == 2
    assert "already exists" in err


def test_apikey_create_list_revoke(capsys: pytest.CaptureFixture[str], engine: Engine) -> None:
    code, out, _ = run(capsys, "apikey", "create", "--org", "Msgr", "--role", "platform")
    assert code == 0
    token = out.split("token (shown once): ")[1].strip()
    factory = make_session_factory(engine)
    with factory() as session:
        principal = authenticate_token(session, token)
    assert principal.organisation == "Msgr"
    assert principal.role.value == "platform"
    code, out, _ = run(capsys, "apikey", "list", "--org", "Msgr")
    assert principal.key_prefix in out
    assert "active" in out
    assert token not in out
    code, out, _ = run(capsys, "apikey", "revoke", principal.key_prefix)
    assert code == 0
    assert "revoked" in out
    with factory() as session, pytest.raises(AuthenticationError):
        authenticate_token(session, token)
    code, _, _err = run(capsys, "apikey", "create", "--org", "Msgr", "--role", "root")
    assert code == 2


def test_worker_once_with_nothing_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "worker", "--once")
    assert code == 0
    assert "0 done" in err


def test_serve_and_worker_refuse_an_unmigrated_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAVACH_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    for command in (["serve", "--port", "0"], ["worker", "--once"]):
        code, _, err = run(capsys, *command)
        assert code == 2
        assert "kavach db upgrade" in err
