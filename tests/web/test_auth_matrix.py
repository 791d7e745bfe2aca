"""Every endpoint × every role (and no credentials): who gets in, who gets 403 or 401."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx

from kavach.auth.models import Role
from tests.web.helpers import LiveServer, auth, jpeg

ADMIN, ANALYST, REVIEWER, PLATFORM = Role.ADMIN, Role.ANALYST, Role.REVIEWER, Role.PLATFORM
EVERYONE = frozenset(Role)

# The access table, written out by hand: it is the specification the code must meet.
ALLOWED: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/api/v1/hash"): EVERYONE,
    ("POST", "/api/v1/lookup"): EVERYONE,
    ("POST", "/api/v1/submissions"): frozenset({ADMIN, PLATFORM}),
    ("POST", "/api/v1/submissions/upload"): frozenset({ADMIN, PLATFORM}),
    ("GET", "/api/v1/matches"): EVERYONE,
    ("GET", "/api/v1/matches/{submission_id}"): EVERYONE,
    ("GET", "/api/v1/banks"): EVERYONE,
    ("POST", "/api/v1/banks"): frozenset({ADMIN, ANALYST}),
    ("GET", "/api/v1/banks/{name}"): EVERYONE,
    ("GET", "/api/v1/banks/{name}/entries"): frozenset({ADMIN, ANALYST}),
    ("POST", "/api/v1/banks/{name}/entries"): frozenset({ADMIN, ANALYST}),
    ("POST", "/api/v1/banks/{name}/retract"): frozenset({ADMIN, ANALYST}),
    ("POST", "/api/v1/banks/{name}/import"): frozenset({ADMIN, ANALYST}),
    ("GET", "/api/v1/banks/{name}/export"): frozenset({ADMIN, ANALYST}),
    ("POST", "/api/v1/webhooks"): frozenset({ADMIN}),
    ("GET", "/api/v1/webhooks"): frozenset({ADMIN}),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): frozenset({ADMIN}),
    ("GET", "/api/v1/webhooks/deliveries"): frozenset({ADMIN}),
    ("GET", "/api/v1/apikeys"): frozenset({ADMIN}),
    ("POST", "/api/v1/apikeys"): frozenset({ADMIN}),
    ("DELETE", "/api/v1/apikeys/{key_id}"): frozenset({ADMIN}),
    ("GET", "/api/v1/users"): frozenset({ADMIN}),
    ("POST", "/api/v1/users"): frozenset({ADMIN}),
    ("GET", "/api/v1/me"): EVERYONE,
    # ISP blocklists (docs/takedown.md): those who act on them, not reviewers.
    ("GET", "/api/v1/blocklist/{fmt}"): frozenset({ADMIN, ANALYST, PLATFORM}),
}

MD5 = "0" * 32


def _requests(
    client: httpx.Client, admin: str
) -> dict[tuple[str, str], Callable[[str], dict[str, Any]]]:
    """For each endpoint, the arguments of one valid request (fresh names where it creates)."""
    bank = f"matrix-{secrets.token_hex(4)}"
    created = client.post("/api/v1/banks", json={"name": bank}, headers=auth(admin))
    assert created.status_code == 201, created.text
    hook = client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=auth(admin)
    ).json()["id"]

    def fresh_key(_: str) -> dict[str, Any]:
        made = client.post("/api/v1/apikeys", json={"name": "x"}, headers=auth(admin)).json()
        return {"url": f"/api/v1/apikeys/{made['id']}"}

    image = jpeg(1, (64, 48))
    one_hash = {"hashes": [{"signal_type": "md5", "value": MD5}]}
    return {
        ("POST", "/api/v1/hash"): lambda _: {"files": {"file": ("a.jpg", image)}},
        ("POST", "/api/v1/lookup"): lambda _: {"json": one_hash},
        ("POST", "/api/v1/submissions"): lambda r: {"json": {"content_id": r, **one_hash}},
        ("POST", "/api/v1/submissions/upload"): lambda r: {
            "files": {"file": ("a.jpg", image)},
            "data": {"content_id": r},
        },
        ("GET", "/api/v1/matches"): lambda _: {},
        ("GET", "/api/v1/matches/{submission_id}"): lambda _: {"url": "/api/v1/matches/1"},
        ("GET", "/api/v1/banks"): lambda _: {},
        ("POST", "/api/v1/banks"): lambda r: {"json": {"name": f"{bank}-{r}"}},
        ("GET", "/api/v1/banks/{name}"): lambda _: {"url": f"/api/v1/banks/{bank}"},
        ("GET", "/api/v1/banks/{name}/entries"): lambda _: {"url": f"/api/v1/banks/{bank}/entries"},
        ("POST", "/api/v1/banks/{name}/entries"): lambda _: {
            "url": f"/api/v1/banks/{bank}/entries",
            "json": {"entries": [one_hash]},
        },
        ("POST", "/api/v1/banks/{name}/retract"): lambda _: {
            "url": f"/api/v1/banks/{bank}/retract",
            "json": one_hash,
        },
        ("POST", "/api/v1/banks/{name}/import"): lambda _: {
            "url": f"/api/v1/banks/{bank}/import?format=text",
            "files": {"file": ("list.txt", f"md5 {MD5}\n".encode())},
        },
        ("GET", "/api/v1/banks/{name}/export"): lambda _: {
            "url": f"/api/v1/banks/{bank}/export?format=text"
        },
        ("POST", "/api/v1/webhooks"): lambda _: {"json": {"url": "http://127.0.0.1:9/x"}},
        ("GET", "/api/v1/webhooks"): lambda _: {},
        ("DELETE", "/api/v1/webhooks/{webhook_id}"): lambda _: {"url": f"/api/v1/webhooks/{hook}"},
        ("GET", "/api/v1/webhooks/deliveries"): lambda _: {},
        ("GET", "/api/v1/apikeys"): lambda _: {},
        ("POST", "/api/v1/apikeys"): lambda _: {"json": {"name": "matrix"}},
        ("DELETE", "/api/v1/apikeys/{key_id}"): fresh_key,
        ("GET", "/api/v1/users"): lambda _: {},
        ("POST", "/api/v1/users"): lambda r: {
            "json": {
                "username": f"u-{r}-{secrets.token_hex(3)}",
                "password": "a long enough password",
                "role": "reviewer",
            }
        },
        ("GET", "/api/v1/me"): lambda _: {},
        ("GET", "/api/v1/blocklist/{fmt}"): lambda _: {"url": "/api/v1/blocklist/url"},
    }


def test_every_api_route_is_in_the_table(server: LiveServer) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in server.app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for method in operations
    }
    assert routes == set(ALLOWED)


def test_role_endpoint_matrix(server: LiveServer, keys: dict[Role, str]) -> None:
    wrong: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        requests = _requests(client, keys[ADMIN])
        assert set(requests) == set(ALLOWED)
        for (method, path), allowed in ALLOWED.items():
            for role in Role:
                args = requests[(method, path)](role.value)
                url = args.pop("url", path)
                response = client.request(method, url, headers=auth(keys[role]), **args)
                if role in allowed:
                    ok = response.status_code < 400 or response.status_code == 404
                    if not ok or response.status_code in (401, 403):
                        wrong.append(f"{role} {method} {path}: {response.status_code}")
                elif response.status_code != 403:
                    wrong.append(f"{role} {method} {path}: {response.status_code}, want 403")
            # No credentials at all: 401 everywhere, and nothing is written.
            args = requests[(method, path)]("anonymous")
            url = args.pop("url", path)
            response = client.request(method, url, **args)
            if response.status_code != 401:
                wrong.append(f"anonymous {method} {path}: {response.status_code}, want 401")
            response = client.request(
                method, url, headers=auth("kv_000000000000_" + "A" * 43), **args
            )
            if response.status_code != 401:
                wrong.append(f"bad key {method} {path}: {response.status_code}, want 401")
    assert wrong == []
