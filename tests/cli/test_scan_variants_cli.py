"""`kavach scan` looks up query-side variants by default and says which one matched."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.cli.test_scan_cli import SEEDS, _database, database_url, engine, hotline, run
from tests.match.helpers import image_bytes
from tests.support.images import encode

__all__ = ["_database", "database_url", "engine", "hotline"]


def _mirrored(seed: int) -> bytes:
    image = Image.open(io.BytesIO(image_bytes(seed, 95))).convert("RGB")
    return encode(ImageOps.mirror(image), quality=85)


def test_scan_finds_a_mirrored_copy_and_names_the_variant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path
) -> None:
    device = tmp_path / "device"
    device.mkdir()
    (device / "mirrored.jpg").write_bytes(_mirrored(SEEDS[0]))
    out = tmp_path / "scan.jsonl"
    on = ("--variants", "all")
    code, _, err = run(
        capsys, "scan", str(device), "-b", "hotline", *on, "--out", str(out), "-j", "1"
    )
    assert code == 1, err
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    (match,) = record["matches"]
    assert match["variant"].startswith("dihedral:")
    assert match["query_value"] != record["pdq"]
    assert "pdq_variants" not in record  # lookups only: the output keeps one PDQ per file
    code, stdout, _ = run(capsys, "scan", str(device), "-b", "hotline", "-j", "1", *on)
    assert code == 1
    assert "(dihedral:" in stdout
    code, _, _ = run(capsys, "scan", str(device), "-b", "hotline", "-j", "1", "--variants", "none")
    assert code == 0
    # Off by default for now (their lookups cost scan speed; docs/robustness.md).
    code, _, _ = run(capsys, "scan", str(device), "-b", "hotline", "-j", "1")
    assert code == 0


def test_scan_refuses_an_unknown_variant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path
) -> None:
    code, _, err = run(capsys, "scan", str(tmp_path), "-b", "hotline", "--variants", "blur")
    assert code == 2
    assert "unknown variant 'blur'" in err
