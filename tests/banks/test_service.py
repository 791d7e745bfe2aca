"""Bank service on both databases: create, add, retract, import, export, versions."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.banks import service
from kavach.banks.formats import Deletion, HashRecord, Label, ReadOptions, WriteOptions
from kavach.banks.models import Bank, BankEntry, BankImport, BankSource, EntryLabel, SharingPolicy
from kavach.errors import FormatError, InputError, NotFoundError
from kavach.signals.types import SignalType

FIXTURES = Path(__file__).parent / "fixtures"
MD5 = SignalType.MD5


def md5(n: int) -> bytes:
    return n.to_bytes(16, "big")


@pytest.fixture
def bank(session: Session) -> Bank:
    owner = service.ensure_organisation(session, "Test Hotline", "IN")
    return service.create_bank(session, name="test-bank", owner=owner, source="local")


def entries(session: Session, bank: Bank) -> list[BankEntry]:
    return list(
        session.scalars(
            select(BankEntry).where(BankEntry.bank_id == bank.id).order_by(BankEntry.id)
        )
    )


def snapshot(session: Session, bank: Bank) -> set[tuple[object, ...]]:
    """What an entry is, whatever bank or import it sits in."""
    out = set()
    for entry in entries(session, bank):
        labels = session.execute(
            select(EntryLabel.scheme, EntryLabel.value, EntryLabel.assessor).where(
                EntryLabel.entry_id == entry.id
            )
        ).all()
        out.add(
            (
                entry.signal_type,
                entry.value,
                entry.item_id,
                json.dumps(entry.attributes, sort_keys=True),
                tuple(sorted(tuple(lb) for lb in labels)),
                entry.is_retracted,
            )
        )
    return out


def test_create_and_list(session: Session, bank: Bank) -> None:
    other = service.ensure_organisation(session, "Member B", "GB")
    service.create_bank(
        session, name="shared", owner=other, source="ncmec", sharing="members", members=[other]
    )
    summaries = service.list_banks(session)
    assert [s.name for s in summaries] == ["shared", "test-bank"]
    assert summaries[0].members == ["Member B"]
    assert summaries[0].sharing is SharingPolicy.MEMBERS
    assert summaries[1].owner == "Test Hotline"
    assert summaries[1].version == 0
    assert service.get_bank(session, "test-bank").id == bank.id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "test-bank"}, "already exists"),
        ({"name": "has space"}, "without spaces"),
        ({"name": "x", "source": "telegram"}, "unknown source"),
        ({"name": "x", "sharing": "members"}, "at least one member"),
        ({"name": "x", "sharing": "public"}, "unknown sharing policy"),
    ],
)
def test_create_refuses_bad_input(
    session: Session, bank: Bank, kwargs: dict[str, str], message: str
) -> None:
    args: dict[str, object] = {
        "owner": bank.owner_id and service.ensure_organisation(session, "Test Hotline"),
        "source": "local",
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        service.create_bank(session, **args)  # type: ignore[arg-type]


def test_unknown_bank_is_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError, match="kavach bank list"):
        service.get_bank(session, "nope")


def test_add_entries_inserts_merges_and_bumps_the_version_once(
    session: Session, bank: Bank
) -> None:
    when = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    recs = [
        HashRecord(
            ((MD5, md5(1)), (SignalType.SHA1, b"\x01" * 20)),
            (Label("industry", "A1", "Analyst 1", when),),
            "item-1",
            {"series": "s"},
        ),
        HashRecord(((MD5, md5(2)),), (Label("vics-us", "1"),)),
    ]
    stats = service.add_entries(session, bank, recs, added_by="alice")
    assert (stats.records, stats.added, stats.updated) == (2, 3, 0)
    assert bank.version == 1
    rows = entries(session, bank)
    assert [r.item_id for r in rows] == ["item-1", "item-1", None]
    assert {r.changed_version for r in rows} == {1}
    assert rows[0].added_by == "alice"
    label = session.scalars(select(EntryLabel).where(EntryLabel.entry_id == rows[0].id)).one()
    assert (label.assessor, label.assessed_at) == ("Analyst 1", when)
    # No assessor in the record: the bank's source stands in.
    label2 = session.scalars(select(EntryLabel).where(EntryLabel.entry_id == rows[2].id)).one()
    assert label2.assessor == "local"

    # Same again: nothing changes, the version stays.
    again = service.add_entries(session, bank, recs, added_by="alice")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert bank.version == 1

    # A new label on a known hash is an update, under a new version.
    more = service.add_entries(
        session,
        bank,
        [HashRecord(((MD5, md5(2)),), (Label("vics-us", "2"),), "item-2")],
        added_by="bob",
    )
    assert (more.added, more.updated) == (0, 1)
    assert bank.version == 2
    session.expire_all()
    entry = session.scalars(select(BankEntry).where(BankEntry.value == md5(2))).one()
    assert entry.item_id == "item-2"
    assert entry.changed_version == 2


def test_duplicates_within_one_batch_are_merged(session: Session, bank: Bank) -> None:
    recs = [
        HashRecord(((MD5, md5(7)),), (Label("a", "1"),)),
        HashRecord(((MD5, md5(7)),), (Label("b", "2"),), attributes={"series": "x"}),
    ]
    stats = service.add_entries(session, bank, recs, added_by="t")
    assert stats.added == 1
    (entry,) = entries(session, bank)
    assert entry.attributes == {"series": "x"}
    assert (
        len(session.scalars(select(EntryLabel).where(EntryLabel.entry_id == entry.id)).all()) == 2
    )


def test_retract_keeps_a_tombstone(session: Session, bank: Bank) -> None:
    service.add_entries(
        session, bank, [HashRecord(((MD5, md5(i)),)) for i in range(3)], added_by="t"
    )
    n = service.retract_entries(
        session, bank, [(MD5, md5(1)), (MD5, md5(99))], retracted_by="bob", reason="false positive"
    )
    assert n == 1
    assert bank.version == 2
    session.expire_all()
    rows = entries(session, bank)
    assert len(rows) == 3
    gone = next(r for r in rows if r.value == md5(1))
    assert gone.is_retracted
    assert gone.retracted_by == "bob"
    assert gone.retraction_reason == "false positive"
    assert gone.changed_version == 2
    # Retracting again changes nothing and leaves the version alone.
    assert service.retract_entries(session, bank, [(MD5, md5(1))], retracted_by="bob") == 0
    assert bank.version == 2
    # Export leaves tombstones out unless asked.
    live = list(service.iter_records(session, bank))
    assert len(live) == 2
    everything = list(service.iter_records(session, bank, include_retracted=True))
    assert any(isinstance(r, Deletion) for r in everything)


def test_re_adding_a_retracted_hash_needs_reinstate(session: Session, bank: Bank) -> None:
    rec = HashRecord(((MD5, md5(5)),))
    service.add_entries(session, bank, [rec], added_by="t")
    service.retract_entries(session, bank, [(MD5, md5(5))], retracted_by="t")
    stats = service.add_entries(session, bank, [rec], added_by="t")
    assert stats.skipped_retracted == 1
    session.expire_all()
    assert entries(session, bank)[0].is_retracted
    stats = service.add_entries(session, bank, [rec], added_by="t", reinstate=True)
    assert stats.updated == 1
    session.expire_all()
    assert not entries(session, bank)[0].is_retracted


def test_vouch(session: Session, bank: Bank) -> None:
    service.add_entries(session, bank, [HashRecord(((MD5, md5(1)),))], added_by="t")
    member = service.ensure_organisation(session, "Member C", "BR")
    assert service.vouch(session, bank, MD5, md5(1), member) is True
    assert service.vouch(session, bank, MD5, md5(1), member) is False
    assert bank.version == 2
    with pytest.raises(NotFoundError):
        service.vouch(session, bank, MD5, md5(2), member)


def _import(
    session: Session, bank: Bank, fmt: str, fixture: str, **kw: object
) -> service.ImportReport:
    with (FIXTURES / fixture).open("rb") as fh:
        return service.import_bank(
            session, bank, fh, fmt, imported_by="tester", filename=f"/secret/dir/{fixture}", **kw
        )  # type: ignore[arg-type]


def test_import_vics_reports_errors_and_keeps_going(session: Session, bank: Bank) -> None:
    report = _import(session, bank, "vics", "vics_1x_case.json")
    assert report.records == 4
    assert report.added == 6
    assert report.error_count == 2
    assert report.errors[0].startswith("value[0].Media[3] (MediaID 104)")
    assert report.version == bank.version == 1
    job = session.get(BankImport, report.import_id)
    assert job is not None
    assert job.filename == "vics_1x_case.json"  # never the directory
    assert job.error_count == 2
    assert len(job.errors) == 2
    assert job.finished_at is not None
    rows = entries(session, bank)
    assert {r.import_id for r in rows} == {report.import_id}
    summary = service.bank_summary(session, bank)
    assert summary.by_signal_type == {"md5": 3, "photodna": 1, "sha1": 2}


def test_import_ncmec_applies_tombstones_in_order(session: Session, bank: Bank) -> None:
    report = _import(session, bank, "ncmec", "ncmec_page.xml")
    assert report.added == 6
    assert report.retracted == 1  # 4712 was added earlier in the page, then deleted
    session.expire_all()
    by_item = {r.item_id: r for r in entries(session, bank)}
    assert by_item["4712"].is_retracted
    assert by_item["4712"].retraction_reason == "deleted by the list's source"
    assert not by_item["4711"].is_retracted
    labels = (
        session.execute(
            select(EntryLabel.assessor).where(EntryLabel.entry_id == by_item["9001"].id)
        )
        .scalars()
        .all()
    )
    assert labels == ["Other ESP"]


def test_a_broken_file_raises_format_error(session: Session, bank: Bank) -> None:
    with pytest.raises(FormatError):
        service.import_bank(
            session, bank, io.BytesIO(b'{"value": [{"MD5": '), "vics", imported_by="t"
        )


@pytest.mark.parametrize(
    ("fmt", "fixture", "options"),
    [
        ("vics", "vics_1x_case.json", WriteOptions()),
        ("vics", "vics_2_uk_case.json", WriteOptions(vics_flavour="UK")),
        ("ncmec", "ncmec_page.xml", WriteOptions()),
        ("icse", "icse_export.csv", WriteOptions()),
        ("hma", "hma_bank.csv", WriteOptions()),
        ("text", "hashes.txt", WriteOptions()),
    ],
)
def test_import_export_import_gives_the_same_entries(
    session: Session, bank: Bank, fmt: str, fixture: str, options: WriteOptions
) -> None:
    _import(session, bank, fmt, fixture)
    out = io.BytesIO()
    written = service.export_bank(session, bank, out, fmt, options=options, include_retracted=True)
    assert written > 0
    copy = service.create_bank(
        session,
        name="copy",
        owner=service.ensure_organisation(session, "Test Hotline"),
        source="local",
    )
    out.seek(0)
    report = service.import_bank(session, copy, out, fmt, imported_by="tester", assessor=fmt)
    assert report.error_count == 0
    expected = snapshot(session, bank)
    if fmt != "ncmec":
        # Only NCMEC pages carry tombstones.
        expected = {e for e in expected if not e[-1]}
    else:
        # A tombstone carries the item id and hashes only, not what was known of the item.
        expected = {e if not e[-1] else (*e[:3], "{}", (), True) for e in expected}
    assert snapshot(session, copy) == expected


def test_large_import_in_batches(session: Session, bank: Bank) -> None:
    n = 2_100  # several batches
    lines = "".join(f"{i:032x}\n" for i in range(n)).encode()
    report = service.import_bank(session, bank, io.BytesIO(lines), "text", imported_by="t")
    assert report.added == n
    report = service.import_bank(session, bank, io.BytesIO(lines), "text", imported_by="t")
    assert (report.added, report.unchanged) == (0, n)
    out = io.BytesIO()
    assert (
        service.export_bank(session, bank, out, "text", options=WriteOptions(signal_type=MD5)) == n
    )
    assert sorted(out.getvalue().split()) == sorted(lines.split())


def test_text_import_with_signal_type(session: Session, bank: Bank) -> None:
    report = service.import_bank(
        session,
        bank,
        io.BytesIO(b"ab" * 32 + b"\n"),
        "text",
        imported_by="t",
        options=ReadOptions(signal_type=SignalType.PDQ),
    )
    assert report.added == 1
    assert entries(session, bank)[0].signal_type == "pdq"


def test_sources_are_enumerated() -> None:
    assert {s.value for s in BankSource} == {"ncmec", "iwf", "vics", "icse", "member", "local"}
