"""The NCMEC hash sharing connector against a local fake of ``GET /v2/entries``."""

from __future__ import annotations

import datetime as dt
import hashlib

import httpx
from sqlalchemy import Engine, func, select

from kavach.banks.models import BankEntry
from kavach.banks.service import create_bank, ensure_organisation, get_bank
from kavach.exchange.models import NcmecCheckpoint
from kavach.exchange.ncmec import NcmecConnector, format_time, next_link
from kavach.store.db import make_session_factory, session_scope

NS = "https://hashsharing.ncmec.org/hashsharing/v2"
DAY1 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _md5(n: int) -> str:
    return hashlib.md5(f"benign ncmec test item {n}".encode()).hexdigest()


def _page(entries: list[int], deleted: list[int] = (), next_url: str | None = None) -> bytes:  # type: ignore[assignment]
    images = "".join(
        f'<image id="{n}" timestamp="2024-05-01T10:00:00Z"><classification>A1</classification>'
        f"<fingerprints><md5>{_md5(n)}</md5></fingerprints></image>"
        for n in entries
    )
    gone = "".join(f'<image id="{n}"/>' for n in deleted)
    paging = f"<paging><next>{next_url.replace('&', '&amp;')}</next></paging>" if next_url else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="{NS}">'
        f"<images>{images}</images><deletedEntries>{gone}</deletedEntries>{paging}</queryResult>"
    ).encode()


class FakeNcmec:
    """Two days of entries; day 1 spans two pages (entries not in time order), day 2 deletes."""

    def __init__(self) -> None:
        self.fail: set[str] = set()
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v2/entries"
        start = request.url.params["from"]
        key = f"{start}#{request.url.params.get('start', '1')}"
        self.calls.append(key)
        if key in self.fail:
            self.fail.discard(key)
            return httpx.Response(503)
        if start == format_time(DAY1):
            if request.url.params.get("start") == "3":
                return httpx.Response(200, content=_page([3, 4]))
            nxt = f"/v2/entries?from={start}&to={request.url.params['to']}&start=3"
            return httpx.Response(200, content=_page([2, 1], next_url=nxt))
        if start == format_time(DAY1 + dt.timedelta(days=1)):
            return httpx.Response(200, content=_page([5], deleted=[2]))
        return httpx.Response(200, content=_page([]))


def _live(factory: object, bank: str) -> int:
    with session_scope(factory) as session:  # type: ignore[arg-type]
        bank_id = get_bank(session, bank).id
        return int(
            session.scalar(
                select(func.count())
                .select_from(BankEntry)
                .where(BankEntry.bank_id == bank_id, BankEntry.retracted_at.is_(None))
            )
            or 0
        )


def test_next_link_is_read_and_foreign_links_refused() -> None:
    assert next_link(_page([1], next_url="/v2/entries?a=1&b=2")) == "/v2/entries?a=1&b=2"
    assert next_link(_page([1])) is None


def test_whole_ranges_are_checkpointed_and_a_failed_range_is_read_again(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        org = ensure_organisation(session, "NCMEC", "US")
        create_bank(session, name="ncmec-feed", owner=org, source="ncmec")
    fake = FakeNcmec()
    with httpx.Client(transport=httpx.MockTransport(fake)) as client:
        connector = NcmecConnector(client, "https://ncmec.test/")
        until = DAY1 + dt.timedelta(days=2)
        # Page 2 of day 1 fails: nothing of day 1 stays, the checkpoint does not move.
        fake.fail.add(f"{format_time(DAY1)}#3")
        report = connector.poll(factory, "ncmec-feed", start=DAY1, until=until)
        assert report.errors
        assert report.ranges == 0
        assert _live(factory, "ncmec-feed") == 0
        with session_scope(factory) as session:
            assert session.get(NcmecCheckpoint, get_bank(session, "ncmec-feed").id) is None
        # Next poll: both days, following the next link; day 2's tombstone retracts entry 2.
        report = connector.poll(factory, "ncmec-feed", start=DAY1, until=until)
        assert not report.errors
        assert (report.ranges, report.pages) == (2, 3)
        assert _live(factory, "ncmec-feed") == 4
        assert report.checkpoint == until
        # Polling again reads nothing new: the checkpoint is at `until`.
        calls = len(fake.calls)
        again = connector.poll(factory, "ncmec-feed", start=DAY1, until=until)
        assert again.ranges == 0
        assert len(fake.calls) == calls
    with session_scope(factory) as session:
        checkpoint = session.get(NcmecCheckpoint, get_bank(session, "ncmec-feed").id)
        assert checkpoint is not None
        assert checkpoint.through == until


def test_a_next_link_to_another_host_is_refused(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        org = ensure_organisation(session, "NCMEC", "US")
        create_bank(session, name="ncmec-evil", owner=org, source="ncmec")

    def evil(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_page([9], next_url="https://elsewhere.test/steal"))

    with httpx.Client(transport=httpx.MockTransport(evil)) as client:
        report = NcmecConnector(client, "https://ncmec.test").poll(
            factory, "ncmec-evil", start=DAY1, until=DAY1 + dt.timedelta(hours=1)
        )
    assert "leaves the service" in report.errors[0]
    assert _live(factory, "ncmec-evil") == 0
