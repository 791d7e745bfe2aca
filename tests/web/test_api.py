"""The platform API end to end on a real server: hashing, lookups, verdicts, banks, limits."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageOps
from sqlalchemy import Engine, func, select

from kavach.auth.models import Role
from kavach.hashing import hash_bytes
from kavach.jobs.models import Job
from kavach.store.submissions import Submission
from tests.web.helpers import LiveServer, auth, jpeg, live_server, make_app, make_keys


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _bank(client: httpx.Client, token: str, **extra: object) -> str:
    name = f"bank-{secrets.token_hex(4)}"
    response = client.post("/api/v1/banks", json={"name": name, **extra}, headers=auth(token))
    assert response.status_code == 201, response.text
    return name


def _add(client: httpx.Client, token: str, bank: str, *hashes: tuple[str, str]) -> None:
    entries = [{"hashes": [{"signal_type": st, "value": v}]} for st, v in hashes]
    response = client.post(
        f"/api/v1/banks/{bank}/entries", json={"entries": entries}, headers=auth(token)
    )
    assert response.status_code == 200, response.text


def _wait_for_version(client: httpx.Client, token: str, bank: str) -> None:
    # The server's indexes follow the database within its reload interval (0.2 s here).
    version = client.get(f"/api/v1/banks/{bank}", headers=auth(token)).json()["version"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ready = client.get("/readyz").json()
        if ready["status"] == "ok" and _loaded(client, bank) >= version:
            return
        time.sleep(0.05)
    raise AssertionError("the server did not pick up the bank change")


def _loaded(client: httpx.Client, bank: str) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'kavach_index_bank_version{{bank="{bank}"}}'):
            return int(float(line.split()[-1]))
    return -1


def test_health_ready_metrics_are_open(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] is True
    text = client.get("/metrics").text
    assert "kavach_http_requests_total" in text
    assert "kavach_job_queue_depth" in text


def test_hash_upload_matches_the_library(client: httpx.Client, keys: dict[Role, str]) -> None:
    data = jpeg(7)
    response = client.post(
        "/api/v1/hash", files={"file": ("x.jpg", data)}, headers=auth(keys[Role.PLATFORM])
    )
    assert response.status_code == 200, response.text
    expected = hash_bytes(data)
    body = response.json()
    assert (body["md5"], body["sha256"], body["pdq"]) == (
        expected.md5,
        expected.sha256,
        expected.pdq,
    )
    assert body["pdq_quality"] == expected.pdq_quality
    assert body["error"] is None


def test_lookup_exact_and_near_and_submission_records_a_match(
    client: httpx.Client, keys: dict[Role, str], engine: Engine
) -> None:
    admin, platform = keys[Role.ADMIN], keys[Role.PLATFORM]
    known = hash_bytes(jpeg(11))
    bank = _bank(client, admin)
    _add(client, admin, bank, ("md5", known.md5 or ""), ("pdq", known.pdq or ""))
    _wait_for_version(client, admin, bank)
    # A recompressed copy differs in MD5 but stays within the PDQ threshold.
    from kavach.demo.scenes import encode, scene

    copy = hash_bytes(encode(scene(640, 480, seed=11).resize((480, 360)), "JPEG", quality=60))
    other = "f" * 32
    response = client.post(
        "/api/v1/lookup",
        json={
            "banks": [bank],
            "hashes": [
                {"signal_type": "md5", "value": known.md5},
                {"signal_type": "pdq", "value": copy.pdq},
                {"signal_type": "md5", "value": other},
            ],
        },
        headers=auth(platform),
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [len(r["matches"]) for r in results] == [1, 1, 0]
    assert results[0]["matches"][0]["distance"] == 0
    assert 0 < results[1]["matches"][0]["distance"] <= 31

    def submissions() -> int:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Submission)) or 0)

    before = submissions()
    miss = client.post(
        "/api/v1/submissions",
        json={"content_id": "c-miss", "hashes": [{"signal_type": "md5", "value": other}]},
        headers=auth(platform),
    ).json()
    assert miss["matched"] is False
    assert miss["submission_id"] is None
    assert submissions() == before  # nothing kept for content that matched nothing

    upload = client.post(
        "/api/v1/submissions/upload",
        files={"file": ("u.jpg", jpeg(11))},
        data={"content_id": "c-42", "metadata": '{"user": "u-9"}', "banks": bank},
        headers=auth(platform),
    )
    assert upload.status_code == 200, upload.text
    verdict = upload.json()
    assert verdict["matched"] is True
    assert verdict["content_id"] == "c-42"
    assert {m["signal_type"] for m in verdict["matches"]} == {"md5", "pdq"}
    recorded = client.get(
        f"/api/v1/matches/{verdict['submission_id']}", headers=auth(platform)
    ).json()
    assert recorded["metadata"] == {"user": "u-9"}
    assert len(recorded["matches"]) == 2
    [pdq] = [m for m in recorded["matches"] if m["signal_type"] == "pdq"]
    assert pdq["variant"] == "original"
    assert pdq["query_value"] == verdict["hashes"]["pdq"][0]
    # An upload is looked up with its query-side variants; the verdict keeps the file's own hash.
    flipped = client.post(
        "/api/v1/submissions/upload",
        files={"file": ("m.jpg", _mirror(jpeg(11)))},
        data={"content_id": "c-43", "banks": bank},
        headers=auth(platform),
    ).json()
    [pdq] = [m for m in flipped["matches"] if m["signal_type"] == "pdq"]
    assert pdq["variant"].startswith("dihedral:")
    assert len(flipped["hashes"]["pdq"]) == 1
    assert pdq["query_value"] != flipped["hashes"]["pdq"][0]
    listed = client.get("/api/v1/matches?content_id=c-42", headers=auth(platform)).json()
    metrics = client.get("/metrics").text
    assert 'route="/api/v1/lookup",status="200"' in metrics
    assert 'route="/api/v1/submissions/upload",status="200"' in metrics
    assert f'kavach_matches_total{{bank="{bank}"}}' in metrics
    assert f'kavach_index_entries{{bank="{bank}"}} 2.0' in metrics
    assert "kavach_hashes_looked_up_total" in metrics
    assert [s["id"] for s in listed["items"]] == [verdict["submission_id"]]


def test_an_upload_found_by_its_reliable_bits_says_so(
    client: httpx.Client, keys: dict[Role, str]
) -> None:
    from tests.support.images import encode, scene, watermarked

    admin, platform = keys[Role.ADMIN], keys[Role.PLATFORM]
    picture = scene(640, 480, seed=11)  # its marked copy is 42 bits off, 15 on reliable bits
    listed = hash_bytes(encode(picture, quality=95))
    bank = _bank(client, admin)
    _add(client, admin, bank, ("pdq", listed.pdq or ""))
    _wait_for_version(client, admin, bank)
    verdict = client.post(
        "/api/v1/submissions/upload",
        files={"file": ("w.jpg", encode(watermarked(picture), quality=85))},
        data={"content_id": "c-wm", "banks": bank},
        headers=auth(platform),
    ).json()
    [m] = verdict["matches"]
    assert m["variant"] == "original"
    assert m["distance"] > 31
    assert 0 <= m["reliable_distance"] <= 23
    recorded = client.get(
        f"/api/v1/matches/{verdict['submission_id']}", headers=auth(platform)
    ).json()
    assert recorded["matches"][0]["reliable_distance"] == m["reliable_distance"]


def test_organisation_scope(
    client: httpx.Client, keys: dict[Role, str], other_keys: dict[Role, str]
) -> None:
    mine = _bank(client, keys[Role.ADMIN])
    shared = _bank(client, keys[Role.ADMIN], sharing="alliance")
    theirs = other_keys[Role.ADMIN]
    names = {b["name"] for b in client.get("/api/v1/banks", headers=auth(theirs)).json()}
    assert shared in names
    assert mine not in names
    # Someone else's private bank looks exactly like a missing one.
    assert client.get(f"/api/v1/banks/{mine}", headers=auth(theirs)).status_code == 404
    lookup = {"banks": [mine], "hashes": [{"signal_type": "md5", "value": "0" * 32}]}
    response = client.post("/api/v1/lookup", json=lookup, headers=auth(theirs))
    assert response.status_code == 404
    # A shared bank can be searched but only changed by its owner.
    add = {"entries": [{"hashes": [{"signal_type": "md5", "value": "1" * 32}]}]}
    response = client.post(f"/api/v1/banks/{shared}/entries", json=add, headers=auth(theirs))
    assert response.status_code == 403
    # Matches and webhooks of one organisation are invisible to another.
    mine_matches = client.get("/api/v1/matches", headers=auth(keys[Role.ADMIN])).json()["items"]
    for item in mine_matches:
        assert client.get(f"/api/v1/matches/{item['id']}", headers=auth(theirs)).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"hashes": [{"signal_type": "md5", "value": "xyz"}]}, 400, "invalid_hash"),
        ({"hashes": [{"signal_type": "pdq", "value": "ab" * 31}]}, 400, "invalid_hash"),
        ({"hashes": [{"signal_type": "sha3", "value": "ab"}]}, 422, "invalid_input"),
        ({"hashes": []}, 422, "invalid_input"),
        ({"hashes": [{"signal_type": "md5", "value": "0" * 32}] * 1001}, 400, "invalid_input"),
        (
            {"banks": ["no-such-bank"], "hashes": [{"signal_type": "md5", "value": "0" * 32}]},
            404,
            "not_found",
        ),
        (
            {"hashes": [{"signal_type": "md5", "value": "0" * 32}], "threshold": 99},
            422,
            "invalid_input",
        ),
    ],
)
def test_bad_lookups_are_4xx_with_a_message(
    client: httpx.Client, keys: dict[Role, str], body: dict[str, object], status: int, code: str
) -> None:
    response = client.post("/api/v1/lookup", json=body, headers=auth(keys[Role.PLATFORM]))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_malformed_bodies_and_uploads(client: httpx.Client, keys: dict[Role, str]) -> None:
    token = keys[Role.PLATFORM]
    headers = {**auth(token), "content-type": "application/json"}
    assert client.post("/api/v1/lookup", content=b"{not json", headers=headers).status_code == 422
    no_file = client.post("/api/v1/hash", data={"x": "1"}, headers=auth(token))
    assert no_file.status_code == 400
    raw = client.post("/api/v1/hash", content=b"abc", headers=auth(token))
    assert raw.status_code == 400
    empty = client.post("/api/v1/hash", files={"file": ("e.jpg", b"")}, headers=auth(token))
    assert empty.status_code == 422
    text = client.post("/api/v1/hash", files={"file": ("t.txt", b"hello")}, headers=auth(token))
    assert text.status_code == 200
    assert text.json()["error"]["code"] == "unsupported_media"
    assert text.json()["md5"] == "5d41402abc4b2a76b9719d911017c592"


def test_body_limit(server: LiveServer, client: httpx.Client, keys: dict[Role, str]) -> None:
    service = server.app.state.runtime.service
    limit = max(service.max_body_bytes, service.max_lookup_bytes)  # lookups may carry videos
    big = b'{"hashes": [' + b" " * limit + b"]}"
    headers = {**auth(keys[Role.PLATFORM]), "content-type": "application/json"}
    response = client.post("/api/v1/lookup", content=big, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit bites while reading
        yield b'{"hashes": ['
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    response = client.post("/api/v1/lookup", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_bank_entries_retract_import_export(client: httpx.Client, keys: dict[Role, str]) -> None:
    analyst = keys[Role.ANALYST]
    bank = _bank(client, analyst)
    a, b = "a" * 32, "b" * 32
    listing = f"md5 {a}\nmd5 {b}\n".encode()
    report = client.post(
        f"/api/v1/banks/{bank}/import?format=text",
        files={"file": ("list.txt", listing)},
        headers=auth(analyst),
    )
    assert report.status_code == 200, report.text
    assert report.json()["added"] == 2
    retract = client.post(
        f"/api/v1/banks/{bank}/retract",
        json={"hashes": [{"signal_type": "md5", "value": a}], "reason": "test"},
        headers=auth(analyst),
    )
    assert retract.json()["retracted"] == 1
    page = client.get(f"/api/v1/banks/{bank}/entries", headers=auth(analyst)).json()
    assert [e["value"] for e in page["items"]] == [b]
    exported = client.get(f"/api/v1/banks/{bank}/export?format=text", headers=auth(analyst))
    assert exported.status_code == 200
    assert b in exported.text
    assert a not in exported.text
    bad = client.post(
        f"/api/v1/banks/{bank}/import?format=nope",
        files={"file": ("list.txt", listing)},
        headers=auth(analyst),
    )
    assert bad.status_code == 422
    summary = client.get(f"/api/v1/banks/{bank}", headers=auth(analyst)).json()
    assert summary["entries"] == 1
    assert summary["retracted"] == 1


def test_login_session_cookie_and_logout(
    client: httpx.Client, keys: dict[Role, str], server: LiveServer
) -> None:
    admin = keys[Role.ADMIN]
    username = f"ada-{secrets.token_hex(3)}"
    made = client.post(
        "/api/v1/users",
        json={"username": username, "password": "correct horse battery", "role": "analyst"},
        headers=auth(admin),
    )
    assert made.status_code == 201, made.text
    wrong = client.post("/login", json={"username": username, "password": "wrong password!"})
    assert wrong.status_code == 401
    login = client.post("/login", json={"username": username, "password": "correct horse battery"})
    assert login.status_code == 200
    token = login.json()["token"]
    assert client.get("/api/v1/me", headers=auth(token)).json()["role"] == "analyst"
    with httpx.Client(base_url=server.url, cookies=login.cookies) as browser:
        assert browser.get("/api/v1/me").status_code == 200
        # A write riding on the cookie from another site is refused.
        cross = browser.post(
            "/api/v1/banks", json={"name": "x-site"}, headers={"Origin": "https://evil.example"}
        )
        assert cross.status_code == 403
    form = client.post("/login", data={"username": username, "password": "correct horse battery"})
    assert form.status_code == 303
    assert "kavach_session" in form.cookies
    assert client.post("/logout", headers=auth(token)).status_code == 204
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    # Logging out with an API key does not revoke it.
    assert client.post("/logout", headers=auth(admin)).status_code == 400


def test_api_key_lifecycle(client: httpx.Client, keys: dict[Role, str], engine: Engine) -> None:
    admin = keys[Role.ADMIN]
    made = client.post(
        "/api/v1/apikeys", json={"name": "ci", "role": "reviewer"}, headers=auth(admin)
    )
    assert made.status_code == 201
    token = made.json()["token"]
    assert client.get("/api/v1/me", headers=auth(token)).json()["role"] == "reviewer"
    listed = client.get("/api/v1/apikeys", headers=auth(admin)).json()
    assert all("token" not in k for k in listed)
    assert made.json()["prefix"] in {k["prefix"] for k in listed}
    gone = client.delete(f"/api/v1/apikeys/{made.json()['id']}", headers=auth(admin))
    assert gone.status_code == 204
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    # Only a digest is stored.
    from kavach.auth.models import ApiKey

    with engine.connect() as conn:
        stored = conn.execute(select(ApiKey.token_sha256)).scalars().all()
    assert token not in stored
    assert all(len(s) == 64 for s in stored)


def test_webhook_created_with_the_match_in_one_transaction(
    client: httpx.Client, keys: dict[Role, str], engine: Engine
) -> None:
    admin = keys[Role.ADMIN]
    hook = client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/h"}, headers=auth(admin)
    )
    assert hook.status_code == 201
    assert hook.json()["secret"].startswith("whsec_")
    assert all(
        "secret" not in h for h in client.get("/api/v1/webhooks", headers=auth(admin)).json()
    )
    bank = _bank(client, admin)
    value = secrets.token_hex(16)
    _add(client, admin, bank, ("md5", value))
    _wait_for_version(client, admin, bank)
    verdict = client.post(
        "/api/v1/submissions",
        json={"content_id": "w-1", "hashes": [{"signal_type": "md5", "value": value}]},
        headers=auth(admin),
    ).json()
    assert verdict["matched"]
    with engine.connect() as conn:
        jobs = conn.execute(select(Job.payload)).scalars().all()
    bodies = [p["body"] for p in jobs if p["body"]["data"]["content_id"] == "w-1"]
    assert bodies
    assert bodies[0]["data"]["submission_id"] == verdict["submission_id"]
    deliveries = client.get("/api/v1/webhooks/deliveries", headers=auth(admin)).json()
    assert any(d["status"] == "pending" for d in deliveries)
    client.delete(f"/api/v1/webhooks/{hook.json()['id']}", headers=auth(admin))


def test_rate_limit_per_key(database_url: str, engine: Engine, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, rate_limit=1, rate_burst=3)
    keys = make_keys(engine, "Org R", (Role.PLATFORM, Role.REVIEWER))
    with live_server(app) as live, httpx.Client(base_url=live.url) as client:
        codes = [
            client.get("/api/v1/me", headers=auth(keys[Role.PLATFORM])).status_code
            for _ in range(5)
        ]
        assert codes[:3] == [200, 200, 200]
        assert 429 in codes[3:]
        limited = client.get("/api/v1/me", headers=auth(keys[Role.PLATFORM]))
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        # Another key has its own bucket.
        assert client.get("/api/v1/me", headers=auth(keys[Role.REVIEWER])).status_code == 200


def test_repeated_bad_keys_are_slowed_down(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path)
    with live_server(app) as live, httpx.Client(base_url=live.url) as client:
        bad = auth("kv_000000000000_" + "B" * 43)
        codes = [client.get("/api/v1/me", headers=bad).status_code for _ in range(120)]
    assert codes[:100] == [401] * 100
    assert 429 in codes[100:]


def test_readyz_says_what_is_wrong(server: LiveServer, client: httpx.Client) -> None:
    from sqlalchemy import create_engine

    runtime = server.app.state.runtime
    engine = runtime.engine
    # A database nobody answers at (port 1 on loopback refuses at once).
    runtime.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        down = client.get("/readyz")
    finally:
        runtime.engine.dispose()
        runtime.engine = engine
    assert down.status_code == 503
    assert down.json()["database"] is False
    assert "database" in down.json()["detail"]
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    assert client.get("/readyz").status_code == 200


def _mirror(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        ImageOps.mirror(image.convert("RGB")).save(out, "JPEG", quality=90)
        return out.getvalue()
