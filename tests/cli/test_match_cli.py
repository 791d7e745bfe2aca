"""``kavach match`` on SQLite and PostgreSQL: arguments, files, guessed types, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.hashing import hash_bytes
from kavach.store.db import make_session_factory
from kavach.store.pytest_fixtures import database_url, engine
from kavach.store.testing import clear_tables
from tests.match.helpers import A1, good_seeds, image_bytes, list_record, make_bank
from tests.support.cli import run

__all__ = ["database_url", "engine"]

SEED = good_seeds(1)[0]


@pytest.fixture(autouse=True)
def _bank(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path / "data"))
    make_bank(make_session_factory(engine), "hotline", [list_record(known(), [A1])])
    yield
    clear_tables(engine)


def known() -> object:
    return hash_bytes(image_bytes(SEED, 95))


def test_hashes_from_arguments_and_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record = hash_bytes(image_bytes(SEED, 95))
    near = hash_bytes(image_bytes(SEED, 60)).pdq or ""
    listing = tmp_path / "hashes.txt"
    listing.write_text(f"# from a report\nmd5:{record.md5}\n\n{'0' * 40}\n")
    code, out, err = run(capsys, "match", near, "--file", str(listing), "--format", "json")
    assert code == 1, err
    results = json.loads(out)
    assert [r["signal_types"] for r in results] == [["sha256", "pdq"], ["md5"], ["sha1"]]
    assert results[0]["matches"][0]["signal_type"] == "pdq"
    assert results[0]["matches"][0]["labels"][0]["value"] == "A1"
    assert results[1]["matches"][0]["distance"] == 0
    assert results[2]["matches"] == []
    assert "2 of 3 hashes matched" in err


def test_no_match_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "match", "0" * 32, "--format", "json")
    assert code == 0
    assert json.loads(out)[0]["matches"] == []
    code, _, err = run(capsys, "match", "xyz")
    assert code == 2
    assert "cannot tell the signal type" in err
    code, _, err = run(capsys, "match", "0" * 64, "--signal-type", "pdq", "--bank", "nope")
    assert code == 2
    assert "no bank called" in err
    code, out, _ = run(capsys, "match", "0" * 32, "--format", "table")
    assert code == 0
    assert "no match" in out
