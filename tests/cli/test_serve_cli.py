"""``kavach user``, ``kavach apikey``, ``kavach worker --once`` and ``kavach serve`` refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.auth.service import authenticate_password, authenticate_token
from kavach.errors import AuthenticationError
from kavach.store.db import make_session_factory
from kavach.store.pytest_fixtures import database_url, engine
from kavach.store.testing import clear_tables
from tests.support.cli import run

__all__ = ["database_url", "engine"]


@pytest.fixture(autouse=True)
def _database(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path))
    yield
    clear_tables(engine)


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
    # The first run also does the daily evidence-retention check (then due again in a day).
    code, _, err = run(capsys, "worker", "--once")
    assert code == 0
    assert "0 failed" in err
    code, _, err = run(capsys, "worker", "--once")
    assert code == 0
    assert "0 done, 0 to retry, 0 failed" in err


def test_serve_and_worker_refuse_an_unmigrated_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAVACH_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    for command in (["serve", "--port", "0"], ["worker", "--once"]):
        code, _, err = run(capsys, *command)
        assert code == 2
        assert "kavach db upgrade" in err


@pytest.mark.slow
def test_demo_service_gives_a_newcomer_a_login_and_a_matching_upload(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    # What `make run` does before starting the processes (it runs on SQLite; once is enough).
    if not database_url.startswith("sqlite"):
        pytest.skip("make run uses SQLite")
    import re

    import httpx

    from tests.web.helpers import live_server, make_app

    code, out, err = run(capsys, "demo", "--service")
    assert code == 0, err
    text = out + err
    password = re.search(r"Admin login: admin / (\S+)", text)
    reviewer = re.search(r"Reviewer login: reviewer / (\S+)", text)
    assert reviewer is not None
    key = re.search(r"API key \(admin, shown once\): (kv_\S+)", text)
    assert password is not None
    assert key is not None
    sample = tmp_path / "demo-media" / "device" / "WhatsApp" / "Media" / "IMG-0002.jpg"
    with (
        live_server(make_app(database_url, tmp_path)) as live,
        httpx.Client(base_url=live.url, timeout=30) as client,
    ):
        login = client.post("/login", json={"username": "admin", "password": password[1]})
        assert login.status_code == 200
        assert client.get("/docs").status_code == 200
        headers = {"Authorization": f"Bearer {key[1]}"}
        banks = client.get("/api/v1/banks", headers=headers).json()
        assert [b["name"] for b in banks] == ["demo-known"]
        verdict = client.post(
            "/api/v1/submissions/upload",
            files={"file": ("IMG-0002.jpg", sample.read_bytes())},
            data={"content_id": "demo-1"},
            headers=headers,
        ).json()
        assert verdict["matched"] is True
        # The match opened a case: the demo's reviewer logs in to the console and finds it.
        client.cookies.clear()
        form = client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        client.post(
            "/console/login",
            data={"username": "reviewer", "password": reviewer[1], "csrf_token": token[1]},
        )
        queue = client.get("/console/queue")
        assert queue.url.path == "/console/queue"
        assert queue.text.count("data-item-id=") == 1
    # Run again: nothing duplicated, no second password, a fresh key.
    code, out, err = run(capsys, "demo", "--service")
    assert code == 0
    assert "exists already" in out + err
