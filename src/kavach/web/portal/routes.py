"""Routes of the public portal: the report form, its answer, the status page, help.

Nothing here needs a login. The only personal data kept is what a reporter chooses to type into
the optional contact field; the client address is used in memory for the rate limit only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from kavach.errors import InputError, NotFoundError, RateLimitedError
from kavach.takedown import service as takedown
from kavach.takedown.models import ItemStatus, TakedownItem
from kavach.takedown.settings import TakedownSettings
from kavach.web.limits import RateLimiter
from kavach.web.multipart import read_body
from kavach.web.portal.i18n import LANGUAGES, choose, translations
from kavach.web.runtime import Runtime

__all__ = ["LANG_COOKIE", "PortalState", "router"]

LANG_COOKIE = "kavach_lang"
_HERE = Path(__file__).parent
_MAX_FORM = 16 * 1024
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Reporters' browsers must not tell the sites linked from help where they came from.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


@dataclass
class PortalState:
    """The portal's settings and its per-address rate limiter."""

    settings: TakedownSettings
    limiter: RateLimiter

    @classmethod
    def from_settings(cls, settings: TakedownSettings) -> PortalState:
        return cls(
            settings=settings,
            limiter=RateLimiter(settings.portal_rate_per_hour / 3600.0, settings.portal_burst),
        )


@functools.cache
def _environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def _gettext(lang: str, message: str) -> str:
    # Messages passed here are listed in the catalogues by ``messages.extract`` (keyword _gettext).
    return str(translations(lang).gettext(message))


def _lang(request: Request, explicit: str | None = None) -> str:
    return choose(
        explicit or request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def _page(
    request: Request, lang: str, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    page = {
        "lang": lang,
        "languages": list(LANGUAGES.items()),
        "path": request.url.path,
        **context,
    }
    html = _environment(lang).get_template(template).render(page)
    response = HTMLResponse(html, status_code=status, headers=_HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _state(request: Request) -> tuple[Runtime, PortalState]:
    return request.app.state.runtime, request.app.state.portal


@router.get("/report/static/portal.css")
async def stylesheet() -> Response:
    """The portal's one stylesheet (served by Kavach itself)."""
    return FileResponse(
        _HERE / "static" / "portal.css",
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/report", response_class=HTMLResponse)
async def report_form(request: Request) -> HTMLResponse:
    """The report form with guidance."""
    lang = _lang(request)
    return _page(request, lang, "report.html", {"form": _empty_form(), "error": None})


@router.post("/report", response_class=HTMLResponse)
async def report_submit(request: Request) -> Response:
    """Take a report: a 303 to its status page, or the form again with the problem."""
    runtime, portal = _state(request)
    body = await read_body(request, _MAX_FORM)
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    lang = _lang(request, fields.get("lang"))
    form = {key: fields.get(key, "")[:4000] for key in ("url", "description", "contact")}
    client = request.client.host if request.client else "unknown"
    try:
        portal.limiter.check(("portal", client))
    except RateLimitedError:
        message = _gettext(
            lang, "Too many reports from your connection. Please wait a while and try again."
        )
        return _page(request, lang, "report.html", {"form": form, "error": message}, 429)
    try:
        submitted = await run_in_threadpool(_submit, runtime, portal.settings, form, lang)
    except InputError:
        message = _gettext(
            lang,
            "This does not look like a web address. Copy it from the address bar of your "
            "browser; it starts with http:// or https://.",
        )
        return _page(request, lang, "report.html", {"form": form, "error": message}, 400)
    target = f"/report/status/{quote(submitted.reference)}?new=1&lang={lang}"
    if submitted.duplicate:
        target += "&duplicate=1"
    return RedirectResponse(target, status_code=303)


def _submit(
    runtime: Runtime, settings: TakedownSettings, form: dict[str, str], lang: str
) -> takedown.SubmittedReport:
    with runtime.session() as session:
        return takedown.submit_report(
            session,
            url=form["url"],
            description=form["description"],
            contact=form["contact"] or None,
            language=lang,
            organisation_id=takedown.portal_organisation(session, settings),
        )


@router.get("/report/status", response_class=HTMLResponse)
async def status_lookup(request: Request, ref: str = "") -> Response:
    """A form to look a reference up (and its answer)."""
    lang = _lang(request)
    if ref.strip():
        clean = "".join(ref.split()).upper()[:20]
        return RedirectResponse(f"/report/status/{quote(clean)}?lang={lang}", status_code=303)
    return _page(
        request, lang, "status.html", {"item": None, "ref": "", "error": None, "new": False}
    )


@router.get("/report/status/{reference}", response_class=HTMLResponse)
async def status_page(request: Request, reference: str) -> HTMLResponse:
    """Where a report stands (status and date only: never the URL or what was found)."""
    runtime, _portal = _state(request)
    lang = _lang(request)
    item = await run_in_threadpool(_find, runtime, reference[:20])
    if item is None:
        message = _gettext(lang, "No report has this reference number. Check it and try again.")
        missing = {"item": None, "ref": reference[:20], "error": message, "new": False}
        return _page(request, lang, "status.html", missing, 404)
    context: dict[str, Any] = {
        "item": item,
        "status_text": _gettext(lang, _STATUS_TEXT[item.status]),
        "new": request.query_params.get("new") == "1",
        "duplicate": request.query_params.get("duplicate") == "1",
    }
    return _page(request, lang, "status.html", context)


def _find(runtime: Runtime, reference: str) -> TakedownItem | None:
    with runtime.session() as session:
        try:
            return takedown.find_item(session, reference)
        except NotFoundError:
            return None


@router.get("/report/help", response_class=HTMLResponse)
async def help_page(request: Request) -> HTMLResponse:
    """Where to get help (children, parents; India and elsewhere)."""
    return _page(request, _lang(request), "help.html", {})


def _empty_form() -> dict[str, str]:
    return {"url": "", "description": "", "contact": ""}


# The public sees where a report stands, never what was found or where it is hosted.
def N_(message: str) -> str:  # noqa: N802 (the gettext convention for "mark, translate later")
    """Mark ``message`` for the catalogues; it is translated where it is shown."""
    return message


_STATUS_TEXT = {
    ItemStatus.RECEIVED: N_("Received. We will check the link soon."),
    ItemStatus.NO_MATCH: N_("Checked. An analyst is assessing it."),
    ItemStatus.UNREACHABLE: N_("Checked. An analyst is assessing it."),
    ItemStatus.CONFIRMED: N_("Confirmed. We have asked the host to remove the material."),
    ItemStatus.REMOVED: N_("The material has been removed."),
    ItemStatus.CLOSED: N_("Closed."),
}
