"""The serve process's in-memory indexes, reloaded in the background when banks change.

A poller thread reads every bank's version (one small query) each ``interval`` seconds. A version
bump (made by any process: another replica, the CLI, an import) is applied incrementally with
``Matcher.refresh``; a bank created or deleted gets a fresh matcher built on the side and swapped
in. Queries keep using the current matcher throughout: nothing they touch is locked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kavach.auth.service import Principal
from kavach.banks.models import Bank, BankShare, SharingPolicy
from kavach.errors import NotFoundError
from kavach.match.matcher import Matcher, Query
from kavach.match.models import Match, MatchPolicy

__all__ = ["BankInfo", "IndexHolder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BankInfo:
    """What deciding who may use a bank needs, cached with the indexes."""

    id: int
    name: str
    version: int
    owner_id: int
    sharing: SharingPolicy
    members: frozenset[int]

    def visible_to(self, organisation_id: int) -> bool:
        """Owner, every member of the alliance, or the members named, per the sharing policy."""
        return (
            self.owner_id == organisation_id
            or self.sharing is SharingPolicy.ALLIANCE
            or (self.sharing is SharingPolicy.MEMBERS and organisation_id in self.members)
        )


class IndexHolder:
    """Every bank's indexes for one serve process, kept fresh by a poller thread."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        interval: float = 1.0,
        database_key: str = "",
    ) -> None:
        self._factory = session_factory
        self._interval = interval
        self._database_key = database_key
        self._matcher: Matcher | None = None
        self._banks: dict[str, BankInfo] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def ready(self) -> bool:
        """True once every bank has been loaded at least once."""
        return self._ready.is_set()

    def banks(self) -> dict[str, BankInfo]:
        """The banks as of the last poll, by name."""
        return self._banks

    def entry_counts(self) -> dict[str, int]:
        """Indexed live entries per bank."""
        matcher = self._matcher
        return matcher.entry_counts() if matcher is not None else {}

    def versions(self) -> dict[str, int]:
        """The bank versions the indexes reflect."""
        matcher = self._matcher
        return matcher.versions() if matcher is not None else {}

    def start(self) -> None:
        """Load now (in the caller's thread, so a server is ready when it starts) and poll."""
        try:
            self.poll()
        except Exception as exc:
            # The server still starts; /readyz says not ready until a poll succeeds.
            self.last_error = str(exc)
            log.exception("loading the indexes failed; retrying in the background")
        self._thread = threading.Thread(target=self._run, name="kavach-index-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
                self.last_error = None
            except Exception as exc:
                self.last_error = str(exc)
                log.exception("refreshing the indexes failed; trying again")

    def poll(self) -> bool:
        """Bring the indexes up to date with the database; True when anything changed."""
        banks = self._read_banks()
        matcher = self._matcher
        changed = False
        names = sorted(banks)
        if matcher is None or sorted(matcher.bank_names) != names:
            matcher = self._build(names)
            changed = True
        else:
            versions = matcher.versions()
            if any(versions.get(name) != info.version for name, info in banks.items()):
                try:
                    changed = matcher.refresh()
                except NotFoundError:  # a bank vanished between the two reads
                    matcher = self._build(names)
                    changed = True
        self._matcher = matcher
        self._banks = banks
        self._ready.set()
        return changed

    def _build(self, names: list[str]) -> Matcher | None:
        if not names:
            return None
        matcher = Matcher(self._factory, names, MatchPolicy(), database_key=self._database_key)
        matcher.load()
        return matcher

    def _read_banks(self) -> dict[str, BankInfo]:
        with self._factory() as session:
            rows = session.execute(
                select(Bank.id, Bank.name, Bank.version, Bank.owner_id, Bank.sharing)
            ).all()
            members: dict[int, set[int]] = {}
            for bank_id, org_id in session.execute(
                select(BankShare.bank_id, BankShare.organisation_id)
            ):
                members.setdefault(bank_id, set()).add(org_id)
        return {
            row.name: BankInfo(
                id=row.id,
                name=row.name,
                version=row.version,
                owner_id=row.owner_id,
                sharing=row.sharing,
                members=frozenset(members.get(row.id, ())),
            )
            for row in rows
        }

    def resolve(self, principal: Principal, wanted: Sequence[str] | None) -> list[str]:
        """The banks a lookup searches: those named (each must be visible), or all visible."""
        banks = self._banks
        if wanted is None:
            return sorted(
                name for name, b in banks.items() if b.visible_to(principal.organisation_id)
            )
        chosen = []
        for name in dict.fromkeys(wanted):
            info = banks.get(name)
            if info is None or not info.visible_to(principal.organisation_id):
                # The same answer for "absent" and "not yours": bank names are not disclosed.
                raise NotFoundError(f"no bank called {name!r} that this organisation may use")
            chosen.append(name)
        return chosen

    def match(
        self, items: Sequence[Sequence[Query]], banks: Sequence[str], *, threshold: int = 31
    ) -> list[list[Match]]:
        """Matches of each item within ``banks``, PDQ distance at most ``threshold`` (≤ 31), or
        found by a hashed file's reliable bits (the policy's ``reliable_threshold``)."""
        matcher = self._matcher
        if matcher is None or not banks or not items:
            return [[] for _ in items]
        wanted = set(banks)
        found = matcher.match(items)
        return [
            [
                m
                for m in matches
                if m.bank in wanted and (m.distance <= threshold or m.reliable_distance is not None)
            ]
            for matches in found
        ]
