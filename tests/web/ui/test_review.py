"""The console's review pages in-process: queue, item, reveal, grading, media, preferences."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, select

from kavach import audit
from kavach.banks.models import Bank, BankEntry
from kavach.banks.service import ensure_organisation
from kavach.cases import service
from kavach.cases.models import CaseItem, ItemStatus, Review
from kavach.evidence import Vault, store
from kavach.store.db import make_session_factory, session_scope
from tests.web.helpers import jpeg
from tests.web.ui.client import TestClient
from tests.web.ui.conftest import csrf_of, login
from tests.web.ui.seed import Seeded


def _item(engine: Engine, item_id: int) -> CaseItem:
    with session_scope(make_session_factory(engine)) as session:
        item = session.get(CaseItem, item_id)
        assert item is not None
        return item


def test_queue_lists_items_by_priority_and_review_opens_the_first(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "alice")
    queue = client.get("/console/queue")
    assert queue.template.name == "queue.html"  # type: ignore[attr-defined]
    listed = [i.id for i in queue.context["items"]]  # type: ignore[attr-defined]
    assert listed == seeded.item_ids
    start = client.get("/console/review", follow_redirects=False)
    assert start.headers["location"] == f"/console/items/{seeded.item_ids[0]}"


def test_item_page_without_media_shows_hashes_matches_and_metadata(
    client: TestClient, seeded: Seeded, engine: Engine
) -> None:
    login(client, "alice")
    second = seeded.item_ids[1]
    page = client.get(f"/console/items/{second}")
    assert page.status_code == 200
    ctx = page.context["page"]  # type: ignore[attr-defined]
    assert not ctx.has_media
    assert ctx.scheme == "industry"
    assert [k.key for k in ctx.keys] == ["1", "2", "3", "4"]
    assert (ctx.previous_id, ctx.next_id) == (seeded.item_ids[0], seeded.item_ids[2])
    html = page.text
    assert 'id="no-media"' in html
    assert "/media" not in html
    for shown in ("IMG_1.jpg", "flip-h", "listed", "industry B2", "02" * 32, "08" * 32):
        assert shown in html, shown
    # Opening the page is audited as a view, not a reveal, and the file is not "viewed".
    assert not _item(engine, second).viewed_by_person
    with session_scope(make_session_factory(engine)) as session:
        actions = {r.action for r in audit.records(session, subject=f"item:{second}")}
    assert "item.view" in actions
    assert "media.reveal" not in actions


def test_a_match_found_by_reliable_bits_says_so_on_the_item_page(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "alice")
    html = client.get(f"/console/items/{seeded.item_ids[2]}").text
    assert "original · reliable bits 17/192" in html
    other = client.get(f"/console/items/{seeded.item_ids[1]}").text
    assert "reliable bits" not in other


def test_item_with_media_is_blurred_until_revealed_and_the_reveal_is_audited(
    client: TestClient, seeded: Seeded, engine: Engine
) -> None:
    login(client, "bob")
    first = seeded.item_ids[0]
    page = client.get(f"/console/items/{first}")
    ctx = page.context["page"]  # type: ignore[attr-defined]
    assert ctx.has_media
    assert not ctx.revealed
    assert 'class="media shielded grey"' in page.text
    assert not _item(engine, first).viewed_by_person
    media = client.get(f"/console/items/{first}/media")
    assert media.status_code == 200
    assert media.headers["content-type"] == "image/jpeg"
    assert media.headers["cache-control"] == "no-store, private"
    assert media.content[:2] == b"\xff\xd8"
    # Revealing needs the page's token.
    assert client.post(f"/console/items/{first}/reveal").status_code == 403
    assert not _item(engine, first).viewed_by_person
    shown = client.post(
        f"/console/items/{first}/reveal",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(page.text)},
    )
    assert shown.status_code == 200
    assert shown.template.name == "_media.html"  # type: ignore[attr-defined]
    assert 'class="media revealed grey"' in shown.text
    item = _item(engine, first)
    assert item.viewed_by_person
    assert item.first_viewed_by == "bob"
    with session_scope(make_session_factory(engine)) as session:
        reveals = audit.records(session, subject=f"item:{first}", action="media.reveal")
        assert [r.actor for r in reveals] == ["user:bob"]
        opened = audit.records(session, action="evidence.open", actor="user:bob")
        assert opened


def test_four_eyes_two_reviewers_agree_and_the_entry_is_banked(
    client: TestClient, seeded: Seeded, engine: Engine
) -> None:
    target = seeded.item_ids[0]
    login(client, "alice")
    page = client.get(f"/console/items/{target}")
    token = csrf_of(page.text)
    # No token, no grade.
    refused = client.post(
        f"/console/items/{target}/grade", data={"scheme": "industry", "value": "A1"}
    )
    assert refused.status_code == 403
    first = client.post(
        f"/console/items/{target}/grade",
        data={"scheme": "industry", "value": "A1", "csrf_token": token},
        follow_redirects=False,
    )
    assert first.headers["location"] == f"/console/review?after={target}"
    nxt = client.get(first.headers["location"], follow_redirects=True)
    assert nxt.context["page"].item.id == seeded.item_ids[1]  # type: ignore[attr-defined]
    assert "Waiting for a second, independent reviewer." in nxt.text
    assert _item(engine, target).status is ItemStatus.QUEUED
    # Alice may not grade it twice; the page says so and the queue no longer offers it.
    again = client.get(f"/console/items/{target}")
    assert again.context["page"].can_grade is False  # type: ignore[attr-defined]
    assert target not in [i.id for i in client.get("/console/queue").context["items"]]  # type: ignore[attr-defined]

    client.cookies.clear()
    login(client, "bob")
    page = client.get(f"/console/items/{target}")
    assert "1 of 2 independent grades in" in page.text
    assert "A1" not in page.text.split('id="four-eyes"')[1].split("</p>")[0]
    client.post(
        f"/console/items/{target}/grade",
        data={"scheme": "industry", "value": "A1", "csrf_token": csrf_of(page.text)},
    )
    item = _item(engine, target)
    assert item.status is ItemStatus.DECIDED
    assert (item.decision_scheme, item.decision_value) == ("industry", "A1")
    assert item.banked_in == seeded.target_bank
    with session_scope(make_session_factory(engine)) as session:
        bank = session.scalars(select(Bank).where(Bank.name == seeded.target_bank)).one()
        entries = session.scalars(select(BankEntry).where(BankEntry.bank_id == bank.id)).all()
        assert {e.signal_type for e in entries} == {"sha256", "pdq"}
    decided = client.get(f"/console/items/{target}")
    assert 'id="decision"' in decided.text
    assert "alice: industry A1" in decided.text


def test_other_organisations_items_are_not_found(client: TestClient, seeded: Seeded) -> None:
    login(client, "olga")
    for path in (f"/console/items/{seeded.item_ids[0]}", f"/console/cases/{seeded.case_id}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.template.name == "error.html"  # type: ignore[attr-defined]
    assert client.get(f"/console/items/{seeded.item_ids[0]}/media").status_code == 404
    assert client.get("/console/queue").context["items"] == []  # type: ignore[attr-defined]


def test_case_page_lists_items_with_their_state(client: TestClient, seeded: Seeded) -> None:
    login(client, "carol")
    page = client.get(f"/console/cases/{seeded.case_id}")
    assert page.template.name == "case.html"  # type: ignore[attr-defined]
    ids = [i.id for i in page.context["page"].items]  # type: ignore[attr-defined]
    assert ids == sorted(seeded.item_ids)
    assert seeded.case_name in page.text
    assert "ExampleChat" in page.text


def test_preferences_within_the_organisation_limits(
    client: TestClient, seeded: Seeded, engine: Engine
) -> None:
    login(client, "carol")
    form = client.get("/console/preferences")
    assert form.context["prefs"].blur is True  # type: ignore[attr-defined]
    saved = client.post(
        "/console/preferences", data={"blur": "on", "csrf_token": csrf_of(form.text)}
    )
    assert saved.status_code == 200
    assert saved.context["prefs"].greyscale is False  # type: ignore[attr-defined]
    page = client.get(f"/console/items/{seeded.item_ids[0]}")
    assert 'class="media shielded colour"' in page.text


def test_escalation_goes_to_analysts_who_see_the_grades(
    client: TestClient, seeded: Seeded, engine: Engine
) -> None:
    target = seeded.item_ids[2]
    login(client, "bob")
    page = client.get(f"/console/items/{target}")
    client.post(
        f"/console/items/{target}/grade",
        data={"scheme": "verdict", "value": "escalate", "csrf_token": csrf_of(page.text)},
    )
    assert _item(engine, target).status is ItemStatus.ESCALATED
    client.cookies.clear()
    login(client, "alice")
    assert target not in [i.id for i in client.get("/console/queue").context["items"]]  # type: ignore[attr-defined]
    assert "an analyst or admin grades it" in client.get(f"/console/items/{target}").text
    client.cookies.clear()
    login(client, "carol")
    assert target in [i.id for i in client.get("/console/queue").context["items"]]  # type: ignore[attr-defined]
    page = client.get(f"/console/items/{target}")
    assert "bob: verdict escalate" in page.text
    client.post(
        f"/console/items/{target}/grade",
        data={"scheme": "verdict", "value": "not_abuse", "csrf_token": csrf_of(page.text)},
    )
    item = _item(engine, target)
    assert (item.status, item.decision_value, item.banked_in) == (
        ItemStatus.DECIDED,
        "not_abuse",
        None,
    )


def test_dashboard_counts_the_organisations_queue_and_reports(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "alice")
    page = client.get("/console/")
    assert page.template.name == "dashboard.html"  # type: ignore[attr-defined]
    board = page.context["board"]  # type: ignore[attr-defined]
    waiting = board.queue.queued + board.queue.disputed + board.queue.escalated
    assert board.queue_depth == waiting >= 1
    assert board.matches_today == 0
    assert set(board.reports_by_status) == {"generated", "queued", "submitted", "failed"}
    assert f'id="queue-depth">{waiting}<' in page.text
    client.cookies.clear()
    login(client, "olga")
    assert client.get("/console/").context["board"].queue_depth == 0  # type: ignore[attr-defined]


def test_retained_video_is_muted_and_never_autoplays(
    client: TestClient, engine: Engine, vault: Vault
) -> None:
    data = b"\x00\x00\x00\x18ftypmp42 benign test bytes"
    with session_scope(make_session_factory(engine)) as session:
        org = ensure_organisation(session, "Org A")
        case = service.open_case(session, organisation_id=org.id, source="manual", title="video")
        item = service.add_item(
            session, case, kind="file", hashes={"sha256": hashlib.sha256(data).hexdigest()}
        )
        store(session, vault, item, data, actor="system", media_type="video/mp4")
        item_id = item.id
    login(client, "alice")
    html = client.get(f"/console/items/{item_id}").text
    video = html.split("<video", 1)[1].split(">", 1)[0]
    assert " muted" in video
    assert "autoplay" not in video
    assert "<img" not in html.split('id="media"', 1)[1].split("</section>", 1)[0]


def test_without_blur_opening_an_item_with_media_counts_as_viewed(
    client: TestClient, seeded: Seeded, engine: Engine, vault: Vault
) -> None:
    data = jpeg(41, (64, 48))
    with session_scope(make_session_factory(engine)) as session:
        org = ensure_organisation(session, "Org A")
        case = service.open_case(session, organisation_id=org.id, source="manual", title="seen")
        shown = service.add_item(
            session, case, kind="file", hashes={"sha256": hashlib.sha256(data).hexdigest()}
        )
        bare = service.add_item(session, case, kind="file", hashes={"sha256": "ab" * 32})
        store(session, vault, shown, data, actor="system", media_type="image/jpeg")
        shown_id, bare_id = shown.id, bare.id
    login(client, "olga")  # another organisation: its items are not found, nothing recorded
    assert client.get(f"/console/items/{shown_id}").status_code == 404
    client.cookies.clear()
    login(client, "alice")
    form = client.get("/console/preferences")
    client.post("/console/preferences", data={"greyscale": "on", "csrf_token": csrf_of(form.text)})
    try:
        page = client.get(f"/console/items/{shown_id}")
        assert 'class="media revealed grey"' in page.text
        # Nothing retained: nothing to see, so not viewed, whatever the preference.
        client.get(f"/console/items/{bare_id}")
        # Each file keeps its own flag, and the grade records that its reviewer had seen it.
        assert _item(engine, shown_id).viewed_by_person
        assert _item(engine, shown_id).first_viewed_by == "alice"
        assert not _item(engine, bare_id).viewed_by_person
        client.post(
            f"/console/items/{shown_id}/grade",
            data={"scheme": "industry", "value": "B1", "csrf_token": csrf_of(page.text)},
        )
        with session_scope(make_session_factory(engine)) as session:
            reveals = audit.records(session, subject=f"item:{shown_id}", action="media.reveal")
            assert [r.actor for r in reveals] == ["user:alice"]
            grades = session.scalars(select(Review).where(Review.item_id == shown_id)).all()
            assert [(g.reviewer, g.revealed) for g in grades] == [("alice", True)]
    finally:
        form = client.get("/console/preferences")
        client.post(
            "/console/preferences",
            data={"blur": "on", "greyscale": "on", "csrf_token": csrf_of(form.text)},
        )
