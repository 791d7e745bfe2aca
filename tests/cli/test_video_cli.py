"""Videos end to end on SQLite and PostgreSQL: `bank add`, `scan`, `match --vpdq`, `bank import`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.signals.vpdq import hash_video
from kavach.store.pytest_fixtures import database_url, engine
from kavach.store.testing import clear_tables
from tests.match.helpers import good_seeds, write_images
from tests.match.video_helpers import clip, reencode
from tests.support.cli import run

__all__ = ["database_url", "engine"]


@pytest.fixture(autouse=True)
def _database(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path / "data"))
    yield
    clear_tables(engine)


@pytest.fixture
def listed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """A bank holding one confirmed clip, added with `kavach bank add`; returns the clip."""
    path = tmp_path / "confirmed" / "clip.mp4"
    path.parent.mkdir()
    path.write_bytes(clip(0))
    assert run(capsys, "bank", "create", "hotline", "--owner", "Hotline")[0] == 0
    code, out, err = run(capsys, "bank", "add", "hotline", str(path), "-l", "vics-us:1", "-j", "1")
    assert code == 0, err
    assert "4 entries added" in out
    assert "1 videos with their frame hashes" in out
    code, out, _ = run(capsys, "bank", "show", "hotline")
    assert "vpdq" in out
    return path


def test_scan_matches_a_reencoded_copy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listed: Path
) -> None:
    device = tmp_path / "device"
    device.mkdir()
    (device / "VID-0001.mp4").write_bytes(reencode(listed.read_bytes()))
    (device / "VID-0002.mp4").write_bytes(clip(100))
    write_images(device / "DCIM", good_seeds(1), quality=80)
    out, vics, html = tmp_path / "scan.jsonl", tmp_path / "case.json", tmp_path / "summary.html"
    code, _, err = run(
        capsys, "scan", str(device), "-b", "hotline", "--out", str(out),
        "--vics", str(vics), "--html", str(html), "-j", "1",
    )  # fmt: skip
    assert code == 1, err
    assert "2 videos hashed (vPDQ), 1 matched by their frames" in err
    records = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"VID-0001.mp4", "VID-0002.mp4", "img-0000.jpg"} or len(records) == 3
    copy, other = records["VID-0001.mp4"], records["VID-0002.mp4"]
    (match,) = copy["matches"]
    assert match["signal_type"] == "vpdq"
    assert match["query_match_percent"] == 100.0
    assert match["compared_match_percent"] >= 50
    assert [lb["value"] for lb in match["labels"]] == ["1"]
    assert len(copy["vpdq"]) == 4
    assert copy["frame_rate"] == 10.0
    assert other["matches"] == []
    assert other["vpdq"]
    (media,) = json.loads(vics.read_text())["value"][0]["Media"]
    assert media["MD5"] == copy["md5"].upper()
    assert media["SHA1"] == copy["sha1"].upper()
    assert media["Category"] == 1
    assert "by vpdq (100% of this video's frames" in media["Comments"]
    page = html.read_text()
    assert "videos matched by their frames" in page
    assert "vpdq 100%/" in page


def test_match_accepts_a_vpdq_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listed: Path
) -> None:
    copy = tmp_path / "copy.txt"
    copy.write_text(hash_video(reencode(listed.read_bytes())).vpdq.to_text())
    other = tmp_path / "other.txt"
    other.write_text(hash_video(clip(100)).vpdq.to_text())
    code, out, err = run(
        capsys, "match", "--vpdq", str(copy), "--vpdq", str(other), "--format", "json"
    )
    assert code == 1, err
    first, second = json.loads(out)
    assert first["query"] == str(copy)
    assert first["signal_types"] == ["vpdq"]
    assert [m["signal_type"] for m in first["matches"]] == ["vpdq"]
    assert second["matches"] == []
    code, _, err = run(capsys, "match", f"vpdq:{'ab' * 32}")
    assert code == 2
    assert "--vpdq" in err


def test_bank_import_and_export_of_vpdq_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = tmp_path / "clip.vpdq.txt"
    lines.write_text(hash_video(clip(0)).vpdq.to_text())
    assert run(capsys, "bank", "create", "ref", "--owner", "Hotline")[0] == 0
    code, out, err = run(capsys, "bank", "import", "ref", str(lines), "--format", "vpdq")
    assert code == 0, err
    assert "1 added" in out
    exported = tmp_path / "out.txt"
    assert run(capsys, "bank", "export", "ref", str(exported), "--format", "vpdq")[0] == 0
    assert exported.read_text() == "# video\n" + lines.read_text()
    # The scan finds the clip's copy against the imported lines.
    device = tmp_path / "device"
    device.mkdir()
    (device / "copy.mp4").write_bytes(reencode(clip(0)))
    code, out, _ = run(capsys, "scan", str(device), "-b", "ref", "-j", "1")
    assert code == 1
    assert out.startswith("MATCH\t")
