"""Video hashing speed, vPDQ compatibility and matching on the ThreatExchange sample videos.

On one core (the process is pinned to one CPU, decoder threads included), for the SD (720×480)
and HD (1280×720) sample videos at 30 frames/s, measures:

- decode only: PyAV decoding every frame, no pixel access (the floor);
- Kavach vPDQ at 1 frame/s (the default) and at every frame;
- the ``vpdq`` PyPI package (Meta's C++ vPDQ) at 1 frame/s, when it is installed;

and prints frames decoded per CPU second and seconds of video per CPU second ("× real time";
the target is ≥ 20× for SD at 1 frame/s). ``--golden`` adds, per sample video, the Hamming
distance of every frame's PDQ to the reference lines (median/max, all frames and quality ≥ 50)
and whether frame numbers and timestamps agree; ``--matches`` adds the match table of the
sample videos against each other.

    python benchmarks/video.py --golden --matches
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from kavach.match.video import VideoIndex, match_pair
from kavach.signals.vpdq import VideoHash, hash_video

ROOT = Path(
    os.environ.get("KAVACH_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata")
)
VIDEOS = ROOT / "threatexchange" / "tmk" / "sample-videos"
HASHES = ROOT / "threatexchange" / "vpdq" / "sample-hashes"


def _decode_only(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def _kavach(fps: float | None) -> Callable[[Path], int]:
    def run(path: Path) -> int:
        return hash_video(path, fps=fps).frame_count

    return run


def _reference_package() -> Callable[[Path], int] | None:
    try:
        import vpdq  # type: ignore[import-not-found]
    except ImportError:
        return None

    def run(path: Path) -> int:
        vpdq.computeHash(str(path), seconds_per_hash=1, num_threads=1)
        return _decode_only_count(path)

    return run


def _decode_only_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return int(container.streams.video[0].frames)


def _measure(run: Callable[[Path], int], files: list[Path]) -> tuple[float, float]:
    """(frames per CPU second, seconds of video per CPU second) over ``files``."""
    frames = 0
    video_seconds = 0.0
    start = time.process_time()
    for path in files:
        frames += run(path)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            video_seconds += float(stream.duration * stream.time_base)
    cpu = time.process_time() - start
    return frames / cpu, video_seconds / cpu


def speed(files: dict[str, list[Path]]) -> None:
    modes: list[tuple[str, Callable[[Path], int]]] = [
        ("decode only (PyAV, all frames)", _decode_only),
        ("Kavach vPDQ, 1 frame/s", _kavach(1.0)),
        ("Kavach vPDQ, every frame", _kavach(None)),
    ]
    reference = _reference_package()
    if reference is None:
        print("(the vpdq package is not installed: compared against decoding alone)")
    else:
        modes.append(("vpdq package (C++), 1 frame/s", reference))
    print(f"{'mode':36s} {'set':4s} {'frames/s':>9s} {'× real time':>12s}")
    for name, run in modes:
        for label, group in files.items():
            run(group[0])  # warm caches (filter matrices, codec tables)
            fps, ratio = _measure(run, group)
            print(f"{name:36s} {label:4s} {fps:9.0f} {ratio:11.1f}×")


def golden() -> None:
    print(
        f"\n{'video':32s} {'frames':>11s} {'ts':>3s} {'median':>6s} {'max':>4s} "
        f"{'q≥50 med/max':>13s}"
    )
    all_d: list[np.ndarray] = []
    for path in sorted(VIDEOS.glob("*.mp4")):
        reference = VideoHash.from_text((HASHES / f"{path.stem}.txt").read_text())
        ours = hash_video(path, fps=None).vpdq
        n = min(len(ours), len(reference))
        d = np.bitwise_count(ours.hashes[:n] ^ reference.hashes[:n]).sum(axis=1)
        good = reference.qualities[:n] >= 50
        same = np.array_equal(ours.frames, reference.frames) and [
            line.split(",")[3] for line in ours.lines()
        ] == [line.split(",")[3] for line in reference.lines()]
        all_d.append(d)
        print(
            f"{path.stem:32s} {len(ours):5d}/{len(reference):<5d} {'ok' if same else 'NO':>3s} "
            f"{np.median(d):6.0f} {d.max():4d} {np.median(d[good]):7.0f}/{d[good].max():<5d}"
        )
    every = np.concatenate(all_d)
    print(
        f"all frames: median {np.median(every):.0f}, mean {every.mean():.2f}, max {every.max()}, "
        f"≤ 10 bits: {100 * np.mean(every <= 10):.1f}%"
    )


def matches() -> None:
    paths = sorted(VIDEOS.glob("*.mp4"))
    names = [p.stem for p in paths]
    hashes = [hash_video(p).vpdq for p in paths]
    index = VideoIndex.from_videos(enumerate(hashes))
    print("\nmatches at 1 frame/s (query → listed: query% / listed%; ≥ 80% query frames = match)")
    for i, query in enumerate(hashes):
        found = index.search(query, query_percent=0)
        for m in found:
            assert m == match_pair(query, hashes[m.video_id], video_id=m.video_id)
        text = "; ".join(
            f"{names[m.video_id]} {m.query_match_percent:.0f}/{m.compared_match_percent:.0f}"
            + ("" if m.query_match_percent >= 80 else " (no match)")
            for m in found
            if m.video_id != i
        )
        print(f"{names[i]:32s} {text or '—'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden", action="store_true", help="compare with the reference lines")
    parser.add_argument("--matches", action="store_true", help="match the samples pairwise")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin to")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    sd = [p for p in sorted(VIDEOS.glob("*-sd-*.mp4"))]
    hd = [p for p in sorted(VIDEOS.glob("*-hd-*.mp4"))] + [VIDEOS / "pattern-longer-no-bar.mp4"]
    speed({"SD": sd, "HD": hd})
    if args.golden:
        golden()
    if args.matches:
        matches()


if __name__ == "__main__":
    main()
