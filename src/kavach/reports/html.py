"""A printable HTML case report for police and courts (print to PDF from any browser).

It shows the case, its details, every item's hashes, matches, grades and decision, whether a
person viewed it, the reports made, and the case's audit trail with the chain head at the time.
No media, except with ``vault`` given for items whose evidence is retained: then a small
thumbnail, blurred and in greyscale, made here (the original is never put in the page).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from PIL import Image, ImageFilter, UnidentifiedImageError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kavach import audit
from kavach.audit import AuditRecord
from kavach.cases.models import Case, CaseItem, Review
from kavach.evidence import Vault, for_item, read_for_report
from kavach.reports.details import case_details
from kavach.reports.items import all_items
from kavach.reports.models import CaseReport
from kavach.reports.vics import kavach_version
from kavach.store.base import utcnow
from kavach.store.models import Organisation

__all__ = ["CaseReportContext", "ItemView", "case_context", "render_case"]

_THUMB = 160
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class ItemView:
    """One item as the report shows it."""

    item: CaseItem
    reviews: list[Review]
    thumbnail: str | None
    """A data: URI of a blurred greyscale thumbnail, or None."""


@dataclass(frozen=True)
class CaseReportContext:
    """Everything ``case.html`` renders (typed, so the template cannot drift silently)."""

    case: Case
    organisation: Organisation | None
    details: dict[str, Any]
    items: list[ItemView]
    reports: list[CaseReport]
    trail: list[AuditRecord]
    chain_head: tuple[int, str]
    generated_at: str
    generated_by: str
    version: str


def case_context(
    session: Session, case: Case, *, actor: str, vault: Vault | None = None
) -> CaseReportContext:
    """Collect the report's content; with ``vault``, retained items get blurred thumbnails
    (each evidence read is audited as a key use by ``actor``)."""
    details = case_details(case)
    items = all_items(session, case)
    ids = [i.id for i in items]
    reviews: dict[int, list[Review]] = {}
    if ids:
        for r in session.scalars(select(Review).where(Review.item_id.in_(ids)).order_by(Review.id)):
            reviews.setdefault(r.item_id, []).append(r)
    views = [
        ItemView(i, reviews.get(i.id, []), _thumbnail(session, vault, i, actor) if vault else None)
        for i in items
    ]
    subjects = [f"case:{case.id}", *(f"item:{i}" for i in ids)]
    reports = list(
        session.scalars(
            select(CaseReport).where(CaseReport.case_id == case.id).order_by(CaseReport.id)
        )
    )
    subjects += [f"report:{r.id}" for r in reports]
    trail = list(
        session.scalars(
            select(AuditRecord)
            .where(or_(*(AuditRecord.subject == s for s in subjects)))
            .order_by(AuditRecord.seq)
        )
    )
    return CaseReportContext(
        case=case,
        organisation=session.get(Organisation, case.organisation_id),
        details=details.model_dump(mode="json", exclude_none=True),
        items=views,
        reports=reports,
        trail=trail,
        chain_head=audit.head(session),
        generated_at=utcnow().strftime("%Y-%m-%d %H:%M:%S UTC"),
        generated_by=actor,
        version=kavach_version(),
    )


def _thumbnail(session: Session, vault: Vault | None, item: CaseItem, actor: str) -> str | None:
    blob = for_item(session, item) if vault is not None else None
    if blob is None or vault is None or not blob.media_type.startswith("image/"):
        return None
    data = read_for_report(session, vault, blob, actor=actor)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.thumbnail((_THUMB, _THUMB))
            grey = img.convert("L").filter(ImageFilter.GaussianBlur(radius=12))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None
    out = io.BytesIO()
    grey.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def render_case(context: CaseReportContext) -> bytes:
    """The report as a standalone HTML page (UTF-8, inline CSS, no external assets)."""
    return _env.get_template("case.html").render(ctx=context).encode("utf-8")
