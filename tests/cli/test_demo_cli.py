"""``kavach demo`` runs the identify path end to end on its own data."""

from __future__ import annotations

import json

from kavach.cli.main import main
from kavach.demo.media import make_demo_media


def test_demo_media_layout(tmp_path):
    media = make_demo_media(tmp_path, known=5, unrelated=2)
    assert len(list(media.known.iterdir())) == 5
    names = sorted(p.name for p in media.device.rglob("*") if p.is_file())
    assert "backup.zip" in names
    assert "notes.txt" in names


def test_demo_scan_finds_the_copies(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KAVACH_DATABASE_URL", raising=False)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path / "elsewhere"))
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    records = [
        json.loads(line) for line in (tmp_path / "demo" / "scan.jsonl").read_text().splitlines()
    ]
    matched = sorted(r["path"].rsplit("/", 1)[-1] for r in records if r["matches"])
    assert matched == [
        "IMG-0001.jpg",
        "IMG-0002.jpg",
        "IMG-0003.jpg",
        "IMG-0004.webp",  # mirrored: found by a query-side variant
        "IMG-0005.jpg",
    ]
    html = (tmp_path / "demo" / "summary.html").read_text()
    assert "<img" not in html.lower()
    # The demo keeps its database inside its own folder.
    assert (tmp_path / "demo" / "data").is_dir()
    assert not (tmp_path / "elsewhere").exists()
