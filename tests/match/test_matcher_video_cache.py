"""Listed videos in the on-disk index cache: a warm start reads no frames from the database."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

import kavach.match.matcher as matcher_module
from kavach.banks.formats import HashRecord as ListRecord
from kavach.errors import IndexFormatError
from kavach.match import Matcher, Query
from kavach.match.video import VideoIndex
from kavach.signals.types import SignalType, video_key
from kavach.signals.vpdq import VideoHash
from tests.match.helpers import A1, add, make_bank, retract


def _video(seed: int, frames: int = 12, quality: int = 90) -> VideoHash:
    # Frame hashes of an imagined clip: random 256-bit hashes, one a second.
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (frames, 32), dtype=np.uint8)
    return VideoHash.from_frames(
        hashes, [quality] * frames, np.arange(frames) * 30, np.arange(frames, dtype=float)
    )


def _query(video: VideoHash, flips: int = 6) -> Query:
    # A re-encoded copy: every frame a few bits away from the listed one.
    noisy = np.unpackbits(video.hashes, axis=1)
    noisy[:, :flips] ^= 1
    copy = VideoHash.from_frames(
        np.packbits(noisy, axis=1), video.qualities, video.frames, video.timestamps
    )
    return Query.for_video(copy)


def _record(video: VideoHash) -> ListRecord:
    return ListRecord.with_video(video, (), (A1,), None)


class _PayloadReads:
    """Counts the listed videos read from the database (their frames, by entry)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = matcher_module._add_video

        def counted(bank, entry_id, payload):  # type: ignore[no-untyped-def]
            self.count += 1
            return original(bank, entry_id, payload)

        monkeypatch.setattr(matcher_module, "_add_video", counted)


def _found(matcher: Matcher, *queries: Query) -> list[list[tuple[str, float | None]]]:
    return [
        [(m.value, m.query_match_percent) for m in matches]
        for matches in matcher.match([[q] for q in queries])
    ]


def test_a_warm_start_takes_the_videos_from_the_cache(
    factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two, flat = _video(1), _video(2), _video(3, quality=10)
    make_bank(factory, "videos", [_record(one), _record(two), _record(flat)])
    cache = tmp_path / "cache"
    reads = _PayloadReads(monkeypatch)
    cold = Matcher(factory, ["videos"], cache_dir=cache)
    expected = [[(video_key(one).hex(), 100.0)], [(video_key(two).hex(), 100.0)], []]
    assert _found(cold, _query(one), _query(two), _query(_video(4))) == expected
    assert reads.count == 3  # the cold start read every listed video
    assert sorted(p.suffix for p in cache.glob("*-vpdq.*")) == [".kvx", ".npy"]

    warm = Matcher(factory, ["videos"], cache_dir=cache)
    assert _found(warm, _query(one), _query(two), _query(_video(4))) == expected
    assert reads.count == 3  # nothing read again
    # The video without a quality frame stays listed (and never matches).
    assert warm.entry_counts() == cold.entry_counts() == {"videos": 3}


def test_a_retraction_after_caching_is_honoured(
    factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two, three = _video(11), _video(12), _video(13)
    make_bank(factory, "videos", [_record(one), _record(two)])
    cache = tmp_path / "cache"
    assert _found(Matcher(factory, ["videos"], cache_dir=cache), _query(one))[0]
    retract(factory, "videos", [(SignalType.VPDQ, video_key(one))])
    add(factory, "videos", [_record(three)])
    reads = _PayloadReads(monkeypatch)
    # Started from the older cache: only the changed entries are read, the retracted one goes.
    behind = Matcher(factory, ["videos"], cache_dir=cache)
    assert _found(behind, _query(one), _query(two), _query(three)) == [
        [],
        [(video_key(two).hex(), 100.0)],
        [(video_key(three).hex(), 100.0)],
    ]
    assert reads.count == 1  # the added video; the retracted one is dropped unread
    assert behind.entry_counts() == {"videos": 2}
    # The cache was brought up to date: the next start reads nothing and agrees.
    current = Matcher(factory, ["videos"], cache_dir=cache)
    assert _found(current, _query(one), _query(three)) == [[], [(video_key(three).hex(), 100.0)]]
    assert reads.count == 1


def test_a_damaged_video_table_rebuilds_from_the_database(
    factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    one = _video(21)
    make_bank(factory, "videos", [_record(one)])
    cache = tmp_path / "cache"
    Matcher(factory, ["videos"], cache_dir=cache).load()
    (table,) = cache.glob("*-vpdq.npy")
    np.save(table, np.array([[5, 99]], dtype=np.int64))  # frames it does not have
    reads = _PayloadReads(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="kavach.match.matcher"):
        again = Matcher(factory, ["videos"], cache_dir=cache)
        assert _found(again, _query(one)) == [[(video_key(one).hex(), 100.0)]]
    assert reads.count == 1
    assert "rebuilding" in caplog.text


def test_video_index_files_round_trip_and_refuse_pickles(tmp_path: Path) -> None:
    index = VideoIndex.from_videos([(7, _video(31)), (9, _video(32, quality=10))])
    index.save(tmp_path / "v.kvx", tmp_path / "v.npy")
    loaded = VideoIndex.load(tmp_path / "v.kvx", tmp_path / "v.npy")
    assert len(loaded) == 2
    assert loaded.frame_count == index.frame_count == 12
    query = _query(_video(31)).video
    assert query is not None
    assert loaded.search(query) == index.search(query)
    assert loaded.remove(7)
    assert loaded.search(query) == []
    np.save(tmp_path / "bad.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(IndexFormatError):
        VideoIndex.load(tmp_path / "v.kvx", tmp_path / "bad.npy")
