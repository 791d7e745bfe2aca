"""The NCMEC hash sharing API v2 connector: poll ``GET /v2/entries?from=&to=`` into a bank.

NCMEC pages are not ordered by time, so a time range is read whole — every page, following the
``<paging><next>`` links — and applied in one transaction together with the checkpoint that
says the range is done. A failure anywhere in a range leaves the bank and the checkpoint as they
were; the next poll reads the range again (applying a page twice changes nothing).
The connector takes an ``httpx.Client`` that carries NCMEC's credentials (basic auth) and TLS.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from sqlalchemy.orm import Session, sessionmaker

from kavach.banks.service import get_bank, import_bank
from kavach.errors import FormatError, InputError, ServiceUnavailableError
from kavach.exchange.models import NcmecCheckpoint
from kavach.store.base import utcnow
from kavach.store.db import session_scope

__all__ = ["NcmecConnector", "PollReport", "format_time", "next_link"]

_MAX_PAGE_BYTES = 64 * 1024 * 1024


def format_time(when: dt.datetime) -> str:
    """A time as the API takes it: ``2024-05-01T00:00:00.000Z``."""
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def next_link(page: bytes) -> str | None:
    """The ``<paging><next>`` link of a page, or None on the last page."""
    inside_paging = False
    try:
        for event, elem in iterparse(io.BytesIO(page), events=("start", "end"), forbid_dtd=True):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag == "paging":
                inside_paging = event == "start"
            elif tag == "next" and event == "end" and inside_paging:
                text = (elem.text or "").strip()
                return text or None
    except ParseError as exc:
        raise FormatError(f"malformed NCMEC page: {exc}") from None
    except DefusedXmlException:
        raise FormatError("refused NCMEC page: DTDs and entities are not allowed") from None
    return None


@dataclass
class PollReport:
    """What one poll did: ranges completed, pages read, records in, the checkpoint after."""

    ranges: int = 0
    pages: int = 0
    added: int = 0
    updated: int = 0
    retracted: int = 0
    record_errors: int = 0
    checkpoint: dt.datetime | None = None
    errors: list[str] = field(default_factory=list)


class NcmecConnector:
    """Reads NCMEC's entries into one bank, a time range at a time."""

    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        *,
        window: dt.timedelta = dt.timedelta(days=1),
        max_pages: int = 100_000,
    ) -> None:
        if window <= dt.timedelta(0):
            raise InputError("the polling window must be positive")
        self.client = client
        self.base = httpx.URL(base_url.rstrip("/") + "/")
        self.window = window
        self.max_pages = max_pages

    def poll(
        self,
        factory: sessionmaker[Session],
        bank: str,
        *,
        start: dt.datetime,
        until: dt.datetime | None = None,
    ) -> PollReport:
        """Read every complete range from the checkpoint (or ``start``) up to ``until`` (now)."""
        report = PollReport()
        end = until or utcnow()
        with session_scope(factory) as session:
            bank_id = get_bank(session, bank).id
            checkpoint = session.get(NcmecCheckpoint, bank_id)
            current = checkpoint.through if checkpoint is not None else start
        report.checkpoint = current
        while current < end:
            upto = min(current + self.window, end)
            try:
                with session_scope(factory) as session:
                    self._read_range(session, bank, current, upto, report)
            except (httpx.HTTPError, FormatError, ServiceUnavailableError) as exc:
                report.errors.append(f"{format_time(current)}..{format_time(upto)}: {exc}")
                break
            report.ranges += 1
            current = report.checkpoint = upto
        return report

    def _read_range(
        self,
        session: Session,
        bank_name: str,
        start: dt.datetime,
        end: dt.datetime,
        report: PollReport,
    ) -> None:
        bank = get_bank(session, bank_name)
        url: httpx.URL | None = self.base.join("v2/entries").copy_merge_params(
            {"from": format_time(start), "to": format_time(end)}
        )
        pages = added = updated = retracted = errors = 0
        while url is not None:
            if pages >= self.max_pages:
                raise ServiceUnavailableError("NCMEC range has more pages than allowed")
            response = self.client.get(url)
            response.raise_for_status()
            body = response.content
            if len(body) > _MAX_PAGE_BYTES:
                raise FormatError("NCMEC page larger than 64 MiB")
            result = import_bank(
                session,
                bank,
                io.BytesIO(body),
                "ncmec",
                imported_by="ncmec-connector",
                filename=f"ncmec {format_time(start)} page {pages + 1}",
            )
            pages += 1
            added += result.added
            updated += result.updated
            retracted += result.retracted
            errors += result.error_count
            link = next_link(body)
            url = None if link is None else self._follow(link)
        checkpoint = session.get(NcmecCheckpoint, bank.id)
        if checkpoint is None:
            session.add(NcmecCheckpoint(bank_id=bank.id, through=end))
        else:
            checkpoint.through = end
        session.flush()
        report.pages += pages
        report.added += added
        report.updated += updated
        report.retracted += retracted
        report.record_errors += errors

    def _follow(self, link: str) -> httpx.URL:
        target = self.base.join(link)
        # A next link may only lead to the same service (never elsewhere with our credentials).
        if (target.scheme, target.host, target.port) != (
            self.base.scheme,
            self.base.host,
            self.base.port,
        ):
            raise FormatError(f"NCMEC next link leaves the service: {target.host}")
        return target
