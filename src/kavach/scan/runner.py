"""The scan loop: plan tasks, hash them in worker processes, match in batches, journal, count.

Workers hash while the parent matches: results come back in order through a bounded window of
chunks, the parent gathers them into batches, looks each batch up in the matcher (one index
search per bank and signal type), writes the batch and checkpoints. The matcher is loaded after
the first chunks are submitted, so a cold index load overlaps with hashing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kavach.errors import CheckpointError
from kavach.hashing import HashOptions, HashRecord, display_path
from kavach.match import Match, Matcher
from kavach.scan.archive import ArchiveLimits
from kavach.scan.journal import Journal, next_chain
from kavach.scan.results import ScanRecord, ScanSummary
from kavach.scan.tasks import Task, expand, plan_tasks, run_in_worker, run_tasks

__all__ = ["ScanConfig", "ScanProgress", "run_scan"]


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """How to scan: what to hash, archive limits, parallelism and batching."""

    hash_options: HashOptions = field(default_factory=HashOptions)
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    archives: bool = True
    """Open zip archives and scan their members."""
    jobs: int = 1
    batch_size: int = 256
    """Records matched, written and checkpointed together."""
    flush_seconds: float = 2.0
    """Checkpoint at least this often, so a kill loses little work."""
    refresh_seconds: float = 30.0
    """How often to pick up bank changes (retractions, additions) during a long scan."""


@dataclass(frozen=True, slots=True)
class ScanProgress:
    """Where a running scan stands, for a progress display."""

    inputs_done: int
    inputs_total: int
    records: int
    matched_files: int
    errors: int
    elapsed: float


def run_scan(
    paths: Sequence[str | os.PathLike[str]],
    matcher: Matcher,
    config: ScanConfig,
    *,
    out: Path | None = None,
    resume: bool = False,
    on_record: Callable[[ScanRecord], None] | None = None,
    on_progress: Callable[[ScanProgress], None] | None = None,
) -> ScanSummary:
    """Scan ``paths`` against ``matcher``; JSONL to ``out`` (resumable) when given."""
    started = time.monotonic()
    files = expand(paths)
    journal = Journal(out, fingerprint(paths, matcher, config), resume=resume) if out else None
    try:
        summary = ScanSummary()
        tasks = plan_tasks(files, config.archive_limits, archives=config.archives)
        inputs_done = 0
        if journal is not None and journal.resumed_from is not None:
            summary.resumed = journal.resumed_from.resumed
            for record in journal.done_records():
                summary.add(record)
            inputs_done = _skip_done(tasks, journal)
        loop = _Loop(matcher, config, journal, summary, on_record)
        for chunk, outputs in _execute(_chunks(tasks, files, config), matcher, config):
            for task, records in zip(chunk, outputs, strict=True):
                loop.pending.extend(records)
                loop.keys.append(task.key)
                inputs_done += task.input_done
            loop.maybe_flush()
            if on_progress is not None:
                on_progress(
                    ScanProgress(
                        inputs_done,
                        len(files),
                        summary.files + len(loop.pending),
                        summary.matched_files,
                        summary.errors,
                        time.monotonic() - started,
                    )
                )
        loop.flush()
        matcher.load()  # an empty scan still reports the versions matched against
        summary.banks = matcher.versions()
        summary.finished_at = dt.datetime.now(dt.UTC)
        if journal is not None:
            journal.finish()
        return summary
    finally:
        if journal is not None:
            journal.close()


def fingerprint(
    paths: Sequence[str | os.PathLike[str]], matcher: Matcher, config: ScanConfig
) -> str:
    """A digest of what decides a scan's records: a resume must present the same."""
    options = config.hash_options
    described = {
        "paths": [os.path.abspath(os.fspath(p)) for p in paths],
        "banks": matcher.bank_names,
        "policy": matcher.policy.model_dump(),
        "signals": sorted(options.signals),
        "dihedral": options.dihedral,
        # Only when used, so the fingerprint of a scan without variants is as it always was.
        **({"variants": sorted(options.variants)} if options.variants else {}),
        "full_decode": options.full_decode,
        "video_fps": options.video_fps,
        "media_limits": dataclasses.asdict(options.limits),
        "archives": config.archives,
        "archive_limits": dataclasses.asdict(config.archive_limits),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _skip_done(tasks: Iterator[Task], journal: Journal) -> int:
    """Advance ``tasks`` past the ones the checkpoint has done; return the inputs they finished."""
    chain = ""
    inputs = 0
    for number in range(journal.state.tasks_done):
        task = next(tasks, None)
        if task is None:
            raise CheckpointError(
                f"the inputs now plan fewer tasks ({number}) than the checkpoint has done "
                f"({journal.state.tasks_done}): files were removed; start again without --resume"
            )
        chain = next_chain(chain, task.key)
        inputs += task.input_done
    if chain != journal.state.chain:
        raise CheckpointError(
            "the files already scanned are not the ones the inputs list now (files were added, "
            "removed or renamed before that point); start again without --resume"
        )
    return inputs


def _chunks(tasks: Iterable[Task], files: list[str], config: ScanConfig) -> Iterator[list[Task]]:
    # As `kavach hash` does: chunks small enough to balance the workers, big enough to amortise
    # the round trip.
    size = max(1, min(64, len(files) // (max(config.jobs, 1) * 8)))
    chunk: list[Task] = []
    weight = 0
    for task in tasks:
        chunk.append(task)
        weight += task.weight
        if weight >= size:
            yield chunk
            chunk, weight = [], 0
    if chunk:
        yield chunk


def _execute(
    chunks: Iterator[list[Task]], matcher: Matcher, config: ScanConfig
) -> Iterator[tuple[list[Task], list[list[HashRecord]]]]:
    if config.jobs <= 1:
        matcher.load()
        for chunk in chunks:
            yield chunk, run_tasks(chunk, config.hash_options, config.archive_limits)
        return
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    window: deque[tuple[list[Task], Future[list[list[HashRecord]]]]] = deque()
    ahead = config.jobs * 4
    with ProcessPoolExecutor(max_workers=config.jobs, mp_context=context) as pool:

        def fill() -> None:
            while len(window) < ahead:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                window.append(
                    (
                        chunk,
                        pool.submit(
                            run_in_worker, chunk, config.hash_options, config.archive_limits
                        ),
                    )
                )

        fill()
        matcher.load()  # overlaps with the workers' first chunks
        while window:
            chunk, future = window.popleft()
            outputs = future.result()
            fill()
            yield chunk, outputs


class _Loop:
    """Batches records, matches them, journals them and counts them."""

    def __init__(
        self,
        matcher: Matcher,
        config: ScanConfig,
        journal: Journal | None,
        summary: ScanSummary,
        on_record: Callable[[ScanRecord], None] | None,
    ) -> None:
        self.matcher = matcher
        self.config = config
        self.journal = journal
        self.summary = summary
        self.on_record = on_record
        self.pending: list[HashRecord] = []
        self.keys: list[str] = []
        self.last_flush = self.last_refresh = time.monotonic()

    def maybe_flush(self) -> None:
        now = time.monotonic()
        if (
            len(self.pending) >= self.config.batch_size
            or now - self.last_flush >= self.config.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        now = time.monotonic()
        self.last_flush = now
        if not self.keys:
            return
        if now - self.last_refresh >= self.config.refresh_seconds:
            self.matcher.refresh()
            self.last_refresh = now
        pending, keys = self.pending, self.keys
        self.pending, self.keys = [], []
        matches = self.matcher.match_records(pending)
        records = [_scan_record(r, m) for r, m in zip(pending, matches, strict=True)]
        if self.journal is not None:
            self.journal.append(records, keys)
        for record in records:
            self.summary.add(record)
            if self.on_record is not None:
                self.on_record(record)


def _scan_record(record: HashRecord, matches: list[Match]) -> ScanRecord:
    fields = dict(record)
    # A file name that is not UTF-8 (undecodable bytes on disk) is carried with \x escapes
    # from here on, so the JSONL, the HTML and the VICS file all stay valid text.
    fields["path"] = display_path(record.path)
    # Variants are lookups, not the file's hashes: the matches name the one that matched, and
    # the output stays one canonical PDQ per file.
    fields["pdq_variants"] = None
    # The record was validated when it was made; building it again would cost per file.
    return ScanRecord.model_construct(**fields, matches=matches)
