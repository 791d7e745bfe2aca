"""Authentication and authorisation for every endpoint, and the login that makes a session.

Credentials, in order: ``Authorization: Bearer <token>``, ``X-API-Key: <token>``, or the
``kavach_session`` cookie set by ``/login``. A cookie-authenticated request that changes
something must come from this origin (``Origin``/``Referer`` checked), so another site cannot
ride a logged-in browser (the cookie is also ``SameSite=Strict``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from kavach.auth import service as auth
from kavach.auth.service import Permission, Principal
from kavach.errors import AuthenticationError, InputError, PermissionDeniedError
from kavach.web.multipart import read_body
from kavach.web.runtime import Runtime

__all__ = [
    "SECURITY_SCHEMES",
    "SESSION_COOKIE",
    "RuntimeDep",
    "current_principal",
    "get_runtime",
    "require",
    "router",
]

SESSION_COOKIE = "kavach_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_runtime(request: Request) -> Runtime:
    """The running app's parts (async: a sync dependency would cost a thread hop per request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _credentials(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <API key>'")
        return token.strip()
    api_key = request.headers.get("x-api-key")
    if api_key is not None:
        return api_key.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is not None:
        if request.method not in _SAFE_METHODS and not _same_origin(request):
            raise PermissionDeniedError("cross-site request with a session cookie refused")
        return cookie
    return None


async def current_principal(request: Request) -> Principal:
    """Who is calling, or 401; then the per-key rate limit (429).

    Credentials are read straight from the request (one dependency, not a tree of them: this
    runs on every request and FastAPI's per-dependency cost shows at thousands per second). The
    OpenAPI document declares the schemes (see ``kavach.web.app``).
    """
    runtime: Runtime = request.app.state.runtime
    token = _credentials(request)
    if not token:
        raise AuthenticationError("authentication required: send 'Authorization: Bearer <API key>'")
    digest = auth.token_digest(token)
    principal = runtime.keys.get(digest)
    if principal is None:
        try:
            principal = await run_in_threadpool(_check_token, runtime, token)
        except AuthenticationError:
            # Wrong keys cost a database query each: a client that keeps sending them is slowed
            # down (by address) before it can load the database.
            client = request.client.host if request.client else "unknown"
            runtime.auth_failure_limiter.check(client)
            raise
        runtime.keys.put(digest, principal)
    runtime.limiter.check(principal.key_id)
    return principal


def _check_token(runtime: Runtime, token: str) -> Principal:
    with runtime.session() as session:
        return auth.authenticate_token(session, token)


def _same_origin(request: Request) -> bool:
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    parts = urlsplit(source)
    return parts.netloc == request.headers.get("host", "")


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only roles holding ``permission`` through (403 otherwise)."""

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.can(permission):
            raise PermissionDeniedError(
                f"the {principal.role.value} role may not do this (needs {permission.value})"
            )
        return principal

    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (kv_…) or a session token from POST /login.",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
}
"""OpenAPI security schemes every authenticated operation accepts."""


# -- login -----------------------------------------------------------------------------------

router = APIRouter(tags=["login"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class LoginResponse(BaseModel):
    token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type, not a secret)
    organisation: str
    role: str
    expires_at: str | None


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kavach: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 3rem auto">
<h1>Kavach</h1>{message}
<form method="post" action="/login">
<p><label>Username<br><input name="username" autocomplete="username" required></label></p>
<p><label>Password<br><input name="password" type="password" autocomplete="current-password"
required></label></p>
<p><button type="submit">Log in</button></p>
</form>
<p>After logging in, <a href="/docs">the API documentation</a> works with your session.
Reviewers and analysts: use <a href="/console/login">the review console</a>.</p>
</body></html>"""


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page() -> HTMLResponse:
    """A minimal login form."""
    return HTMLResponse(_LOGIN_PAGE.format(message=""))


@router.post(
    "/login",
    response_model=LoginResponse,
    summary="Exchange a username and password for a session token (and cookie)",
    responses={401: {"description": "Wrong username or password"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": LoginRequest.model_json_schema()},
            },
        }
    },
)
async def login(request: Request, runtime: RuntimeDep) -> Response:
    """JSON in, JSON out (API clients); a form in, a cookie and a redirect to /docs (browsers)."""
    client = request.client.host if request.client else "unknown"
    runtime.login_limiter.check(("login", client))
    body = await read_body(request, 16 * 1024)
    is_form = request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    )
    try:
        if is_form:
            from urllib.parse import parse_qsl

            fields = dict(parse_qsl(body.decode("utf-8", "replace")))
            credentials = LoginRequest.model_validate(fields)
        else:
            credentials = LoginRequest.model_validate_json(body)
    except ValidationError:
        raise InputError("send a username and a password (JSON or form)") from None
    try:
        issued = await run_in_threadpool(_login, runtime, credentials)
    except AuthenticationError:
        if is_form:
            message = '<p role="alert">Wrong username or password.</p>'
            return HTMLResponse(_LOGIN_PAGE.format(message=message), status_code=401)
        raise
    response: Response
    if is_form:
        response = RedirectResponse("/docs", status_code=303)
    else:
        response = JSONResponse(
            LoginResponse(
                token=issued.token,
                organisation=issued.organisation,
                role=issued.role.value,
                expires_at=issued.expires_at.isoformat() if issued.expires_at else None,
            ).model_dump()
        )
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=12 * 3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _login(runtime: Runtime, credentials: LoginRequest) -> auth.IssuedKey:
    with runtime.session() as session:
        user = auth.authenticate_password(session, credentials.username, credentials.password)
        return auth.create_session_token(session, user)


@router.post("/logout", status_code=204, summary="End the current session")
async def logout(
    runtime: RuntimeDep, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Revoke the session token this request used (API keys are revoked under /api/v1/apikeys)."""
    if not principal.session:
        raise InputError("logout ends login sessions; revoke API keys with DELETE /api/v1/apikeys")
    await run_in_threadpool(_revoke, runtime, principal.key_id)
    runtime.keys.clear()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _revoke(runtime: Runtime, key_id: int) -> None:
    with runtime.session() as session:
        auth.revoke_api_key(session, key_id)
