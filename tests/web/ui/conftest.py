"""Console tests: one in-process app per module and database, people of two organisations."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from kavach.auth.models import Role
from kavach.auth.service import create_user
from kavach.banks.service import ensure_organisation
from kavach.evidence.store import Vault
from kavach.store.db import make_session_factory, session_scope
from kavach.store.pytest_fixtures import database_url, engine
from kavach.web.limits import RateLimiter
from tests.web.helpers import make_app
from tests.web.ui.client import TestClient
from tests.web.ui.seed import Seeded, seed_case

__all__ = ["PASSWORD", "database_url", "engine", "login"]

PASSWORD = "correct horse battery"

PEOPLE = {
    "alice": ("Org A", Role.REVIEWER),
    "bob": ("Org A", Role.REVIEWER),
    "carol": ("Org A", Role.ANALYST),
    "pat": ("Org A", Role.PLATFORM),
    "olga": ("Org B", Role.REVIEWER),
}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def login(client: httpx.Client | TestClient, username: str) -> httpx.Response:
    """Log ``username`` in through the console's form; returns the answer to the POST."""
    form = client.get("/console/login")
    assert form.status_code == 200
    return client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Vault:
    """An evidence vault with a fresh key (retention is off by default; these tests turn it on)."""
    return Vault(Path(tmp_path_factory.mktemp("evidence")), secrets.token_bytes(32))


@pytest.fixture(scope="module")
def app(
    database_url: str, engine: Engine, vault: Vault, tmp_path_factory: pytest.TempPathFactory
) -> FastAPI:
    """The service app on this module's database, with the people above and evidence kept."""
    with session_scope(make_session_factory(engine)) as session:
        for username, (org, role) in PEOPLE.items():
            create_user(session, ensure_organisation(session, org, "IN"), username, PASSWORD, role)
    app = make_app(database_url, Path(tmp_path_factory.mktemp("data")))
    app.state.evidence_vault = vault
    return app


@pytest.fixture(scope="module")
def seeded(app: FastAPI, engine: Engine, vault: Vault) -> Seeded:
    """A case to review in Org A."""
    return seed_case(engine, vault)


@pytest.fixture(scope="module")
def started(app: FastAPI) -> Iterator[TestClient]:
    """The app started (lifespan run) once per module.

    These tests log people in many times a second from one address; the login limiter (tested
    in tests/web) would refuse some of them at random, so it is widened here.
    """
    with TestClient(app) as client:
        app.state.runtime.login_limiter = RateLimiter(1000.0, 1000.0)
        yield client


@pytest.fixture
def client(started: TestClient) -> Iterator[TestClient]:
    """A client with its own cookie jar on the module's started app."""
    started.cookies.clear()
    yield started
    started.cookies.clear()
