"""Review: the queue, viewing and revealing items, grading, four-eyes decisions, preferences.

Rules (docs/review.md):

- the queue holds an organisation's undecided items, highest priority first; a reviewer never
  gets an item whose content they already graded, nor one the organisation already decided;
- a decision needs ``required_agreements`` (default 2) independent grades that agree; grades
  that disagree put the item to further reviewers (``disputed``) and, if no value reaches the
  count once one more grade than needed is in, to an analyst or admin (``escalated``), whose
  grade decides;
- "needs escalation" sends an item to analysts and admins at once;
- a decided abuse label adds the item's hashes to the organisation's target bank, if it has one;
- revealing an item marks it viewed by a person (NCMEC ``fileViewedByEsp``); every view,
  reveal, grade, decision and settings change is audited.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from kavach import audit
from kavach.auth.models import Role, User
from kavach.banks.formats import HashRecord, Label
from kavach.banks.service import add_entries, get_bank
from kavach.cases.models import (
    Case,
    CaseItem,
    CaseStatus,
    ItemStatus,
    Review,
    ReviewPolicy,
    ReviewPreference,
)
from kavach.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from kavach.signals.types import SignalType, parse_hash
from kavach.store.base import utcnow
from kavach.store.models import Organisation

__all__ = [
    "ESCALATE",
    "LABEL_SCHEMES",
    "NOT_ABUSE",
    "VERDICT",
    "DisplayPreferences",
    "GradeOutcome",
    "QueueStats",
    "actor_of",
    "check_grade",
    "get_policy",
    "get_preferences",
    "grade",
    "next_item",
    "queue",
    "queue_stats",
    "reveal",
    "set_policy",
    "set_preferences",
    "view_item",
]

LABEL_SCHEMES: dict[str, tuple[str, ...]] = {
    "industry": ("A1", "A2", "B1", "B2"),
    "uk": ("A", "B", "C"),
    "vics-us": ("0", "1", "2", "3", "4"),
}
"""The grading schemes and their values (docs/banks.md: industry, UK legal, Project VIC US)."""

VERDICT = "verdict"
"""The scheme of grades that are not labels: :data:`NOT_ABUSE` and :data:`ESCALATE`."""
NOT_ABUSE = "not_abuse"
ESCALATE = "escalate"

_GRADERS = frozenset({Role.REVIEWER, Role.ANALYST, Role.ADMIN})
_SENIOR = frozenset({Role.ANALYST, Role.ADMIN})
_OPEN = (ItemStatus.QUEUED, ItemStatus.DISPUTED)


@dataclass(frozen=True, slots=True)
class DisplayPreferences:
    """How a reviewer sees media: the effective settings and whether they may change them."""

    blur: bool
    greyscale: bool
    can_unblur: bool
    can_colour: bool


@dataclass(frozen=True, slots=True)
class GradeOutcome:
    """What a grade did: the item's status after it, and the decision if one was reached."""

    review_id: int
    status: ItemStatus
    decision: tuple[str, str] | None = None
    banked_in: str | None = None
    inherited: int = 0
    """How many other items with the same content took the decision."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Queue depth for a dashboard."""

    queued: int
    disputed: int
    escalated: int
    decided_today: int


def actor_of(user: User) -> str:
    """The audit actor for ``user``."""
    return f"user:{user.username}"


def _check_user(user: User, item: CaseItem | None = None) -> None:
    if user.disabled_at is not None:
        raise PermissionDeniedError("this user is disabled")
    if user.role not in _GRADERS:
        raise PermissionDeniedError(f"the {user.role.value} role does not review")
    if item is not None and item.organisation_id != user.organisation_id:
        # Same answer as a missing item: other organisations' cases are not to be probed.
        raise NotFoundError(f"no case item with id {item.id}")


def _eligible(user: User) -> list[ColumnElement[bool]]:
    statuses = [*_OPEN, ItemStatus.ESCALATED] if user.role in _SENIOR else list(_OPEN)
    mine = aliased(Review)
    decided = aliased(CaseItem)
    return [
        CaseItem.organisation_id == user.organisation_id,
        CaseItem.status.in_(statuses),
        ~exists().where(
            and_(mine.reviewer_id == user.id, mine.content_key == CaseItem.content_key)
        ),
        ~exists().where(
            and_(
                decided.organisation_id == CaseItem.organisation_id,
                decided.content_key == CaseItem.content_key,
                decided.status == ItemStatus.DECIDED,
            )
        ),
    ]


def queue(session: Session, user: User, *, limit: int = 50, offset: int = 0) -> list[CaseItem]:
    """The items ``user`` may grade next, highest priority first (oldest first within one)."""
    _check_user(user)
    stmt = (
        select(CaseItem)
        .where(*_eligible(user))
        .order_by(CaseItem.priority.desc(), CaseItem.id)
        .limit(max(1, min(limit, 500)))
        .offset(max(offset, 0))
    )
    return list(session.scalars(stmt))


def next_item(session: Session, user: User) -> CaseItem | None:
    """The next item for ``user``; never one whose content they or their organisation graded."""
    found = queue(session, user, limit=1)
    return found[0] if found else None


def queue_stats(session: Session, organisation_id: int) -> QueueStats:
    """Items waiting, disputed and escalated, and decided in the last 24 hours."""
    rows = dict(
        session.execute(
            select(CaseItem.status, func.count())
            .where(CaseItem.organisation_id == organisation_id)
            .where(CaseItem.status.in_([*_OPEN, ItemStatus.ESCALATED]))
            .group_by(CaseItem.status)
        ).all()
    )
    since = utcnow() - dt.timedelta(days=1)
    today = session.scalar(
        select(func.count())
        .select_from(CaseItem)
        .where(
            CaseItem.organisation_id == organisation_id,
            CaseItem.status == ItemStatus.DECIDED,
            CaseItem.decided_at >= since,
        )
    )
    return QueueStats(
        queued=int(rows.get(ItemStatus.QUEUED, 0)),
        disputed=int(rows.get(ItemStatus.DISPUTED, 0)),
        escalated=int(rows.get(ItemStatus.ESCALATED, 0)),
        decided_today=int(today or 0),
    )


def view_item(session: Session, item: CaseItem, user: User) -> None:
    """Record that ``user`` opened ``item`` (still blurred: hashes, matches, metadata)."""
    _check_user(user, item)
    audit.record(
        session,
        actor=actor_of(user),
        action="item.view",
        subject=f"item:{item.id}",
        organisation_id=item.organisation_id,
        details={"case": item.case_id},
    )


def reveal(session: Session, item: CaseItem, user: User) -> CaseItem:
    """Record that ``user`` looked at ``item`` unblurred: it is now viewed by a person.

    Call this before showing the media; the audit record names the user.
    """
    _check_user(user, item)
    if not item.viewed_by_person:
        item.viewed_by_person = True
        item.first_viewed_at = utcnow()
        item.first_viewed_by = user.username
    session.flush()
    audit.record(
        session,
        actor=actor_of(user),
        action="media.reveal",
        subject=f"item:{item.id}",
        organisation_id=item.organisation_id,
        details={"case": item.case_id},
    )
    return item


def check_grade(scheme: str, value: str) -> tuple[str, str]:
    """Normalise a grade: a label ``(scheme, value)`` or ``("verdict", not_abuse|escalate)``."""
    scheme, value = scheme.strip().lower(), value.strip()
    if scheme == VERDICT:
        if value.lower() in (NOT_ABUSE, ESCALATE):
            return scheme, value.lower()
        raise InputError(f"a verdict is {NOT_ABUSE!r} or {ESCALATE!r}, not {value!r}")
    values = LABEL_SCHEMES.get(scheme)
    if values is None:
        known = ", ".join([*LABEL_SCHEMES, VERDICT])
        raise InputError(f"unknown grading scheme {scheme!r}; expected one of {known}")
    if value.upper() not in values:
        raise InputError(f"{scheme} grades are {', '.join(values)}, not {value!r}")
    return scheme, value.upper()


def grade(
    session: Session, item: CaseItem, user: User, *, scheme: str, value: str, note: str = ""
) -> GradeOutcome:
    """Record ``user``'s grade of ``item`` and apply the four-eyes rule (see the module doc)."""
    _check_user(user, item)
    scheme, value = check_grade(scheme, value)
    if item.is_decided:
        raise ConflictError(f"item {item.id} is already decided")
    if item.status is ItemStatus.ESCALATED and user.role not in _SENIOR:
        raise PermissionDeniedError("an escalated item is graded by an analyst or admin")
    already = session.scalar(
        select(Review.id).where(
            Review.reviewer_id == user.id, Review.content_key == item.content_key
        )
    )
    if already is not None:
        raise ConflictError("you have already graded this content; a second opinion is needed")
    review = Review(
        item_id=item.id,
        reviewer_id=user.id,
        reviewer=user.username,
        organisation_id=item.organisation_id,
        content_key=item.content_key,
        scheme=scheme,
        value=value,
        note=note[:2000],
        revealed=item.viewed_by_person,
    )
    session.add(review)
    session.flush()
    audit.record(
        session,
        actor=actor_of(user),
        action="review.grade",
        subject=f"item:{item.id}",
        organisation_id=item.organisation_id,
        details={"case": item.case_id, "scheme": scheme, "value": value},
    )
    if (scheme, value) == (VERDICT, ESCALATE):
        if item.status is ItemStatus.ESCALATED:
            raise InputError("the item is already escalated; grade it")
        _set_status(session, item, ItemStatus.ESCALATED, user)
        return GradeOutcome(review.id, item.status)
    if item.status is ItemStatus.ESCALATED:
        return _decide(session, item, (scheme, value), user, review.id)
    policy = get_policy(session, item.organisation_id)
    votes = Counter(
        (r.scheme, r.value)
        for r in session.scalars(select(Review).where(Review.item_id == item.id))
        if (r.scheme, r.value) != (VERDICT, ESCALATE)
    )
    top, count = votes.most_common(1)[0]
    if count >= policy.required_agreements:
        return _decide(session, item, top, user, review.id)
    cast = sum(votes.values())
    if cast > policy.required_agreements:
        _set_status(session, item, ItemStatus.ESCALATED, user)
    elif cast == policy.required_agreements or len(votes) > 1:
        _set_status(session, item, ItemStatus.DISPUTED, user)
    return GradeOutcome(review.id, item.status)


def _set_status(session: Session, item: CaseItem, status: ItemStatus, user: User) -> None:
    if item.status is status:
        return
    item.status = status
    session.flush()
    audit.record(
        session,
        actor=actor_of(user),
        action=f"review.{status.value}",
        subject=f"item:{item.id}",
        organisation_id=item.organisation_id,
        details={"case": item.case_id},
    )


def _decide(
    session: Session, item: CaseItem, decision: tuple[str, str], user: User, review_id: int
) -> GradeOutcome:
    item.status = ItemStatus.DECIDED
    item.decision_scheme, item.decision_value = decision
    item.decided_at = utcnow()
    session.flush()
    banked = _bank(session, item, decision, user) if decision[0] != VERDICT else None
    # Other open items with the same content take the decision: the organisation has decided it.
    inherited = session.execute(
        update(CaseItem)
        .where(
            CaseItem.organisation_id == item.organisation_id,
            CaseItem.content_key == item.content_key,
            CaseItem.id != item.id,
            CaseItem.status.in_([*_OPEN, ItemStatus.ESCALATED]),
        )
        .values(
            status=ItemStatus.INHERITED,
            decision_scheme=decision[0],
            decision_value=decision[1],
            decided_at=item.decided_at,
        )
        .execution_options(synchronize_session="fetch")
    )
    count = int(inherited.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(
        session,
        actor=actor_of(user),
        action="review.decide",
        subject=f"item:{item.id}",
        organisation_id=item.organisation_id,
        details={
            "case": item.case_id,
            "scheme": decision[0],
            "value": decision[1],
            "bank": banked,
            "inherited": count,
        },
    )
    _update_case_status(session, item.case_id)
    return GradeOutcome(review_id, item.status, decision, banked, count)


def _bank(session: Session, item: CaseItem, decision: tuple[str, str], user: User) -> str | None:
    policy = get_policy(session, item.organisation_id)
    if policy.target_bank is None:
        return None
    hashes = tuple(
        (SignalType(name), parse_hash(name, text))
        for name, text in sorted(item.hashes.items())
        # A vpdq item carries only the video's key here, not the frames a bank entry needs.
        if name != SignalType.VPDQ.value
    )
    if not hashes:
        return None
    bank = get_bank(session, policy.target_bank)
    org = session.get(Organisation, item.organisation_id)
    assessor = org.name if org is not None else f"organisation:{item.organisation_id}"
    record = HashRecord(
        hashes=hashes,
        labels=(Label(decision[0], decision[1], assessor, item.decided_at),),
        # One media item: its hashes export together (VICS Media, NCMEC entry).
        item_id=f"case-item-{item.id}",
        attributes={"confirmed_by": "four-eyes review"},
    )
    stats = add_entries(session, bank, [record], added_by=actor_of(user), assessor=assessor)
    item.banked_in = bank.name
    session.flush()
    audit.record(
        session,
        actor=actor_of(user),
        action="bank.add",
        subject=f"bank:{bank.name}",
        organisation_id=item.organisation_id,
        details={"item": item.id, "added": stats.added, "updated": stats.updated},
    )
    return bank.name


def _update_case_status(session: Session, case_id: int) -> None:
    case = session.get(Case, case_id)
    if case is None or case.status is not CaseStatus.OPEN:
        return
    waiting = session.scalar(
        select(func.count())
        .select_from(CaseItem)
        .where(
            CaseItem.case_id == case_id,
            CaseItem.status.in_([*_OPEN, ItemStatus.ESCALATED]),
        )
    )
    if not waiting:
        case.status = CaseStatus.REVIEWED
        session.flush()


def get_policy(session: Session, organisation_id: int) -> ReviewPolicy:
    """The organisation's review policy (the defaults, stored, if it has none yet)."""
    policy = session.get(ReviewPolicy, organisation_id)
    if policy is None:
        policy = ReviewPolicy(
            organisation_id=organisation_id,
            allow_unblur=True,
            allow_colour=True,
            required_agreements=2,
            retention_days=365,
        )
        session.add(policy)
        session.flush()
    return policy


def set_policy(
    session: Session,
    organisation_id: int,
    *,
    actor: str,
    allow_unblur: bool | None = None,
    allow_colour: bool | None = None,
    required_agreements: int | None = None,
    target_bank: str | None = None,
    clear_target_bank: bool = False,
    retention_days: int | None = None,
) -> ReviewPolicy:
    """Change the organisation's review policy; audited as a configuration change.

    ``target_bank`` must be a bank the organisation owns; ``retention_days`` is 1-3650 (365 for
    the US REPORT Act, 180 for India's IT Rules).
    """
    policy = get_policy(session, organisation_id)
    changes: dict[str, object] = {}
    if required_agreements is not None:
        if not 1 <= required_agreements <= 5:
            raise InputError("required agreements must be between 1 and 5 (four-eyes is 2)")
        changes["required_agreements"] = required_agreements
    if retention_days is not None:
        if not 1 <= retention_days <= 3650:
            raise InputError("retention must be 1-3650 days (365 or 180 are the usual values)")
        changes["retention_days"] = retention_days
    if target_bank is not None:
        bank = get_bank(session, target_bank)
        if bank.owner_id != organisation_id:
            raise PermissionDeniedError(f"bank {target_bank!r} belongs to another organisation")
        changes["target_bank"] = bank.name
    elif clear_target_bank:
        changes["target_bank"] = None
    if allow_unblur is not None:
        changes["allow_unblur"] = allow_unblur
    if allow_colour is not None:
        changes["allow_colour"] = allow_colour
    for key, value in changes.items():
        setattr(policy, key, value)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="config.review_policy",
        subject=f"organisation:{organisation_id}",
        organisation_id=organisation_id,
        details={k: v for k, v in changes.items()},
    )
    return policy


def get_preferences(session: Session, user: User) -> DisplayPreferences:
    """``user``'s display settings as they apply: blur and greyscale forced on where the
    organisation forbids turning them off."""
    policy = get_policy(session, user.organisation_id)
    pref = session.get(ReviewPreference, user.id)
    blur = pref.blur if pref is not None else True
    grey = pref.greyscale if pref is not None else True
    return DisplayPreferences(
        blur=blur or not policy.allow_unblur,
        greyscale=grey or not policy.allow_colour,
        can_unblur=policy.allow_unblur,
        can_colour=policy.allow_colour,
    )


def set_preferences(
    session: Session, user: User, *, blur: bool | None = None, greyscale: bool | None = None
) -> DisplayPreferences:
    """Change ``user``'s own display settings, within the organisation's limits (audited)."""
    policy = get_policy(session, user.organisation_id)
    if blur is False and not policy.allow_unblur:
        raise PermissionDeniedError("your organisation keeps media blurred by default")
    if greyscale is False and not policy.allow_colour:
        raise PermissionDeniedError("your organisation keeps media in greyscale by default")
    pref = session.get(ReviewPreference, user.id)
    if pref is None:
        pref = ReviewPreference(user_id=user.id, blur=True, greyscale=True)
        session.add(pref)
    changes: dict[str, object] = {}
    if blur is not None:
        pref.blur = changes["blur"] = blur
    if greyscale is not None:
        pref.greyscale = changes["greyscale"] = greyscale
    session.flush()
    audit.record(
        session,
        actor=actor_of(user),
        action="config.preferences",
        subject=f"user:{user.username}",
        organisation_id=user.organisation_id,
        details=changes,
    )
    return get_preferences(session, user)
