"""The console's read pages: dashboard, case list, a case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from kavach.cases import service as case_service
from kavach.cases.models import Case, CaseItem
from kavach.web.ui import queries
from kavach.web.ui.deps import ConsoleRoute, UserDep
from kavach.web.ui.templating import CONSOLE, render
from kavach.web.ui.work import in_session

__all__ = ["CasePage", "case_page_data", "router"]

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


@dataclass(frozen=True, slots=True)
class CasePage:
    """What a case's page shows (the template's typed context)."""

    case: Case
    items: list[CaseItem]
    counts: dict[str, int]
    details: dict[str, Any]


def case_page_data(session: Session, organisation_id: int, case_id: int) -> CasePage:
    """A case of ``organisation_id`` with its items (reviews loaded) and counts."""
    case = case_service.get_case(session, case_id, organisation_id=organisation_id)
    return CasePage(
        case=case,
        items=list(case_service.case_items(session, case)),
        counts=case_service.item_counts(session, case),
        details=dict(case.details),
    )


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: int, user: UserDep) -> Response:
    """A case: its items (state, decision, viewed flag) and details; reports on their tab."""
    page = await in_session(request, case_page_data, user.organisation_id, case_id)
    return render(request, "case.html", {"page": page, "tab": "items"})
