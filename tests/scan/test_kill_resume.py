"""A scan killed with SIGKILL mid-run and resumed: no file counted twice, none missed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kavach.hashing import hash_bytes
from kavach.scan import ScanRecord
from kavach.scan.journal import checkpoint_path
from kavach.store.db import make_engine, make_session_factory
from kavach.store.testing import sqlite_database
from tests.match.helpers import A1, good_seeds, image_bytes, list_record, make_bank, write_images

FILES = 240
KNOWN = good_seeds(3)


def test_sigkill_then_resume(tmp_path: Path) -> None:
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        try:
            records = [list_record(hash_bytes(image_bytes(s, 95)), [A1]) for s in KNOWN]
            make_bank(make_session_factory(engine), "hotline", records)
        finally:
            engine.dispose()
        folder = tmp_path / "device"
        write_images(folder / "a", range(1000, 1000 + FILES - len(KNOWN)), quality=80)
        write_images(folder / "b", KNOWN, quality=70)
        expected = {str(p) for p in folder.rglob("*.jpg")}
        out = tmp_path / "scan.jsonl"
        env = {**os.environ, "KAVACH_DATABASE_URL": url, "KAVACH_DATA_DIR": str(tmp_path)}
        argv = [sys.executable, "-m", "kavach.cli.main", "scan", str(folder), "-b", "hotline"]
        argv += ["--out", str(out), "--jobs", "1", "--batch-size", "4"]

        # Its own session, so the kill reaches every process of the scan and nothing else.
        first = subprocess.Popen(argv, env=env, start_new_session=True, stderr=subprocess.PIPE)
        done = _wait_for_progress(checkpoint_path(out), at_least=20, proc=first)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert first.stderr is not None
        first.stderr.close()
        assert first.returncode == -signal.SIGKILL
        state = json.loads(checkpoint_path(out).read_text())
        assert not state["complete"], "the scan finished before the kill; make it bigger"
        assert done <= state["tasks_done"] < FILES
        with out.open("ab") as stream:  # as if the kill had torn a line
            stream.write(b'{"path": "torn')

        second = subprocess.run([*argv, "--resume"], env=env, capture_output=True, timeout=120)
        assert second.returncode == 1, second.stderr.decode()
        assert b"resumed 1 time" in second.stderr
        scanned = [ScanRecord.model_validate_json(line) for line in out.read_text().splitlines()]
        paths = [r.path for r in scanned]
        assert len(paths) == len(set(paths)) == FILES
        assert set(paths) == expected
        matched = {Path(r.path).name for r in scanned if r.matches}
        assert matched == {f"img-{s:04d}.jpg" for s in KNOWN}
        assert f"scanned {FILES} files".encode() in second.stderr


def _wait_for_progress(path: Path, *, at_least: int, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            done = int(json.loads(path.read_text())["tasks_done"])
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= at_least:
            return done
        if proc.poll() is not None:
            raise AssertionError(f"the scan ended (status {proc.returncode}) before the kill")
        time.sleep(0.002)
    raise AssertionError("the scan made no progress within a minute")
