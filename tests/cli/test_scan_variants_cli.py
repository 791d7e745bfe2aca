"""`kavach scan` looks up query-side variants by default and says which one matched."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.cli.test_scan_cli import SEEDS, _database, database_url, engine, hotline
from tests.match.helpers import image_bytes
from tests.support.cli import run
from tests.support.images import encode, scene, watermarked

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
    # On by default (docs/robustness.md).
    code, stdout, _ = run(capsys, "scan", str(device), "-b", "hotline", "-j", "1")
    assert code == 1
    assert "(dihedral:" in stdout


def test_scan_refuses_an_unknown_variant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path
) -> None:
    code, _, err = run(capsys, "scan", str(tmp_path), "-b", "hotline", "--variants", "blur")
    assert code == 2
    assert "unknown variant 'blur'" in err


def test_a_bank_refusing_variants_is_not_matched_through_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path
) -> None:
    device = tmp_path / "device"
    device.mkdir()
    (device / "mirrored.jpg").write_bytes(_mirrored(SEEDS[0]))
    code, stdout, err = run(capsys, "bank", "variants", "hotline", "trim,crop")
    assert code == 0, err
    assert "accepts variants: crop, trim" in stdout
    code, stdout, _ = run(capsys, "bank", "show", "hotline")
    assert "crop,trim" in stdout
    code, _, _ = run(capsys, "scan", str(device), "-b", "hotline", "-j", "1")
    assert code == 0  # found only by a flip, which this bank does not accept
    code, _, err = run(capsys, "bank", "variants", "hotline", "blur")
    assert code == 2
    assert "unknown variant 'blur'" in err
    code, stdout, _ = run(capsys, "bank", "variants", "hotline", "default")
    assert "accepts variants: default" in stdout
    code, _, _ = run(capsys, "scan", str(device), "-b", "hotline", "-j", "1")
    assert code == 1


def test_match_hashes_a_file_with_the_variants(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path
) -> None:
    image = tmp_path / "mirrored.jpg"
    image.write_bytes(_mirrored(SEEDS[0]))
    code, stdout, err = run(capsys, "match", "--media", str(image), "-b", "hotline")
    assert code == 1, err
    [result] = json.loads(stdout)
    assert result["query"] == str(image)
    [match] = [m for m in result["matches"] if m["signal_type"] == "pdq"]
    assert match["variant"].startswith("dihedral:")
    code, _, _ = run(capsys, "match", "-m", str(image), "-b", "hotline", "--variants", "none")
    assert code == 0
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code, _, err = run(capsys, "match", "--media", str(broken), "-b", "hotline")
    assert code == 2
    assert "broken.jpg" in err


def test_a_watermarked_copy_is_found_by_its_reliable_bits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hotline: Path
) -> None:
    picture = scene(640, 480, seed=11)  # its marked copy is 42 bits off, 15 on reliable bits
    listed = tmp_path / "listed"
    listed.mkdir()
    (listed / "original.jpg").write_bytes(encode(picture, quality=95))
    assert run(capsys, "bank", "add", "hotline", str(listed), "-j", "1")[0] == 0
    device = tmp_path / "device"
    device.mkdir()
    (device / "marked.jpg").write_bytes(encode(watermarked(picture), quality=85))
    out = tmp_path / "scan.jsonl"
    code, stdout, err = run(
        capsys, "scan", str(device), "-b", "hotline", "-j", "1", "--out", str(out)
    )
    assert code == 1, err
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    (match,) = record["matches"]
    assert match["variant"] == "original"
    assert match["distance"] > 31
    assert 0 <= match["reliable_distance"] <= 23
    code, stdout, _ = run(capsys, "scan", str(device), "-b", "hotline", "-j", "1")
    assert f"(original, reliable bits {match['reliable_distance']}/192)" in stdout
    # Without the reliable family the whole hash alone is too far off.
    variants = ("--variants", "dihedral,trim,crop,rotate")
    assert run(capsys, "scan", str(device), "-b", "hotline", "-j", "1", *variants)[0] == 0
    code, stdout, _ = run(capsys, "match", "--media", str(device / "marked.jpg"), "-b", "hotline")
    assert code == 1
    [result] = json.loads(stdout)
    assert [m["reliable_distance"] for m in result["matches"]] == [match["reliable_distance"]]
