"""Video hashing speed against Meta's ``vpdq`` package, vPDQ compatibility and matching.

On one core (every process pinned to one CPU, decoder and hashing threads included), for the
SD (480×720) and HD (720×1280, 1280×720) ThreatExchange sample videos at 30 frames/s, measures
CPU time for:

- decode only: PyAV decoding every frame, no pixel access (the floor);
- Kavach vPDQ at 1 frame/s (the default) and at every frame;
- the ``vpdq`` PyPI package (Meta's C++ vPDQ, ``thread_count=1``) at 1 frame/s and at every
  frame, on the same files, when an interpreter that can import it is given (otherwise the
  comparison is with decoding alone);

and prints frames per CPU second and seconds of video per CPU second ("× real time"; the
target is ≥ 20× for SD at 1 frame/s), the best of ``--repeat`` interleaved rounds.

``--distance`` hashes every frame of all 14 sample videos with both Kavach and ``vpdq`` and
prints the per-frame PDQ distance between them (median, p99, max; all frames and quality ≥ 50),
and each one's distance to the reference lines of ``vpdq/sample-hashes``, and the vPDQ match
percentages (query / listed) of Kavach's hash against the package's. ``--golden`` adds
Kavach's distance to the reference lines alone; ``--matches`` the match table of the sample
videos against each other.

``vpdq`` builds against the system's FFmpeg, so it is not a project dependency. To set it up
(Debian/Ubuntu) in a separate virtual environment, which ``--vpdq-python`` then names (the
benchmark runs it in a subprocess that times itself)::

    apt-get install -y libavcodec-dev libavformat-dev libswscale-dev libavutil-dev \\
        libavdevice-dev libavfilter-dev pkg-config cmake
    python3 -m venv /tmp/vpdqenv && /tmp/vpdqenv/bin/pip install vpdq

    python benchmarks/video.py --vpdq-python /tmp/vpdqenv/bin/python --distance
    python benchmarks/video.py --golden --matches          # without vpdq

``KAVACH_VPDQ_PYTHON`` sets the same; when neither is given and this interpreter can import
``vpdq``, it is used.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
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

# Runs in the vpdq interpreter, which needs nothing but vpdq: Kavach, PyAV and NumPy stay out of
# it. Reads {"mode", "files", "seconds_per_hash", "cpu"} on stdin, answers JSON on stdout.
_VPDQ_CHILD = r"""
import importlib.metadata, json, os, sys, time
import vpdq
req = json.load(sys.stdin)
os.sched_setaffinity(0, {req["cpu"]})
sph = req["seconds_per_hash"]
def run(path):
    return vpdq.computeHash(path, seconds_per_hash=sph, thread_count=1)
out = {"version": importlib.metadata.version("vpdq")}
with open("/proc/self/maps") as maps:
    out["libavcodec"] = sorted({l.split()[-1] for l in maps if "libavcodec" in l})
if req["mode"] == "time":
    run(req["files"][0])  # warm: libraries paged in, codec tables built
    start = time.process_time()
    out["features"] = [len(run(path)) for path in req["files"]]
    out["cpu"] = time.process_time() - start
else:
    out["videos"] = [
        [[f.frame_number, f.quality, f.hex, f.timestamp] for f in run(path)]
        for path in req["files"]
    ]
print(json.dumps(out))
"""


def _vpdq_child(python: str, request: dict[str, object]) -> dict[str, object]:
    done = subprocess.run(
        [python, "-c", _VPDQ_CHILD],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"vpdq subprocess failed ({python}):\n{done.stderr.strip()}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def default_vpdq_python() -> str | None:
    """``KAVACH_VPDQ_PYTHON``, else this interpreter if it can import ``vpdq``, else None."""
    if env := os.environ.get("KAVACH_VPDQ_PYTHON"):
        return env
    return sys.executable if importlib.util.find_spec("vpdq") is not None else None


@dataclass(frozen=True)
class Clip:
    path: Path
    frames: int
    seconds: float


def _clip(path: Path) -> Clip:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        if stream.duration is None or stream.time_base is None:
            raise SystemExit(f"{path}: the container gives no duration")
        seconds = float(stream.duration * stream.time_base)
    return Clip(path, frames, seconds)


def _decode_only(path: Path) -> None:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass


def _kavach(fps: float | None) -> Callable[[Path], None]:
    def run(path: Path) -> None:
        hash_video(path, fps=fps)

    return run


def _in_process(run: Callable[[Path], None], clips: list[Clip]) -> float:
    start = time.process_time()
    for clip in clips:
        run(clip.path)
    return time.process_time() - start


def _vpdq_timer(python: str, seconds_per_hash: float) -> Callable[[list[Clip], int], float]:
    def timed(clips: list[Clip], cpu: int) -> float:
        answer = _vpdq_child(
            python,
            {
                "mode": "time",
                "files": [str(c.path) for c in clips],
                "seconds_per_hash": seconds_per_hash,
                "cpu": cpu,
            },
        )
        features = answer["features"]
        if not isinstance(features, list) or not all(features):
            raise SystemExit(f"vpdq hashed no frames of some file: {answer}")
        cpu_s = answer["cpu"]
        assert isinstance(cpu_s, float)
        return cpu_s

    return timed


def speed(groups: dict[str, list[Clip]], vpdq_python: str | None, cpu: int, repeat: int) -> None:
    """Best CPU time of ``repeat`` interleaved rounds per mode and set, as a table."""
    Timer = Callable[[list[Clip], int], float]

    def local(run: Callable[[Path], None]) -> Timer:
        def timed(clips: list[Clip], cpu: int) -> float:
            del cpu  # this process is pinned already
            return _in_process(run, clips)

        return timed

    modes: list[tuple[str, str, Timer]] = [
        ("decode only (PyAV, every frame)", "decode", local(_decode_only)),
        ("Kavach vPDQ, 1 frame/s", "1", local(_kavach(1.0))),
        ("Kavach vPDQ, every frame", "all", local(_kavach(None))),
    ]
    if vpdq_python is None:
        print("(no interpreter with the vpdq package: compared against decoding alone)")
    else:
        about = _vpdq_child(
            vpdq_python, {"mode": "hash", "files": [], "seconds_per_hash": 1, "cpu": cpu}
        )
        print(f"vpdq {about['version']} ({vpdq_python}), FFmpeg: {about['libavcodec']}")
        modes += [
            ("vpdq package (C++), 1 frame/s", "1", _vpdq_timer(vpdq_python, 1.0)),
            ("vpdq package (C++), every frame", "all", _vpdq_timer(vpdq_python, 0.0)),
        ]
    for _, _, timed in modes[:3]:
        for clips in groups.values():
            timed(clips[:1], cpu)  # warm caches (filter matrices, codec tables)
    best: dict[tuple[str, str], float] = {}
    for _ in range(repeat):
        for name, _, timed in modes:
            for label, clips in groups.items():
                seconds = timed(clips, cpu)
                best[name, label] = min(best.get((name, label), float("inf")), seconds)
    reference = {
        (sampling, label): best[name, label]
        for name, sampling, _ in modes
        if name.startswith("vpdq")
        for label in groups
    }
    print(f"{'mode':34s} {'set':4s} {'CPU s':>7s} {'frames/s':>9s} {'× real time':>12s} vs vpdq")
    for name, sampling, _ in modes:
        for label, clips in groups.items():
            cpu_s = best[name, label]
            frames = sum(c.frames for c in clips) / cpu_s
            ratio = sum(c.seconds for c in clips) / cpu_s
            versus = reference.get((sampling, label))
            cell = f"{versus / cpu_s:.2f}×" if versus and not name.startswith("vpdq") else ""
            print(f"{name:34s} {label:4s} {cpu_s:7.2f} {frames:9.0f} {ratio:11.1f}× {cell}")


def _distances(a: VideoHash, b: VideoHash) -> np.ndarray:
    n = min(len(a), len(b))
    bits: np.ndarray = np.bitwise_count(a.hashes[:n] ^ b.hashes[:n]).sum(axis=1).astype(int)
    return bits


def _stats(d: np.ndarray) -> str:
    if len(d) == 0:
        return "–"
    return f"{np.median(d):.0f} / {np.percentile(d, 99):.0f} / {d.max()}"


def distance(vpdq_python: str, cpu: int) -> None:
    """Per-frame distance, every frame, between Kavach and the vpdq package (and the reference)."""
    paths = sorted(VIDEOS.glob("*.mp4"))
    answer = _vpdq_child(
        vpdq_python,
        {"mode": "hash", "files": [str(p) for p in paths], "seconds_per_hash": 0, "cpu": cpu},
    )
    videos = answer["videos"]
    assert isinstance(videos, list)
    print(
        "\nKavach vs the vpdq package, every frame (median / p99 / max bits); "
        "each against the reference lines"
    )
    print(
        "| video | frames (Kavach/vpdq) | numbers + timestamps | all frames | quality ≥ 50 "
        "| > 10 bits (q ≥ 50) | max quality diff | vpdq vs ref | Kavach vs ref | match % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    every: list[np.ndarray] = []
    good_all: list[np.ndarray] = []
    for path, features in zip(paths, videos, strict=True):
        ours = hash_video(path, fps=None).vpdq
        theirs = VideoHash.from_text("".join(f"{f},{q},{h},{t:.3f}\n" for f, q, h, t in features))
        reference = VideoHash.from_text((HASHES / f"{path.stem}.txt").read_text())
        n = min(len(ours), len(theirs))
        d = _distances(ours, theirs)
        good = theirs.qualities[:n] >= 50
        same = np.array_equal(ours.frames, theirs.frames) and bool(
            np.all(np.abs(ours.timestamps - theirs.timestamps) < 0.0015)
        )
        dq = int(np.abs(ours.qualities[:n].astype(int) - theirs.qualities[:n]).max())
        over = f"{int(np.sum(d > 10))} ({int(np.sum(d[good] > 10))})"
        # As a listed video would be matched: Kavach's hash as the query, vpdq's as the list.
        m = match_pair(ours, theirs)
        every.append(d)
        good_all.append(d[good])
        print(
            f"| {path.stem} | {len(ours)}/{len(theirs)} | {'equal' if same else 'DIFFER'} "
            f"| {_stats(d)} | {_stats(d[good])} | {over} "
            f"| {dq} | {_stats(_distances(theirs, reference))} "
            f"| {_stats(_distances(ours, reference))} "
            f"| {m.query_match_percent:.0f}/{m.compared_match_percent:.0f} |"
        )
    d = np.concatenate(every)
    g = np.concatenate(good_all)
    print(
        f"all {len(d)} frames: median {np.median(d):.0f}, mean {d.mean():.2f}, "
        f"p99 {np.percentile(d, 99):.0f}, max {d.max()}, ≤ 10 bits {100 * np.mean(d <= 10):.2f}%; "
        f"quality ≥ 50 ({len(g)} frames): p99 {np.percentile(g, 99):.0f}, max {g.max()}, "
        f"≤ 10 bits {100 * np.mean(g <= 10):.2f}%"
    )


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
        d = _distances(ours, reference)
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--vpdq-python",
        default=default_vpdq_python(),
        help="an interpreter that can import vpdq (default: $KAVACH_VPDQ_PYTHON, or this one)",
    )
    parser.add_argument("--no-speed", action="store_true", help="skip the speed table")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best one counts")
    parser.add_argument(
        "--distance", action="store_true", help="per-frame distance to the vpdq package"
    )
    parser.add_argument("--golden", action="store_true", help="compare with the reference lines")
    parser.add_argument("--matches", action="store_true", help="match the samples pairwise")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin to")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f} at start")
    if not args.no_speed:
        sd = [_clip(p) for p in sorted(VIDEOS.glob("*-sd-*.mp4"))]
        hd = [
            _clip(p)
            for p in [*sorted(VIDEOS.glob("*-hd-*.mp4")), VIDEOS / "pattern-longer-no-bar.mp4"]
        ]
        speed({"SD": sd, "HD": hd}, args.vpdq_python, args.cpu, args.repeat)
    if args.distance:
        if args.vpdq_python is None:
            raise SystemExit("--distance needs --vpdq-python (an interpreter with vpdq)")
        distance(args.vpdq_python, args.cpu)
    if args.golden:
        golden()
    if args.matches:
        matches()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
