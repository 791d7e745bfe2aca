"""The audit chain: records link up, and edits, deletions and reorderings are caught and named."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kavach import audit
from kavach.audit import GENESIS, AuditRecord
from kavach.errors import InputError

T = AuditRecord.__table__


def _chain(session: Session, n: int = 5) -> list[AuditRecord]:
    return [
        audit.record(
            session,
            actor=f"user:r{i}",
            action="media.reveal",
            subject=f"item:{i}",
            organisation_id=1,
            details={"n": i, "note": "ünïcode"},
        )
        for i in range(n)
    ]


def _kinds(session: Session) -> list[tuple[str, int]]:
    return [(p.kind, p.seq) for p in audit.verify(session)]


def test_records_chain_and_verify_clean(session: Session) -> None:
    rows = _chain(session)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert audit.head(session) == (5, rows[-1].hash)
    session.expire_all()
    assert audit.verify(session) == []
    assert [r.seq for r in audit.records(session, action="media.*", limit=2)] == [5, 4]


def test_edit_is_named(session: Session) -> None:
    rows = _chain(session)
    session.execute(update(T).where(T.c.id == rows[2].id).values(actor="user:someone-else"))
    session.expire_all()
    problems = audit.verify(session)
    assert [(p.kind, p.seq, p.record_id) for p in problems] == [("edited", 3, rows[2].id)]
    assert "seq 3" in str(problems[0])


def test_edit_with_recomputed_hash_is_caught_by_the_next_link(session: Session) -> None:
    rows = _chain(session)
    forged = AuditRecord(
        seq=rows[1].seq,
        at=rows[1].at,
        actor="user:forger",
        action=rows[1].action,
        subject=rows[1].subject,
        organisation_id=rows[1].organisation_id,
        details=rows[1].details,
        prev_hash=rows[1].prev_hash,
    )
    new_hash = audit._digest(forged)
    session.execute(
        update(T).where(T.c.id == rows[1].id).values(actor="user:forger", hash=new_hash)
    )
    session.expire_all()
    assert _kinds(session) == [("edited", 2)]


def test_delete_in_the_middle_is_named(session: Session) -> None:
    rows = _chain(session)
    session.execute(delete(T).where(T.c.id.in_([rows[1].id, rows[2].id])))
    session.expire_all()
    problems = audit.verify(session)
    assert [(p.kind, p.seq) for p in problems] == [("deleted", 2)]
    assert "seq 2-3" in problems[0].message


def test_delete_at_both_ends_is_named(session: Session) -> None:
    rows = _chain(session)
    session.execute(delete(T).where(T.c.id.in_([rows[0].id, rows[4].id])))
    session.expire_all()
    assert _kinds(session) == [("deleted", 1), ("deleted", 5)]


def test_reorder_is_named(session: Session) -> None:
    rows = _chain(session)
    # Swap the contents of two rows: each still hashes right, but they sit in the wrong order.
    cols = [c for c in T.columns if c.name != "id"]
    a, b = (session.execute(select(*cols).where(T.c.id == r.id)).one() for r in rows[1:3])
    session.execute(update(T).where(T.c.id == rows[1].id).values(seq=-1))  # seq is unique
    session.execute(update(T).where(T.c.id == rows[2].id).values(seq=-2))
    session.execute(update(T).where(T.c.id == rows[1].id).values(**b._asdict()))
    session.execute(update(T).where(T.c.id == rows[2].id).values(**a._asdict()))
    session.expire_all()
    problems = audit.verify(session)
    assert [(p.kind, p.seq, p.record_id) for p in problems] == [("reordered", 2, rows[2].id)]


def test_renumbered_records_are_caught(session: Session) -> None:
    rows = _chain(session)
    session.execute(update(T).where(T.c.id == rows[3].id).values(seq=100))
    session.execute(update(T).where(T.c.id == rows[2].id).values(seq=4))
    session.execute(update(T).where(T.c.id == rows[4].id).values(seq=3))
    session.expire_all()
    kinds = _kinds(session)
    assert ("edited", 100) in kinds
    assert ("reordered", 3) in kinds
    assert ("deleted", 5) in kinds


def test_appends_continue_after_verify(session: Session) -> None:
    _chain(session, 2)
    assert audit.verify(session) == []
    again = audit.record(session, actor="system", action="config.change")
    assert again.seq == 3
    assert audit.verify(session) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"actor": "", "action": "x"}, "actor"),
        ({"actor": "system", "action": ""}, "action"),
        ({"actor": "system", "action": "x", "details": {"v": float("nan")}}, "JSON"),
        ({"actor": "system", "action": "x", "details": {"v": object()}}, "JSON"),
    ],
)
def test_bad_records_are_refused(session: Session, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        audit.record(session, **kwargs)
