"""The portal in a real browser at 360 px: Hindi without JavaScript, English with it."""

from __future__ import annotations

from playwright.sync_api import Browser, Page

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
