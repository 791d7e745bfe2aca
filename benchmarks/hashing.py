"""Hashing speed and PDQ compatibility: Kavach against the reference pipeline and the decode floor.

Generates its own benign JPEGs (1600x1200 and 4032x3024, quality 80), then measures on one core:

- decode only: Pillow RGB at full size, luma (the JPEG Y plane) at full size and at 1/8 scale;
- the reference pipeline of python-threatexchange and HMA: Pillow RGB decode + ``pdqhash.compute``;
- Kavach PDQ alone (decode included), Kavach's full record (MD5, SHA-1, SHA-256, PDQ), and
  ``kavach hash``'s engine over files with ``--jobs 2``;

and prints one table with images/s and the two ratios the hashing engine is held to, followed by
the Hamming distances to ``pdqhash`` on the generated images and on the ThreatExchange reference
set (when ``../shared/testdata`` is present).

    python benchmarks/hashing.py            # the full run (about a minute)
    python benchmarks/hashing.py --quick    # fewer images, for a smoke test
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from kavach.demo.scenes import encode, scene
from kavach.hashing import HashOptions, hash_bytes, hash_paths
from kavach.signals.pdq import hamming, hash_from_hex

PDQ_ONLY = HashOptions(signals=frozenset({"pdq"}))
FULL_RECORD = HashOptions()
SIZES = ((1600, 1200), (4032, 3024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and rounds")
    parser.add_argument("--images", type=int, default=0, help="images per size (default 32/12)")
    parser.add_argument("--rounds", type=int, default=3, help="best of N timing rounds")
    args = parser.parse_args()

    rows = []
    compat: dict[str, list[int]] = {}
    for width, height in SIZES:
        count = args.images or (8 if args.quick else (32 if width < 3000 else 12))
        images = [
            encode(scene(width, height, seed=seed), "JPEG", quality=80) for seed in range(count)
        ]
        rounds = 1 if args.quick else args.rounds
        label = f"{width}x{height}"
        rates = {
            "decode RGB (full)": _rate(images, _decode_rgb, rounds),
            "decode luma (full)": _rate(images, _decode_luma_full, rounds),
            "decode luma (1/8)": _rate(images, _decode_luma_eighth, rounds),
            "reference: RGB + pdqhash": _rate(images, _reference_pipeline, rounds),
            "kavach PDQ, 1 core": _rate(images, lambda d: hash_bytes(d, PDQ_ONLY), rounds),
            "kavach md5+sha1+sha256+PDQ, 1 core": _rate(
                images, lambda d: hash_bytes(d, FULL_RECORD), rounds
            ),
            "kavach hash --jobs 2 (files)": _parallel_rate(images, jobs=2),
        }
        for name, rate in rates.items():
            rows.append((label, name, rate))
        kavach = rates["kavach PDQ, 1 core"]
        rows.append(
            (
                label,
                "ratio PDQ / reference  (target >= 12)",
                kavach / rates["reference: RGB + pdqhash"],
            )
        )
        rows.append(
            (
                label,
                "ratio PDQ / luma 1/8 decode  (target >= 0.6)",
                kavach / rates["decode luma (1/8)"],
            )
        )
        compat[f"generated {label}"] = [_distance_to_reference(d) for d in images]

    reference_set = _reference_set_distances()
    if reference_set:
        compat.update(reference_set)

    _print_rates(rows)
    _print_compat(compat)


def _rate(images: list[bytes], work: Callable[[bytes], object], rounds: int) -> float:
    work(images[0])  # warm caches (filter matrices, imports)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for data in images:
            work(data)
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def _parallel_rate(images: list[bytes], jobs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, data in enumerate(images * max(1, 256 // len(images))):
            path = Path(folder) / f"{index:05d}.jpg"
            path.write_bytes(data)
            paths.append(str(path))
        list(hash_paths(paths[:4], FULL_RECORD, jobs=jobs))  # start-up is not throughput
        start = time.perf_counter()
        records = list(hash_paths(paths, FULL_RECORD, jobs=jobs))
        elapsed = time.perf_counter() - start
        assert all(r.ok for r in records)
        return len(paths) / elapsed


def _decode_rgb(data: bytes) -> object:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _decode_luma_full(data: bytes) -> object:
    image = Image.open(io.BytesIO(data))
    image.draft("L", image.size)
    image.load()
    return image


def _decode_luma_eighth(data: bytes) -> object:
    image = Image.open(io.BytesIO(data))
    image.draft("L", (image.width // 8, image.height // 8))
    image.load()
    return image


def _reference_pipeline(data: bytes) -> object:
    return pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


def _reference_hash(data: bytes) -> np.ndarray:
    bits, _quality = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return np.packbits(bits.astype(np.uint8))


def _distance_to_reference(data: bytes) -> int:
    record = hash_bytes(data, PDQ_ONLY)
    assert record.pdq is not None
    return hamming(hash_from_hex(record.pdq), _reference_hash(data))


def _reference_set_distances() -> dict[str, list[int]]:
    root = Path(
        os.environ.get("KAVACH_TESTDATA", Path(__file__).resolve().parents[2] / "shared/testdata")
    )
    table = root / "threatexchange" / "pdq-expected.csv"
    if not table.exists():
        return {}
    to_pdqhash, to_cpp = [], []
    with open(table, newline="") as handle:
        for row in csv.DictReader(line for line in handle if not line.startswith("#")):
            record = hash_bytes((table.parent / row["path_in_repo"]).read_bytes(), PDQ_ONLY)
            assert record.pdq is not None
            ours = hash_from_hex(record.pdq)
            to_pdqhash.append(hamming(ours, hash_from_hex(row["pdqhash_pdq_hex"])))
            to_cpp.append(hamming(ours, hash_from_hex(row["cpp_cli_pdq_hex"])))
    return {
        "reference set vs pdqhash (bound 4)": to_pdqhash,
        "reference set vs C++ CLI (bound 10)": to_cpp,
    }


def _print_rates(rows: list[tuple[str, str, float]]) -> None:
    print(f"\n{'size':<10} {'pipeline':<46} {'images/s':>10} {'ms/image':>9}")
    print("-" * 78)
    for label, name, value in rows:
        if name.startswith("ratio"):
            print(f"{label:<10} {name:<46} {value:>10.2f}")
        else:
            print(f"{label:<10} {name:<46} {value:>10.1f} {1000 / value:>9.2f}")


def _print_compat(compat: dict[str, list[int]]) -> None:
    print(f"\n{'PDQ distance to pdqhash':<40} {'images':>6} {'mean':>6} {'median':>6} {'max':>4}")
    print("-" * 66)
    for name, values in compat.items():
        print(
            f"{name:<40} {len(values):>6} {statistics.fmean(values):>6.2f} "
            f"{statistics.median(values):>6.1f} {max(values):>4}"
        )


if __name__ == "__main__":
    main()
