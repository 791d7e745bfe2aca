"""``kavach db`` and ``kavach bank`` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.store.pytest_fixtures import database_url, engine
from kavach.store.testing import clear_tables
from tests.support.cli import run

__all__ = ["database_url", "engine"]

FIXTURES = Path(__file__).parents[1] / "banks" / "fixtures"


@pytest.fixture(autouse=True)
def _database(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path))
    yield
    # The CLI commits through its own engine: empty the tables for the next test.
    clear_tables(engine)


def test_db_upgrade_and_current(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0
    assert "already at revision" in out
    code, out, _ = run(capsys, "db", "current")
    assert code == 0
    # At the newest revision, whichever it is.
    assert re.search(r"revision (\d{4}) \(head \1\)", out), out


def test_unmigrated_database_says_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAVACH_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    code, _, err = run(capsys, "bank", "list")
    assert code == 2
    assert err.strip().endswith("run `kavach db upgrade`")
    assert err.count("\n") == 1


def test_create_import_show_export_retract(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "bank", "create", "vics-a", "--owner", "Unit A", "--source", "vics")[0] == 0
    code, out, err = run(
        capsys, "bank", "import", "vics-a", str(FIXTURES / "vics_1x_case.json"), "--format", "vics"
    )
    assert code == 0
    assert "6 added" in out
    assert "2 errors" in out
    assert "version 1" in out
    assert "MediaID 104" in err

    code, out, _ = run(capsys, "bank", "list")
    assert code == 0
    assert "vics-a" in out
    assert "Unit A" in out

    code, out, _ = run(capsys, "bank", "show", "vics-a")
    assert code == 0
    assert "photodna" in out

    target = tmp_path / "out.json"
    code, _, err = run(capsys, "bank", "export", "vics-a", str(target), "--format", "vics")
    assert code == 0
    assert "exported 4 records" in err
    doc = json.loads(target.read_text())
    assert len(doc["value"]) == 4
    md5 = doc["value"][0]["MD5"]

    code, out, _ = run(capsys, "bank", "retract", "vics-a", f"md5:{md5}", "--reason", "test")
    assert code == 0
    assert "retracted 1 entries" in out
    assert "version 2" in out
    code, out, _ = run(capsys, "bank", "export", "vics-a", "-", "--format", "text")
    assert md5 not in out
    assert len(out.splitlines()) == 5  # six hashes, one retracted


def test_strict_import_rolls_back(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "bank", "create", "b", "--owner", "Unit A")
    code, _, err = run(
        capsys, "bank", "import", "b", str(FIXTURES / "hashes.txt"), "--format", "text", "--strict"
    )
    assert code == 2
    assert "nothing imported" in err
    code, out, _ = run(capsys, "bank", "export", "b", "-", "--format", "text")
    assert out == ""


def test_broken_file_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "bank", "create", "b", "--owner", "Unit A")
    broken = tmp_path / "broken.xml"
    broken.write_text("<queryResult><images><image>")
    code, _, err = run(capsys, "bank", "import", "b", str(broken), "--format", "ncmec")
    assert code == 2
    assert err.startswith("kavach: error: line 1")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bank", "show", "missing"], "no bank called 'missing'"),
        (["bank", "create", "x", "--owner", "O", "--source", "nope"], "unknown source"),
        (["bank", "export", "missing", "-", "--format", "xlsx"], "no bank called"),
        (["bank", "retract", "missing", "abc"], "cannot tell the signal type"),
    ],
)
def test_errors_print_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_bank_changes_keep_the_index_cache_current(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Every change through the CLI refreshes the cached index, so the next scan starts warm.
    assert run(capsys, "bank", "create", "vics-c", "--owner", "Unit C")[0] == 0
    vics = str(FIXTURES / "vics_1x_case.json")
    assert run(capsys, "bank", "import", "vics-c", vics, "--format", "vics")[0] == 0
    cache = tmp_path / "index-cache"
    (meta,) = cache.glob("*.json")
    assert json.loads(meta.read_text())["version"] == 1
    assert list(cache.glob("*.kvx"))
    code, out, _ = run(capsys, "bank", "export", "vics-c", "-", "--format", "text")
    first = out.splitlines()[0].split()[-1] if out.strip() else ""
    assert code == 0
    assert first
    assert run(capsys, "bank", "retract", "vics-c", first)[0] == 0
    assert json.loads(meta.read_text())["version"] == 2
