"""vPDQ: golden comparison with Meta's reference output, and the signal's text/binary forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kavach.errors import InvalidHashError
from kavach.signals.vpdq import VideoHash, hash_video
from tests.support.testdata import shared_testdata
from tests.support.videos import video

# A few of the sample videos keep the suite fast; benchmarks/video.py --golden covers them all.
GOLDEN = ["chair-19-sd-bar", "pattern-sd-grey-bar", "test-padded-dimensions"]


def _sample(name: str) -> tuple[str, VideoHash]:
    root = shared_testdata() / "threatexchange"
    path = root / "tmk" / "sample-videos" / f"{name}.mp4"
    reference = root / "vpdq" / "sample-hashes" / f"{name}.txt"
    return str(path), VideoHash.from_text(reference.read_text())


@pytest.mark.parametrize("name", GOLDEN)
def test_every_frame_is_within_4_bits_of_the_reference(name):
    path, reference = _sample(name)
    ours = hash_video(path, fps=None)
    assert ours.frame_count == len(reference)
    assert np.array_equal(ours.vpdq.frames, reference.frames)
    # Same frame numbers and the same 3-decimal timestamps, line by line.
    assert [line.split(",")[3] for line in ours.vpdq.lines()] == [
        line.split(",")[3] for line in reference.lines()
    ]
    distances = np.bitwise_count(ours.vpdq.hashes ^ reference.hashes).sum(axis=1)
    # Measured: identical frames except test-padded-dimensions (hashed in 2026 by FFmpeg's SIMD
    # converter, which rounds differently from the tables): median 2, max 4.
    assert distances.max() <= 4
    assert np.median(distances) <= 2
    assert np.abs(ours.vpdq.qualities.astype(int) - reference.qualities).max() <= 1


def test_nearly_flat_frames_match_frame_for_frame():
    # doorknob dissolves into flat mid-grey: frames of quality < 20 have near-tied DCT
    # coefficients, so their bits follow every rounding of the pixels; the reference's RGB
    # tables reproduce them.
    path, reference = _sample("doorknob-hd-no-bar")
    ours = hash_video(path, fps=None).vpdq
    distances = np.bitwise_count(ours.hashes ^ reference.hashes).sum(axis=1)
    assert (reference.qualities < 20).sum() >= 40  # the flat frames are really there
    assert distances.max() <= 4
    assert np.median(distances) == 0


def test_one_frame_a_second_picks_the_reference_frames():
    path, reference = _sample("pattern-sd-grey-bar")
    ours = hash_video(path).vpdq  # 1 fps at 30 frames/s: frames 0, 30, 60, ...
    assert ours.frames.tolist() == list(range(0, 206, 30))
    expected = {int(f): i for i, f in enumerate(reference.frames)}
    rows = [expected[f] for f in ours.frames.tolist()]
    assert np.allclose(ours.timestamps, reference.timestamps[rows], atol=5e-4)
    assert np.bitwise_count(ours.hashes ^ reference.hashes[rows]).sum(axis=1).max() <= 4


def test_text_form_round_trips_the_reference_file():
    root = shared_testdata() / "threatexchange" / "vpdq" / "sample-hashes"
    text = (root / "pattern-sd-grey-bar.txt").read_text()
    parsed = VideoHash.from_text(text)
    assert parsed.to_text() == text
    assert len(parsed) == 206


def test_compact_and_record_forms_round_trip():
    reference = VideoHash.from_text(
        "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n"
        "30,42,c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c,1.001\n"
    )
    blob = reference.to_bytes()
    assert len(blob) == 12 + 2 * 41
    assert VideoHash.from_bytes(blob) == reference
    assert VideoHash.from_records(reference.to_records()) == reference
    assert reference.to_records()[1] == {
        "frame": 30,
        "quality": 42,
        "hash": "c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c",
        "timestamp": 1.001,
    }


def test_lines_without_timestamps_are_accepted():
    parsed = VideoHash.from_text("0,100," + "ab" * 32 + "\n\n1,90," + "cd" * 32)
    assert len(parsed) == 2
    assert math.isnan(parsed.timestamps[0])
    assert parsed.lines()[0] == "0,100," + "ab" * 32
    assert VideoHash.from_bytes(parsed.to_bytes()) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,100,abc,0.0", "line 1"),
        ("0,100," + "ab" * 32 + ",0.0\n1,101," + "ab" * 32 + ",0.1", "line 2"),
        ("x,100," + "ab" * 32, "integers"),
        ("0,100", "fields"),
        ("-1,100," + "ab" * 32, "≥ 0"),
    ],
)
def test_bad_text_is_refused_with_the_line(text, message):
    with pytest.raises(InvalidHashError, match=message):
        VideoHash.from_text(text)


def test_bad_compact_forms_are_refused():
    good = VideoHash.from_text("0,100," + "ab" * 32 + ",0.000").to_bytes()
    for bad in (b"", good[:-1], b"XXXX" + good[4:], good + b"\x00"):
        with pytest.raises(InvalidHashError):
            VideoHash.from_bytes(bad)


def test_distinct_frames_drop_repeats_and_low_quality():
    h = VideoHash.from_frames(
        np.array([[1] * 32, [1] * 32, [2] * 32, [3] * 32], dtype=np.uint8),
        [100, 100, 40, 80],
        [0, 1, 2, 3],
        [0.0, 0.1, 0.2, 0.3],
    )
    assert h.distinct().tolist() == [[1] * 32, [3] * 32]
    assert len(h.distinct(min_quality=0)) == 3


def test_generated_video_hash_is_stable_across_containers():
    mp4 = hash_video(video(fmt="mp4", seconds=2), fps=None).vpdq
    mkv = hash_video(video(fmt="matroska", seconds=2), fps=None).vpdq
    assert len(mp4) == len(mkv) == 20
    assert np.array_equal(mp4.hashes, mkv.hashes)  # same H.264 stream, another container
