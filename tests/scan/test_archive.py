"""Zip archives in a scan: member names, nesting, and every limit against zip bombs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from kavach.hashing import HashOptions, HashRecord, hash_bytes
from kavach.scan import ArchiveLimits
from kavach.scan.tasks import expand, plan_tasks, run_tasks
from tests.match.helpers import image_bytes

MIB = 1024 * 1024


def scan(paths: list[Path], limits: ArchiveLimits | None = None) -> list[HashRecord]:
    limits = limits or ArchiveLimits()
    tasks = list(plan_tasks(expand(paths), limits))
    return [r for records in run_tasks(tasks, HashOptions(), limits) for r in records]


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def by_path(records: list[HashRecord]) -> dict[str, HashRecord]:
    return {r.path: r for r in records}


def test_members_are_named_and_hashed_like_files(tmp_path: Path) -> None:
    inner = zip_bytes({"deep/c.jpg": image_bytes(3)})
    archive = tmp_path / "phone.zip"
    archive.write_bytes(zip_bytes({"a.jpg": image_bytes(1), "dir/": b"", "in.zip": inner}))
    records = by_path(scan([tmp_path]))
    a = str(archive)
    assert list(records) == [a, f"{a}!a.jpg", f"{a}!in.zip", f"{a}!in.zip!deep/c.jpg"]
    assert records[a].media_type == "application/zip"
    assert records[a].error is None
    member = records[f"{a}!a.jpg"]
    assert member.pdq == hash_bytes(image_bytes(1)).pdq
    assert member.md5 == hash_bytes(image_bytes(1)).md5
    assert records[f"{a}!in.zip"].md5 == hash_bytes(inner).md5
    assert records[f"{a}!in.zip!deep/c.jpg"].pdq == hash_bytes(image_bytes(3)).pdq


def test_a_member_past_the_ratio_limit_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "bomb.zip").write_bytes(
        zip_bytes({"zeros.bin": bytes(20 * MIB), "ok.jpg": image_bytes(1)})
    )
    records = by_path(scan([tmp_path], ArchiveLimits(max_ratio=100)))
    bomb = records[f"{tmp_path / 'bomb.zip'}!zeros.bin"]
    assert bomb.error is not None
    assert bomb.error.code == "archive_limit"
    assert "expands" in bomb.error.message
    assert bomb.md5 is None
    assert records[f"{tmp_path / 'bomb.zip'}!ok.jpg"].error is None


def test_entry_and_total_size_limits_stop_the_archive_with_an_error(tmp_path: Path) -> None:
    members = {f"f{i}.jpg": image_bytes(i) for i in range(5)}
    (tmp_path / "many.zip").write_bytes(zip_bytes(members))
    records = scan([tmp_path], ArchiveLimits(max_entries=3))
    assert len(records) == 1 + 3
    assert records[0].error is not None
    assert records[0].error.code == "archive_limit"
    assert "entries" in records[0].error.message

    size = sum(len(v) for v in list(members.values())[:2])
    records = scan([tmp_path], ArchiveLimits(max_total_bytes=size + 1))
    assert len(records) == 1 + 2
    assert records[0].error is not None
    assert "unpacks to more than" in records[0].error.message


def test_nesting_deeper_than_the_limit_is_not_opened(tmp_path: Path) -> None:
    level3 = zip_bytes({"x.jpg": image_bytes(1)})
    level2 = zip_bytes({"l3.zip": level3})
    (tmp_path / "l1.zip").write_bytes(zip_bytes({"l2.zip": level2}))
    records = by_path(scan([tmp_path], ArchiveLimits(max_depth=2)))
    top = str(tmp_path / "l1.zip")
    assert list(records) == [top, f"{top}!l2.zip", f"{top}!l2.zip!l3.zip"]
    deepest = records[f"{top}!l2.zip!l3.zip"]
    assert deepest.error is not None
    assert deepest.error.code == "archive_limit"
    assert deepest.md5 == hash_bytes(level3).md5  # still listed by its digests
    assert len(scan([tmp_path], ArchiveLimits(max_depth=3))) == 4


def test_corrupt_archives_and_members_give_error_records(tmp_path: Path) -> None:
    (tmp_path / "fake.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    good = zip_bytes({"a.jpg": image_bytes(1)}, zipfile.ZIP_STORED)
    # Flip bytes inside the stored member: its CRC no longer holds.
    start = good.index(image_bytes(1)[:16])
    damaged = good[: start + 100] + bytes(50) + good[start + 150 :]
    (tmp_path / "crc.zip").write_bytes(damaged)
    records = by_path(scan([tmp_path]))
    fake = records[str(tmp_path / "fake.zip")]
    assert fake.error is not None
    assert fake.error.code == "bad_archive"
    assert fake.md5 is not None  # the file's own digests are still there
    member = records[f"{tmp_path / 'crc.zip'}!a.jpg"]
    assert member.error is not None
    assert member.error.code == "bad_archive"
    assert "CRC" in member.error.message


def test_archives_can_be_left_closed(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(zip_bytes({"a.jpg": image_bytes(1)}))
    limits = ArchiveLimits()
    tasks = list(plan_tasks(expand([tmp_path]), limits, archives=False))
    [[record]] = run_tasks(tasks, HashOptions(), limits)
    assert record.path == str(tmp_path / "a.zip")


def test_worker_keeps_one_archive_open_across_tasks(tmp_path: Path) -> None:
    from kavach.scan.archive import _OPEN, close_archives
    from kavach.scan.tasks import MembersTask, run_in_worker

    archive = tmp_path / "big.zip"
    archive.write_bytes(zip_bytes({f"f{i}.txt": b"x" * i for i in range(70)}))
    limits = ArchiveLimits()
    tasks = list(plan_tasks([str(archive)], limits))
    assert sum(isinstance(t, MembersTask) for t in tasks) == 3  # 32 + 32 + 6 members
    try:
        first = run_in_worker(tasks[:2], HashOptions(signals=frozenset({"md5"})), limits)
        kept = _OPEN.get(str(archive))
        rest = run_in_worker(tasks[2:], HashOptions(signals=frozenset({"md5"})), limits)
        assert _OPEN.get(str(archive)) is kept
    finally:
        close_archives()
    records = [r for out in first + rest for r in out]
    assert [r.path for r in records[1:]] == [f"{archive}!f{i}.txt" for i in range(70)]
