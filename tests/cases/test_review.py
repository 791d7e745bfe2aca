"""Review: queue order, never re-queued content, four-eyes, escalation, reveal, preferences."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from kavach import audit
from kavach.auth.models import Role
from kavach.banks.models import BankSource
from kavach.banks.service import create_bank, ensure_organisation, iter_records
from kavach.cases import review, service
from kavach.cases.models import CaseStatus, ItemStatus
from kavach.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from kavach.store.models import Organisation
from tests.cases.helpers import add_file, make_user


@pytest.fixture
def org(session: Session) -> Organisation:
    return ensure_organisation(session, "Hotline", "IN")


def test_queue_orders_by_priority_and_skips_own_grades(session: Session, org: Organisation) -> None:
    alice = make_user(session, org, "alice")
    case = service.open_case(session, organisation_id=org.id, source="api", title="t")
    far = add_file(session, case, "far", distance=28)
    near = add_file(session, case, "near", distance=0)
    assert [i.id for i in review.queue(session, alice)] == [near.id, far.id]
    assert review.next_item(session, alice).id == near.id
    review.grade(session, near, alice, scheme="industry", value="a1")
    # Alice graded that content: she never gets it again, even as a new item in another case.
    other = service.open_case(session, organisation_id=org.id, source="scan", title="t2")
    again = add_file(session, other, "near")
    assert again.status is ItemStatus.QUEUED
    assert [i.id for i in review.queue(session, alice)] == [far.id]
    with pytest.raises(ConflictError):
        review.grade(session, again, alice, scheme="industry", value="A1")


def test_four_eyes_agree_banks_and_closes(session: Session, org: Organisation) -> None:
    bank = create_bank(session, name="confirmed", owner=org, source=BankSource.LOCAL)
    review.set_policy(session, org.id, actor="user:admin", target_bank="confirmed")
    a, b = make_user(session, org, "a"), make_user(session, org, "b")
    case = service.open_case(session, organisation_id=org.id, source="api", title="t")
    item = add_file(session, case, "one")
    first = review.grade(session, item, a, scheme="industry", value="B1")
    assert first.status is ItemStatus.QUEUED
    assert first.decision is None
    assert review.next_item(session, b).id == item.id
    second = review.grade(session, item, b, scheme="industry", value="B1")
    assert second.decision == ("industry", "B1")
    assert second.banked_in == "confirmed"
    records = list(iter_records(session, bank))
    assert len(records) == 1
    assert {(lb.scheme, lb.value, lb.assessor) for lb in records[0].labels} == {
        ("industry", "B1", "Hotline")
    }
    assert case.status is CaseStatus.REVIEWED
    # Decided by the organisation: new items with that content inherit and are never queued.
    later = add_file(session, case, "one")
    assert later.status is ItemStatus.INHERITED
    assert (later.decision_scheme, later.decision_value) == ("industry", "B1")
    c = make_user(session, org, "c")
    assert review.next_item(session, c) is None
    actions = [r.action for r in audit.records(session, subject=f"item:{item.id}")]
    assert actions[:3] == ["review.decide", "review.grade", "review.grade"]


def test_disagreement_goes_to_a_third_reviewer(session: Session, org: Organisation) -> None:
    a, b, c, d = (make_user(session, org, n) for n in "abcd")
    case = service.open_case(session, organisation_id=org.id, source="api", title="t")
    item = add_file(session, case, "two")
    other = add_file(session, case, "two-b")
    review.grade(session, item, a, scheme="industry", value="A2")
    out = review.grade(session, item, b, scheme="verdict", value="not_abuse")
    assert out.status is ItemStatus.DISPUTED
    assert review.next_item(session, c).id == item.id
    third = review.grade(session, item, c, scheme="verdict", value="not_abuse")
    assert third.decision == ("verdict", "not_abuse")
    assert third.banked_in is None
    # Three different grades: the item goes to an analyst, whose grade decides.
    review.grade(session, other, a, scheme="industry", value="A1")
    review.grade(session, other, b, scheme="industry", value="A2")
    assert review.grade(session, other, c, scheme="uk", value="b").status is ItemStatus.ESCALATED
    assert review.next_item(session, d) is None
    analyst = make_user(session, org, "senior", Role.ANALYST)
    assert review.next_item(session, analyst).id == other.id
    with pytest.raises(PermissionDeniedError):
        review.grade(session, other, d, scheme="industry", value="A1")
    final = review.grade(session, other, analyst, scheme="industry", value="A1")
    assert final.decision == ("industry", "A1")


def test_escalation_and_bad_grades(session: Session, org: Organisation) -> None:
    a = make_user(session, org, "a")
    platform = make_user(session, org, "svc", Role.PLATFORM)
    case = service.open_case(session, organisation_id=org.id, source="portal", title="t")
    item = add_file(session, case, "three")
    with pytest.raises(InputError, match="industry grades"):
        review.grade(session, item, a, scheme="industry", value="C9")
    with pytest.raises(InputError, match="unknown grading scheme"):
        review.grade(session, item, a, scheme="colour", value="red")
    with pytest.raises(PermissionDeniedError):
        review.grade(session, item, platform, scheme="industry", value="A1")
    out = review.grade(session, item, a, scheme="verdict", value="escalate")
    assert out.status is ItemStatus.ESCALATED
    stranger_org = ensure_organisation(session, "Elsewhere")
    stranger = make_user(session, stranger_org, "x", Role.ADMIN)
    with pytest.raises(NotFoundError):
        review.grade(session, item, stranger, scheme="industry", value="A1")
    assert review.queue_stats(session, org.id).escalated == 1


def test_reveal_marks_viewed_and_is_audited(session: Session, org: Organisation) -> None:
    a = make_user(session, org, "a")
    case = service.open_case(session, organisation_id=org.id, source="api", title="t")
    item = add_file(session, case, "four")
    review.view_item(session, item, a)
    assert not item.viewed_by_person
    review.reveal(session, item, a)
    assert item.viewed_by_person
    assert item.first_viewed_by == "a"
    rec = audit.records(session, action="media.reveal")[0]
    assert (rec.actor, rec.subject) == ("user:a", f"item:{item.id}")
    review.grade(session, item, a, scheme="vics-us", value="1")
    assert review.check_grade("vics-us", " 1 ") == ("vics-us", "1")


def test_preferences_within_organisation_limits(session: Session, org: Organisation) -> None:
    a = make_user(session, org, "a")
    prefs = review.get_preferences(session, a)
    assert (prefs.blur, prefs.greyscale) == (True, True)
    prefs = review.set_preferences(session, a, blur=False)
    assert (prefs.blur, prefs.greyscale) == (False, True)
    review.set_policy(session, org.id, actor="user:admin", allow_unblur=False)
    # The organisation's limit wins over the stored preference.
    assert review.get_preferences(session, a).blur is True
    with pytest.raises(PermissionDeniedError):
        review.set_preferences(session, a, blur=False)
    actions = [r.action for r in audit.records(session, action="config.*")]
    assert actions == ["config.review_policy", "config.preferences"]
    with pytest.raises(InputError):
        review.set_policy(session, org.id, actor="user:admin", retention_days=0)


def test_content_the_organisation_decided_is_never_queued_again(
    session: Session, org: Organisation
) -> None:
    a, b, c = (make_user(session, org, n) for n in "abc")
    analyst = make_user(session, org, "lead", Role.ANALYST)
    first = service.open_case(session, organisation_id=org.id, source="api", title="1")
    second = service.open_case(session, organisation_id=org.id, source="scan", title="2")
    third = service.open_case(session, organisation_id=org.id, source="portal", title="3")
    item = add_file(session, first, "same")
    # The same content already waits elsewhere: queued in one case, escalated in another.
    waiting = add_file(session, second, "same")
    escalated = add_file(session, third, "same", distance=4)
    review.grade(session, escalated, c, scheme="verdict", value="escalate")
    assert escalated.status is ItemStatus.ESCALATED
    review.grade(session, item, a, scheme="industry", value="A2")
    out = review.grade(session, item, b, scheme="industry", value="A2")
    assert out.inherited == 2
    for other in (waiting, escalated):
        session.refresh(other)
        assert other.status is ItemStatus.INHERITED
        assert (other.decision_scheme, other.decision_value) == ("industry", "A2")
    # Nobody gets it again, a reviewer who never saw it and an analyst included.
    fresh = make_user(session, org, "fresh")
    for user in (a, b, c, fresh, analyst):
        assert review.queue(session, user) == []
    # Even an item put back by hand is held out while its content stands decided.
    waiting.status = ItemStatus.QUEUED
    session.flush()
    assert review.next_item(session, fresh) is None
    # Another organisation's decision does not count: it reviews its own.
    elsewhere = ensure_organisation(session, "Other hotline")
    theirs = add_file(
        session,
        service.open_case(session, organisation_id=elsewhere.id, source="api", title="x"),
        "same",
    )
    assert theirs.status is ItemStatus.QUEUED
    assert review.next_item(session, make_user(session, elsewhere, "z")).id == theirs.id


def test_preferences_are_each_users_own(session: Session, org: Organisation) -> None:
    a, b = make_user(session, org, "a"), make_user(session, org, "b")
    review.set_preferences(session, a, blur=False, greyscale=False)
    assert review.get_preferences(session, a) == review.DisplayPreferences(False, False, True, True)
    assert review.get_preferences(session, b) == review.DisplayPreferences(True, True, True, True)
    review.set_policy(session, org.id, actor="user:admin", allow_colour=False)
    # The limit applies to everyone; a's own choice of no blur stands.
    assert review.get_preferences(session, a) == review.DisplayPreferences(False, True, True, False)
    with pytest.raises(PermissionDeniedError, match="greyscale"):
        review.set_preferences(session, b, greyscale=False)
    assert review.set_preferences(session, b, greyscale=True).greyscale is True
    other = ensure_organisation(session, "Another")
    c = make_user(session, other, "c")
    assert review.set_preferences(session, c, greyscale=False).greyscale is False
    changes = audit.records(session, action="config.preferences")
    assert {r.subject for r in changes} == {"user:a", "user:b", "user:c"}
