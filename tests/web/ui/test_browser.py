"""The console in a real browser (Playwright, Debian's chromium, 360 px wide, keyboard only):
log in, work the queue, blur by default, reveal (audited), four-eyes grading, case details
filled in, a report generated and submitted to a local fake of the CyberTipline. Every page
is checked at 360 px and tabbed through: each stop visible and outlined, in document order,
and focus leaves the page at the end (no keyboard trap).

Runs on SQLite only: the review, audit and report logic is tested on both databases in
tests/cases, tests/audit and tests/reports; one browser walk keeps the suite's time down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page
from sqlalchemy import Engine, select

from kavach import audit
from kavach.banks.models import Bank, BankEntry
from kavach.cases.models import CaseItem, ItemStatus
from kavach.evidence import Vault
from kavach.jobs.worker import Worker
from kavach.reports.models import CaseReport, ReportStatus
from kavach.reports.ncmec import validate
from kavach.reports.submit import NCMEC_JOB, NcmecSettings, ncmec_client, ncmec_handler
from kavach.store.db import make_session_factory, session_scope
from kavach.store.testing import sqlite_database
from tests.reports.fake_ncmec import PASSWORD as NCMEC_PASSWORD
from tests.reports.fake_ncmec import USER as NCMEC_USER
from tests.reports.fake_ncmec import FakeState, make_fake
from tests.support.browser import PHONE, save_screenshot
from tests.web.helpers import LiveServer, live_server
from tests.web.ui.conftest import PASSWORD
from tests.web.ui.seed import Seeded


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite only for the browser walk (see the module docstring)."""
    with sqlite_database(Path(tmp_path_factory.mktemp("db"))) as url:
        yield url


@pytest.fixture(scope="module")
def live(app: FastAPI, seeded: Seeded) -> Iterator[LiveServer]:
    with live_server(app) as server:
        yield server


@pytest.fixture(scope="module")
def fake_ncmec() -> Iterator[tuple[str, FakeState]]:
    app, state = make_fake()
    with live_server(app) as server:
        yield f"{server.url}/ispws", state


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/console/")
    assert "/console/login" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{base}/console/")


def _fits_a_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"


# Where the focus is after a Tab: visible, outlined, after the previous stop in the document.
_FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return {left: true};
  const prev = window.__kvStop || null;
  window.__kvStop = el;
  if (!window.__kvFirst) window.__kvFirst = el;
  const s = getComputedStyle(el), r = el.getBoundingClientRect();
  return {
    left: false,
    wrapped: prev !== null && window.__kvFirst === el,
    name: `${el.tagName.toLowerCase()}#${el.id} ${(el.textContent || el.name || '').trim()}`,
    outlined: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0,
    shown: r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight
      && r.right > 0 && r.left < innerWidth,
    after: !prev || Boolean(prev.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING),
    skip: el.classList.contains('skip'),
  };
}"""


def _check_page(page: Page, name: str | None = None) -> list[str]:
    """The page fits 360 px and works by keyboard; returns the tab stops' names."""
    _fits_a_phone(page)
    assert page.evaluate(
        "[...document.querySelectorAll('[tabindex]')].every(e => e.tabIndex <= 0)"
    ), f"{page.url}: a positive tabindex breaks the focus order"
    # Start from the top, also where a field has the focus (the login form's autofocus).
    page.evaluate(
        "delete window.__kvStop; delete window.__kvFirst; document.body.tabIndex = -1;"
        " document.body.focus(); document.body.removeAttribute('tabindex')"
    )
    limit = page.evaluate("document.querySelectorAll('a, button, input, select, textarea').length")
    stops: list[str] = []
    for n in range(limit + 2):
        page.keyboard.press("Tab")
        state = page.evaluate(_FOCUS_STATE)
        if state["left"] or state["wrapped"]:
            break
        where = f"{page.url}, stop {n + 1} ({state['name']})"
        if n == 0:
            assert state["skip"], f"{where}: the first Tab should reach 'Skip to content'"
        assert state["outlined"], f"{where}: no visible focus"
        assert state["shown"], f"{where}: focus on something off screen or invisible"
        assert state["after"], f"{where}: focus went backwards"
        stops.append(state["name"])
    else:
        raise AssertionError(f"{page.url}: focus never leaves the page (a keyboard trap)")
    assert stops, f"{page.url}: nothing to reach by keyboard"
    page.evaluate("document.activeElement && document.activeElement.blur()")
    if name:
        save_screenshot(page, name)
    return stops


def _filter(page: Page) -> str:
    return str(page.eval_on_selector("#media-figure img", "el => getComputedStyle(el).filter"))


def _item(engine: Engine, item_id: int) -> CaseItem:
    with session_scope(make_session_factory(engine)) as session:
        item = session.get(CaseItem, item_id)
        assert item is not None
        return item


def test_reviewer_walkthrough(
    browser: Browser,
    page: Page,
    live: LiveServer,
    seeded: Seeded,
    engine: Engine,
    vault: Vault,
    fake_ncmec: tuple[str, FakeState],
) -> None:
    base = live.url
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        # A CSP violation or a script error shows up here.
        if message.type == "error":
            problems.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", watch)
    first, second, third = seeded.item_ids

    # Alice logs in and works the queue with the keyboard only.
    page.goto(f"{base}/console/login")
    _check_page(page, "console-login")
    _log_in(page, base, "alice")
    assert page.inner_text("#queue-depth") == "3"
    _check_page(page, "console-dashboard")
    page.goto(f"{base}/console/queue")
    _check_page(page, "console-queue")
    for key in ("j", "j", "k"):
        page.keyboard.press(key)
    focused = page.evaluate("document.activeElement.dataset.itemId")
    assert focused == str(first)
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "keyboard focus must be visible"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/console/items/{first}")

    # Retained media is blurred and greyscale by default, and really loaded (CSP allows it).
    page.wait_for_function(
        "() => { const i = document.querySelector('#media-figure img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert _filter(page) == "blur(24px) grayscale(1)"
    assert not _item(engine, first).viewed_by_person
    _check_page(page, "console-item-blurred")
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("Escape")
    assert not page.is_visible("#help")

    # One key reveals: recorded in the audit log with the user, and the file marked viewed.
    page.keyboard.press("r")
    page.wait_for_selector("#revealed-note")
    page.wait_for_selector("#media-figure.revealed")  # after htmx settles the new classes
    assert _filter(page) == "grayscale(1)"
    with session_scope(make_session_factory(engine)) as session:
        reveals = audit.records(session, subject=f"item:{first}", action="media.reveal")
        assert [r.actor for r in reveals] == ["user:alice"]
    assert _item(engine, first).viewed_by_person
    save_screenshot(page, "console-item-revealed")

    # Grade A1 with "1": the next item opens, and alice's grade waits for a second reviewer.
    page.keyboard.press("1")
    page.wait_for_url(f"{base}/console/items/{second}?after={first}")
    assert "Waiting for a second, independent reviewer." in page.inner_text("#after")
    assert page.is_visible("#no-media")  # nothing retained: hashes, matches, metadata only
    page.keyboard.press("j")
    page.wait_for_url(f"{base}/console/items/{third}")
    page.keyboard.press("k")
    page.wait_for_url(f"{base}/console/items/{second}")
    assert _item(engine, first).status is ItemStatus.QUEUED
    page.click("text=Log out")
    page.wait_for_url(f"{base}/console/login")

    # Bob agrees: four-eyes decides the item and adds it to the shared bank.
    bob = browser.new_context(viewport=PHONE).new_page()
    bob.on("console", watch)
    _log_in(bob, base, "bob")
    bob.goto(f"{base}/console/items/{first}")
    assert "1 of 2 independent grades in" in bob.inner_text("#four-eyes")
    bob.keyboard.press("1")
    bob.wait_for_url(f"{base}/console/items/{second}?after={first}")
    assert "Decided: industry A1" in bob.inner_text("#after")
    item = _item(engine, first)
    assert (item.status, item.decision_value, item.banked_in) == (
        ItemStatus.DECIDED,
        "A1",
        seeded.target_bank,
    )
    with session_scope(make_session_factory(engine)) as session:
        bank = session.scalars(select(Bank).where(Bank.name == seeded.target_bank)).one()
        assert session.scalars(select(BankEntry).where(BankEntry.bank_id == bank.id)).all()
    bob.context.close()

    # Carol (analyst) generates the NCMEC report and submits it; the worker sends it.
    carol = browser.new_context(viewport=PHONE, accept_downloads=True).new_page()
    carol.on("console", watch)
    _log_in(carol, base, "carol")
    carol.goto(f"{base}/console/cases")
    _check_page(carol, "console-cases")
    carol.goto(f"{base}/console/cases/{seeded.case_id}")
    _check_page(carol, "console-case")
    carol.goto(f"{base}/console/cases/{seeded.case_id}/details")
    _check_page(carol, "console-case-details")
    carol.goto(f"{base}/console/preferences")
    _check_page(carol, "console-preferences")
    carol.goto(f"{base}/console/cases/{seeded.case_id}/reports")
    _check_page(carol)
    with carol.expect_download() as download:
        carol.click("#generate-ncmec")
    validate(Path(download.value.path()).read_bytes())
    carol.click("#submit-ncmec")
    carol.wait_for_selector('[data-report-status="queued"]')
    _fits_a_phone(carol)
    url, state = fake_ncmec
    settings = NcmecSettings(url, NCMEC_USER, NCMEC_PASSWORD)
    factory = make_session_factory(engine)
    with ncmec_client(settings, timeout=10) as client:
        handler = ncmec_handler(factory, client, settings, vault=vault)
        assert Worker(factory, {NCMEC_JOB: handler}).run_once() == 1
    # htmx polls the table while a report is queued: the status turns without a reload.
    carol.wait_for_selector('[data-report-status="submitted"]')
    save_screenshot(carol, "console-reports")
    assert state.calls == ["submit", "upload", "fileinfo", "finish"]
    with session_scope(make_session_factory(engine)) as session:
        sent = session.scalars(
            select(CaseReport).where(CaseReport.status == ReportStatus.SUBMITTED)
        ).one()
        assert sent.remote_id is not None
        assert audit.verify(session) == []
    carol.context.close()
    assert problems == []
