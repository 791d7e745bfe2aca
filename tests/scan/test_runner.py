"""Scans end to end through the runner, on both databases: records, matches, resume, exit codes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kavach.errors import CheckpointError
from kavach.hashing import hash_bytes
from kavach.match import Matcher
from kavach.scan import ScanConfig, ScanRecord, run_scan
from tests.match.helpers import (
    A1,
    VICS_1,
    good_seeds,
    image_bytes,
    list_record,
    make_bank,
    write_images,
)

SEEDS = good_seeds(8)
KNOWN = SEEDS[:3]


@pytest.fixture
def evidence(tmp_path: Path, factory: sessionmaker[Session]) -> Path:
    """A device extract: 5 unrelated images, 2 recompressed known ones, 1 in a zip, a text file."""
    make_bank(
        factory,
        "hotline",
        [list_record(hash_bytes(image_bytes(s, 95)), [A1, VICS_1]) for s in KNOWN],
    )
    root = tmp_path / "device"
    write_images(root / "DCIM", SEEDS[3:], quality=85)
    write_images(root / "WhatsApp", KNOWN[:2], quality=70)
    with zipfile.ZipFile(root / "backup.zip", "w") as zf:
        zf.writestr("Media/known.jpg", image_bytes(KNOWN[2], 60))
    (root / "notes.txt").write_text("not an image")
    return root


def read(out: Path) -> list[ScanRecord]:
    return [ScanRecord.model_validate_json(line) for line in out.read_text().splitlines()]


def test_scan_records_every_file_and_its_matches(
    evidence: Path, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    out = tmp_path / "scan.jsonl"
    summary = run_scan([evidence], Matcher(factory, ["hotline"]), ScanConfig(batch_size=3), out=out)
    records = read(out)
    paths = [r.path for r in records]
    assert len(paths) == len(set(paths)) == 5 + 2 + 2 + 1
    assert f"{evidence / 'backup.zip'}!Media/known.jpg" in paths
    matched = sorted(Path(r.path.split("!")[-1]).name for r in records if r.matches)
    assert matched == sorted([f"img-{KNOWN[0]:04d}.jpg", f"img-{KNOWN[1]:04d}.jpg", "known.jpg"])
    assert all(m.signal_type == "pdq" and m.distance <= 31 for r in records for m in r.matches)
    assert summary.files == 10
    assert summary.matched_files == 3
    assert summary.errors == 1
    assert summary.categories == {"industry:A1": 3, "vics-us:1": 3}
    assert summary.error_codes == {"unsupported_media": 1}
    assert summary.folders[str(evidence / "WhatsApp")].matched == 2
    assert summary.banks == {"hotline": 1}
    assert summary.exit_code == 1


def test_parallel_scan_gives_the_same_records(
    evidence: Path, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    serial, parallel = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    run_scan([evidence], Matcher(factory, ["hotline"]), ScanConfig(jobs=1), out=serial)
    run_scan([evidence], Matcher(factory, ["hotline"]), ScanConfig(jobs=2), out=parallel)
    assert read(serial) == read(parallel)


def test_resuming_a_finished_scan_counts_nothing_twice(
    evidence: Path, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    out = tmp_path / "scan.jsonl"
    matcher = Matcher(factory, ["hotline"])
    first = run_scan([evidence], matcher, ScanConfig(batch_size=2), out=out)
    again = run_scan([evidence], matcher, ScanConfig(batch_size=2), out=out, resume=True)
    assert len(read(out)) == first.files == again.files == 10
    assert again.matched_files == first.matched_files
    assert again.resumed == 1
    # Other options: the checkpoint is not this scan's.
    with pytest.raises(CheckpointError):
        run_scan([evidence], matcher, ScanConfig(archives=False), out=out, resume=True)
    # Files renamed before the checkpoint's position: refused rather than double-counted.
    (evidence / "DCIM").rename(evidence / "Camera")
    with pytest.raises(CheckpointError, match="not the ones the inputs list now"):
        run_scan([evidence], matcher, ScanConfig(batch_size=2), out=out, resume=True)


def test_exit_codes(evidence: Path, factory: sessionmaker[Session]) -> None:
    matcher = Matcher(factory, ["hotline"])
    clean = evidence / "DCIM"
    assert run_scan([clean], matcher, ScanConfig()).exit_code == 0
    assert run_scan([clean, evidence / "notes.txt"], matcher, ScanConfig()).exit_code == 2
    assert run_scan([evidence], matcher, ScanConfig()).exit_code == 1
