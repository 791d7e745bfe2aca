"""The public portal over HTTP: languages, reports and references, duplicates, errors, rate
limits, headers; the catalogues; the blocklist API; the analysts' statistics page."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from sqlalchemy import select

from kavach.auth.models import Role
from kavach.auth.service import create_session_token, create_user
from kavach.banks.service import ensure_organisation
from kavach.store.db import make_session_factory, session_scope
from kavach.takedown.models import EventKind, ItemStatus, TakedownEvent, TakedownItem
from kavach.web.portal.i18n import translations
from kavach.web.portal.messages import extract
from kavach.web.portal.routes import PortalState
from tests.web.helpers import auth, make_keys
from tests.web.portal.conftest import Portal

HINDI_TITLE = "बाल यौन शोषण सामग्री के लिंक की रिपोर्ट करें"


def test_language_from_header_query_and_cookie(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url) as client:
        english = client.get("/report")
        assert english.status_code == 200
        assert "Report a link to child sexual abuse material" in english.text
        assert (
            client.get(
                "/report", headers={"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.5"}
            ).text.count(HINDI_TITLE)
            == 1
        )
        switched = client.get("/report?lang=hi")
        assert HINDI_TITLE in switched.text
        assert 'lang="hi"' in switched.text
        assert switched.cookies.get("kavach_lang") == "hi"
        assert "मदद कहाँ मिलेगी" in client.get("/report/help").text  # the cookie keeps Hindi
        csp = english.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert english.headers["referrer-policy"] == "no-referrer"
        # Nothing loaded from anywhere else: stylesheets, scripts and images are our own.
        assert not re.search(r'<(script|img|link)[^>]+(src|href)="(https?:)?//', english.text)
        assert (
            client.get("/report/static/portal.css").headers["content-type"].startswith("text/css")
        )


def test_report_reference_status_and_duplicates(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url) as client:
        first = client.post(
            "/report",
            data={
                "url": "Example.TEST/a/page.html#top",
                "description": "seen on a forum",
                "lang": "en",
            },
        )
        assert first.status_code == 303
        status = client.get(first.headers["location"])
        reference = re.search(r'id="reference">([A-Z0-9-]+)<', status.text)
        assert reference is not None
        assert "Received. We will check the link soon." in status.text
        assert "example.test" not in status.text  # the status page never shows the URL

        again = client.post(
            "/report", data={"url": "http://example.test:80/a/page.html", "lang": "hi"}
        )
        assert f"/report/status/{reference.group(1)}" in again.headers["location"]
        assert "duplicate=1" in again.headers["location"]
        hindi = client.get(again.headers["location"])
        assert "इस लिंक की रिपोर्ट पहले ही की जा चुकी थी" in hindi.text

        looked_up = client.get("/report/status", params={"ref": reference.group(1).lower()})
        assert looked_up.status_code == 303
        missing = client.get("/report/status/KV-2222-2222?lang=hi")
        assert missing.status_code == 404
        assert "इस संदर्भ संख्या वाली कोई रिपोर्ट नहीं मिली" in missing.text

    with session_scope(make_session_factory(portal.engine)) as session:
        item = session.scalars(
            select(TakedownItem).where(TakedownItem.reference == reference.group(1))
        ).one()
        assert item.url == "http://example.test/a/page.html"
        assert item.reports == 2
        assert item.case_id is not None


@pytest.mark.parametrize(
    "bad", ["", "ftp://example.test/x", "javascript:alert(1)", "http://user:pw@example.test/"]
)
def test_bad_addresses_are_explained(portal: Portal, bad: str) -> None:
    answer = httpx.post(f"{portal.url}/report", data={"url": bad, "lang": "hi"})
    assert answer.status_code == 400
    assert "यह वेब पता नहीं लगता" in answer.text
    assert 'aria-invalid="true"' in answer.text


def test_rate_limit_per_address(portal: Portal) -> None:
    app = portal.server.app
    app.state.portal = PortalState.from_settings(app.state.portal.settings)
    try:
        codes = [
            httpx.post(
                f"{portal.url}/report", data={"url": f"http://flood.test/{n}", "lang": "en"}
            ).status_code
            for n in range(10)
        ]
        assert 429 in codes
        assert codes[0] == 303
    finally:
        app.state.portal = PortalState.from_settings(app.state.portal.settings)


def test_every_message_has_a_hindi_translation() -> None:
    hindi = translations("hi")
    missing = [m.id for m in extract() if m.id and hindi.gettext(m.id) == m.id]
    assert missing == []


def test_blocklist_served_to_authorised_keys_only(portal: Portal) -> None:
    keys = make_keys(portal.engine, "ISP org", (Role.PLATFORM, Role.REVIEWER))
    with session_scope(make_session_factory(portal.engine)) as session:
        org = ensure_organisation(session, "Kavach hotline")
        session.add(
            TakedownItem(
                organisation_id=org.id,
                reference="KV-BLCK-0001",
                url="http://listed.test/p.html",
                url_sha256="b" * 64,
                host="listed.test",
                status=ItemStatus.CONFIRMED,
                dedicated_domain=True,
                matches=[],
            )
        )
    with httpx.Client(base_url=portal.url) as client:
        assert client.get("/api/v1/blocklist/url").status_code == 401
        assert (
            client.get("/api/v1/blocklist/url", headers=auth(keys[Role.REVIEWER])).status_code
            == 403
        )
        urls = client.get("/api/v1/blocklist/url", headers=auth(keys[Role.PLATFORM]))
        assert "http://listed.test/p.html\n" in urls.text
        rpz = client.get("/api/v1/blocklist/rpz", headers=auth(keys[Role.PLATFORM])).text
        assert "listed.test CNAME ." in rpz
        assert "*.listed.test CNAME ." in rpz
        assert "SOA" in rpz


def test_statistics_page_renders_plots_from_data(portal: Portal) -> None:
    factory = make_session_factory(portal.engine)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    with session_scope(factory) as session:
        org = ensure_organisation(session, "Kavach hotline")
        analyst = create_user(session, org, "stats-analyst", "a long enough password", Role.ANALYST)
        token = create_session_token(session, analyst).token
        for n, (country, asn, hours, notices) in enumerate(
            [
                ("NL", 64500, 3, 1),
                ("NL", 64500, 60, 3),
                ("BG", 64501, 24 * 50, 12),
                ("US", 64502, None, 2),
            ]
        ):
            item = TakedownItem(
                organisation_id=org.id,
                reference=f"KV-STAT-000{n}",
                url=f"http://s{n}.test/",
                url_sha256=f"{n}" * 64,
                host=f"s{n}.test",
                country=country,
                asn=asn,
                network=f"Net {asn}",
                matches=[],
                status=ItemStatus.REMOVED if hours else ItemStatus.CONFIRMED,
            )
            session.add(item)
            session.flush()
            session.add(
                TakedownEvent(item_id=item.id, kind=EventKind.CONFIRMED, at=start, details={})
            )
            if hours:
                session.add(
                    TakedownEvent(
                        item_id=item.id,
                        kind=EventKind.REMOVED,
                        at=start + dt.timedelta(hours=hours),
                        details={"seconds": hours * 3600.0, "notices": notices},
                    )
                )
    cookie = {"Cookie": f"kavach_session={token}"}
    with httpx.Client(base_url=portal.url, headers=cookie) as client:
        page = client.get("/console/statistics?year=2026")
        assert page.status_code == 200
        assert re.search(r'id="confirmed">4<', page.text)
        assert re.search(r'id="removed">3<', page.text)
        assert re.search(r'id="median">60.0 h<', page.text)
        plots = re.findall(
            r'<img src="(/console/statistics/plot/[a-z]+\.png\?year=2026)"', page.text
        )
        assert len(plots) == 5
        for src in plots:
            png = client.get(src)
            assert png.status_code == 200
            assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
            assert len(png.content) > 5000
        report = client.get("/console/statistics/report/2026.html")
        assert report.status_code == 200
        assert report.text.count("<svg") == 5
        assert "<td>NL</td>" in report.text
        assert "attachment" in report.headers["content-disposition"]
        board = client.get("/console/takedowns?status=removed")
        assert "KV-STAT-0000" in board.text
        assert "KV-STAT-0003" not in board.text
