"""The portal in a real browser at 360 px: Hindi without JavaScript, English with it; the
analysts' takedown pages (statistics with plots, board, item) fit the same screen."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import Browser, Page

from kavach.auth.models import Role
from kavach.auth.service import create_session_token, create_user
from kavach.banks.service import ensure_organisation
from kavach.store.db import make_session_factory, session_scope
from kavach.takedown.models import EventKind, ItemStatus, TakedownEvent, TakedownItem
from tests.support.browser import PHONE, save_screenshot
from tests.web.portal.conftest import Portal


def _fits(tab: Page) -> None:
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"


def test_report_in_hindi_without_javascript(browser: Browser, portal: Portal) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="hi-IN")
    try:
        tab = context.new_page()
        tab.goto(f"{portal.url}/report")
        assert tab.locator("html").get_attribute("lang") == "hi"
        assert tab.get_by_role("heading", level=1).inner_text().startswith("बाल यौन शोषण")
        _fits(tab)
        save_screenshot(tab, "portal-report-hi-360")
        tab.get_by_label("पेज, तस्वीर या वीडियो का वेब पता (URL)").fill("https://browser-hi.test/page")
        tab.get_by_role("button", name="रिपोर्ट भेजें").click()
        tab.wait_for_url("**/report/status/**")
        assert "धन्यवाद" in tab.get_by_role("status").inner_text()
        assert tab.locator("#reference").inner_text().startswith("KV-")
        _fits(tab)
        save_screenshot(tab, "portal-status-hi-360")
    finally:
        context.close()


def test_report_in_english_and_switch_language(page: Page, portal: Portal) -> None:
    page.goto(f"{portal.url}/report?lang=en")
    _fits(page)
    save_screenshot(page, "portal-report-en-360")
    page.get_by_label("Web address (URL) of the page, picture or video").fill("not a url at all")
    page.get_by_role("button", name="Send report").click()
    alert = page.get_by_role("alert")
    assert "does not look like a web address" in alert.inner_text()
    assert page.locator("#url").get_attribute("aria-invalid") == "true"
    page.get_by_role("link", name="हिन्दी").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("बाल यौन शोषण")
    page.get_by_role("link", name="मदद कहाँ मिलेगी").first.click()
    assert "1098" in page.content()
    assert "cybercrime.gov.in" in page.content()
    _fits(page)
    save_screenshot(page, "portal-help-hi-360")


def test_console_takedown_pages_fit_a_phone(browser: Browser, portal: Portal) -> None:
    factory = make_session_factory(portal.engine)
    at = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    long_path = "/gallery/" + "a-rather-long-path-segment/" * 6 + "picture.jpg"
    with session_scope(factory) as session:
        org = ensure_organisation(session, "Kavach hotline")
        analyst = create_user(session, org, "phone-analyst", "a long enough password", Role.ANALYST)
        token = create_session_token(session, analyst).token
        for n, country in enumerate(["NL", "US", "BG"]):
            item = TakedownItem(
                organisation_id=org.id,
                reference=f"KV-PHON-000{n}",
                url=f"http://host-{n}.example.test{long_path}",
                url_sha256=f"{n + 5}" * 64,
                host=f"host-{n}.example.test",
                status=ItemStatus.REMOVED if n else ItemStatus.CONFIRMED,
                country=country,
                asn=64500 + n,
                network="A network with a long organisation name",
                matches=[
                    {
                        "url": f"http://host-{n}.example.test{long_path}",
                        "bank": "known-phone",
                        "entry_id": 1,
                        "signal_type": "sha256",
                        "distance": 0,
                    }
                ],
            )
            session.add(item)
            session.flush()
            session.add(TakedownEvent(item_id=item.id, kind=EventKind.CONFIRMED, at=at, details={}))
            if n:
                session.add(
                    TakedownEvent(
                        item_id=item.id,
                        kind=EventKind.REMOVED,
                        at=at + dt.timedelta(hours=30 * n),
                        details={"seconds": 30 * n * 3600.0, "notices": n},
                    )
                )
    context = browser.new_context(viewport=PHONE)
    context.add_cookies([{"name": "kavach_session", "value": token, "url": portal.url}])
    try:
        tab = context.new_page()
        for path, name in [
            ("/console/statistics?year=2026", "console-statistics-360"),
            ("/console/takedowns", "console-takedowns-360"),
            ("/console/takedowns/KV-PHON-0000", "console-takedown-item-360"),
        ]:
            tab.goto(f"{portal.url}{path}")
            assert tab.get_by_role("heading", level=1).is_visible()
            _fits(tab)
            save_screenshot(tab, name)
        plot = tab.goto(f"{portal.url}/console/statistics?year=2026")
        assert plot is not None
        assert plot.ok
        first = tab.locator(".plots img").first
        first.scroll_into_view_if_needed()
        box = first.bounding_box()
        assert box is not None
        assert 0 < box["width"] <= PHONE["width"]
    finally:
        context.close()
