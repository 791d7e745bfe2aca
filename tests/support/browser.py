"""Playwright on Debian's chromium for the browser tests (console, portal).

The fixtures ``browser`` and ``page`` are registered once, in ``tests/conftest.py``, for every
test (a second definition would start a second Playwright in the same process, which its sync
API refuses). ``page`` is a fresh 360x740 (phone-sized) page per test; ``save_screenshot(page,
name)`` keeps a PNG under ``test-artifacts/screenshots/`` as a test artefact. Chromium comes
from Debian (``make browser`` installs it); without it the tests are skipped, except under CI,
where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

__all__ = ["ARTIFACTS", "PHONE", "browser", "chromium_path", "page", "save_screenshot"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}


def chromium_path() -> str | None:
    """Debian's chromium, or KAVACH_TEST_CHROMIUM."""
    configured = os.environ.get("KAVACH_TEST_CHROMIUM")
    if configured:
        return configured
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the whole run."""
    executable = chromium_path()
    if executable is None:
        message = "Debian's chromium is not installed (run `make browser`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh phone-sized page (own cookies) for one test."""
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def save_screenshot(tab: Page, name: str) -> Path:
    """Save a full-page PNG of ``tab`` as a test artefact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
