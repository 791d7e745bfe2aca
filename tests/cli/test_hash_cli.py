"""``kavach hash`` end to end: formats, exit status, summary."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from kavach.cli.hash import CSV_FIELDS
from kavach.cli.main import main
from tests.support.images import encode, scene

JSONL_FIELDS = [
    "path",
    "size",
    "media_type",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "pdq_dihedral",
    "orientation",
    "error",
    # video fields, added at the end so existing readers keep their columns
    "vpdq",
    "duration",
    "frame_count",
    "frame_rate",
    "rotation",
]


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "one.jpg").write_bytes(encode(scene(200, 150, seed=1), "JPEG"))
    (tmp_path / "sub" / "two.png").write_bytes(encode(scene(150, 200, seed=2), "PNG"))
    return tmp_path


def test_jsonl_records_have_stable_fields(folder, capsys):
    assert main(["hash", str(folder), "--format", "jsonl", "--jobs", "1"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [list(r) for r in records] == [JSONL_FIELDS, JSONL_FIELDS]
    assert records[0]["path"].endswith("one.jpg")
    assert records[1]["path"].endswith("two.png")
    assert all(r["error"] is None and len(r["pdq"]) == 64 for r in records)
    assert "hashed 2 of 2 files" in err


def test_failure_exits_2_and_names_the_file(folder, capsys):
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    code = main(["hash", str(folder), str(folder / "absent.png"), "-f", "jsonl", "-j", "2"])
    out, err = capsys.readouterr()
    assert code == 2
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 4
    errors = {r["path"].rsplit("/", 1)[-1]: r["error"]["code"] for r in records if r["error"]}
    assert errors == {"broken.jpg": "corrupt_media", "absent.png": "not_found"}
    assert "2 failed" in err
    assert "broken.jpg: corrupt_media" in err


def test_csv_output(folder, capsys):
    assert main(["hash", str(folder), "-f", "csv", "--dihedral", "-s", "md5,pdq", "-j", "1"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == CSV_FIELDS
    assert rows[0]["sha1"] == ""
    assert len(rows[0]["md5"]) == 32
    assert rows[0]["pdq_dihedral"].startswith("original=")
    assert rows[0]["pdq_dihedral"].count(";") == 7


def test_table_output(folder, capsys, monkeypatch):
    # Wide enough that Rich does not fold the long temporary path across lines.
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["hash", str(folder / "one.jpg"), "-f", "table"]) == 0
    out = capsys.readouterr().out
    assert "one.jpg" in out
    assert "image/jpeg" in out


def test_bad_option_values(folder, capsys):
    assert main(["hash", str(folder), "--signals", "md5,nope"]) == 2
    assert "unknown signal 'nope'" in capsys.readouterr().err
    assert main(["hash", str(folder), "--jobs", "0"]) == 2
    assert main(["hash"]) == 2


def test_console_script_pipes_jsonl(folder):
    # A real process: the default format in a pipe is JSONL and no progress bar is drawn.
    result = subprocess.run(
        [sys.executable, "-m", "kavach.cli.main", "hash", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    json.loads(result.stdout.splitlines()[0])
    assert "hashing" not in result.stderr


def test_progress_bar_on_a_terminal_only(folder, tmp_path_factory):
    # stderr on a pseudo-terminal, stdout to a file: the bar is drawn, the records stay clean.
    import os
    import pty

    leader, follower = pty.openpty()
    out = tmp_path_factory.mktemp("out") / "out.jsonl"
    with open(out, "w") as stdout:
        process = subprocess.run(
            [sys.executable, "-m", "kavach.cli.main", "hash", str(folder), "-j", "1"],
            stdout=stdout,
            stderr=follower,
            timeout=120,
            check=False,
        )
    os.close(follower)
    drawn = b""
    try:
        while chunk := os.read(leader, 65536):
            drawn += chunk
    except OSError:  # the terminal closes once everything was read
        pass
    os.close(leader)
    assert process.returncode == 0
    assert b"hashing" in drawn
    assert b"files/s" in drawn
    assert all(json.loads(line)["error"] is None for line in out.read_text().splitlines())


@pytest.fixture
def clip(tmp_path):
    from tests.support.videos import video

    path = tmp_path / "clip.mp4"
    path.write_bytes(video(seconds=2, fps=10))
    return path


def test_video_jsonl(clip, capsys):
    assert main(["hash", str(clip), "-f", "jsonl"]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert list(record) == JSONL_FIELDS
    assert record["media_type"] == "video/mp4"
    assert [f["frame"] for f in record["vpdq"]] == [0, 10]
    assert list(record["vpdq"][0]) == ["frame", "quality", "hash", "timestamp"]
    assert (record["duration"], record["frame_count"], record["frame_rate"]) == (2.0, 20, 10.0)


@pytest.mark.parametrize(("fps", "frames"), [("all", 20), ("0", 20), ("2", 4), ("0.5", 1)])
def test_fps_option(clip, capsys, fps, frames):
    assert main(["hash", str(clip), "-f", "jsonl", "--fps", fps]) == 0
    assert len(json.loads(capsys.readouterr().out)["vpdq"]) == frames


@pytest.mark.parametrize("fps", ["-1", "fast", "nan", "inf"])
def test_bad_fps(clip, capsys, fps):
    assert main(["hash", str(clip), "--fps", fps]) == 2
    assert "--fps must be" in capsys.readouterr().err


def test_video_csv_and_table(clip, capsys):
    assert main(["hash", str(clip), "-f", "csv"]) == 0
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    lines = row["vpdq"].split(";")
    assert len(lines) == 2
    assert lines[1].startswith("10,")
    assert lines[1].endswith(",1.000")
    assert row["frame_count"] == "20"
    assert main(["hash", str(clip), "-f", "table"]) == 0
    assert "vpdq: 2 frames" in capsys.readouterr().out


def test_undecodable_file_names_are_written_with_escapes(tmp_path, capsys):
    # A Latin-1 name on disk (not UTF-8): Python holds it with surrogates, outputs escape it.
    name = os.fsdecode(b"caf\xe9.bin")
    (tmp_path / name).write_bytes(b"hello")
    target = str(tmp_path / name)
    assert main(["hash", target, "--format", "jsonl"]) == 2  # not media: digests only
    record = json.loads(capsys.readouterr().out)
    assert record["path"] == os.fsencode(target).decode("utf-8", "backslashreplace")
    assert record["path"].endswith("caf\\xe9.bin")
    assert record["md5"]
    assert main(["hash", target, "--format", "csv"]) == 2
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["path"] == record["path"]
    # The table (folded to the terminal's width) must not fail either.
    assert main(["hash", target, "--format", "table"]) == 2
    capsys.readouterr()
