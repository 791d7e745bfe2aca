"""The JSONL journal and its checkpoint: durable batches, torn lines, foreign checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from kavach.errors import CheckpointError
from kavach.scan import ScanRecord
from kavach.scan.journal import Journal, checkpoint_path


def records(*names: str) -> list[ScanRecord]:
    return [ScanRecord(path=name) for name in names]


def test_resume_truncates_to_the_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "scan.jsonl"
    journal = Journal(out, "fp", resume=False)
    journal.append(records("a", "b"), ["k1", "k2"])
    journal.close()
    # A kill after more records were written but before their checkpoint, mid-line.
    with out.open("ab") as stream:
        stream.write(b'{"path":"c","matches":[]}\n{"path":"d","mat')
    resumed = Journal(out, "fp", resume=True)
    assert resumed.resumed_from is not None
    assert resumed.state.tasks_done == 2
    assert [r.path for r in resumed.done_records()] == ["a", "b"]
    resumed.append(records("c"), ["k3"])
    resumed.finish()
    lines = out.read_text().splitlines()
    assert [ScanRecord.model_validate_json(line).path for line in lines] == ["a", "b", "c"]
    assert resumed.state.resumed == 1
    assert resumed.state.complete


def test_a_new_scan_replaces_old_output(tmp_path: Path) -> None:
    out = tmp_path / "scan.jsonl"
    out.write_text("old\n")
    Journal(out, "fp", resume=False).close()
    assert out.read_bytes() == b""
    # --resume with no checkpoint yet just starts.
    checkpoint_path(out).unlink()
    fresh = Journal(out, "fp", resume=True)
    fresh.close()
    assert fresh.resumed_from is None


def test_checkpoints_of_other_scans_or_damaged_outputs_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "scan.jsonl"
    journal = Journal(out, "fp", resume=False)
    journal.append(records("a"), ["k1"])
    journal.close()
    with pytest.raises(CheckpointError, match="other paths, banks or options"):
        Journal(out, "other", resume=True)
    out.write_bytes(b"")
    with pytest.raises(CheckpointError, match="shorter than its checkpoint"):
        Journal(out, "fp", resume=True)
    checkpoint_path(out).write_text("{not json")
    with pytest.raises(CheckpointError, match="damaged"):
        Journal(out, "fp", resume=True)
