"""The review console: server-rendered pages (Jinja2 + htmx) under ``/console``.

:func:`install` adds its routes, its static files (``/static``: CSS, the console's script and a
vendored htmx, nothing from elsewhere) and its security headers to an app. Other areas add
pages with :mod:`kavach.web.ui.templating` (``base.html``, the nav) and :mod:`kavach.web.ui.deps`
(the logged-in user, CSRF, error pages).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kavach.web.ui import details, items, login, pages, reporting
from kavach.web.ui.security import SecurityHeadersMiddleware
from kavach.web.ui.templating import CONSOLE

__all__ = ["STATIC", "install"]

STATIC = "/static"
_STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the console to ``app`` (routes, ``/static``, security headers)."""
    for module in (login, pages, items, reporting, details):
        app.include_router(module.router)
    app.mount(STATIC, StaticFiles(directory=_STATIC_DIR), name="static")
    app.add_middleware(SecurityHeadersMiddleware, prefixes=(CONSOLE, STATIC))
