"""CSRF tokens for the console's forms and htmx requests.

A logged-in page carries a token derived from the session token (an HMAC keyed by it), so the
token is tied to that session, needs no server-side state and dies with the session; the
session token itself never reaches the page (its cookie is HttpOnly). Before login there is no
session, so the login form uses a double-submit token: a random cookie the form must repeat.

Forms send the token as the ``csrf_token`` field, htmx as the ``X-CSRF-Token`` header (set once
on ``<body hx-headers=...>``). Every unsafe request must carry it; see :func:`check_csrf`.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from kavach.errors import PermissionDeniedError

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_CSRF_COOKIE",
    "CsrfError",
    "check_csrf",
    "new_login_token",
    "session_csrf_token",
    "submitted_token",
]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_CSRF_COOKIE = "kavach_login_csrf"


class CsrfError(PermissionDeniedError):
    """An unsafe request without the page's CSRF token (HTTP 403)."""

    code = "csrf_failed"


def session_csrf_token(session_token: str) -> str:
    """The CSRF token of the session whose secret token is ``session_token``."""
    digest = hmac.new(session_token.encode("ascii", "replace"), b"kavach-console-csrf", "sha256")
    return digest.hexdigest()


def new_login_token() -> str:
    """A random token for the login form's double-submit cookie."""
    return secrets.token_urlsafe(32)


async def submitted_token(request: Request) -> str:
    """The token a request carries: the header (htmx) or else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def check_csrf(expected: str, submitted: str) -> None:
    """Raise CsrfError unless ``submitted`` is ``expected`` (compared in constant time)."""
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise CsrfError("this form has expired or did not come from this site; reload the page")
