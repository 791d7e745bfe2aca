"""vPDQ matching on the sample videos (re-encodings, greyscale, sepia, logos) and its rules."""

from __future__ import annotations

import numpy as np
import pytest

from kavach.errors import InputError
from kavach.match.video import VideoIndex, match_pair, match_video
from kavach.signals.vpdq import VideoHash, hash_video
from tests.support.testdata import shared_testdata

NAMES = [
    "chair-orig-22-sd-bar",
    "chair-22-sd-grey-bar",
    "chair-22-sd-sepia-bar",
    "chair-22-with-small-logo-bar",
    "chair-22-with-large-logo-bar",
    "chair-20-sd-bar",
    "chair-19-sd-bar",
    "pattern-sd-grey-bar",
    "pattern-sd-with-small-logo-bar",
]


@pytest.fixture(scope="module")
def samples() -> dict[str, VideoHash]:
    root = shared_testdata() / "threatexchange" / "tmk" / "sample-videos"
    return {name: hash_video(root / f"{name}.mp4").vpdq for name in NAMES}  # 1 frame/s


@pytest.fixture(scope="module")
def index(samples) -> VideoIndex:
    return VideoIndex.from_videos(enumerate(samples.values()))


def _found(index: VideoIndex, query: VideoHash, **kwargs: float) -> dict[str, tuple[float, float]]:
    return {
        NAMES[m.video_id]: (m.query_match_percent, m.compared_match_percent)
        for m in match_video(query, index, **kwargs)
    }


def test_colour_changes_and_a_small_logo_match_the_original(samples, index):
    found = _found(index, samples["chair-orig-22-sd-bar"])
    for name in (
        "chair-orig-22-sd-bar",
        "chair-22-sd-grey-bar",
        "chair-22-sd-sepia-bar",
        "chair-22-with-small-logo-bar",
        "chair-20-sd-bar",  # a shorter cut of the same clip: it matches one way fully
    ):
        assert found[name][0] >= 90, name
    assert found["chair-orig-22-sd-bar"] == (100.0, 100.0)
    # A large logo hides too much of each frame; another clip of the chair does not match.
    assert "chair-22-with-large-logo-bar" not in found
    assert "chair-19-sd-bar" not in found
    assert not any(name.startswith("pattern") for name in found)


def test_the_shorter_cut_is_contained_in_the_longer(samples, index):
    found = _found(index, samples["chair-20-sd-bar"])
    assert found["chair-orig-22-sd-bar"][0] == 100.0  # all of the cut is in the original
    assert found["chair-orig-22-sd-bar"][1] < 100.0  # the original has frames the cut lacks


def test_pattern_variants(samples, index):
    found = _found(index, samples["pattern-sd-grey-bar"])
    assert set(found) == {"pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar"}


def test_index_agrees_with_brute_force(samples, index):
    for query in samples.values():
        every = {m.video_id: m for m in index.search(query, query_percent=0)}
        for video_id, listed in enumerate(samples.values()):
            pair = match_pair(query, listed, video_id=video_id)
            if pair.query_match_percent == 0:
                assert video_id not in every
            else:
                assert every[video_id] == pair


def test_thresholds_are_configurable(samples, index):
    query = samples["chair-20-sd-bar"]
    loose = _found(index, query, query_percent=0)
    assert "chair-19-sd-bar" in loose  # a few shared frames
    strict = _found(index, query, compared_percent=100)
    assert set(strict) == {"chair-20-sd-bar"}


def test_distance_rule_is_at_most_31():
    base = np.zeros((1, 32), dtype=np.uint8)
    at31, at32 = base.copy(), base.copy()
    at31[0, :3] = 0xFF
    at31[0, 3] = 0x7F  # 24 + 7 = 31 bits set
    at32[0, :4] = 0xFF  # 32 bits set
    listed = VideoHash.from_frames(base, [100], [0], [0.0])
    index = VideoIndex.from_videos([(7, listed)])
    near = VideoHash.from_frames(at31, [100], [0], [0.0])
    far = VideoHash.from_frames(at32, [100], [0], [0.0])
    assert [m.video_id for m in match_video(near, index)] == [7]
    assert match_video(far, index) == []
    assert match_pair(near, listed).query_match_percent == 100.0
    assert match_pair(far, listed).query_match_percent == 0.0


def test_low_quality_and_repeated_frames_do_not_count():
    rng = np.random.default_rng(3)
    a, b, c = (rng.integers(0, 256, size=(1, 32), dtype=np.uint8) for _ in range(3))
    listed = VideoHash.from_frames(np.vstack([a, b]), [100, 100], [0, 1], [0.0, 1.0])
    # Query: a (three times: one distinct frame), b, and c at quality 10 (ignored).
    query = VideoHash.from_frames(
        np.vstack([a, a, a, b, c]), [100, 100, 100, 90, 10], range(5), range(5)
    )
    index = VideoIndex.from_videos([(1, listed)])
    [match] = match_video(query, index)
    assert (match.query_frames, match.compared_frames) == (2, 2)
    assert match.query_match_percent == match.compared_match_percent == 100.0
    flat = VideoHash.from_frames(a, [0], [0], [0.0])
    assert match_video(flat, index) == []
    assert match_pair(flat, listed).query_match_percent == 0.0


def test_add_and_remove(samples):
    index = VideoIndex()
    assert index.add(5, samples["chair-orig-22-sd-bar"]) > 0
    with pytest.raises(InputError, match="already listed"):
        index.add(5, samples["chair-orig-22-sd-bar"])
    with pytest.raises(InputError, match="video id"):
        index.add(-1, samples["chair-orig-22-sd-bar"])
    assert len(index) == 1
    assert 5 in index
    assert match_video(samples["chair-22-sd-grey-bar"], index)
    assert index.remove(5)
    assert not index.remove(5)
    assert match_video(samples["chair-22-sd-grey-bar"], index) == []
    assert index.frame_count == 0
