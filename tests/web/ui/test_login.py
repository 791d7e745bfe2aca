"""Console login, logout, CSRF and security headers, in-process."""

from __future__ import annotations

from tests.web.ui.client import TestClient
from tests.web.ui.conftest import PASSWORD, csrf_of, login


def test_pages_need_a_login_and_come_back_after_it(client: TestClient) -> None:
    away = client.get("/console/cases", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/console/login?next=/console/cases"
    form = client.get(away.headers["location"])
    assert form.template.name == "login.html"  # type: ignore[attr-defined]
    assert form.context["next"] == "/console/cases"  # type: ignore[attr-defined]
    done = client.post(
        "/console/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "/console/cases",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console/cases"
    cases = client.get("/console/cases")
    assert cases.status_code == 200
    assert cases.template.name == "cases.html"  # type: ignore[attr-defined]
    assert "alice" in cases.text


def test_login_refuses_a_wrong_password_and_a_missing_token(client: TestClient) -> None:
    form = client.get("/console/login")
    token = csrf_of(form.text)
    wrong = client.post(
        "/console/login",
        data={"username": "alice", "password": "not the password", "csrf_token": token},
    )
    assert wrong.status_code == 401
    assert "Wrong username or password." in wrong.text
    forged = client.post(
        "/console/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "x"}
    )
    assert forged.status_code == 403
    assert forged.template.name == "error.html"  # type: ignore[attr-defined]
    assert "kavach_session" not in client.cookies


def test_next_never_leaves_the_console(client: TestClient) -> None:
    form = client.get("/console/login?next=https://evil.example/")
    assert form.context["next"] == "/console/"  # type: ignore[attr-defined]
    done = client.post(
        "/console/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "/console/"


def test_unsafe_requests_without_the_session_token_are_refused(client: TestClient) -> None:
    assert login(client, "alice").status_code == 303
    page = client.get("/console/")
    token = csrf_of(page.text)
    assert page.context["csrf_token"] == token  # type: ignore[attr-defined]
    # Without a token, or with another session's, logging out is refused and the session lives.
    assert client.post("/console/logout").status_code == 403
    assert client.post("/console/logout", data={"csrf_token": "0" * 64}).status_code == 403
    htmx = client.post("/console/logout", headers={"HX-Request": "true", "X-CSRF-Token": "bad"})
    assert htmx.status_code == 403
    assert htmx.headers["HX-Retarget"] == "#alerts"
    assert client.get("/console/", follow_redirects=False).status_code == 200
    # With it (as the header htmx sends), the session ends and its token is revoked.
    cookie = client.cookies["kavach_session"]
    out = client.post("/console/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("kavach_session", cookie)
    assert client.get("/console/", follow_redirects=False).status_code == 303
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {cookie}"}).status_code == 401
    )


def test_security_headers_on_pages_and_static_files(client: TestClient) -> None:
    for path in ("/console/login", "/static/console.css", "/static/htmx.min.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    # The API documentation loads its own assets and keeps working without the console's policy.
    assert "content-security-policy" not in client.get("/docs").headers
    page = client.get("/console/login").text
    assert "<script>" not in page
    assert "style=" not in page
    assert '<script src="/static/htmx.min.js" defer></script>' in page


def test_platform_role_has_no_console_and_api_keys_cannot_log_in(client: TestClient) -> None:
    assert login(client, "pat").status_code == 303
    refused = client.get("/console/")
    assert refused.status_code == 403
    assert "platform role has no console" in refused.text
