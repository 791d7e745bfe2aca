"""The console's read pages: dashboard and case list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from kavach.cases import service as case_service
from kavach.cases.models import Case
from kavach.web.ui import queries
from kavach.web.ui.deps import ConsoleRoute, UserDep
from kavach.web.ui.templating import CONSOLE, render
from kavach.web.ui.work import in_session

__all__ = ["router"]

router = APIRouter(prefix=CONSOLE, route_class=ConsoleRoute, include_in_schema=False)


@router.get("")
async def console_root() -> Response:
    """``/console`` → ``/console/``."""
    return RedirectResponse(f"{CONSOLE}/", status_code=307)


@router.get("/")
async def dashboard(request: Request, user: UserDep) -> Response:
    """Matches today, the queue's depth and reports by status, for the user's organisation."""
    board = await in_session(request, queries.dashboard, user.organisation_id)
    return render(request, "dashboard.html", {"board": board})


@router.get("/cases")
async def case_list(request: Request, user: UserDep) -> Response:
    """The organisation's cases."""
    found = await in_session(request, _cases, user.organisation_id)
    context: dict[str, Any] = {"cases": found}
    return render(request, "cases.html", context)


def _cases(session: Session, organisation_id: int) -> list[Case]:
    return case_service.list_cases(session, organisation_id=organisation_id, limit=200)
