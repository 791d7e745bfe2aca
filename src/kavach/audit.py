"""The audit log: append-only, hash-chained, checked by :func:`verify`.

Every record carries the SHA-256 of the previous record's canonical serialisation (``prev_hash``)
and of its own (``hash``, which covers ``prev_hash``), so changing, deleting or reordering a
record breaks the chain at a place :func:`verify` can name. A one-row head table holds the last
sequence number and hash: it serialises writers (each append updates it first, which takes the
write lock on SQLite and a row lock on PostgreSQL, so two transactions never fork the chain) and
it lets :func:`verify` notice records cut off the end.

Records are added in the caller's transaction: the audit entry exists exactly when the action it
describes is committed. What the head hash does not protect against is someone who rewrites the
whole chain and the head together; publishing :func:`head` (``kavach audit head``) somewhere else
from time to time closes that gap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, Row, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from kavach.errors import InputError
from kavach.store.base import Base, IdMixin, utcnow

__all__ = [
    "GENESIS",
    "AuditHead",
    "AuditRecord",
    "Problem",
    "canonical",
    "head",
    "record",
    "records",
    "verify",
]

GENESIS = "0" * 64
"""The ``prev_hash`` of the first record."""

_ACTOR_MAX = 200
_ACTION_MAX = 64
_SUBJECT_MAX = 200


class AuditRecord(IdMixin, Base):
    """One audited action: who did what to which thing, when, chained to the record before."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject"),)

    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(_ACTOR_MAX))
    action: Mapped[str] = mapped_column(String(_ACTION_MAX), index=True)
    subject: Mapped[str | None] = mapped_column(String(_SUBJECT_MAX))
    # No foreign key: the record must outlive the organisation it names.
    organisation_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The end of the chain: the last sequence number and its hash (one row, id 1)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


@dataclass(frozen=True, slots=True)
class Problem:
    """One break in the chain: ``kind`` is ``edited``, ``deleted`` or ``reordered``.

    ``seq`` is the sequence number concerned (for ``deleted``, the first one missing) and
    ``record_id`` the row, when there is one.
    """

    kind: str
    seq: int
    record_id: int | None
    message: str

    def __str__(self) -> str:
        row = f" (row {self.record_id})" if self.record_id is not None else ""
        return f"{self.kind}: seq {self.seq}{row}: {self.message}"


def canonical(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str | None,
    organisation_id: int | None,
    details: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The bytes a record's hash is taken over: sorted, compact JSON in UTF-8."""
    stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "seq": seq,
        "at": stamp,
        "actor": actor,
        "action": action,
        "subject": subject,
        "organisation_id": organisation_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(row: AuditRecord | Row[Any]) -> str:
    return hashlib.sha256(
        canonical(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            organisation_id=row.organisation_id,
            details=row.details,
            prev_hash=row.prev_hash,
        )
    ).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    organisation_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction and return it (flushed).

    ``actor`` is ``user:<name>``, ``key:<id>``, ``system`` or ``peer:<node id>``; ``action`` a
    dotted verb (``case.open``, ``media.reveal``); ``subject`` what it acted on (``item:12``).
    ``details`` must be JSON (no NaN); it is stored as JSON gives it back, so it hashes the same.
    """
    actor, action = actor.strip(), action.strip()
    if not actor or len(actor) > _ACTOR_MAX:
        raise InputError(f"an audit actor must be 1-{_ACTOR_MAX} characters")
    if not action or len(action) > _ACTION_MAX:
        raise InputError(f"an audit action must be 1-{_ACTION_MAX} characters")
    if subject is not None and len(subject) > _SUBJECT_MAX:
        subject = subject[:_SUBJECT_MAX]
    try:
        plain = json.loads(json.dumps(details or {}, allow_nan=False, default=_not_json))
    except (TypeError, ValueError) as exc:
        raise InputError(f"audit details must be plain JSON: {exc}") from None
    seq, prev_hash = _advance(session)
    # Stored to the microsecond on both databases; hashing the same value that is read back.
    at = utcnow()
    row = AuditRecord(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        organisation_id=organisation_id,
        details=plain,
        prev_hash=prev_hash,
    )
    row.hash = _digest(row)
    session.add(row)
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(hash=row.hash)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return row


def _not_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _advance(session: Session) -> tuple[int, str]:
    # The UPDATE comes first on purpose: it takes the lock before anything is read, so the
    # sequence number and previous hash read back cannot be taken by a concurrent writer.
    for _ in range(2):
        result = session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash)
            .execution_options(synchronize_session=False)
        ).first()
        if result is not None:
            return int(result.seq), str(result.hash)
        last = session.execute(
            select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
        ).first()
        try:
            with session.begin_nested():
                session.add(
                    AuditHead(
                        id=1,
                        seq=int(last.seq) if last else 0,
                        hash=str(last.hash) if last else GENESIS,
                    )
                )
        except IntegrityError:
            pass  # another writer created it first; the UPDATE will now find it
    raise RuntimeError("audit head row could not be created")  # pragma: no cover


def head(session: Session) -> tuple[int, str]:
    """The last sequence number and hash of the chain (``(0, GENESIS)`` when empty)."""
    row = session.get(AuditHead, 1)
    return (row.seq, row.hash) if row else (0, GENESIS)


def records(
    session: Session,
    *,
    subject: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    organisation_id: int | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """The newest records first, filtered by exact values (``action`` may end in ``*``)."""
    stmt = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(max(1, min(limit, 10_000)))
    if subject is not None:
        stmt = stmt.where(AuditRecord.subject == subject)
    if action is not None:
        if action.endswith("*"):
            stmt = stmt.where(AuditRecord.action.startswith(action[:-1], autoescape=True))
        else:
            stmt = stmt.where(AuditRecord.action == action)
    if actor is not None:
        stmt = stmt.where(AuditRecord.actor == actor)
    if organisation_id is not None:
        stmt = stmt.where(AuditRecord.organisation_id == organisation_id)
    return list(session.scalars(stmt))


def _rows(session: Session, order: Any) -> Iterator[Row[Any]]:
    # Plain rows, not ORM objects, so a long log streams without filling the identity map.
    t = AuditRecord.__table__
    stmt = select(*t.columns).order_by(order).execution_options(yield_per=1000)
    yield from session.execute(stmt)


def verify(session: Session) -> list[Problem]:
    """Check the whole chain; return every break found (empty when intact).

    - ``edited``: a record's content no longer hashes to its stored hash, or it was rewritten
      together with its hash (the next record's link, or the head, no longer matches);
    - ``deleted``: sequence numbers are missing (at the start, in the middle or at the end);
    - ``reordered``: rows were stored in another order than their sequence numbers say (the
      table is append-only, so row ids and sequence numbers rise together).

    Two streaming passes: the chain in sequence order, then the row order.
    """
    problems = _check_chain(session)
    problems.extend(_check_order(session))
    return sorted(problems, key=lambda p: (p.seq, p.kind))


def _check_chain(session: Session) -> list[Problem]:
    problems: list[Problem] = []
    prev: Row[Any] | None = None
    prev_ok = True
    for row in _rows(session, AuditRecord.seq):
        ok = _digest(row) == row.hash
        if not ok:
            problems.append(
                Problem("edited", row.seq, row.id, "its content does not match its hash")
            )
        expected = prev.seq + 1 if prev is not None else 1
        if row.seq > expected:
            problems.append(_missing(expected, row.seq - 1, f"before row {row.id}"))
        elif prev is None and row.prev_hash != GENESIS:
            problems.append(
                Problem("edited", row.seq, row.id, "the first record does not start the chain")
            )
        elif prev is not None and row.prev_hash != prev.hash and prev_ok:
            problems.append(
                Problem(
                    "edited",
                    prev.seq,
                    prev.id,
                    f"rewritten with a new hash: seq {row.seq} links to a different record",
                )
            )
        prev, prev_ok = row, ok
    chain_head = session.get(AuditHead, 1)
    last_seq = prev.seq if prev is not None else 0
    if chain_head is not None:
        if chain_head.seq > last_seq:
            problems.append(_missing(last_seq + 1, chain_head.seq, "from the end of the chain"))
        elif prev is not None and chain_head.seq == last_seq and chain_head.hash != prev.hash:
            problems.append(
                Problem("edited", prev.seq, prev.id, "the last record does not match the head")
            )
    return problems


def _missing(first: int, last: int, where: str) -> Problem:
    span = f"seq {first}" if first == last else f"seq {first}-{last}"
    return Problem("deleted", first, None, f"{span} missing {where}")


def _check_order(session: Session) -> list[Problem]:
    problems: list[Problem] = []
    highest: Row[Any] | None = None
    for row in _rows(session, AuditRecord.id):
        if highest is not None and row.seq < highest.seq:
            problems.append(
                Problem(
                    "reordered",
                    row.seq,
                    row.id,
                    f"stored after seq {highest.seq} (row {highest.id}) but numbered before it",
                )
            )
        if highest is None or row.seq > highest.seq:
            highest = row
    return problems
