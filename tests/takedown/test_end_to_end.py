"""End to end on loopback: two simulated hosts serve listed (benign, generated) images; reports
come in through the portal; attribution, notices by SMTP, re-checks driven by a hand-moved clock;
one host removes the content after the second notice, the other never does and is referred."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from kavach.banks.formats import HashRecord as ListRecord
from kavach.banks.service import add_entries, create_bank, ensure_organisation
from kavach.cases.models import Case, CaseItem, CaseStatus
from kavach.config import get_settings
from kavach.hashing import hash_bytes
from kavach.jobs.worker import Worker
from kavach.signals.types import SignalType
from kavach.store.db import make_session_factory, session_scope
from kavach.takedown import blocklist
from kavach.takedown.jobs import Takedown, handlers
from kavach.takedown.models import (
    ContactScope,
    EventKind,
    ItemStatus,
    Notice,
    NoticePurpose,
    TakedownEvent,
    TakedownItem,
)
from kavach.takedown.service import set_contact
from kavach.takedown.settings import get_takedown_settings
from kavach.takedown.stats import compute
from kavach.web import ServiceSettings, create_app
from tests.support.mmdb import write_mmdb
from tests.takedown.helpers import FakeClock, simulated_host, smtp_sink
from tests.web.helpers import jpeg, live_server

HOST_A, HOST_B = "host-a.test", "host-b.test"
ADDRESSES = {HOST_A: "127.0.0.1", HOST_B: "127.0.0.2"}


def resolver(host: str, port: int) -> list[str]:
    return [ADDRESSES[host]]


def rdap_fake(request: httpx.Request) -> httpx.Response:
    """A local RDAP service: knows the abuse desk of 127.0.0.2 only."""
    if request.url.path == "/ip/127.0.0.2":
        return httpx.Response(
            200,
            json={
                "objectClassName": "ip network",
                "entities": [
                    {
                        "roles": ["registrant"],
                        "entities": [
                            {
                                "roles": ["abuse"],
                                "vcardArray": [
                                    "vcard",
                                    [
                                        ["version", {}, "text", "4.0"],
                                        ["email", {}, "text", "abuse@net-b.test"],
                                    ],
                                ],
                            }
                        ],
                    }
                ],
            },
        )
    return httpx.Response(404)


@pytest.fixture(scope="module")
def geoip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    networks = {
        "127.0.0.1/32": {
            "country": {"iso_code": "NL"},
            "autonomous_system_number": 64500,
            "autonomous_system_organization": "Test Net A",
        },
        "127.0.0.2/32": {
            "country": {"iso_code": "BG"},
            "autonomous_system_number": 64501,
            "autonomous_system_organization": "Test Net B",
        },
    }
    return write_mmdb(tmp_path_factory.mktemp("geo") / "test.mmdb", networks)


@pytest.fixture
def listed(engine: Engine) -> Iterator[dict[str, bytes]]:
    """Three benign generated images, two of them in a bank ("listed")."""
    images = {
        "one": jpeg(11, (320, 240)),
        "two": jpeg(12, (320, 240)),
        "other": jpeg(13, (320, 240)),
    }
    with session_scope(make_session_factory(engine)) as session:
        owner = ensure_organisation(session, "Kavach hotline", "IN")
        bank = create_bank(session, name="known-e2e", owner=owner, source="local")
        records = [
            ListRecord(((SignalType.SHA256, bytes.fromhex(hash_bytes(images[name]).sha256 or "")),))
            for name in ("one", "two")
        ]
        add_entries(session, bank, records, added_by="test")
    return images


def test_report_notice_removal_and_referral(
    database_url: str, engine: Engine, geoip: Path, listed: dict[str, bytes], tmp_path: Path
) -> None:
    factory = make_session_factory(engine)
    clock = FakeClock(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    with smtp_sink() as smtp, simulated_host("127.0.0.1") as a, simulated_host("127.0.0.2") as b:
        a.routes["/gallery.html"] = (
            "text/html",
            b'<html><body><img src="/img/one.jpg"><img src="/img/other.jpg">'
            b'<a href="/elsewhere.html">more</a></body></html>',
        )
        a.routes["/img/one.jpg"] = ("image/jpeg", listed["one"])
        a.routes["/img/other.jpg"] = ("image/jpeg", listed["other"])
        b.routes["/two.jpg"] = ("image/jpeg", listed["two"])
        url_a, url_b = a.url(HOST_A, "/gallery.html"), b.url(HOST_B, "/two.jpg")

        settings = get_takedown_settings(
            {},
            fetch_allow_networks="127.0.0.0/8",
            geoip_country_db=str(geoip),
            geoip_asn_db=str(geoip),
            rdap_url="http://rdap.test",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            notice_from="hotline@kavach.test",
            recheck_hours=24,
            escalate_after=3,
            reappear_checks=1,
        )
        with session_scope(factory) as session:
            set_contact(session, ContactScope.ASN, "AS64500", "abuse@net-a.test", "Test Net A")
            set_contact(
                session, ContactScope.HOTLINE, "BG", "referrals@hotline-bg.test", "BG hotline"
            )

        # Reports come in through the portal: host A's page in Hindi, host B's picture in English.
        app = create_app(
            get_settings({"KAVACH_DATABASE_URL": database_url, "KAVACH_DATA_DIR": str(tmp_path)}),
            ServiceSettings(rate_limit=0),
            settings,
        )
        with live_server(app) as live, httpx.Client(base_url=live.url) as portal:
            answer = portal.post(
                "/report",
                data={"url": url_a, "description": "एक तस्वीर", "lang": "hi"},
                headers={"Accept-Language": "hi-IN,hi;q=0.9"},
            )
            assert answer.status_code == 303
            status_page = portal.get(answer.headers["location"])
            assert "धन्यवाद। आपकी रिपोर्ट मिल गई है।" in status_page.text
            assert 'lang="hi"' in status_page.text
            again = portal.post(
                "/report",
                data={"url": url_a.upper().replace("/GALLERY.HTML", "/gallery.html")},
                follow_redirects=False,
            )
            assert "duplicate=1" in again.headers["location"]
            assert (
                portal.post(
                    "/report", data={"url": url_b, "lang": "en"}, follow_redirects=False
                ).status_code
                == 303
            )

            with session_scope(factory) as session:
                item_a = session.scalars(
                    select(TakedownItem).where(TakedownItem.host == HOST_A)
                ).one()
                ref_a, ref_b = (
                    item_a.reference,
                    session.scalars(
                        select(TakedownItem.reference).where(TakedownItem.host == HOST_B)
                    ).one(),
                )
                assert item_a.reports == 2
                case = session.get(Case, item_a.case_id)
                assert case is not None
                assert case.source.value == "portal"

            takedown = Takedown.build(
                factory,
                settings,
                resolver=resolver,
                clock=clock,
                rdap_client=httpx.Client(transport=httpx.MockTransport(rdap_fake)),
            )
            worker = Worker(factory, handlers(takedown), clock=clock)

            def run_due() -> None:
                while worker.run_once():
                    pass

            try:
                # Day 0: both confirmed, attributed, first notices out.
                run_due()
                with session_scope(factory) as session:
                    item_a = session.scalars(
                        select(TakedownItem).where(TakedownItem.reference == ref_a)
                    ).one()
                    item_b = session.scalars(
                        select(TakedownItem).where(TakedownItem.reference == ref_b)
                    ).one()
                    assert item_a.status is ItemStatus.CONFIRMED
                    assert (item_a.country, item_a.asn, item_a.network) == (
                        "NL",
                        64500,
                        "Test Net A",
                    )
                    assert item_a.abuse_contact == "abuse@net-a.test"
                    assert item_a.abuse_source == "config"
                    assert (item_b.country, item_b.asn, item_b.abuse_contact) == (
                        "BG",
                        64501,
                        "abuse@net-b.test",
                    )
                    assert item_b.abuse_source == "rdap"
                    matched = {m["url"] for m in item_a.matches}
                    assert matched == {a.url(HOST_A, "/img/one.jpg")}  # the unlisted image is not
                    case_items = session.scalars(
                        select(CaseItem).where(CaseItem.case_id == item_a.case_id)
                    ).all()
                    assert any(ci.matches for ci in case_items)
                    listed_urls = blocklist.urls(session)
                    assert url_a in listed_urls
                    assert url_b in listed_urls
                    assert a.url(HOST_A, "/img/one.jpg") in listed_urls
                assert "/elsewhere.html" not in a.hits  # links to other pages are never followed
                assert len(smtp.to("abuse@net-a.test")) == 1
                first = smtp.to("abuse@net-a.test")[0]
                assert ref_a in first["Subject"]
                assert "Notice 1" in first["Subject"]
                assert url_a in first.get_payload()

                # Day 1: still there: second notices.
                clock.advance(hours=24)
                run_due()
                assert len(smtp.to("abuse@net-a.test")) == 2
                assert len(smtp.to("abuse@net-b.test")) == 2

                # Host A complies after the second notice; host B never does.
                del a.routes["/img/one.jpg"]
                clock.advance(hours=24)
                run_due()

                with session_scope(factory) as session:
                    item_a = session.scalars(
                        select(TakedownItem).where(TakedownItem.reference == ref_a)
                    ).one()
                    item_b = session.scalars(
                        select(TakedownItem).where(TakedownItem.reference == ref_b)
                    ).one()
                    assert item_a.status is ItemStatus.REMOVED
                    assert item_a.confirmed_at is not None
                    assert item_a.removed_at is not None
                    assert item_a.removed_at - item_a.confirmed_at == dt.timedelta(hours=48)
                    removed = session.scalars(
                        select(TakedownEvent).where(
                            TakedownEvent.item_id == item_a.id,
                            TakedownEvent.kind == EventKind.REMOVED,
                        )
                    ).one()
                    assert removed.details == {"seconds": 48 * 3600.0, "notices": 2}
                    assert session.get(Case, item_a.case_id).status is CaseStatus.CLOSED  # type: ignore[union-attr]
                    assert url_a not in blocklist.urls(session)
                    assert url_b in blocklist.urls(session)

                    assert item_b.status is ItemStatus.CONFIRMED
                    assert item_b.escalated_at is not None
                    referral = session.scalars(
                        select(Notice).where(
                            Notice.item_id == item_b.id, Notice.purpose == NoticePurpose.REFERRAL
                        )
                    ).one()
                    assert referral.recipient == "referrals@hotline-bg.test"
                    kinds = [
                        e.kind
                        for e in session.scalars(
                            select(TakedownEvent)
                            .where(TakedownEvent.item_id == item_b.id)
                            .order_by(TakedownEvent.id)
                        )
                    ]
                    assert kinds.count(EventKind.NOTICE_SENT) == 3
                    assert EventKind.ESCALATED in kinds
                    assert EventKind.REFERRED in kinds

                    stats = compute(session)
                    assert stats.removal_hours == [48.0]
                    assert stats.notices_per_removal == [2]
                    assert dict(stats.by_country) == {"NL": 1, "BG": 1}
                    assert stats.referred == 1
                    assert stats.still_live == 1
                assert len(smtp.to("abuse@net-a.test")) == 2  # no notice after removal
                assert len(smtp.to("abuse@net-b.test")) == 3
                referred = smtp.to("referrals@hotline-bg.test")
                assert len(referred) == 1
                assert "BG" in referred[0]["Subject"]

                # The reporter sees the outcome in Hindi.
                page = portal.get(f"/report/status/{ref_a}", headers={"Cookie": "kavach_lang=hi"})
                assert "सामग्री हटा दी गई है।" in page.text
            finally:
                takedown.close()
