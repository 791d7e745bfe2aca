"""The console's login and logout pages.

They make and end the same session tokens as ``POST /login`` and ``POST /logout`` (one
``kavach_session`` cookie, HttpOnly, SameSite=Strict), with a CSRF token on both forms.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from kavach.auth import service as auth
from kavach.errors import AuthenticationError
from kavach.web.auth import SESSION_COOKIE
from kavach.web.runtime import Runtime
from kavach.web.ui.csrf import LOGIN_CSRF_COOKIE, check_csrf, new_login_token
from kavach.web.ui.deps import ConsoleRoute, UserDep, safe_next
from kavach.web.ui.templating import CONSOLE, render

__all__ = ["router"]

router = APIRouter(prefix=CONSOLE, route_class=ConsoleRoute, include_in_schema=False)

_SESSION_SECONDS = 12 * 3600


def _login_page(request: Request, *, next_url: str, error: str = "", status: int = 200) -> Response:
    token = new_login_token()
    response = render(
        request,
        "login.html",
        {"next": next_url, "error": error, "csrf_token": token},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=f"{CONSOLE}/login",
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str = "") -> Response:
    """The login form."""
    return _login_page(request, next_url=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the password, start a session and go to ``next`` (or the dashboard)."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token)
    runtime: Runtime = request.app.state.runtime
    client = request.client.host if request.client else "unknown"
    runtime.login_limiter.check(("login", client))
    target = safe_next(next)
    if not username or not password:
        return _login_page(
            request, next_url=target, error="Enter your username and password.", status=400
        )
    try:
        issued = await run_in_threadpool(_start_session, runtime, username, password)
    except AuthenticationError:
        return _login_page(
            request, next_url=target, error="Wrong username or password.", status=401
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=_SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{CONSOLE}/login")
    return response


def _start_session(runtime: Runtime, username: str, password: str) -> auth.IssuedKey:
    with runtime.session() as session:
        user = auth.authenticate_password(session, username, password)
        return auth.create_session_token(session, user)


@router.post("/logout")
async def logout(request: Request, user: UserDep) -> Response:
    """End the session (its token is revoked, not just forgotten) and show the login form."""
    runtime: Runtime = request.app.state.runtime
    await run_in_threadpool(_end_session, runtime, user.principal.key_id)
    runtime.keys.clear()
    response = RedirectResponse(f"{CONSOLE}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _end_session(runtime: Runtime, key_id: int) -> None:
    with runtime.session() as session:
        auth.revoke_api_key(session, key_id)
