"""Benchmark `kavach scan` against `kavach hash` on the same files, with a large bank.

    .venv/bin/python benchmarks/scan.py                              # 10,000 files, 1 M-entry bank
    .venv/bin/python benchmarks/scan.py --files 1000 --bank-size 100000   # a quick run

What it does, all with benign generated images:

1. Generates a folder of mixed images (JPEG at 480-1600 px and quality 70-92, some PNG) with a
   fast generator (smooth random colour fields, shapes, grain), and a set of "originals" kept
   out of the folder. A few percent of the folder (``--planted``) are near copies of originals:
   recompressed (quality 50-75) and often resized (50-90 %), as a messenger would pass them on.
2. Builds a bank of ``--bank-size`` entries: random PDQ hashes plus the originals' PDQ and MD5
   hashes, inserted straight into the store's ``bank_entry`` table with multi-row INSERTs
   (SQLAlchemy Core ``insert()`` with a list of rows) in one transaction, and the bank's version
   stamped as one change, exactly as ``add_entries`` would leave it, but without per-row reads.
3. Times ``kavach hash DIR --format jsonl > file`` and ``kavach scan DIR --bank B --out file``
   (subprocesses, all cores) on the same files, the scan once with a cold index (built from the
   database, then cached) and once warm (the cached index mapped back), and prints a table with
   files/s, the scan's speed relative to hashing alone, and recall of the planted copies.

The folder and database are kept in ``--workdir`` (default ``/tmp/kavach-bench-scan``) and
reused when the parameters match, so a rerun only times. Nothing here is real data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZES = ((480, 360), (640, 480), (800, 600), (1024, 768), (1280, 960), (1600, 1200))


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


# -- images ----------------------------------------------------------------------------------


def fast_scene(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like image in a few milliseconds: upscaled colour field, shapes, grain."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, size=(int(rng.integers(3, 7)), int(rng.integers(3, 7)), 3))
    field = Image.fromarray(cells.astype(np.uint8), "RGB").resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(field)
    for _ in range(int(rng.integers(3, 8))):
        x0, x1 = sorted(rng.uniform(0, width, size=2))
        y0, y1 = sorted(rng.uniform(0, height, size=2))
        fill = tuple(int(v) for v in rng.integers(0, 256, size=3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)([x0, y0, x1, y1], fill=fill)
    grain = rng.integers(-6, 7, size=(height, width, 1), dtype=np.int16)
    pixels = np.clip(np.asarray(field, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def encode(image: Image.Image, fmt: str, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=1)
    else:
        image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def original(seed: int) -> bytes:
    rng = np.random.default_rng(seed + 7_000_000)
    width, height = SIZES[int(rng.integers(1, len(SIZES)))]
    return encode(fast_scene(width, height, seed + 7_000_000), "JPEG", 92)


def near_copy(data: bytes, seed: int) -> bytes:
    """Recompressed, and usually resized, as a messenger passes images on."""
    rng = np.random.default_rng(seed)
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if rng.random() < 0.7:
        scale = rng.uniform(0.5, 0.9)
        image = image.resize((int(image.width * scale), int(image.height * scale)), Image.LANCZOS)
    return encode(image, "JPEG", int(rng.integers(50, 76)))


def make_file(job: tuple[str, int, int | None]) -> None:
    path, seed, planted_from = job
    if planted_from is not None:
        data = near_copy(original(planted_from), seed)
    else:
        rng = np.random.default_rng(seed)
        width, height = SIZES[int(rng.integers(0, len(SIZES)))]
        if path.endswith(".png"):  # screenshots and stickers: smaller, lossless
            data = encode(fast_scene(min(width, 640), min(height, 480), seed), "PNG")
        else:
            data = encode(fast_scene(width, height, seed), "JPEG", int(rng.integers(70, 93)))
    Path(path).write_bytes(data)


@dataclass(frozen=True)
class Layout:
    files: int
    planted: int
    seed: int


def generate(folder: Path, layout: Layout) -> dict[str, int]:
    """Write the folder; return planted path → original index."""
    rng = np.random.default_rng(layout.seed)
    planted_at = set(rng.choice(layout.files, size=layout.planted, replace=False).tolist())
    jobs: list[tuple[str, int, int | None]] = []
    planted: dict[str, int] = {}
    n_original = 0
    for i in range(layout.files):
        sub = folder / f"chat-{i % 37:02d}"
        png = i % 13 == 5 and i not in planted_at
        path = str(sub / f"IMG-{i:06d}.{'png' if png else 'jpg'}")
        if i in planted_at:
            planted[path] = n_original
            jobs.append((path, layout.seed * 1_000_003 + i, n_original))
            n_original += 1
        else:
            jobs.append((path, layout.seed * 1_000_003 + i, None))
    for i in range(37):
        (folder / f"chat-{i:02d}").mkdir(parents=True, exist_ok=True)
    with multiprocessing.get_context("forkserver").Pool() as pool:
        pool.map(make_file, jobs, chunksize=64)
    return planted


# -- bank ------------------------------------------------------------------------------------


def build_bank(url: str, size: int, originals: list[tuple[bytes, bytes]], seed: int) -> float:
    """Create bank ``bench`` with ``size`` entries straight through the store; return seconds."""
    from sqlalchemy import insert, update

    from kavach.banks import service
    from kavach.banks.models import Bank, BankEntry
    from kavach.store.db import make_engine, make_session_factory, session_scope
    from kavach.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    start = time.perf_counter()
    with session_scope(make_session_factory(engine)) as session:
        org = service.ensure_organisation(session, "Benchmark hotline")
        bank = service.create_bank(session, name="bench", owner=org, source="member")
        now = dt.datetime.now(dt.UTC)
        base = {
            "bank_id": bank.id,
            "item_id": None,
            "attributes": {},
            "added_at": now,
            "added_by": "benchmark",
            "changed_version": 1,
        }
        rows = [{**base, "signal_type": "pdq", "value": pdq} for pdq, _ in originals]
        rows += [{**base, "signal_type": "md5", "value": md5} for _, md5 in originals]
        session.execute(insert(BankEntry), rows)
        rng = np.random.default_rng(seed)
        remaining = size - len(rows)
        while remaining > 0:
            n = min(50_000, remaining)
            block = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
            session.execute(
                insert(BankEntry),
                [{**base, "signal_type": "pdq", "value": row.tobytes()} for row in block],
            )
            remaining -= n
        session.execute(update(Bank).where(Bank.id == bank.id).values(version=1))
    engine.dispose()
    return time.perf_counter() - start


# -- timing ----------------------------------------------------------------------------------


def timed(argv: list[str], env: dict[str, str], stdout: Path) -> tuple[float, int]:
    start = time.perf_counter()
    with stdout.open("wb") as out:
        proc = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        raise SystemExit(f"{argv[1]} failed with status {proc.returncode}")
    return elapsed, proc.returncode


def load_seconds(url: str, data_dir: Path, *, cache: bool) -> float:
    from kavach.match import Matcher
    from kavach.store.db import make_engine, make_session_factory

    engine = make_engine(url)
    matcher = Matcher(
        make_session_factory(engine),
        ["bench"],
        cache_dir=data_dir / "index-cache" if cache else None,
        database_key=url,
    )
    start = time.perf_counter()
    matcher.load()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--files", type=parse_size, default=10_000)
    parser.add_argument("--bank-size", type=parse_size, default=1_000_000)
    parser.add_argument("--planted", type=float, default=0.03, help="share of near copies")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kavach-bench-scan"))
    parser.add_argument("--jobs", type=int, default=None, help="workers (default: all cores)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each command")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    layout = Layout(args.files, max(1, round(args.files * args.planted)), args.seed)
    work: Path = args.workdir
    folder = work / "device"
    manifest = work / "manifest.json"
    wanted = {"files": layout.files, "planted": layout.planted, "seed": layout.seed,
              "bank_size": args.bank_size}  # fmt: skip
    url = f"sqlite:///{work / 'kavach.db'}"
    data_dir = work / "data"
    if not manifest.exists() or json.loads(manifest.read_text())["layout"] != wanted:
        shutil.rmtree(work, ignore_errors=True)
        folder.mkdir(parents=True)
        start = time.perf_counter()
        planted = generate(folder, layout)
        print(f"generated {layout.files:,} images in {time.perf_counter() - start:.1f} s")
        from kavach.hashing import hash_bytes

        originals = []
        for n in range(layout.planted):
            record = hash_bytes(original(n))
            originals.append((bytes.fromhex(record.pdq or ""), bytes.fromhex(record.md5 or "")))
        seconds = build_bank(url, args.bank_size, originals, args.seed)
        print(f"built a bank of {args.bank_size:,} entries in {seconds:.1f} s")
        manifest.write_text(json.dumps({"layout": wanted, "planted": planted}))
    planted = json.loads(manifest.read_text())["planted"]

    env = {**os.environ, "KAVACH_DATABASE_URL": url, "KAVACH_DATA_DIR": str(data_dir)}
    kavach = [sys.executable, "-m", "kavach.cli.main"]
    # A database kept from an earlier run may predate this Kavach's schema.
    subprocess.run([*kavach, "db", "upgrade"], env=env, check=True, capture_output=True)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    hash_argv = [*kavach, "hash", str(folder), "--format", "jsonl", *jobs]
    scan_out = work / "scan.jsonl"
    scan_argv = [*kavach, "scan", str(folder), "--bank", "bench", "--out", str(scan_out), *jobs]
    # The default scan looks up the query-side variants (docs/robustness.md): more hashing per
    # image and ~77 lookups instead of 1, ~70 of them again by their reliable bits.
    # `--variants fast` leaves out the 41 crop-grid guesses; `--variants none` is the scan of
    # plain hashes alone.
    plain_argv = [*scan_argv, "--variants", "none"]
    fast_argv = [*scan_argv, "--variants", "fast"]
    results: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, argv, cold in (
            ("kavach hash", hash_argv, False),
            ("kavach scan (cold index)", scan_argv, True),
            ("kavach scan (warm index)", scan_argv, False),
            ("kavach scan --variants fast (warm index)", fast_argv, False),
            ("kavach scan --variants none (warm index)", plain_argv, False),
        ):
            if cold:
                shutil.rmtree(data_dir / "index-cache", ignore_errors=True)
            seconds, _ = timed(argv, env, work / "stdout.txt")
            results[name] = min(results.get(name, float("inf")), seconds)

    # Recall and false matches of the default scan (the plain one wrote the file last).
    timed(scan_argv, env, work / "stdout.txt")
    records = [json.loads(line) for line in scan_out.read_text().splitlines()]
    found = sum(1 for r in records if r["matches"] and r["path"] in planted)
    false = sum(1 for r in records if r["matches"] and r["path"] not in planted)
    errors = sum(1 for r in records if r["error"])
    cold_load = load_seconds(url, data_dir, cache=False)
    warm_load = load_seconds(url, data_dir, cache=True)

    base = results["kavach hash"]
    cores = args.jobs or len(os.sched_getaffinity(0))
    print()
    print(f"{layout.files:,} files ({layout.planted:,} planted near copies), bank of "
          f"{args.bank_size:,} entries, {cores} worker(s), best of {args.repeat}")  # fmt: skip
    print()
    print("| command | seconds | files/s | speed vs hash |")
    print("|---|---:|---:|---:|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.1f} | {layout.files / seconds:,.0f} | {base / seconds:.0%} |")
    print()
    print("| measure | value |")
    print("|---|---:|")
    recall = found / layout.planted
    print(f"| recall of planted near copies | {found}/{layout.planted} = {recall:.1%} |")
    print(f"| files matched that were not planted | {false} |")
    print(f"| records with errors | {errors} |")
    print(f"| index load from the database (1 bank) | {cold_load:.2f} s |")
    print(f"| index load from the cache | {warm_load:.2f} s |")


if __name__ == "__main__":
    main()
