"""What counts as removal: a final "not found" or a page without the listed media does; a host
that is down, timing out or failing (5xx) does not, until it has failed several checks in a row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from kavach.banks.service import ensure_organisation
from kavach.takedown import blocklist
from kavach.takedown.check import CheckResult, MediaResult
from kavach.takedown.models import ItemStatus, TakedownItem
from kavach.takedown.service import INCONCLUSIVE_AS_GONE, apply_check, submit_report
from kavach.takedown.settings import get_takedown_settings
from tests.takedown.helpers import FakeClock

URL = "http://down.test/page.html"


def test_which_checks_show_the_content_gone() -> None:
    page = {"url": URL, "reachable": True, "status": 200, "content_type": "text/html"}
    assert CheckResult(url=URL, reachable=False, status=404).gone
    assert CheckResult(url=URL, reachable=False, status=410).gone
    assert CheckResult(**page, media=[]).gone  # the page no longer embeds anything
    assert CheckResult(**page, media=[MediaResult("m", error="HTTP 404", final=True)]).gone
    assert CheckResult(url=URL, reachable=True, other_content=True).gone
    assert not CheckResult(url=URL, reachable=False, status=503).gone
    assert not CheckResult(url=URL, reachable=False, status=429).gone
    assert not CheckResult(url=URL, reachable=False, error="fetching down.test failed").gone
    assert not CheckResult(**page, media=[MediaResult("m", error="ReadTimeout")]).gone


def test_a_failing_host_stays_listed_until_it_fails_repeatedly(session: Session) -> None:
    clock = FakeClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    settings = get_takedown_settings({}, recheck_hours=24)
    org = ensure_organisation(session, "Kavach hotline")
    submitted = submit_report(session, url=URL, organisation_id=org.id, clock=clock)
    item = session.get(TakedownItem, submitted.item_id)
    assert item is not None
    item.status, item.confirmed_at = ItemStatus.CONFIRMED, clock()

    failures = [
        CheckResult(url=URL, reachable=False, status=503),
        CheckResult(url=URL, reachable=False, error="fetching down.test failed: ConnectError"),
        CheckResult(url=URL, reachable=False, error="the URL check ran out of time"),
    ]
    assert len(failures) == INCONCLUSIVE_AS_GONE
    for n, failure in enumerate(failures, start=1):
        clock.advance(hours=24)
        apply_check(session, item, failure, attribution=None, settings=settings, clock=clock)
        session.flush()
        if n < INCONCLUSIVE_AS_GONE:
            assert item.status is ItemStatus.CONFIRMED
            assert URL in blocklist.urls(session)
            assert item.next_check_at == clock() + dt.timedelta(hours=24)
            assert item.notices_sent == 0  # no notice while we cannot see the content
    assert item.status is ItemStatus.REMOVED
    assert URL not in blocklist.urls(session)

    # A final answer removes at once.
    other = submit_report(
        session, url="http://gone.test/x.jpg", organisation_id=org.id, clock=clock
    )
    gone = session.get(TakedownItem, other.item_id)
    assert gone is not None
    gone.status, gone.confirmed_at = ItemStatus.CONFIRMED, clock()
    clock.advance(hours=5)
    result = CheckResult(url=gone.url, reachable=False, status=410)
    apply_check(session, gone, result, attribution=None, settings=settings, clock=clock)
    assert gone.status is ItemStatus.REMOVED
    assert gone.removed_at is not None
    assert gone.removed_at - gone.confirmed_at == dt.timedelta(hours=5)
