"""Reviewing: the queue, one item's page, reveal, grading, the media stream, preferences.

The rules live in :mod:`kavach.cases.review` (queue order, four-eyes, audit); this module turns
them into pages and forms. Media (only where evidence is retained) is sent to the browser from
an authenticated, uncached endpoint and shown blurred and greyscale until the reviewer reveals
it; a reveal is recorded (audit + the item's viewed flag) before the unblurred page is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.auth.models import User
from kavach.cases import review
from kavach.cases import service as case_service
from kavach.cases.models import Case, CaseItem, ItemStatus, Review
from kavach.errors import NotFoundError
from kavach.evidence import for_item
from kavach.evidence.store import Vault
from kavach.web.ui.deps import ConsoleRoute, ConsoleUser, UserDep, is_htmx
from kavach.web.ui.media import open_media, vault_of
from kavach.web.ui.templating import CONSOLE, render
from kavach.web.ui.work import in_session

__all__ = ["GradeKey", "ItemPage", "grade_keys", "router"]

router = APIRouter(prefix=CONSOLE, route_class=ConsoleRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class GradeKey:
    """One grade button: its scheme, value and keyboard key."""

    scheme: str
    value: str
    key: str


def grade_keys(scheme: str) -> list[GradeKey]:
    """The grade buttons of ``scheme``: digits name VICS categories themselves (0-4); other
    schemes' values take 1, 2, 3... in order (industry A1 A2 B1 B2 → 1-4)."""
    values = review.LABEL_SCHEMES[scheme]
    if all(v.isdigit() for v in values):
        return [GradeKey(scheme, v, v) for v in values]
    return [GradeKey(scheme, v, str(i)) for i, v in enumerate(values, start=1)]


def _scheme_for(item: CaseItem, asked: str | None) -> str:
    # The scheme the reviewer chose, else the first one the matched banks' labels use.
    if asked in review.LABEL_SCHEMES:
        return str(asked)
    for match in item.matches:
        for label in match.get("labels") or []:
            scheme = str(label.get("scheme", "")) if isinstance(label, dict) else ""
            if scheme in review.LABEL_SCHEMES:
                return scheme
    return "industry"


@dataclass(frozen=True, slots=True)
class ItemPage:
    """Everything an item's page shows (the template's typed context)."""

    item: CaseItem
    case: Case
    scheme: str
    keys: list[GradeKey]
    prefs: review.DisplayPreferences
    has_media: bool
    media_type: str
    revealed: bool
    required: int
    grades_in: int
    visible_reviews: list[Review]
    my_review: Review | None
    can_grade: bool
    why_not: str
    previous_id: int | None
    next_id: int | None
    position: int | None
    queue_length: int
    after: CaseItem | None


def _user(session: Session, who: ConsoleUser) -> User:
    user = session.get(User, who.user_id)
    if user is None:
        raise NotFoundError("your user no longer exists")
    return user


def _item_page(
    session: Session,
    who: ConsoleUser,
    item_id: int,
    *,
    retained: bool,
    scheme: str | None = None,
    reveal: bool = False,
    after: int | None = None,
) -> ItemPage:
    user = _user(session, who)
    item = case_service.get_item(session, item_id, organisation_id=who.organisation_id)
    case = case_service.get_case(session, item.case_id)
    prefs = review.get_preferences(session, user)
    blob = for_item(session, item) if retained else None
    if blob is not None and not blob.media_type.startswith(("image/", "video/")):
        blob = None
    has_media = blob is not None
    # A reviewer who turned blur off sees media at once: that is a reveal, and recorded as one.
    revealed = has_media and (reveal or not prefs.blur)
    if revealed:
        review.reveal(session, item, user)
    else:
        review.view_item(session, item, user)
    reviews = list(
        session.scalars(select(Review).where(Review.item_id == item.id).order_by(Review.id))
    )
    mine = next((r for r in reviews if r.reviewer_id == user.id), None)
    policy = review.get_policy(session, item.organisation_id)
    # Grades stay hidden until a decision, so each reviewer's is independent; analysts and
    # admins see them on items put to them (disputes they settle).
    senior = who.role.value in ("analyst", "admin")
    show_all = item.is_decided or (senior and item.status is ItemStatus.ESCALATED)
    visible = reviews if show_all else [r for r in reviews if r is mine]
    can_grade, why_not = _can_grade(item, mine, senior)
    waiting = review.queue(session, user, limit=200)
    ids = [i.id for i in waiting]
    previous_id = next_id = position = None
    if item.id in ids:
        at = ids.index(item.id)
        position = at + 1
        previous_id = ids[at - 1] if at > 0 else None
        next_id = ids[at + 1] if at + 1 < len(ids) else None
    elif ids:
        next_id = ids[0]
    done = None
    if after is not None and after != item.id:
        done = session.get(CaseItem, after)
        if done is not None and done.organisation_id != who.organisation_id:
            done = None
    chosen = _scheme_for(item, scheme)
    return ItemPage(
        item=item,
        case=case,
        scheme=chosen,
        keys=grade_keys(chosen),
        prefs=prefs,
        has_media=has_media,
        media_type=blob.media_type if blob is not None else "",
        revealed=revealed,
        required=policy.required_agreements,
        grades_in=len(reviews),
        visible_reviews=visible,
        my_review=mine,
        can_grade=can_grade,
        why_not=why_not,
        previous_id=previous_id,
        next_id=next_id,
        position=position,
        queue_length=len(ids),
        after=done,
    )


def _can_grade(item: CaseItem, mine: Review | None, senior: bool) -> tuple[bool, str]:
    if item.is_decided:
        return False, "This item is decided."
    if mine is not None:
        return False, "You have graded this item; another reviewer decides with you."
    if item.status is ItemStatus.ESCALATED and not senior:
        return False, "This item is escalated: an analyst or admin grades it."
    return True, ""


@router.get("/queue")
async def queue_page(request: Request, user: UserDep) -> Response:
    """The items this reviewer may grade, highest priority first."""
    items = await in_session(request, _queue, user)
    return render(request, "queue.html", {"items": items})


def _queue(session: Session, who: ConsoleUser) -> list[CaseItem]:
    return review.queue(session, _user(session, who), limit=200)


@router.get("/review")
async def review_next(request: Request, user: UserDep, after: int | None = None) -> Response:
    """Go to the next item in the queue (or back to the queue when none is left)."""
    found = await in_session(request, _next_id, user)
    if found is None:
        return RedirectResponse(f"{CONSOLE}/queue", status_code=303)
    suffix = f"?after={after}" if after is not None else ""
    return RedirectResponse(f"{CONSOLE}/items/{found}{suffix}", status_code=303)


def _next_id(session: Session, who: ConsoleUser) -> int | None:
    item = review.next_item(session, _user(session, who))
    return item.id if item is not None else None


@router.get("/items/{item_id}")
async def item_page(
    request: Request,
    item_id: int,
    user: UserDep,
    scheme: str | None = None,
    after: int | None = None,
) -> Response:
    """One item: its hashes, matches and metadata, media (blurred) where retained, grading."""
    page = await in_session(
        request,
        _item_page,
        user,
        item_id,
        retained=vault_of(request) is not None,
        scheme=scheme,
        after=after,
    )
    return render(request, "item.html", {"page": page})


@router.post("/items/{item_id}/reveal")
async def reveal(request: Request, item_id: int, user: UserDep) -> Response:
    """Unblur one item's media: recorded with the user, the item marked as viewed by a person."""
    retained = vault_of(request) is not None
    page = await in_session(request, _item_page, user, item_id, retained=retained, reveal=True)
    if is_htmx(request):
        return render(request, "_media.html", {"page": page})
    return render(request, "item.html", {"page": page})


@router.get("/items/{item_id}/media")
async def media(request: Request, item_id: int, user: UserDep) -> Response:
    """The retained file of an item, decrypted, never cached (shown blurred by the page)."""
    vault = vault_of(request)
    if vault is None:
        raise NotFoundError("evidence retention is off: no media is kept")
    data, media_type = await in_session(request, _open, vault, user, item_id)
    return Response(
        data,
        media_type=media_type,
        headers={
            "Cache-Control": "no-store, private",
            "Content-Disposition": "inline",
            "Pragma": "no-cache",
        },
    )


def _open(session: Session, vault: Vault, who: ConsoleUser, item_id: int) -> tuple[bytes, str]:
    return open_media(session, vault, _user(session, who), item_id)


@router.post("/items/{item_id}/grade")
async def grade(
    request: Request,
    item_id: int,
    user: UserDep,
    scheme: Annotated[str, Form(max_length=32)],
    value: Annotated[str, Form(max_length=64)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Record a grade (a label, not abuse material, or escalate), then go to the next item."""
    await in_session(request, _grade, user, item_id, scheme, value, note)
    return RedirectResponse(f"{CONSOLE}/review?after={item_id}", status_code=303)


def _grade(
    session: Session, who: ConsoleUser, item_id: int, scheme: str, value: str, note: str
) -> review.GradeOutcome:
    user = _user(session, who)
    item = case_service.get_item(session, item_id, organisation_id=who.organisation_id)
    return review.grade(session, item, user, scheme=scheme, value=value, note=note)


@router.get("/preferences")
async def preferences_page(request: Request, user: UserDep) -> Response:
    """The reviewer's display settings and the organisation's limits."""
    prefs = await in_session(request, _prefs, user)
    return render(request, "preferences.html", {"prefs": prefs, "saved": False})


def _prefs(session: Session, who: ConsoleUser) -> review.DisplayPreferences:
    return review.get_preferences(session, _user(session, who))


@router.post("/preferences")
async def save_preferences(
    request: Request,
    user: UserDep,
    blur: Annotated[str, Form(max_length=5)] = "",
    greyscale: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Save the display settings (within the organisation's limits: refused past them)."""
    prefs = await in_session(request, _save_prefs, user, blur == "on", greyscale == "on")
    return render(request, "preferences.html", {"prefs": prefs, "saved": True})


def _save_prefs(
    session: Session, who: ConsoleUser, blur: bool, greyscale: bool
) -> review.DisplayPreferences:
    return review.set_preferences(session, _user(session, who), blur=blur, greyscale=greyscale)
