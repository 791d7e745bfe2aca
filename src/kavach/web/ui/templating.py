"""The console's Jinja2 environment, its navigation and the one function that renders a page.

Other areas add pages to the console by extending ``base.html`` and, where a page belongs in
the menu, calling :func:`add_nav_link` once at import (the takedown board, statistics)::

    from kavach.web.ui.templating import add_nav_link, add_template_dir, render

    add_nav_link("Takedowns", "/console/takedowns", order=40)
    add_template_dir(Path(__file__).parent / "templates")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

__all__ = [
    "CONSOLE",
    "NavLink",
    "add_nav_link",
    "add_template_dir",
    "environment",
    "nav_links",
    "render",
]

CONSOLE = "/console"
"""Where the console lives; every page and form posts under it."""

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class NavLink:
    """One entry of the console's menu; ``order`` sorts them (lower first)."""

    label: str
    href: str
    order: int = 50


_NAV: list[NavLink] = [
    NavLink("Dashboard", f"{CONSOLE}/", 10),
    NavLink("Queue", f"{CONSOLE}/queue", 20),
    NavLink("Cases", f"{CONSOLE}/cases", 30),
    NavLink("Preferences", f"{CONSOLE}/preferences", 90),
]


def add_nav_link(label: str, href: str, *, order: int = 50) -> None:
    """Add a link to the console menu (once; a second call with the same href replaces it)."""
    _NAV[:] = [link for link in _NAV if link.href != href]
    _NAV.append(NavLink(label, href, order))


def nav_links() -> list[NavLink]:
    """The menu, in order."""
    return sorted(_NAV, key=lambda link: (link.order, link.label))


_loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(_TEMPLATES)]
_loader = jinja2.ChoiceLoader(_loaders)


def add_template_dir(path: Path) -> None:
    """Let pages render templates from ``path`` too (searched after the console's own)."""
    if not any(
        isinstance(loader, jinja2.FileSystemLoader) and str(path) in loader.searchpath
        for loader in _loaders
    ):
        # ChoiceLoader keeps this very list, so the environment sees the new directory.
        _loaders.append(jinja2.FileSystemLoader(path))


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


environment = jinja2.Environment(
    loader=_loader,
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["when"] = _when
_templates = Jinja2Templates(env=environment)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` with the page context every console page gets.

    The common context: ``request``, ``nav`` (the menu), ``user`` (the console user or None),
    ``csrf_token`` (for forms and htmx), ``current`` (the path, to mark the menu), ``console``
    (the URL prefix) and ``template_name``.
    """
    page: dict[str, Any] = {
        "nav": nav_links(),
        "user": getattr(request.state, "console_user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "current": request.url.path,
        "console": CONSOLE,
        "template_name": template,
    }
    page.update(context or {})
    # Starlette's template response: in-process tests (TestClient) see ``response.template``
    # and ``response.context`` (STYLE 11, 12).
    return _templates.TemplateResponse(
        request, template, page, status_code=status_code, headers=dict(headers or {})
    )
