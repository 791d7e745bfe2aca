"""Fixtures every test package shares.

The browser fixtures are defined here, once: Playwright's sync API runs one instance per thread,
so a second session-scoped ``browser`` (one per conftest that imported it) failed to start
whenever two browser-test packages ran in the same process.
"""

from tests.support.browser import browser, page

__all__ = ["browser", "page"]
