"""The vouching rule: an entry acts (matches automatically) only when enough independent members
from enough countries vouch for its hash; below the rule it waits in the review queue.

The vouchers of a hash are the organisations with an ``EntryVouch`` on any live entry holding
it, in any bank: a peer's add or vouch received through its feed records one (when we trust the
peer fully), and so does a local analyst's ``kavach exchange vouch``. A bank's rule is
``(vouch_members, vouch_countries)``: banks received from peers are created with
``ALLIANCE_RULE`` (2 members from 2 countries); unset means (1, 1), a member's own bank, whose
entries always act.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kavach.banks.formats import HashRecord, Label
from kavach.banks.models import Bank, BankEntry, EntryLabel, EntryVouch
from kavach.banks.service import add_entries, get_bank
from kavach.errors import InputError, NotFoundError
from kavach.exchange.feeds import ORIGIN_ATTRIBUTE
from kavach.signals.types import SignalType, format_hash
from kavach.signals.vpdq import VideoHash
from kavach.store.base import utcnow
from kavach.store.models import Organisation

__all__ = [
    "ALLIANCE_RULE",
    "PendingEntry",
    "pending",
    "refresh_acting",
    "rule_for",
    "vouch_locally",
]

ALLIANCE_RULE = (2, 2)

Key = tuple[str, bytes]
_BATCH = 2000


def rule_for(bank: Bank | Any) -> tuple[int, int]:
    """``(members, countries)`` the bank requires before an entry acts."""
    if isinstance(bank, Bank):
        return bank.vouching_rule()
    return (bank.vouch_members or 1, bank.vouch_countries or 1)


def refresh_acting(session: Session, keys: Iterable[Key]) -> int:
    """Recompute ``acts`` for every entry holding one of the hashes; return how many changed.

    Each bank whose entries changed gets one version bump, so indexes reload them.
    """
    unique = list(dict.fromkeys(keys))
    changed = 0
    for start in range(0, len(unique), _BATCH):
        changed += _refresh_batch(session, unique[start : start + _BATCH])
    return changed


def _refresh_batch(session: Session, keys: list[Key]) -> int:
    by_type: dict[str, list[bytes]] = {}
    for signal_type, value in keys:
        by_type.setdefault(signal_type, []).append(value)
    # One query per signal type, so (signal_type, value) is an index search: a query on the
    # value alone scans the whole entry table, which made a large sync quadratic.
    rows = [
        row
        for signal_type, values in by_type.items()
        for row in session.execute(
            select(
                BankEntry.id,
                BankEntry.bank_id,
                BankEntry.signal_type,
                BankEntry.value,
                BankEntry.acts,
            ).where(
                BankEntry.signal_type == signal_type,
                BankEntry.value.in_(values),
                BankEntry.retracted_at.is_(None),
            )
        )
    ]
    if not rows:
        return 0
    banks = {
        b.id: b
        for b in session.execute(
            select(Bank.id, Bank.source, Bank.vouch_members, Bank.vouch_countries).where(
                Bank.id.in_({r.bank_id for r in rows})
            )
        )
    }
    key_of = {r.id: (r.signal_type, bytes(r.value)) for r in rows}
    vouchers: dict[Key, set[tuple[int, str | None]]] = {}
    for entry_id, org_id, country in session.execute(
        select(EntryVouch.entry_id, Organisation.id, Organisation.country)
        .join(Organisation, Organisation.id == EntryVouch.organisation_id)
        .where(EntryVouch.entry_id.in_(list(key_of)))
    ):
        vouchers.setdefault(key_of[entry_id], set()).add((org_id, country))
    flips: dict[int, dict[bool, list[int]]] = {}
    for row in rows:
        members, countries = rule_for(banks[row.bank_id])
        if members <= 1 and countries <= 1:
            want = True
        else:
            orgs = vouchers.get(key_of[row.id], set())
            distinct = {country for _, country in orgs if country}
            want = len(orgs) >= members and len(distinct) >= countries
        if want != row.acts:
            flips.setdefault(row.bank_id, {}).setdefault(want, []).append(row.id)
    changed = 0
    for bank_id, by_state in flips.items():
        version = session.execute(
            update(Bank)
            .where(Bank.id == bank_id)
            .values(version=Bank.version + 1, updated_at=utcnow())
            .returning(Bank.version)
        ).scalar_one()
        for state, ids in by_state.items():
            session.execute(
                update(BankEntry)
                .where(BankEntry.id.in_(ids))
                .values(acts=state, changed_version=version)
                .execution_options(synchronize_session=False)
            )
            changed += len(ids)
        bank = session.identity_map.get(session.identity_key(Bank, bank_id))
        if isinstance(bank, Bank):
            set_committed_value(bank, "version", version)
    return changed


@dataclass(frozen=True)
class PendingEntry:
    """An entry below its bank's rule, waiting for review, and who vouched for its hash."""

    bank: str
    signal_type: str
    value: str
    item_id: str | None
    vouchers: list[str]
    countries: list[str]
    required: tuple[int, int]


def pending(session: Session, *, bank: str | None = None, limit: int = 100) -> list[PendingEntry]:
    """Live entries that do not act yet (the exchange review queue), oldest first."""
    stmt = (
        select(BankEntry.id, BankEntry.signal_type, BankEntry.value, BankEntry.item_id, Bank)
        .join(Bank, Bank.id == BankEntry.bank_id)
        .where(BankEntry.acts.is_(False), BankEntry.retracted_at.is_(None))
        .order_by(BankEntry.id)
        .limit(limit)
    )
    if bank is not None:
        stmt = stmt.where(Bank.name == bank)
    rows = session.execute(stmt).all()
    found: list[PendingEntry] = []
    for row in rows:
        orgs = session.execute(
            select(Organisation.name, Organisation.country)
            .join(EntryVouch, EntryVouch.organisation_id == Organisation.id)
            .join(BankEntry, BankEntry.id == EntryVouch.entry_id)
            .where(
                BankEntry.signal_type == row.signal_type,
                BankEntry.value == row.value,
                BankEntry.retracted_at.is_(None),
            )
            .distinct()
        ).all()
        st = SignalType(row.signal_type)
        found.append(
            PendingEntry(
                bank=row.Bank.name,
                signal_type=st.value,
                value=format_hash(st, bytes(row.value)),
                item_id=row.item_id,
                vouchers=sorted(name for name, _ in orgs),
                countries=sorted({c for _, c in orgs if c}),
                required=rule_for(row.Bank),
            )
        )
    return found


def vouch_locally(
    session: Session,
    organisation: Organisation,
    *,
    bank: str,
    signal_type: SignalType,
    value: bytes,
    into: str | None,
) -> bool:
    """Our organisation vouches for a hash held in ``bank`` (usually a peer's mirror).

    Records our vouch on the entry and, with ``into`` (one of our shared banks), copies the
    entry there marked with its origin, so our feed tells peers we vouch. Returns False when we
    had already vouched.
    """
    source = get_bank(session, bank)
    entry = session.scalars(
        select(BankEntry).where(
            BankEntry.bank_id == source.id,
            BankEntry.signal_type == signal_type.value,
            BankEntry.value == value,
            BankEntry.retracted_at.is_(None),
        )
    ).one_or_none()
    if entry is None:
        raise NotFoundError(f"no live {signal_type.value} entry with that value in {bank!r}")
    exists = session.scalar(
        select(EntryVouch.id).where(
            EntryVouch.entry_id == entry.id, EntryVouch.organisation_id == organisation.id
        )
    )
    if exists is None:
        session.add(EntryVouch(entry_id=entry.id, organisation_id=organisation.id))
        session.flush()
    if into is not None:
        target = get_bank(session, into)
        if target.owner_id != organisation.id:
            raise InputError(f"{into!r} is not one of this organisation's banks")
        labels = tuple(
            Label(lb.scheme, lb.value, lb.assessor, lb.assessed_at)
            for lb in session.scalars(select(EntryLabel).where(EntryLabel.entry_id == entry.id))
        )
        origin = source.name.split(".", 1)[0] if "." in source.name else source.name
        origin_node = (entry.added_by or "").removeprefix("peer:") or origin
        attributes = {ORIGIN_ATTRIBUTE: origin_node}
        if signal_type is SignalType.VPDQ and entry.payload is not None:
            # A video entry goes with its frames (the bank writer checks they give its key).
            video = VideoHash.from_bytes(bytes(entry.payload))
            record = HashRecord.with_video(video, (), labels, entry.item_id, attributes)
        else:
            record = HashRecord(((signal_type, value),), labels, entry.item_id, attributes)
        add_entries(
            session,
            target,
            [record],
            added_by=f"org:{organisation.name}",
            reinstate=True,
        )
    refresh_acting(session, [(signal_type.value, value)])
    return exists is None
