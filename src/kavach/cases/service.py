"""Case operations: open cases, add items, find them. Review and grading live in ``review``.

Every function takes the caller's session and leaves commit/rollback to it; every change is
written to the audit log in the same transaction.

The functions a web page calls (documented in docs/review.md):

- :func:`open_case`, :func:`add_item`, :func:`get_case`, :func:`find_case`, :func:`list_cases`,
  :func:`case_items`, :func:`update_details`, :func:`close_case`;
- from :mod:`kavach.cases.review`: ``queue``, ``next_item``, ``view_item``, ``reveal``, ``grade``,
  ``get_preferences``, ``set_preferences``, ``get_policy``, ``set_policy``, ``queue_stats``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kavach import audit
from kavach.banks.models import Bank
from kavach.cases.models import (
    Case,
    CaseItem,
    CaseSource,
    CaseStatus,
    ItemKind,
    ItemStatus,
)
from kavach.cases.priority import SOURCE_TRUST, item_priority
from kavach.errors import ConflictError, InputError, NotFoundError
from kavach.signals.types import SignalType, format_hash, parse_hash
from kavach.store.base import utcnow

__all__ = [
    "add_item",
    "case_items",
    "check_hash",
    "close_case",
    "content_key",
    "find_case",
    "get_case",
    "get_item",
    "item_counts",
    "list_cases",
    "open_case",
    "update_details",
]

# The order in which an item's own hashes name its content: the strongest exact digest first.
_KEY_ORDER = (
    SignalType.SHA256,
    SignalType.SHA1,
    SignalType.MD5,
    SignalType.PDQ,
    SignalType.VPDQ,
    SignalType.PHOTODNA,
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def open_case(
    session: Session,
    *,
    organisation_id: int,
    source: str,
    title: str,
    details: dict[str, Any] | None = None,
    priority: int = 0,
    name: str | None = None,
    actor: str = "system",
) -> Case:
    """Open a case for ``organisation_id``; ``source`` is api, scan, portal, referral or manual.

    ``name`` (letters, digits, ``.``, ``_``, ``-``; unique in the organisation) is the handle the
    CLI takes; without one the case is called ``case-<id>``.
    """
    try:
        src = CaseSource(source)
    except ValueError:
        known = ", ".join(s.value for s in CaseSource)
        raise InputError(f"unknown case source {source!r}; expected one of {known}") from None
    title = title.strip()[:300] or f"{src.value} case"
    if name is not None:
        name = name.strip()
        if not _NAME.match(name) or name.isdigit():
            raise InputError(
                f"case name {name!r} must be 1-100 letters, digits, '.', '_' or '-', "
                "not only digits"
            )
        taken = session.scalar(
            select(Case.id).where(Case.organisation_id == organisation_id, Case.name == name)
        )
        if taken is not None:
            raise ConflictError(f"a case called {name!r} already exists (id {taken})")
    case = Case(
        organisation_id=organisation_id,
        # A unique placeholder until the id is known.
        name=name or f"new-{secrets.token_hex(8)}",
        title=title,
        source=src,
        priority=priority,
        details=dict(details or {}),
        opened_by=actor,
    )
    session.add(case)
    session.flush()
    if name is None:
        case.name = f"case-{case.id}"
        session.flush()
    audit.record(
        session,
        actor=actor,
        action="case.open",
        subject=f"case:{case.id}",
        organisation_id=organisation_id,
        details={"source": src.value, "name": case.name},
    )
    return case


def add_item(
    session: Session,
    case: Case,
    *,
    kind: str,
    hashes: dict[str, str] | None = None,
    url: str | None = None,
    matches: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    actor: str = "system",
) -> CaseItem:
    """Add a file, URL or hash set to ``case``; it waits in the review queue.

    ``hashes`` maps signal types to their text (hex; PhotoDNA base64) and is checked; ``matches``
    are the bank matches that put the item here (``bank``, ``signal_type``, ``value``,
    ``distance``, ``labels`` [{scheme, value}], optional ``trust``). If the organisation has
    already decided the same content, the item takes that decision and is not queued.
    """
    try:
        item_kind = ItemKind(kind)
    except ValueError:
        raise InputError(f"unknown item kind {kind!r}; expected file, url or hashes") from None
    clean = _clean_hashes(hashes or {})
    if item_kind is ItemKind.URL:
        if not url or not url.strip():
            raise InputError("a url item needs a url")
    elif not clean:
        raise InputError(f"a {item_kind.value} item needs at least one hash")
    if url is not None and len(url) > 2000:
        raise InputError("a url may be at most 2000 characters")
    key = content_key(clean, url)
    found = list(matches or [])
    item = CaseItem(
        case_id=case.id,
        organisation_id=case.organisation_id,
        kind=item_kind,
        hashes=clean,
        content_key=key,
        url=url.strip() if url else None,
        matches=found,
        attributes=dict(metadata or {}),
        priority=case.priority * 1000 + item_priority(found, _trust(session, found)),
    )
    prior = _prior_decision(session, case.organisation_id, key)
    if prior is not None:
        item.status = ItemStatus.INHERITED
        item.decision_scheme, item.decision_value = prior.decision_scheme, prior.decision_value
        item.decided_at = utcnow()
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="case.item_add",
        subject=f"item:{item.id}",
        organisation_id=case.organisation_id,
        details={
            "case": case.id,
            "kind": item_kind.value,
            "inherited_from": prior.id if prior is not None else None,
        },
    )
    return item


def content_key(hashes: dict[str, str], url: str | None = None) -> str:
    """What makes two items the same content: their strongest hash, else their URL."""
    for st in _KEY_ORDER:
        if st.value in hashes:
            return f"{st.value}:{hashes[st.value]}"
    if url:
        return f"url:{url.strip()[:390]}"
    raise InputError("an item needs a hash or a url")


def _trust(session: Session, matches: list[dict[str, Any]]) -> dict[str, int]:
    names = {str(m.get("bank")) for m in matches if m.get("bank")}
    if not names:
        return {}
    rows = session.execute(select(Bank.name, Bank.source).where(Bank.name.in_(names))).all()
    return {name: SOURCE_TRUST.get(str(source), 1) for name, source in rows}


def check_hash(name: str, text: str) -> str:
    """``text`` as the canonical form of a ``name`` hash, or InvalidHashError."""
    st = SignalType.parse(name)
    if not isinstance(text, str):
        raise InputError(f"the {st.value} hash must be text")
    return format_hash(st, parse_hash(st, text))


def _clean_hashes(hashes: dict[str, str]) -> dict[str, str]:
    return {SignalType.parse(name).value: check_hash(name, text) for name, text in hashes.items()}


def _prior_decision(session: Session, organisation_id: int, key: str) -> CaseItem | None:
    return session.scalars(
        select(CaseItem)
        .where(
            CaseItem.organisation_id == organisation_id,
            CaseItem.content_key == key,
            CaseItem.status == ItemStatus.DECIDED,
        )
        .order_by(CaseItem.decided_at)
        .limit(1)
    ).first()


def get_case(session: Session, case_id: int, *, organisation_id: int | None = None) -> Case:
    """The case with ``case_id`` (in ``organisation_id`` when given), or NotFoundError."""
    case = session.get(Case, case_id)
    if case is None or (organisation_id is not None and case.organisation_id != organisation_id):
        raise NotFoundError(f"no case with id {case_id}")
    return case


def find_case(session: Session, ref: str, *, organisation_id: int | None = None) -> Case:
    """A case by id (digits) or name; a name shared by two organisations needs the organisation."""
    ref = ref.strip()
    if ref.isdigit():
        return get_case(session, int(ref), organisation_id=organisation_id)
    stmt = select(Case).where(Case.name == ref)
    if organisation_id is not None:
        stmt = stmt.where(Case.organisation_id == organisation_id)
    found = list(session.scalars(stmt.limit(2)))
    if not found:
        raise NotFoundError(f"no case with id or name {ref!r}; see `kavach report cases`")
    if len(found) > 1:
        raise InputError(f"two organisations have a case called {ref!r}; give its id")
    return found[0]


def get_item(session: Session, item_id: int, *, organisation_id: int | None = None) -> CaseItem:
    """The item with ``item_id`` (in ``organisation_id`` when given), or NotFoundError."""
    item = session.get(CaseItem, item_id)
    if item is None or (organisation_id is not None and item.organisation_id != organisation_id):
        raise NotFoundError(f"no case item with id {item_id}")
    return item


def list_cases(
    session: Session,
    *,
    organisation_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Case]:
    """Cases, newest first, optionally of one organisation and status."""
    stmt = select(Case).order_by(Case.id.desc()).limit(max(1, min(limit, 1000))).offset(offset)
    if organisation_id is not None:
        stmt = stmt.where(Case.organisation_id == organisation_id)
    if status is not None:
        try:
            stmt = stmt.where(Case.status == CaseStatus(status))
        except ValueError:
            raise InputError(f"unknown case status {status!r}") from None
    return list(session.scalars(stmt))


def case_items(session: Session, case: Case) -> Sequence[CaseItem]:
    """The items of ``case`` in the order they were added, with their reviews loaded."""
    return session.scalars(
        select(CaseItem)
        .where(CaseItem.case_id == case.id)
        .options(selectinload(CaseItem.reviews))
        .order_by(CaseItem.id)
    ).all()


def item_counts(session: Session, case: Case) -> dict[str, int]:
    """How many items of ``case`` are in each status."""
    rows = session.execute(
        select(CaseItem.status, func.count())
        .where(CaseItem.case_id == case.id)
        .group_by(CaseItem.status)
    ).all()
    return {str(status): int(count) for status, count in rows}


def update_details(session: Session, case: Case, details: dict[str, Any], *, actor: str) -> Case:
    """Merge ``details`` (incident, reported person, IP events...) into the case's details."""
    merged = dict(case.details)
    merged.update(details)
    case.details = merged
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="case.update",
        subject=f"case:{case.id}",
        organisation_id=case.organisation_id,
        details={"keys": sorted(details)},
    )
    return case


def close_case(session: Session, case: Case, *, actor: str, reason: str = "") -> Case:
    """Close ``case`` (its items stay, decisions and reports too)."""
    case.status = CaseStatus.CLOSED
    case.closed_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="case.close",
        subject=f"case:{case.id}",
        organisation_id=case.organisation_id,
        details={"reason": reason[:500]},
    )
    return case
