"""``/console/takedowns`` (the board) and ``/console/statistics`` (plots, transparency report).

The plots are PNG files served beside the page: the console's CSP forbids the inline styles an
inline SVG from matplotlib would need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.auth.models import Role
from kavach.errors import NotFoundError, PermissionDeniedError
from kavach.store.base import utcnow
from kavach.takedown import service as takedown
from kavach.takedown.models import ItemStatus, Notice, TakedownEvent, TakedownItem
from kavach.takedown.settings import TakedownSettings
from kavach.takedown.stats import PLOTS, Statistics, compute, plot
from kavach.takedown.transparency import transparency_report, year_bounds
from kavach.web.ui.deps import ConsoleRoute, ConsoleUser, UserDep
from kavach.web.ui.templating import CONSOLE, add_nav_link, add_template_dir, render
from kavach.web.ui.work import in_session

__all__ = ["router"]

router = APIRouter(prefix=CONSOLE, route_class=ConsoleRoute, include_in_schema=False)

add_template_dir(Path(__file__).parent / "templates")
add_nav_link("Takedowns", f"{CONSOLE}/takedowns", order=40)
add_nav_link("Statistics", f"{CONSOLE}/statistics", order=45)

_ANALYSTS = frozenset({Role.ADMIN, Role.ANALYST})


def _analyst(user: ConsoleUser) -> None:
    if user.role not in _ANALYSTS:
        raise PermissionDeniedError("takedowns are for analysts")


def _board(session: Session, organisation_id: int, status: str | None) -> dict[str, Any]:
    query = select(TakedownItem).where(TakedownItem.organisation_id == organisation_id)
    if status:
        query = query.where(TakedownItem.status == ItemStatus(status))
    items = list(session.scalars(query.order_by(TakedownItem.first_reported_at.desc()).limit(200)))
    for item in items:
        session.expunge(item)
    return {"items": items, "statuses": [s.value for s in ItemStatus], "status": status or ""}


@router.get("/takedowns")
async def board(
    request: Request,
    user: UserDep,
    status: Annotated[str | None, Query(pattern="^[a-z_]*$")] = None,
) -> Response:
    """Reported URLs of the organisation, newest first, by status."""
    _analyst(user)
    if status and status not in {s.value for s in ItemStatus}:
        status = None
    context = await in_session(request, _board, user.organisation_id, status or None)
    context["now"] = utcnow()
    return render(request, "takedowns.html", context)


def _detail(session: Session, organisation_id: int, reference: str) -> dict[str, Any]:
    item = takedown.find_item(session, reference)
    if item.organisation_id != organisation_id:
        raise NotFoundError(f"no report with reference {reference}")
    events = list(
        session.scalars(
            select(TakedownEvent)
            .where(TakedownEvent.item_id == item.id)
            .order_by(TakedownEvent.at, TakedownEvent.id)
        )
    )
    notices = list(
        session.scalars(select(Notice).where(Notice.item_id == item.id).order_by(Notice.id))
    )
    for row in (item, *events, *notices):
        session.expunge(row)
    return {"item": item, "events": events, "notices": notices}


@router.get("/takedowns/{reference}")
async def detail(
    request: Request, user: UserDep, reference: Annotated[str, PathParam(max_length=20)]
) -> Response:
    """One item: attribution, matches, notices and its event history."""
    _analyst(user)
    context = await in_session(request, _detail, user.organisation_id, reference)
    return render(request, "takedown_item.html", context)


def _update(session: Session, user: ConsoleUser, reference: str, action: str, reason: str) -> str:
    item = takedown.find_item(session, reference)
    if item.organisation_id != user.organisation_id:
        raise NotFoundError(f"no report with reference {reference}")
    if action == "dedicated":
        takedown.mark_dedicated(session, item, not item.dedicated_domain, actor=user.actor)
    elif action == "close":
        takedown.close_item(session, item, actor=user.actor, reason=reason, now=utcnow())
    return item.reference


@router.post("/takedowns/{reference}")
async def update(
    request: Request,
    user: UserDep,
    reference: Annotated[str, PathParam(max_length=20)],
    action: Annotated[str, Form(pattern="^(dedicated|close)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Mark the domain dedicated (domain-level blocking) or close the item."""
    _analyst(user)
    ref = await in_session(request, _update, user, reference, action, reason)
    return RedirectResponse(f"{CONSOLE}/takedowns/{ref}", status_code=303)


def _stats(session: Session, year: int | None) -> Statistics:
    if year is None:
        return compute(session)
    start, end = year_bounds(year)
    return compute(session, start=start, end=end)


@router.get("/statistics")
async def statistics_page(
    request: Request, user: UserDep, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> Response:
    """Reports, confirmations, hosting and time to removal, with plots."""
    _analyst(user)
    stats = await in_session(request, _stats, year)
    suffix = f"?year={year}" if year else ""
    context = {
        "s": stats,
        "year": year,
        "this_year": utcnow().year,
        "plots": [(name, f"{CONSOLE}/statistics/plot/{name}.png{suffix}") for name in PLOTS],
    }
    return render(request, "statistics.html", context)


@router.get("/statistics/plot/{name}.png")
async def statistics_plot(
    request: Request,
    user: UserDep,
    name: Annotated[str, PathParam(pattern="^(" + "|".join(PLOTS) + ")$")],
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """One plot as PNG."""
    _analyst(user)
    stats = await in_session(request, _stats, year)
    from fastapi.concurrency import run_in_threadpool

    png = await run_in_threadpool(plot, stats, name, "png")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.get("/statistics/report/{year}.html")
async def statistics_report(
    request: Request, user: UserDep, year: Annotated[int, PathParam(ge=2000, le=2100)]
) -> Response:
    """The yearly transparency report (a self-contained HTML file, downloaded)."""
    _analyst(user)
    portal = getattr(request.app.state, "portal", None)
    settings: TakedownSettings = portal.settings if portal is not None else TakedownSettings()
    html = await in_session(request, transparency_report, year, settings)
    return HTMLResponse(
        html,
        headers={"Content-Disposition": f'attachment; filename="kavach-transparency-{year}.html"'},
    )
