"""``kavach bank add``, ``kavach scan`` end to end on SQLite and PostgreSQL: outputs, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.store.pytest_fixtures import database_url, engine
from kavach.store.testing import clear_tables
from tests.match.helpers import good_seeds, image_bytes, write_images
from tests.support.cli import run

__all__ = ["database_url", "engine"]

SEEDS = good_seeds(6)


@pytest.fixture(autouse=True)
def _database(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path / "data"))
    yield
    clear_tables(engine)


@pytest.fixture
def hotline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """A bank of 3 confirmed images added with `kavach bank add`; returns their folder."""
    known = tmp_path / "confirmed"
    write_images(known, SEEDS[:3], quality=95)
    assert run(capsys, "bank", "create", "hotline", "--owner", "Hotline")[0] == 0
    code, out, _ = run(
        capsys,
        "bank",
        "add",
        "hotline",
        str(known),
        "-l",
        "industry:A1",
        "-l",
        "vics-us:1",
        "-j",
        "1",
    )
    assert code == 0, out
    assert "12 entries added" in out
    assert "version 1" in out
    return known


def test_scan_reports_matches_in_jsonl_vics_and_html(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path
) -> None:
    device = tmp_path / "device"
    write_images(device / "DCIM", SEEDS[3:], quality=85)
    write_images(device / "Chats", SEEDS[:2], quality=70)
    out, vics, html = tmp_path / "scan.jsonl", tmp_path / "case.json", tmp_path / "summary.html"
    code, stdout, err = run(
        capsys, "scan", str(device), "-b", "hotline", "--out", str(out),
        "--vics", str(vics), "--html", str(html), "--case-number", "FIR-17", "-j", "1",
    )  # fmt: skip
    assert code == 1, err
    assert stdout == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 5
    assert all(set(r) >= {"path", "matches"} for r in records)
    hits = [r for r in records if r["matches"]]
    assert len(hits) == 2
    match = hits[0]["matches"][0]
    assert set(match) >= {"bank", "entry_id", "signal_type", "value", "distance", "labels"}
    assert match["bank"] == "hotline"
    assert match["signal_type"] == "pdq"
    case = json.loads(vics.read_text())
    assert case["value"][0]["CaseNumber"] == "FIR-17"
    assert [m["Category"] for m in case["value"][0]["Media"]] == [1, 1]
    page = html.read_text()
    assert "industry:A1" in page
    assert "Chats" in page
    assert "2 matched" in err
    assert "scanned 5 files" in err


def test_exit_statuses(capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path) -> None:
    clean = tmp_path / "clean"
    write_images(clean, SEEDS[3:], quality=85)
    assert run(capsys, "scan", str(clean), "-j", "1")[0] == 0
    (clean / "broken.jpg").write_bytes(image_bytes(SEEDS[3])[:200])
    code, _, err = run(capsys, "scan", str(clean), "-j", "1")
    assert code == 2
    assert "errors by code: corrupt_media: 1" in err
    code, stdout, _ = run(capsys, "scan", str(clean), str(hotline), "-j", "1")
    assert code == 1  # a match wins over a broken file
    assert stdout.count("MATCH\t") == 3
    code, _, err = run(capsys, "scan", str(clean), "-b", "nope")
    assert code == 2
    assert "no bank called 'nope'" in err
    code, _, err = run(capsys, "scan", str(clean), "--resume")
    assert code == 2
    assert "--resume needs the --out" in err


def test_a_vics_set_imported_then_scanned(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path
) -> None:
    # What a police unit does: import the VICS hash set it was given, then scan a device.
    exported = tmp_path / "set.json"
    assert run(capsys, "bank", "export", "hotline", str(exported), "--format", "vics")[0] == 0
    assert run(capsys, "bank", "create", "vics-set", "--owner", "Unit", "--source", "vics")[0] == 0
    assert run(capsys, "bank", "import", "vics-set", str(exported), "--format", "vics")[0] == 0
    code, stdout, _ = run(capsys, "scan", str(hotline), "-b", "vics-set", "-j", "1")
    assert code == 1
    assert stdout.count("MATCH\t") == 3
    assert "vics-us:1" in stdout


def test_bank_add_refuses_bad_labels(capsys: pytest.CaptureFixture[str], hotline: Path) -> None:
    code, _, err = run(capsys, "bank", "add", "hotline", str(hotline), "--label", "A1")
    assert code == 2
    assert "SCHEME:VALUE" in err
