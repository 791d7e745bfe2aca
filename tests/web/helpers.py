"""Real servers on loopback for the service tests: in-process Uvicorn threads and subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from kavach.auth.models import Role
from kavach.auth.service import create_api_key
from kavach.banks.service import ensure_organisation
from kavach.config import get_settings
from kavach.demo.scenes import encode, scene
from kavach.store.db import make_session_factory, session_scope
from kavach.web import ServiceSettings, create_app

ROLES = tuple(Role)


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    server: uvicorn.Server


@contextmanager
def live_server(app: FastAPI, *, timeout: float = 30.0) -> Iterator[LiveServer]:
    """Run ``app`` under Uvicorn in a thread on 127.0.0.1 and a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def make_app(database_url: str, data_dir: Path, **service: object) -> FastAPI:
    settings = get_settings({"KAVACH_DATABASE_URL": database_url, "KAVACH_DATA_DIR": str(data_dir)})
    defaults: dict[str, object] = {"reload_interval": 0.2, "rate_limit": 0}
    defaults.update(service)
    return create_app(settings, ServiceSettings.model_validate(defaults))


def make_keys(engine: Engine, org: str, roles: tuple[Role, ...] = ROLES) -> dict[Role, str]:
    """An organisation with one API key per role; returns the tokens."""
    with session_scope(make_session_factory(engine)) as session:
        organisation = ensure_organisation(session, org, "IN")
        return {
            role: create_api_key(session, organisation, role, name=f"test {role}").token
            for role in roles
        }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def jpeg(seed: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """A benign generated photo-like JPEG."""
    return encode(scene(size[0], size[1], seed=seed), "JPEG", quality=85)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kavach_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAVACH_")}
    env.update(KAVACH_DATABASE_URL=database_url, KAVACH_DATA_DIR=str(data_dir), **extra)
    return env


def start_kavach(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``kavach ARGS`` as a subprocess (its output to ``log``)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kavach.cli.main", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server not ready in time")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
