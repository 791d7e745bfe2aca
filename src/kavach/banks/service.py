"""Bank operations: create, list, add and retract entries, import and export list files.

Every function takes the caller's session and leaves commit/rollback to it (one unit of work
per request or command), so an import that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from pathlib import PurePath
from typing import IO, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from kavach.banks.formats import (
    Deletion,
    HashRecord,
    Label,
    ReadOptions,
    RecordError,
    WriteOptions,
    get_format,
)
from kavach.banks.models import (
    Bank,
    BankEntry,
    BankImport,
    BankShare,
    BankSource,
    EntryLabel,
    EntryVouch,
    SharingPolicy,
)
from kavach.errors import InputError, NotFoundError
from kavach.signals.types import SignalType
from kavach.store.base import utcnow
from kavach.store.models import Organisation

__all__ = [
    "BankSummary",
    "ChangeStats",
    "ImportReport",
    "add_entries",
    "bank_summary",
    "create_bank",
    "ensure_organisation",
    "export_bank",
    "get_bank",
    "import_bank",
    "iter_records",
    "list_banks",
    "retract_entries",
    "vouch",
]

# Records are written in batches: one SELECT of existing values and one multi-row INSERT each.
_BATCH = 500
# An import keeps its first errors; the count covers them all.
_KEPT_ERRORS = 100


class ChangeStats(BaseModel):
    """What a change did to a bank."""

    records: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    retracted: int = 0
    skipped_retracted: int = 0


class ImportReport(ChangeStats):
    """The outcome of importing one file: counts, the bank version after, and record errors."""

    import_id: int
    bank: str
    format: str
    filename: str
    version: int
    error_count: int = 0
    errors: list[str] = []


class BankSummary(BaseModel):
    """A bank as ``kavach bank list/show`` and the API present it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    owner: str
    source: BankSource
    sharing: SharingPolicy
    members: list[str]
    version: int
    entries: int
    retracted: int
    by_signal_type: dict[str, int]
    created_at: dt.datetime
    updated_at: dt.datetime


def ensure_organisation(session: Session, name: str, country: str | None = None) -> Organisation:
    """The organisation called ``name``, created if it does not exist yet."""
    name = name.strip()
    if not name:
        raise InputError("an organisation needs a name")
    org = session.scalars(select(Organisation).where(Organisation.name == name)).one_or_none()
    if org is None:
        org = Organisation(name=name, country=country.upper() if country else None)
        session.add(org)
        session.flush()
    return org


def create_bank(
    session: Session,
    *,
    name: str,
    owner: Organisation,
    source: BankSource | str,
    sharing: SharingPolicy | str = SharingPolicy.PRIVATE,
    members: Sequence[Organisation] = (),
    description: str = "",
) -> Bank:
    """Create a bank; ``members`` are required for, and only allowed with, ``members`` sharing."""
    name = name.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise InputError("a bank name must be 1-100 characters without spaces")
    src = _enum(BankSource, source, "source")
    policy = _enum(SharingPolicy, sharing, "sharing policy")
    if policy is SharingPolicy.MEMBERS and not members:
        raise InputError("sharing with named members needs at least one member")
    if members and policy is not SharingPolicy.MEMBERS:
        raise InputError("members can only be named with the 'members' sharing policy")
    if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
        raise InputError(f"a bank called {name!r} already exists")
    bank = Bank(name=name, owner_id=owner.id, source=src, sharing=policy, description=description)
    bank.shares = [BankShare(organisation_id=m.id) for m in members]
    session.add(bank)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise InputError(f"a bank called {name!r} already exists") from None
    return bank


def set_bank_variants(session: Session, bank: Bank, text: str | None) -> frozenset[str] | None:
    """Set which query-side PDQ variant families ``bank`` accepts (``None`` or ``"default"``:
    whatever the matching policy looks up); returns the stored setting, parsed."""
    from kavach.signals.variants import bank_variants, parse_variants

    if text is None or text.strip().lower() == "default":
        bank.variants = None
    else:
        bank.variants = ",".join(sorted(parse_variants(text))) or "none"
    session.flush()
    return bank_variants(bank.variants)


def get_bank(session: Session, name: str) -> Bank:
    """The bank called ``name``, or NotFoundError."""
    bank = session.scalars(select(Bank).where(Bank.name == name)).one_or_none()
    if bank is None:
        raise NotFoundError(f"no bank called {name!r}; see `kavach bank list`")
    return bank


def list_banks(session: Session) -> list[BankSummary]:
    """Every bank, by name, with its entry counts."""
    banks = session.scalars(select(Bank).order_by(Bank.name)).all()
    return [bank_summary(session, bank) for bank in banks]


def bank_summary(session: Session, bank: Bank) -> BankSummary:
    """Counts and settings of one bank."""
    loaded = session.scalars(
        select(Bank)
        .where(Bank.id == bank.id)
        .options(
            selectinload(Bank.owner), selectinload(Bank.shares).selectinload(BankShare.organisation)
        )
    ).one()
    rows = session.execute(
        select(BankEntry.signal_type, BankEntry.retracted_at.is_(None), func.count())
        .where(BankEntry.bank_id == bank.id)
        .group_by(BankEntry.signal_type, BankEntry.retracted_at.is_(None))
    ).all()
    by_type: dict[str, int] = {}
    live = retracted = 0
    for signal_type, is_live, count in rows:
        if is_live:
            live += count
            by_type[signal_type] = by_type.get(signal_type, 0) + count
        else:
            retracted += count
    return BankSummary(
        name=loaded.name,
        description=loaded.description,
        owner=loaded.owner.name,
        source=loaded.source,
        sharing=loaded.sharing,
        members=sorted(share.organisation.name for share in loaded.shares),
        version=loaded.version,
        entries=live,
        retracted=retracted,
        by_signal_type=dict(sorted(by_type.items())),
        created_at=loaded.created_at,
        updated_at=loaded.updated_at,
    )


def add_entries(
    session: Session,
    bank: Bank,
    records: Iterable[HashRecord],
    *,
    added_by: str,
    reinstate: bool = False,
    assessor: str | None = None,
) -> ChangeStats:
    """Add hash records to ``bank`` (new hashes inserted, known ones merged); bump its version once.

    A record is one media item: each of its hashes becomes an entry carrying its labels and
    attributes. A hash already in the bank gains the new labels and attributes. A retracted hash
    stays retracted (counted as skipped) unless ``reinstate``: a re-imported old list must not
    undo a deliberate retraction. Labels without an assessor get ``assessor`` (default: the
    bank's source).
    """
    writer = _Writer(session, bank, added_by, None, reinstate, assessor or bank.source.value)
    for record in records:
        writer.add(record)
    return writer.finish()


def retract_entries(
    session: Session,
    bank: Bank,
    hashes: Iterable[tuple[SignalType, bytes]],
    *,
    retracted_by: str,
    reason: str = "",
) -> int:
    """Tombstone the given hashes in ``bank`` (rows are kept); return how many were retracted."""
    writer = _Writer(session, bank, retracted_by, None, False, bank.source.value)
    batch: list[tuple[SignalType, bytes]] = []
    for item in hashes:
        batch.append(item)
        if len(batch) >= _BATCH:
            writer.delete(Deletion(hashes=tuple(batch)), reason)
            batch = []
    if batch:
        writer.delete(Deletion(hashes=tuple(batch)), reason)
    return writer.finish().retracted


def vouch(
    session: Session, bank: Bank, signal_type: SignalType, value: bytes, organisation: Organisation
) -> bool:
    """Record that ``organisation`` vouches for a live entry; False if it already did."""
    entry_id = session.scalar(
        select(BankEntry.id).where(
            BankEntry.bank_id == bank.id,
            BankEntry.signal_type == signal_type.value,
            BankEntry.value == value,
            BankEntry.retracted_at.is_(None),
        )
    )
    if entry_id is None:
        raise NotFoundError(f"no live {signal_type.value} entry with that value in {bank.name!r}")
    exists = session.scalar(
        select(EntryVouch.id).where(
            EntryVouch.entry_id == entry_id, EntryVouch.organisation_id == organisation.id
        )
    )
    if exists is not None:
        return False
    version = _bump_version(session, bank)
    session.add(EntryVouch(entry_id=entry_id, organisation_id=organisation.id))
    session.execute(
        update(BankEntry).where(BankEntry.id == entry_id).values(changed_version=version)
    )
    session.flush()
    return True


def import_bank(
    session: Session,
    bank: Bank,
    stream: IO[bytes],
    format_name: str,
    *,
    imported_by: str,
    filename: str = "",
    options: ReadOptions | None = None,
    reinstate: bool = False,
    assessor: str | None = None,
) -> ImportReport:
    """Stream a list file into ``bank``: records added, tombstones applied, record errors kept.

    A FormatError (a file broken past reading on) propagates; the caller's rollback then
    discards the partial import.
    """
    fmt = get_format(format_name)
    job = BankImport(
        bank_id=bank.id,
        format=fmt.name,
        filename=PurePath(filename).name[:255],
        imported_by=imported_by,
        errors=[],
    )
    session.add(job)
    session.flush()
    writer = _Writer(session, bank, imported_by, job.id, reinstate, assessor or fmt.name)
    errors: list[RecordError] = []
    error_count = 0
    for item in fmt.read(stream, options or ReadOptions()):
        if isinstance(item, RecordError):
            error_count += 1
            if len(errors) < _KEPT_ERRORS:
                errors.append(item)
        elif isinstance(item, Deletion):
            writer.delete(item, "deleted by the list's source", tombstone_unknown=True)
        else:
            writer.add(item)
    stats = writer.finish()
    job.finished_at = utcnow()
    job.records = stats.records
    job.added = stats.added
    job.updated = stats.updated
    job.retracted = stats.retracted
    job.error_count = error_count
    job.errors = [{"where": e.where, "message": e.message, "line": e.line} for e in errors]
    session.flush()
    return ImportReport(
        **stats.model_dump(),
        import_id=job.id,
        bank=bank.name,
        format=fmt.name,
        filename=job.filename,
        version=bank.version,
        error_count=error_count,
        errors=[str(e) for e in errors],
    )


def export_bank(
    session: Session,
    bank: Bank,
    stream: IO[bytes],
    format_name: str,
    *,
    options: WriteOptions | None = None,
    include_retracted: bool = False,
) -> int:
    """Write ``bank`` to ``stream`` in a list format; return the number of records written."""
    fmt = get_format(format_name)
    records: Iterable[HashRecord | Deletion] = iter_records(
        session, bank, include_retracted=include_retracted, group_items=not fmt.per_hash
    )
    if not fmt.carries_video:
        records = _without_video(records)
    return fmt.write(stream, records, options or WriteOptions())


def _without_video(records: Iterable[HashRecord | Deletion]) -> Iterator[HashRecord | Deletion]:
    # Formats without a field for video hashes get a video's digests (its md5 and sha1 are what
    # VICS, NCMEC and ICSE carry for video); records left with no hash are skipped.
    for record in records:
        hashes = tuple(h for h in record.hashes if h[0] is not SignalType.VPDQ)
        if len(hashes) == len(record.hashes):
            yield record
        elif hashes and isinstance(record, Deletion):
            yield Deletion(record.item_id, hashes, record.where)
        elif hashes and isinstance(record, HashRecord):
            yield HashRecord(hashes, record.labels, record.item_id, record.attributes, record.where)


def iter_records(
    session: Session, bank: Bank, *, include_retracted: bool = False, group_items: bool = True
) -> Iterator[HashRecord | Deletion]:
    """The bank's entries as records, streamed; hashes sharing an item id form one record
    (unless ``group_items`` is False: then one record per entry).

    Retracted entries come out as Deletions when ``include_retracted``, else not at all.
    """
    stmt = (
        select(
            BankEntry.id,
            BankEntry.signal_type,
            BankEntry.value,
            BankEntry.item_id,
            BankEntry.attributes,
            BankEntry.retracted_at,
            BankEntry.payload,
        )
        .where(BankEntry.bank_id == bank.id)
        .order_by(BankEntry.item_id, BankEntry.id)
    )
    if not include_retracted:
        stmt = stmt.where(BankEntry.retracted_at.is_(None))
    group: list[tuple[Row[Any], list[Label]]] = []
    result = session.execute(stmt.execution_options(yield_per=1000))
    for partition in result.partitions():
        labels = _labels_for(session, [row.id for row in partition])
        for row in partition:
            if group and not (group_items and _same_item(group, row)):
                yield _record(group)
                group = []
            group.append((row, labels.get(row.id, [])))
    if group:
        yield _record(group)


def _same_item(group: list[tuple[Row[Any], list[Label]]], b: Row[Any]) -> bool:
    a = group[-1][0]
    if b.signal_type == SignalType.VPDQ.value and any(
        row.signal_type == SignalType.VPDQ.value for row, _ in group
    ):
        return False  # a record carries one video; a second one starts a record of its own
    return (
        a.item_id is not None
        and a.item_id == b.item_id
        and (a.retracted_at is None) == (b.retracted_at is None)
    )


def _record(group: list[tuple[Row[Any], list[Label]]]) -> HashRecord | Deletion:
    first = group[0][0]
    hashes = tuple((SignalType(row.signal_type), bytes(row.value)) for row, _ in group)
    if first.retracted_at is not None:
        return Deletion(first.item_id, hashes)
    labels: dict[tuple[str, str, str | None], Label] = {}
    attributes: dict[str, Any] = {}
    for row, row_labels in group:
        attributes.update(row.attributes or {})
        for label in row_labels:
            labels.setdefault((label.scheme, label.value, label.assessor), label)
    ordered = tuple(
        sorted(labels.values(), key=lambda lb: (lb.scheme, lb.value, lb.assessor or ""))
    )
    video = None
    for row, _ in group:
        if row.signal_type == SignalType.VPDQ.value and row.payload is not None:
            from kavach.signals.vpdq import VideoHash

            video = VideoHash.from_bytes(bytes(row.payload))
    return HashRecord(hashes, ordered, first.item_id, attributes, video=video)


def _labels_for(session: Session, entry_ids: list[int]) -> dict[int, list[Label]]:
    found: dict[int, list[Label]] = {}
    if not entry_ids:
        return found
    rows = session.execute(
        select(
            EntryLabel.entry_id,
            EntryLabel.scheme,
            EntryLabel.value,
            EntryLabel.assessor,
            EntryLabel.assessed_at,
        ).where(EntryLabel.entry_id.in_(entry_ids))
    )
    for entry_id, scheme, value, assessor, assessed_at in rows:
        found.setdefault(entry_id, []).append(Label(scheme, value, assessor, assessed_at))
    return found


def _bump_version(session: Session, bank: Bank) -> int:
    # One UPDATE both bumps the version and takes the bank's write lock (PostgreSQL row lock,
    # SQLite write lock) before anything is read, so concurrent writers to a bank serialise and
    # SQLite never has to upgrade a read transaction (which fails at once instead of waiting).
    version: int = session.execute(
        update(Bank)
        .where(Bank.id == bank.id)
        .values(version=Bank.version + 1, updated_at=utcnow())
        .returning(Bank.version)
    ).scalar_one()
    set_committed_value(bank, "version", version)
    return version


class _Pending:
    """One hash waiting to be written, merged from every record in the batch that carries it."""

    __slots__ = ("attributes", "item_id", "labels", "payload")

    def __init__(self) -> None:
        self.payload: bytes | None = None
        self.item_id: str | None = None
        self.labels: dict[tuple[str, str, str], dt.datetime | None] = {}
        self.attributes: dict[str, Any] = {}


class _Writer:
    """Applies records and tombstones to one bank in batches, under one version bump."""

    def __init__(
        self,
        session: Session,
        bank: Bank,
        actor: str,
        import_id: int | None,
        reinstate: bool,
        assessor: str,
    ) -> None:
        self.session = session
        self.bank = bank
        self.actor = actor
        self.import_id = import_id
        self.reinstate = reinstate
        self.assessor = assessor
        self.version = _bump_version(session, bank)
        # New entries of a bank with a vouching rule wait for review until the exchange's
        # vouching check (kavach.exchange.vouching) finds them vouched for: fail closed.
        members, countries = bank.vouching_rule()
        self.acts = members <= 1 and countries <= 1
        self.stats = ChangeStats()
        self.pending: dict[tuple[SignalType, bytes], _Pending] = {}

    def add(self, record: HashRecord) -> None:
        self.stats.records += 1
        payload = _video_payload(record)
        for key in record.hashes:
            item = self.pending.get(key)
            if item is None:
                item = self.pending[key] = _Pending()
            if key[0] is SignalType.VPDQ:
                item.payload = payload
            if record.item_id is not None:
                item.item_id = record.item_id
            for label in record.labels:
                triple = (label.scheme, label.value, label.assessor or self.assessor)
                if item.labels.get(triple) is None:
                    item.labels[triple] = label.assessed_at
            item.attributes.update(record.attributes)
        if len(self.pending) >= _BATCH:
            self.flush()

    def delete(self, deletion: Deletion, reason: str, *, tombstone_unknown: bool = False) -> None:
        # Earlier additions in the stream must land first: a feed may add then delete an item.
        self.flush()
        self.stats.records += 1
        conditions = []
        if deletion.item_id is not None:
            conditions.append(BankEntry.item_id == deletion.item_id)
        by_type: dict[SignalType, list[bytes]] = {}
        for st, value in deletion.hashes:
            by_type.setdefault(st, []).append(value)
        for st, values in by_type.items():
            conditions.append(and_(BankEntry.signal_type == st.value, BankEntry.value.in_(values)))
        if not conditions:
            return
        result = self.session.execute(
            update(BankEntry)
            .where(BankEntry.bank_id == self.bank.id, BankEntry.retracted_at.is_(None))
            .where(or_(*conditions))
            .values(
                retracted_at=utcnow(),
                retracted_by=self.actor,
                retraction_reason=reason or None,
                changed_version=self.version,
            )
            .execution_options(synchronize_session=False)
        )
        self.stats.retracted += result.rowcount  # type: ignore[attr-defined]
        if tombstone_unknown:
            self._tombstone_unknown(deletion, by_type, reason)

    def _tombstone_unknown(
        self, deletion: Deletion, by_type: dict[SignalType, list[bytes]], reason: str
    ) -> None:
        # A tombstone for a hash the bank never held is kept as a retracted row, so a stale list
        # imported later cannot bring it back without --reinstate, and exports carry it on.
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for st, values in by_type.items():
            known = set(
                self.session.scalars(
                    select(BankEntry.value).where(
                        BankEntry.bank_id == self.bank.id,
                        BankEntry.signal_type == st.value,
                        BankEntry.value.in_(values),
                    )
                )
            )
            rows.extend(
                {
                    "bank_id": self.bank.id,
                    "signal_type": st.value,
                    "value": value,
                    "item_id": deletion.item_id,
                    "attributes": {},
                    "added_at": now,
                    "added_by": self.actor,
                    "import_id": self.import_id,
                    "changed_version": self.version,
                    "retracted_at": now,
                    "retracted_by": self.actor,
                    "retraction_reason": reason or None,
                }
                for value in dict.fromkeys(values)
                if bytes(value) not in known
            )
        if rows:
            self.session.execute(insert(BankEntry), rows)
            self.stats.retracted += len(rows)

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        by_type: dict[SignalType, list[bytes]] = {}
        for st, value in pending:
            by_type.setdefault(st, []).append(value)
        existing: dict[tuple[SignalType, bytes], Row[Any]] = {}
        for st, values in by_type.items():
            rows = self.session.execute(
                select(
                    BankEntry.id,
                    BankEntry.value,
                    BankEntry.item_id,
                    BankEntry.attributes,
                    BankEntry.retracted_at,
                ).where(
                    BankEntry.bank_id == self.bank.id,
                    BankEntry.signal_type == st.value,
                    BankEntry.value.in_(values),
                )
            )
            for row in rows:
                existing[(st, bytes(row.value))] = row
        new_keys = [key for key in pending if key not in existing]
        entry_ids = self._insert(new_keys, pending)
        self.stats.added += len(new_keys)
        label_rows = [
            (entry_id, triple, when)
            for key, entry_id in zip(new_keys, entry_ids, strict=True)
            for triple, when in pending[key].labels.items()
        ]
        label_rows.extend(self._merge(existing, pending))
        if label_rows:
            self.session.execute(
                insert(EntryLabel),
                [
                    {
                        "entry_id": entry_id,
                        "scheme": scheme,
                        "value": value,
                        "assessor": assessor,
                        "assessed_at": when,
                    }
                    for entry_id, (scheme, value, assessor), when in label_rows
                ],
            )

    def _insert(
        self,
        keys: list[tuple[SignalType, bytes]],
        pending: dict[tuple[SignalType, bytes], _Pending],
    ) -> list[int]:
        if not keys:
            return []
        now = utcnow()
        rows = [
            {
                "bank_id": self.bank.id,
                "signal_type": st.value,
                "value": value,
                "item_id": pending[(st, value)].item_id,
                "attributes": pending[(st, value)].attributes,
                "added_at": now,
                "added_by": self.actor,
                "import_id": self.import_id,
                "changed_version": self.version,
                "payload": pending[(st, value)].payload,
                "acts": self.acts,
            }
            for st, value in keys
        ]
        # A plain multi-row INSERT, then the ids by the unique key: SQLite cannot return ids in
        # parameter order, so RETURNING with sort_by_parameter_order sent one INSERT per row.
        self.session.execute(insert(BankEntry), rows)
        by_type: dict[str, list[bytes]] = {}
        for st, value in keys:
            by_type.setdefault(st.value, []).append(value)
        ids: dict[tuple[str, bytes], int] = {}
        for signal_type, values in by_type.items():
            for row in self.session.execute(
                select(BankEntry.id, BankEntry.value).where(
                    BankEntry.bank_id == self.bank.id,
                    BankEntry.signal_type == signal_type,
                    BankEntry.value.in_(values),
                )
            ):
                ids[(signal_type, bytes(row.value))] = row.id
        return [ids[(st.value, value)] for st, value in keys]

    def _merge(
        self,
        existing: dict[tuple[SignalType, bytes], Row[Any]],
        pending: dict[tuple[SignalType, bytes], _Pending],
    ) -> list[tuple[int, tuple[str, str, str], dt.datetime | None]]:
        """Update known entries; return the labels they still lack."""
        if not existing:
            return []
        have: set[tuple[int, str, str, str]] = set()
        ids = [row.id for row in existing.values()]
        for start in range(0, len(ids), _BATCH):
            have.update(
                (r.entry_id, r.scheme, r.value, r.assessor)
                for r in self.session.execute(
                    select(
                        EntryLabel.entry_id,
                        EntryLabel.scheme,
                        EntryLabel.value,
                        EntryLabel.assessor,
                    ).where(EntryLabel.entry_id.in_(ids[start : start + _BATCH]))
                )
            )
        new_labels: list[tuple[int, tuple[str, str, str], dt.datetime | None]] = []
        updates: list[dict[str, Any]] = []
        for key, row in existing.items():
            item = pending[key]
            if row.retracted_at is not None and not self.reinstate:
                self.stats.skipped_retracted += 1
                continue
            missing = [(t, w) for t, w in item.labels.items() if (row.id, *t) not in have]
            new_labels.extend((row.id, t, w) for t, w in missing)
            attributes = {**(row.attributes or {}), **item.attributes}
            item_id = row.item_id if row.item_id is not None else item.item_id
            changes: dict[str, Any] = {}
            if attributes != (row.attributes or {}):
                changes["attributes"] = attributes
            if item_id != row.item_id:
                changes["item_id"] = item_id
            if row.retracted_at is not None:
                changes.update(retracted_at=None, retracted_by=None, retraction_reason=None)
            if changes or missing:
                updates.append({"id": row.id, "changed_version": self.version, **changes})
                self.stats.updated += 1
            else:
                self.stats.unchanged += 1
        for change in updates:
            entry_id = change.pop("id")
            self.session.execute(
                update(BankEntry)
                .where(BankEntry.id == entry_id)
                .values(**change)
                .execution_options(synchronize_session=False)
            )
        return new_labels

    def finish(self) -> ChangeStats:
        self.flush()
        s = self.stats
        if not (s.added or s.updated or s.retracted):
            # Nothing changed: take the bump back (we still hold the lock, nobody saw it), so an
            # unchanged re-import does not make every reader reload.
            self.session.execute(
                update(Bank).where(Bank.id == self.bank.id).values(version=Bank.version - 1)
            )
            set_committed_value(self.bank, "version", self.version - 1)
        return s


def _video_payload(record: HashRecord) -> bytes | None:
    """The compact frames of the record's vpdq hash; its key must be theirs."""
    keys = [value for st, value in record.hashes if st is SignalType.VPDQ]
    if not keys:
        return None
    from kavach.signals.types import video_key

    if len(keys) > 1 or record.video is None or video_key(record.video) != keys[0]:
        # Only code can get here (readers build records with HashRecord.with_video): a vpdq
        # key without its frames could never match.
        raise InputError("a vpdq entry needs the video's frames (HashRecord.with_video)")
    return record.video.to_bytes()


def _enum(cls: Any, value: Any, what: str) -> Any:
    try:
        return cls(str(value).strip().lower())
    except ValueError:
        known = ", ".join(m.value for m in cls)
        raise InputError(f"unknown {what} {value!r}; expected one of: {known}") from None
