"""The JSONL output of a scan and its checkpoint, which together make a scan resumable.

Records are appended per batch, flushed and fsync'd; then the checkpoint is replaced atomically
(temporary file, fsync, rename) with the number of completed tasks, a chained digest of their
keys and the output's length at that point. After a kill, ``--resume`` truncates the output to
that length (dropping a torn last line and any records written after the checkpoint, which will
be written again), checks that the inputs still plan to the same first tasks, and goes on from
there: no file is counted twice or missed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ValidationError

from kavach.errors import CheckpointError, InputError
from kavach.scan.results import ScanRecord

__all__ = ["Checkpoint", "Journal", "checkpoint_path", "next_chain"]

_FORMAT = 1


class Checkpoint(BaseModel):
    """How far a scan got. Stored as JSON beside the output (``OUT.checkpoint``)."""

    format: int = _FORMAT
    fingerprint: str
    """Digest of the scan's inputs and options; a resume must present the same."""
    tasks_done: int = 0
    chain: str = ""
    """Hex digest chained over the keys of the completed tasks, in order."""
    out_bytes: int = 0
    complete: bool = False
    resumed: int = 0


def checkpoint_path(out: Path) -> Path:
    """Where the checkpoint of output ``out`` lives."""
    return out.with_name(out.name + ".checkpoint")


def next_chain(chain: str, key: str) -> str:
    """The chained digest after one more completed task."""
    return hashlib.sha256(bytes.fromhex(chain) + key.encode("utf-8", "surrogateescape")).hexdigest()


class Journal:
    """Appends scan records to ``out`` and keeps its checkpoint current."""

    def __init__(self, out: Path, fingerprint: str, *, resume: bool) -> None:
        self.out = out
        self.path = checkpoint_path(out)
        self.resumed_from: Checkpoint | None = None
        state = self._read() if resume else None
        if state is not None:
            if state.fingerprint != fingerprint:
                raise CheckpointError(
                    f"{self.path} belongs to a scan with other paths, banks or options; resume "
                    "with the same command, or start again without --resume"
                )
            self._stream = self._reopen(state)
            state = state.model_copy(update={"resumed": state.resumed + 1, "complete": False})
            self.resumed_from = state
        else:
            state = Checkpoint(fingerprint=fingerprint)
            try:
                self._stream = out.open("wb")
            except OSError as exc:
                raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
        self.state = state
        self._save()

    def _read(self) -> Checkpoint | None:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            state = Checkpoint.model_validate_json(text)
        except ValidationError:
            raise CheckpointError(f"{self.path} is damaged; start again without --resume") from None
        if state.format != _FORMAT:
            raise CheckpointError(f"{self.path} was written by another Kavach version")
        return state

    def _reopen(self, state: Checkpoint) -> IO[bytes]:
        try:
            stream = self.out.open("r+b")
        except FileNotFoundError:
            raise CheckpointError(
                f"{self.out} is missing but its checkpoint is not; start again without --resume"
            ) from None
        size = stream.seek(0, os.SEEK_END)
        if size < state.out_bytes:
            stream.close()
            raise CheckpointError(
                f"{self.out} is shorter than its checkpoint says ({size:,} < {state.out_bytes:,} "
                "bytes); it was changed or damaged: start again without --resume"
            )
        # Drops a torn last line and records written after the last checkpoint.
        stream.truncate(state.out_bytes)
        stream.seek(state.out_bytes)
        return stream

    def done_records(self) -> Iterator[ScanRecord]:
        """The records written before this run (on resume), read back from the output."""
        if self.resumed_from is None:
            return
        with self.out.open("rb") as stream:
            remaining = self.resumed_from.out_bytes
            for number, line in enumerate(stream, start=1):
                if remaining <= 0:
                    break
                remaining -= len(line)
                try:
                    yield ScanRecord.model_validate_json(line)
                except ValidationError:
                    raise CheckpointError(
                        f"{self.out} line {number} is not a scan record; start again without "
                        "--resume"
                    ) from None

    def append(self, records: Sequence[ScanRecord], keys: Sequence[str]) -> None:
        """Write ``records`` (the output of the tasks ``keys``), make them durable, checkpoint."""
        data = b"".join(r.model_dump_json().encode() + b"\n" for r in records)
        self._stream.write(data)
        self._stream.flush()
        os.fsync(self._stream.fileno())
        chain = self.state.chain
        for key in keys:
            chain = next_chain(chain, key)
        self.state = self.state.model_copy(
            update={
                "tasks_done": self.state.tasks_done + len(keys),
                "chain": chain,
                "out_bytes": self.state.out_bytes + len(data),
            }
        )
        self._save()

    def finish(self) -> None:
        """Mark the scan complete (a later ``--resume`` then only rewrites the reports)."""
        self.state = self.state.model_copy(update={"complete": True})
        self._save()
        self.close()

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.close()

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as stream:
            stream.write(json.dumps(self.state.model_dump()))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, self.path)
