"""Two ``kavach serve`` processes on one database: a bank change made through one is seen by the
other within seconds, while it keeps answering."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from kavach.auth.models import Role
from kavach.store.testing import clear_tables
from tests.web.helpers import auth, free_port, kavach_env, make_keys, start_kavach, stop, wait_ready


def _matches(client: httpx.Client, url: str, token: str, value: str) -> int:
    response = client.post(
        f"{url}/api/v1/lookup",
        json={"hashes": [{"signal_type": "sha1", "value": value}]},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text  # never blocked, never an error
    return len(response.json()["results"][0]["matches"])


def _until(client: httpx.Client, url: str, token: str, value: str, want: int) -> float:
    start = time.monotonic()
    while time.monotonic() - start < 15:
        if _matches(client, url, token, value) == want:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{url} did not reach {want} matches in time")


@pytest.mark.slow
def test_a_bank_change_in_one_server_reaches_the_other(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    keys = make_keys(engine, "Org T", (Role.ANALYST,))
    token = keys[Role.ANALYST]
    env = kavach_env(database_url, tmp_path, KAVACH_RELOAD_INTERVAL="0.5")
    ports = free_port(), free_port()
    procs = [
        start_kavach(
            ["serve", "--port", str(p), "--log-level", "warning"], env, tmp_path / f"{p}.log"
        )
        for p in ports
    ]
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    try:
        for url, proc in zip((a, b), procs, strict=True):
            wait_ready(url, proc)
        value = "d" * 40
        with httpx.Client(timeout=10) as client:
            made = client.post(f"{a}/api/v1/banks", json={"name": "shared"}, headers=auth(token))
            assert made.status_code == 201
            assert _matches(client, b, token, value) == 0
            client.post(
                f"{a}/api/v1/banks/shared/entries",
                json={"entries": [{"hashes": [{"signal_type": "sha1", "value": value}]}]},
                headers=auth(token),
            ).raise_for_status()
            assert _until(client, b, token, value, 1) < 5
            # And back: a retraction through B reaches A.
            client.post(
                f"{b}/api/v1/banks/shared/retract",
                json={"hashes": [{"signal_type": "sha1", "value": value}]},
                headers=auth(token),
            ).raise_for_status()
            assert _until(client, a, token, value, 0) < 5
    finally:
        for proc in procs:
            stop(proc)
        clear_tables(engine)
