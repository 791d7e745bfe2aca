"""The matcher on both databases: listed videos matched by their frames (vpdq)."""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from kavach.banks.formats import HashRecord as ListRecord
from kavach.hashing import HashRecord, hash_bytes
from kavach.match import Matcher, MatchPolicy, Query
from kavach.signals.types import SignalType, video_key
from tests.match.helpers import A1, add, make_bank, retract
from tests.match.video_helpers import clip, reencode


@functools.cache
def _hashed(name: str) -> HashRecord:
    # Encoded and hashed once per run: every test below uses the same three clips.
    data = {
        "listed": lambda: clip(0),
        "copy": lambda: reencode(clip(0)),
        "other": lambda: clip(100),
        "second": lambda: clip(200),
    }[name]()
    return hash_bytes(data, path=f"{name}.mp4")


def _listed(name: str) -> ListRecord:
    record = _hashed(name)
    video = record.video_hash()
    assert video is not None
    md5 = (SignalType.MD5, bytes.fromhex(record.md5 or ""))
    return ListRecord.with_video(video, (md5,), (A1,), record.sha256)


def test_a_reencoded_copy_matches_by_its_frames(factory: sessionmaker[Session]) -> None:
    make_bank(factory, "videos", [_listed("listed")])
    matcher = Matcher(factory, ["videos"])
    same, copy, other = matcher.match_records([_hashed(n) for n in ("listed", "copy", "other")])
    # The file itself: its md5 and its frames.
    assert {m.signal_type for m in same} == {SignalType.MD5, SignalType.VPDQ}
    (hit,) = copy
    assert hit.signal_type is SignalType.VPDQ
    assert hit.query_match_percent == 100.0
    assert hit.compared_match_percent is not None
    assert hit.compared_match_percent >= 50
    assert hit.distance == 0
    video = _hashed("listed").video_hash()
    assert video is not None
    assert hit.value == video_key(video).hex()
    assert [str(label) for label in hit.labels] == ["industry:A1"]
    assert hit.item_id == _hashed("listed").sha256
    assert other == []
    # Exact matches keep no percentages.
    assert all(m.query_match_percent is None for m in same if m.signal_type is SignalType.MD5)


def test_video_policy_and_query_objects(factory: sessionmaker[Session]) -> None:
    make_bank(factory, "videos", [_listed("listed")])
    copy = _hashed("copy").video_hash()
    assert copy is not None
    strict = Matcher(factory, ["videos"], MatchPolicy(video_compared_percent=100))
    assert strict.match([[Query.for_video(copy)]]) == [[]]
    (found,) = Matcher(factory, ["videos"]).match([[Query.for_video(copy)]])
    assert [m.signal_type for m in found] == [SignalType.VPDQ]


def test_videos_follow_refresh_and_retraction(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    make_bank(factory, "videos", [_listed("listed")])
    cache = tmp_path / "cache"
    matcher = Matcher(factory, ["videos"], cache_dir=cache)
    assert matcher.match_record(_hashed("second")) == []
    add(factory, "videos", [_listed("second")])
    assert matcher.refresh()
    assert [m.signal_type for m in matcher.match_record(_hashed("second"))] == [
        SignalType.MD5,
        SignalType.VPDQ,
    ]
    # A matcher started from the cache still has every video (the video index is cached too).
    again = Matcher(factory, ["videos"], cache_dir=cache)
    assert len(again.match_record(_hashed("copy"))) == 1
    video = _hashed("listed").video_hash()
    assert video is not None
    retract(factory, "videos", [(SignalType.VPDQ, video_key(video))])
    # Retracted: gone at once (details are read fresh), and from the index after a refresh.
    assert matcher.match_record(_hashed("copy")) == []
    assert matcher.refresh()
    assert matcher.match_record(_hashed("copy")) == []
    assert len(matcher.match_record(_hashed("second"))) == 2
