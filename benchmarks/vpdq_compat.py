"""vPDQ compatibility: every frame's PDQ against Meta's reference lines, per sample video.

Hashes every frame of each ThreatExchange sample video (``tmk/sample-videos/*.mp4``) and
compares it, line by line, with the reference's ``vpdq/sample-hashes/NAME.txt``. Per video it
prints the frame counts (ours/reference), whether frame numbers and timestamps agree, the
Hamming distance's median, 99th percentile and maximum, the largest quality difference, and
how many frames are more than 10 bits away in each quality band (< 20, 20–49, ≥ 50).

``--y-plane`` measures the previous conversion instead (the decoder's Y plane expanded to
0–255, no chroma), for a before/after comparison; ``--swscale`` converts 4:2:0 frames with the
bundled FFmpeg's own RGB24 conversion (BT.601; its SIMD version on x86) instead of the tables.

    python benchmarks/vpdq_compat.py [--y-plane | --swscale] [NAME ...]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from kavach.media import video as video_module
from kavach.signals.vpdq import VideoHash, hash_video

ROOT = Path(
    os.environ.get("KAVACH_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata")
)
VIDEOS = ROOT / "threatexchange" / "tmk" / "sample-videos"
HASHES = ROOT / "threatexchange" / "vpdq" / "sample-hashes"
BANDS = ((0, 20, "q<20"), (20, 50, "q20-49"), (50, 101, "q≥50"))


def compare(path: Path) -> tuple[str, np.ndarray, np.ndarray]:
    """One table row for ``path``, plus its per-frame distances and reference qualities."""
    reference = VideoHash.from_text((HASHES / f"{path.stem}.txt").read_text())
    ours = hash_video(path, fps=None).vpdq
    n = min(len(ours), len(reference))
    d = np.bitwise_count(ours.hashes[:n] ^ reference.hashes[:n]).sum(axis=1).astype(int)
    q = reference.qualities[:n].astype(int)
    same = np.array_equal(ours.frames, reference.frames) and [
        line.split(",")[3] for line in ours.lines()
    ] == [line.split(",")[3] for line in reference.lines()]
    dq = np.abs(ours.qualities[:n].astype(int) - q).max()
    over = [int(np.sum((d > 10) & (q >= lo) & (q < hi))) for lo, hi, _ in BANDS]
    row = (
        f"| {path.stem} | {len(ours)}/{len(reference)} | {'equal' if same else 'DIFFER'} "
        f"| {np.median(d):.0f} | {np.percentile(d, 99):.0f} | {d.max()} | {dq} | "
        + " | ".join(str(x) for x in over)
        + " |"
    )
    return row, d, q


def _y_plane_luma(frame: Any, halved_rows: bool, conv: Any) -> np.ndarray:
    """The previous conversion: the Y plane expanded to 0-255 and clipped, chroma ignored."""
    y = video_module._plane(frame, 0, frame.height, frame.width)
    full = conv is video_module._CONVERTERS[True]
    return (video_module._FULL_LUT if full else video_module._LIMITED_LUT)[y]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="sample video names (default: all)")
    parser.add_argument("--y-plane", action="store_true", help="the previous Y-plane luma")
    parser.add_argument("--swscale", action="store_true", help="FFmpeg's own RGB conversion")
    args = parser.parse_args()
    if args.y_plane:
        video_module._table_luma = _y_plane_luma  # type: ignore[assignment]
    elif args.swscale:
        video_module._TABLE_FORMATS.clear()  # every frame takes swscale's path
    paths = sorted(VIDEOS.glob("*.mp4"))
    if args.names:
        paths = [p for p in paths if p.stem in args.names]
    bands = " | ".join(f">10 {label}" for _, _, label in BANDS)
    print(f"| video | frames | numbers+timestamps | median | p99 | max | Δquality | {bands} |")
    print("|---" * (7 + len(BANDS)) + "|")
    distances, qualities = [], []
    for path in paths:
        row, d, q = compare(path)
        print(row, flush=True)
        distances.append(d)
        qualities.append(q)
    d, q = np.concatenate(distances), np.concatenate(qualities)
    print(
        f"\nall {len(d):,} frames: median {np.median(d):.0f}, mean {d.mean():.2f}, "
        f"p99 {np.percentile(d, 99):.0f}, max {d.max()}, "
        f"within 10 bits {100 * np.mean(d <= 10):.2f}%"
    )
    for lo, hi, label in BANDS:
        band = d[(q >= lo) & (q < hi)]
        if len(band):
            print(
                f"  {label}: {len(band):,} frames, median {np.median(band):.0f}, max {band.max()}"
            )


if __name__ == "__main__":
    main()
