"""A case's Reports tab: generate NCMEC, India, VICS and HTML reports, submit to NCMEC.

The documents are built by :mod:`kavach.reports`; a generated report is recorded (its SHA-256,
audited) and handed to the browser as a download, not kept. Submitting queues the CyberTipline
report in the outbox (:func:`kavach.reports.submit.queue_ncmec`); the worker sends it and the
tab shows its status (polled by htmx while one is queued).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from kavach.cases import service as case_service
from kavach.cases.models import Case
from kavach.errors import InputError, KavachError, PermissionDeniedError
from kavach.evidence import Vault
from kavach.reports.details import case_details, ncmec_missing
from kavach.reports.html import case_context, render_case
from kavach.reports.india import india_csv, india_json, india_report
from kavach.reports.items import reported_items
from kavach.reports.models import CaseReport, ReportKind, ReportStatus
from kavach.reports.ncmec import report_for_case
from kavach.reports.submit import queue_ncmec, record_report
from kavach.reports.vics import vics_export
from kavach.web.ui.deps import ConsoleRoute, ConsoleUser, UserDep, is_htmx
from kavach.web.ui.details import EDITORS, details_url
from kavach.web.ui.media import vault_of
from kavach.web.ui.pages import CasePage, case_page_data
from kavach.web.ui.queries import case_reports
from kavach.web.ui.templating import CONSOLE, render
from kavach.web.ui.work import in_session

__all__ = ["FORMATS", "ReportFormat", "generate", "router"]

router = APIRouter(prefix=CONSOLE, route_class=ConsoleRoute, include_in_schema=False)

_SUBMITTERS = frozenset({"analyst", "admin"})


@dataclass(frozen=True, slots=True)
class ReportFormat:
    """One document the tab can generate."""

    slug: str
    kind: ReportKind
    label: str
    media_type: str
    extension: str


FORMATS: dict[str, ReportFormat] = {
    f.slug: f
    for f in (
        ReportFormat("ncmec", ReportKind.NCMEC, "NCMEC CyberTipline XML", "application/xml", "xml"),
        ReportFormat(
            "india", ReportKind.INDIA, "India (POCSO rule 11) JSON", "application/json", "json"
        ),
        ReportFormat("india-csv", ReportKind.INDIA, "India (cyber portal) CSV", "text/csv", "csv"),
        ReportFormat("vics", ReportKind.VICS, "VICS 2.0 case JSON", "application/json", "json"),
        ReportFormat("html", ReportKind.HTML, "Printable HTML case report", "text/html", "html"),
    )
}
"""The formats by their URL slug."""


def generate(
    session: Session, case: Case, fmt: ReportFormat, *, actor: str, vault: Vault | None
) -> bytes:
    """Build ``fmt`` for ``case`` and record it (SHA-256 and audit entry); return the bytes."""
    if fmt.slug == "ncmec":
        document = report_for_case(session, case, case_details(case))
    elif fmt.slug == "india":
        document = india_json(india_report(session, case))
    elif fmt.slug == "india-csv":
        document = india_csv(india_report(session, case))
    elif fmt.slug == "vics":
        document = vics_export(session, case)
    else:
        document = render_case(case_context(session, case, actor=actor, vault=vault))
    record_report(session, case, fmt.kind, document, actor=actor)
    return document


@dataclass(frozen=True, slots=True)
class ReportsTab:
    """The reports tab's context."""

    case_page: CasePage
    reports: list[CaseReport]
    formats: list[ReportFormat]
    can_submit: bool
    pending: bool
    confirmed: int
    """Items a person confirmed with a label: what NCMEC and India reports carry."""
    ncmec_missing: list[str]
    """Fields the CyberTipline report needs that the case lacks (or what is malformed)."""
    india_missing: list[str]
    """Rule 11 and portal fields still empty (the export is made anyway and lists them)."""
    details_url: str
    can_edit_details: bool
    error: str = ""


def _missing(session: Session, case: Case) -> tuple[list[str], list[str]]:
    try:
        details = case_details(case)
    except InputError as exc:
        # Malformed details stop every report; the message names the field.
        return [exc.message], [exc.message]
    return ncmec_missing(details), list(india_report(session, case)["missing"])


def _tab(session: Session, who: ConsoleUser, case_id: int, error: str = "") -> ReportsTab:
    page = case_page_data(session, who.organisation_id, case_id)
    reports = case_reports(session, case_id)
    ncmec, india = _missing(session, page.case)
    return ReportsTab(
        case_page=page,
        reports=reports,
        formats=list(FORMATS.values()),
        can_submit=who.role.value in _SUBMITTERS,
        pending=any(r.status is ReportStatus.QUEUED for r in reports),
        confirmed=len(reported_items(session, page.case)),
        ncmec_missing=ncmec,
        india_missing=india,
        details_url=details_url(case_id),
        can_edit_details=who.role.value in EDITORS,
        error=error,
    )


async def _tab_with_error(
    request: Request, who: ConsoleUser, case_id: int, exc: KavachError
) -> Response:
    """The tab again, the error in its alert region, what is missing and where to fill it in."""
    tab = await in_session(request, _tab, who, case_id, exc.message)
    return render(
        request,
        "reports.html",
        {"page": tab.case_page, "tab": "reports", "t": tab},
        status_code=exc.http_status,
    )


@router.get("/cases/{case_id}/reports")
async def reports_tab(request: Request, case_id: int, user: UserDep) -> Response:
    """The case's reports and their status; buttons to generate and submit."""
    tab = await in_session(request, _tab, user, case_id)
    if is_htmx(request):
        return render(request, "_reports_table.html", {"tab": tab})
    return render(request, "reports.html", {"page": tab.case_page, "tab": "reports", "t": tab})


def _make(
    session: Session, who: ConsoleUser, case_id: int, fmt: ReportFormat, vault: Vault | None
) -> tuple[str, bytes]:
    case = case_service.get_case(session, case_id, organisation_id=who.organisation_id)
    return case.name, generate(session, case, fmt, actor=who.actor, vault=vault)


@router.post("/cases/{case_id}/reports/generate")
async def generate_report(
    request: Request,
    case_id: int,
    user: UserDep,
    format: Annotated[str, Form(max_length=20)],
) -> Response:
    """Generate one report and download it (recorded and audited; the file is not kept)."""
    fmt = FORMATS.get(format)
    if fmt is None:
        raise InputError(f"unknown report format {format!r}; expected one of {', '.join(FORMATS)}")
    try:
        name, document = await in_session(request, _make, user, case_id, fmt, vault_of(request))
    except InputError as exc:
        return await _tab_with_error(request, user, case_id, exc)
    filename = f"{name}-{fmt.slug}.{fmt.extension}"
    return Response(
        document,
        media_type=fmt.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store, private",
        },
    )


def _submit(session: Session, who: ConsoleUser, case_id: int) -> int:
    case = case_service.get_case(session, case_id, organisation_id=who.organisation_id)
    return queue_ncmec(session, case, actor=who.actor).id


@router.post("/cases/{case_id}/reports/ncmec/submit")
async def submit_report(request: Request, case_id: int, user: UserDep) -> Response:
    """Queue the case's CyberTipline report for the worker to submit (analysts and admins)."""
    if user.role.value not in _SUBMITTERS:
        raise PermissionDeniedError("reports are submitted by an analyst or admin")
    try:
        await in_session(request, _submit, user, case_id)
    except InputError as exc:
        return await _tab_with_error(request, user, case_id, exc)
    return RedirectResponse(f"{CONSOLE}/cases/{case_id}/reports", status_code=303)
