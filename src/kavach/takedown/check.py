"""The URL check: fetch only the reported URL (and the media its page embeds), hash in memory,
match against the banks, keep nothing but hashes and matches.

A media URL (``image/*``, ``video/*``) is hashed itself. An HTML page is parsed for its *direct*
media links (``<img src>``, ``<video src>``, ``<video><source src>``) and those are fetched and
hashed; links to other pages are never followed. Every fetch goes through
:class:`~kavach.takedown.guard.GuardedFetcher` (SSRF policy, limits, pinned addresses).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from kavach.errors import KavachError
from kavach.hashing import HashOptions, HashRecord, hash_bytes
from kavach.match.models import Match
from kavach.takedown.errors import ContentTypeError, FetchError
from kavach.takedown.guard import GuardedFetcher

__all__ = ["CheckResult", "MatchFn", "MediaResult", "UrlChecker", "media_links"]

log = logging.getLogger(__name__)

MatchFn = Callable[[HashRecord], list[Match]]
"""Matches one hashed file against the banks (``Matcher.match_record``)."""

_HTML = frozenset({"text/html", "application/xhtml+xml"})


def _is_media(content_type: str) -> bool:
    return content_type.startswith(("image/", "video/"))


def _is_checked(content_type: str) -> bool:
    return _is_media(content_type) or content_type in _HTML


@dataclass(frozen=True, slots=True)
class MediaResult:
    """What one media URL gave: its digests and matches, or why it could not be checked."""

    url: str
    sha256: str | None = None
    pdq: str | None = None
    matches: tuple[Match, ...] = ()
    error: str | None = None
    final: bool = False
    """The error shows the media is not served any more (a final 4xx, not media any more)."""


@dataclass(slots=True)
class CheckResult:
    """The outcome of checking one reported URL."""

    url: str
    reachable: bool
    status: int | None = None
    content_type: str | None = None
    address: str | None = None
    media: list[MediaResult] = field(default_factory=list)
    error: str | None = None
    other_content: bool = False
    """The URL now serves something that is neither media nor a page (e.g. a text notice)."""

    @property
    def matched(self) -> list[MediaResult]:
        """The media that matched a bank entry."""
        return [m for m in self.media if m.matches]

    @property
    def live(self) -> bool:
        """True when the URL still serves listed content."""
        return bool(self.matched)

    @property
    def gone(self) -> bool:
        """True when the check shows the listed content is no longer served: the URL answers
        "not found" (404, 410 and other final 4xx), or the page and every media link on it were
        read and nothing matched. A failed connection, a timeout or a 5xx proves nothing."""
        if self.live:
            return False
        if self.other_content:
            return True
        if self.status is None:
            return False
        if self.status >= 400:
            return _final(self.status)
        return all(m.error is None or m.final for m in self.media)

    def match_records(self) -> list[dict[str, Any]]:
        """The matches as stored with the item and the case: URLs, banks, entries, no media."""
        return [
            {
                "url": m.url,
                "sha256": m.sha256,
                "bank": match.bank,
                "entry_id": match.entry_id,
                "signal_type": match.signal_type.value,
                "distance": match.distance,
            }
            for m in self.matched
            for match in m.matches
        ]


# Answers that may change on their own (the host is busy or limiting us), so prove nothing.
_TRANSIENT = frozenset({408, 425, 429})


def _final(status: int) -> bool:
    return 400 <= status < 500 and status not in _TRANSIENT


def media_links(html: bytes, base_url: str, limit: int) -> list[str]:
    """The direct media links of an HTML page (img/video/source ``src``), absolute, deduplicated,
    http(s) only, at most ``limit``."""
    if not html.strip():
        return []
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    base = base_url
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            base = urljoin(base_url, href.strip())
        break
    found: list[str] = []
    for element in root.iter("img", "video", "source"):
        parent = element.getparent()
        if element.tag == "source" and (parent is None or parent.tag != "video"):
            continue  # <picture>/<audio> sources are not direct video links
        src = element.get("src")
        if not src:
            continue
        link = urljoin(base, src.strip()).split("#", 1)[0]
        if urlsplit(link).scheme in ("http", "https") and link not in found:
            found.append(link)
            if len(found) >= limit:
                break
    return found


class UrlChecker:
    """Checks reported URLs with ``fetcher`` and ``match``; hashing options are the API's."""

    def __init__(
        self,
        fetcher: GuardedFetcher,
        match: MatchFn,
        *,
        max_media: int = 20,
        options: HashOptions | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.match = match
        self.max_media = max_media
        self.options = options or HashOptions()

    def check(self, url: str) -> CheckResult:
        """Fetch ``url``; hash it or the media its page embeds; never raises for the URL's sake
        (a refused address or a failed fetch is the result's ``error``)."""
        try:
            page = self.fetcher.fetch(url, accept=_is_checked)
        except ContentTypeError as exc:
            return CheckResult(url=url, reachable=True, error=exc.message, other_content=True)
        except KavachError as exc:
            return CheckResult(url=url, reachable=False, error=exc.message)
        result = CheckResult(
            url=url,
            reachable=page.status < 400,
            status=page.status,
            content_type=page.content_type,
            address=page.address,
        )
        if page.status >= 400:
            # Gone (404/410) or refused: nothing served, which is what removal looks like.
            return result
        if _is_media(page.content_type):
            result.media.append(self._hash(page.url, page.body))
            return result
        links = media_links(page.body, page.url, self.max_media)
        del page  # the page itself is not needed any more; keep nothing
        result.media.extend(self._fetch_media(links))
        return result

    def _fetch_media(self, links: Sequence[str]) -> list[MediaResult]:
        out: list[MediaResult] = []
        for link in links:
            try:
                media = self.fetcher.fetch(link, accept=_is_media)
            except ContentTypeError as exc:
                out.append(MediaResult(url=link, error=exc.message, final=True))
                continue
            except KavachError as exc:
                out.append(MediaResult(url=link, error=exc.message))
                continue
            if media.status >= 400:
                final = _final(media.status)
                out.append(MediaResult(url=link, error=f"HTTP {media.status}", final=final))
                continue
            out.append(self._hash(link, media.body))
        return out

    def _hash(self, url: str, data: bytes) -> MediaResult:
        if not data:
            return MediaResult(url=url, error="empty response")
        record = hash_bytes(data, self.options, path=url)
        if record.error is not None and not record.sha256:
            return MediaResult(url=url, error=record.error.message)
        try:
            matches = tuple(self.match(record))
        except KavachError as exc:
            raise FetchError(f"matching failed: {exc.message}") from None
        return MediaResult(url=url, sha256=record.sha256, pdq=record.pdq, matches=matches)
