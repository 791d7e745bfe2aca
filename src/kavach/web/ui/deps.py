"""Who is using the console, and how console routes turn errors into pages.

Console pages need a person: a login session (the ``kavach_session`` cookie ``/login`` and
``/console/login`` set), never an API key, because every reveal and grade is audited by name.
:func:`console_user` also checks the CSRF token of every unsafe request, so no console route
that changes something can forget to.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import select

from kavach.auth import service as auth
from kavach.auth.models import Role, User
from kavach.auth.service import Principal
from kavach.errors import AuthenticationError, KavachError, PermissionDeniedError
from kavach.web.auth import SESSION_COOKIE
from kavach.web.runtime import Runtime
from kavach.web.ui.csrf import check_csrf, session_csrf_token, submitted_token
from kavach.web.ui.templating import CONSOLE, render

__all__ = [
    "CONSOLE_ROLES",
    "ConsoleRoute",
    "ConsoleUser",
    "LoginRequiredError",
    "UserDep",
    "console_user",
    "is_htmx",
    "safe_next",
]

CONSOLE_ROLES = frozenset({Role.ADMIN, Role.ANALYST, Role.REVIEWER})
"""Roles that may use the console (platform integrations have API keys, not people)."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequiredError(AuthenticationError):
    """No live login session: pages redirect to the login form."""

    code = "login_required"


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A logged-in person: their session's principal and their name."""

    principal: Principal
    user_id: int
    username: str

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return f"user:{self.username}"

    @property
    def organisation_id(self) -> int:
        return self.principal.organisation_id

    @property
    def organisation(self) -> str:
        return self.principal.organisation

    @property
    def role(self) -> Role:
        return self.principal.role


def _identify(runtime: Runtime, token: str, principal: Principal | None) -> tuple[Principal, str]:
    with runtime.session() as session:
        if principal is None:
            principal = auth.authenticate_token(session, token)
        username = session.scalar(select(User.username).where(User.id == principal.user_id))
    return principal, username or ""


async def console_user(request: Request) -> ConsoleUser:
    """The logged-in person, or LoginRequiredError; 403 for roles without the console; the CSRF
    token checked on every unsafe request."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequiredError("log in to use the console")
    runtime: Runtime = request.app.state.runtime
    digest = auth.token_digest(token)
    cached = runtime.keys.get(digest)
    try:
        principal, username = await run_in_threadpool(_identify, runtime, token, cached)
    except AuthenticationError as exc:
        raise LoginRequiredError(exc.message) from None
    if cached is None:
        runtime.keys.put(digest, principal)
    if not principal.session or principal.user_id is None or not username:
        raise LoginRequiredError("the console needs a login session, not an API key")
    expected = session_csrf_token(token)
    request.state.csrf_token = expected
    user = ConsoleUser(principal=principal, user_id=principal.user_id, username=username)
    request.state.console_user = user
    if principal.role not in CONSOLE_ROLES:
        raise PermissionDeniedError(f"the {principal.role.value} role has no console")
    if request.method not in _SAFE_METHODS:
        check_csrf(expected, await submitted_token(request))
    return user


UserDep = Annotated[ConsoleUser, Depends(console_user)]


def is_htmx(request: Request) -> bool:
    """True for a request htmx made (it swaps a fragment rather than loading a page)."""
    return request.headers.get("hx-request") == "true"


def safe_next(target: str | None) -> str:
    """A console path to go to after login; anything else (other sites, tricks) is ignored."""
    if (
        target
        and target.startswith(f"{CONSOLE}/")
        and not target.startswith(f"{CONSOLE}//")
        and not any(c in target for c in "\\\r\n")
    ):
        return target
    return f"{CONSOLE}/"


class ConsoleRoute(APIRoute):
    """Console routes answer errors as pages (or htmx fragments), not JSON.

    No session → a redirect to the login form (``HX-Redirect`` for htmx); any other Kavach
    error → ``error.html`` with its HTTP status; htmx shows the fragment in the page's alert
    region.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequiredError:
                target = f"{CONSOLE}/login?next={quote(_here(request), safe='/')}"
                if is_htmx(request):
                    return Response(status_code=204, headers={"HX-Redirect": target})
                return RedirectResponse(target, status_code=303)
            except KavachError as exc:
                return _error_page(request, exc.http_status, exc.message)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()))
                return _error_page(request, 422, f"{where}: {first.get('msg', 'invalid input')}")

        return handle


def _here(request: Request) -> str:
    # After logging in, go back to the page (a form post goes back to the page it came from).
    if request.method in _SAFE_METHODS and not is_htmx(request):
        return safe_next(request.url.path)
    return f"{CONSOLE}/"


def _error_page(request: Request, status: int, message: str) -> Response:
    if is_htmx(request):
        return render(
            request,
            "_error.html",
            {"status": status, "message": message},
            status_code=status,
            headers={"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"},
        )
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)
