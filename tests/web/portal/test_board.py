"""The analysts' takedown board driven through the real flow: reports from the portal, URL
checks by the worker, a notice by webhook, "mark domain dedicated" and "close" on the board, and
the blocklists (URL, domain, RPZ) following each step until the content is gone."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select

from kavach.audit import AuditRecord
from kavach.auth.models import Role
from kavach.auth.service import create_session_token, create_user
from kavach.banks.formats import HashRecord as ListRecord
from kavach.banks.service import add_entries, create_bank, ensure_organisation
from kavach.cases.models import Case, CaseStatus
from kavach.hashing import hash_bytes
from kavach.jobs.worker import Worker
from kavach.signals.types import SignalType
from kavach.store.db import make_session_factory, session_scope
from kavach.takedown.jobs import Takedown, handlers
from kavach.takedown.models import (
    ContactScope,
    EventKind,
    ItemStatus,
    Notice,
    NoticeStatus,
    TakedownEvent,
    TakedownItem,
)
from kavach.takedown.service import set_contact
from kavach.takedown.settings import get_takedown_settings
from kavach.web.ui.csrf import session_csrf_token
from tests.takedown.helpers import FakeClock, simulated_host, webhook_inbox
from tests.web.helpers import auth, jpeg, make_keys
from tests.web.portal.conftest import Portal

DEDICATED, SHARED = "dedicated.test", "shared.test"


def resolver(host: str, port: int) -> list[str]:
    return {DEDICATED: ["127.0.0.1"], SHARED: ["127.0.0.1"]}[host]


def test_board_marks_dedicated_and_closes_blocklists_follow(portal: Portal) -> None:
    factory = make_session_factory(portal.engine)
    image = jpeg(31, (200, 150))
    with session_scope(factory) as session:
        org = ensure_organisation(session, "Kavach hotline")
        bank = create_bank(session, name="known-board", owner=org, source="local")
        digest = bytes.fromhex(hash_bytes(image).sha256 or "")
        add_entries(session, bank, [ListRecord(((SignalType.SHA256, digest),))], added_by="test")
        analyst = create_user(session, org, "board-analyst", "a long enough password", Role.ANALYST)
        session_token = create_session_token(session, analyst).token
    isp = make_keys(portal.engine, "ISP board", (Role.PLATFORM,))[Role.PLATFORM]
    console = {"Cookie": f"kavach_session={session_token}", "Origin": portal.url}
    csrf = session_csrf_token(session_token)
    clock = FakeClock(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))

    with (
        simulated_host("127.0.0.1") as host,
        webhook_inbox() as inbox,
        httpx.Client(base_url=portal.url) as client,
    ):
        host.routes["/a.jpg"] = ("image/jpeg", image)
        host.routes["/page.html"] = ("text/html", b'<p><img src="/a.jpg"></p>')
        dedicated_url = host.url(DEDICATED, "/a.jpg")
        shared_url = host.url(SHARED, "/page.html")
        with session_scope(factory) as session:
            set_contact(session, ContactScope.DOMAIN, DEDICATED, inbox.url, "Dedicated host")
            set_contact(session, ContactScope.DOMAIN, SHARED, inbox.url, "Shared host")
        refs = {}
        for url in (dedicated_url, shared_url):
            answer = client.post("/report", data={"url": url, "lang": "en"})
            assert answer.status_code == 303
            refs[url] = answer.headers["location"].split("/")[-1].split("?")[0]

        settings = get_takedown_settings({}, fetch_allow_networks="127.0.0.0/8")
        takedown = Takedown.build(factory, settings, resolver=resolver, clock=clock)
        worker = Worker(factory, handlers(takedown), clock=clock)
        try:
            while worker.run_once():
                pass

            # Both confirmed; the notices went out by webhook (the contacts are URLs).
            assert sorted(body["type"] for body in inbox.bodies) == ["kavach.notice"] * 2
            assert {refs[dedicated_url], refs[shared_url]} == {
                body["subject"].split("]")[0].strip("[") for body in inbox.bodies
            }
            with session_scope(factory) as session:
                notices = session.scalars(select(Notice)).all()
                assert {(n.channel, n.status) for n in notices} == {("webhook", NoticeStatus.SENT)}
                sent = session.scalars(
                    select(TakedownEvent).where(TakedownEvent.kind == EventKind.NOTICE_SENT)
                ).all()
                assert {e.details["channel"] for e in sent} == {"webhook"}

            def lists() -> dict[str, str]:
                return {
                    fmt: client.get(f"/api/v1/blocklist/{fmt}", headers=auth(isp)).text
                    for fmt in ("url", "domain", "rpz")
                }

            before = lists()
            assert dedicated_url in before["url"]
            assert shared_url in before["url"]
            assert before["domain"] == ""  # nobody marked a domain dedicated yet
            assert "CNAME" not in before["rpz"]

            # An analyst marks the dedicated host's domain on the board.
            marked = client.post(
                f"/console/takedowns/{refs[dedicated_url]}",
                data={"action": "dedicated", "csrf_token": csrf},
                headers=console,
            )
            assert marked.status_code == 303
            detail = client.get(marked.headers["location"], headers=console)
            assert "dedicated (listed by domain)" in detail.text
            after = lists()
            assert after["domain"] == f"{DEDICATED}\n"
            assert f"\n{DEDICATED} CNAME .\n*.{DEDICATED} CNAME .\n" in after["rpz"]
            assert SHARED not in after["rpz"]

            # Without the CSRF token nothing changes.
            refused = client.post(
                f"/console/takedowns/{refs[shared_url]}",
                data={"action": "dedicated"},
                headers=console,
            )
            assert refused.status_code == 403

            # The analyst closes the shared host's item: off the URL list, its case closed.
            closed = client.post(
                f"/console/takedowns/{refs[shared_url]}",
                data={"action": "close", "reason": "handled with the platform", "csrf_token": csrf},
                headers=console,
            )
            assert closed.status_code == 303
            assert shared_url not in lists()["url"]
            with session_scope(factory) as session:
                item = session.scalars(
                    select(TakedownItem).where(TakedownItem.reference == refs[shared_url])
                ).one()
                assert item.status is ItemStatus.CLOSED
                assert session.get(Case, item.case_id).status is CaseStatus.CLOSED  # type: ignore[union-attr]
                actions = set(
                    session.scalars(
                        select(AuditRecord.action).where(
                            AuditRecord.action.in_(["takedown.dedicated", "takedown.close"])
                        )
                    )
                )
                assert actions == {"takedown.dedicated", "takedown.close"}

            # The host removes the picture; the next check takes the domain out of every list.
            del host.routes["/a.jpg"]
            clock.advance(hours=24)
            while worker.run_once():
                pass
            gone = lists()
            assert gone["url"] == ""
            assert gone["domain"] == ""
            assert DEDICATED not in gone["rpz"]
            with session_scope(factory) as session:
                item = session.scalars(
                    select(TakedownItem).where(TakedownItem.reference == refs[dedicated_url])
                ).one()
                assert item.status is ItemStatus.REMOVED
                assert item.dedicated_domain  # the mark stays for when the content comes back
            board = client.get("/console/takedowns?status=removed", headers=console)
            assert refs[dedicated_url] in board.text
            assert refs[shared_url] not in board.text
        finally:
            takedown.close()
