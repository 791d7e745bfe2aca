"""The matcher on both databases: exact and PDQ matches, policy, retractions, refresh, cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kavach.errors import NotFoundError
from kavach.hashing import hash_bytes
from kavach.match import Matcher, MatchPolicy, Query
from kavach.signals.types import SignalType
from tests.match.helpers import (
    A1,
    VICS_1,
    add,
    good_seeds,
    image_bytes,
    list_record,
    make_bank,
    retract,
)

SEEDS = good_seeds(6)


def _known(seed: int) -> object:
    return hash_bytes(image_bytes(seed, 95))


def _setup(factory: sessionmaker[Session], seeds: tuple[int, ...] = SEEDS[:3]) -> None:
    make_bank(
        factory,
        "hotline",
        [list_record(hash_bytes(image_bytes(s, 95)), [A1, VICS_1]) for s in seeds],
    )


def test_exact_and_near_copies_match_with_labels(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    matcher = Matcher(factory, ["hotline"])
    same = hash_bytes(image_bytes(SEEDS[0], 95))
    near = hash_bytes(image_bytes(SEEDS[1], 60))  # recompressed: other digests, close PDQ
    other = hash_bytes(image_bytes(SEEDS[5], 95))
    exact_matches, near_matches, none = matcher.match_records([same, near, other])
    assert {m.signal_type for m in exact_matches} == {
        SignalType.MD5,
        SignalType.SHA1,
        SignalType.PDQ,
    }
    assert all(m.bank == "hotline" and m.item_id == same.sha256 for m in exact_matches)
    assert [str(label) for label in exact_matches[0].labels] == ["industry:A1", "vics-us:1"]
    assert [m.signal_type for m in near_matches] == [SignalType.PDQ]
    assert 0 < near_matches[0].distance <= 31
    assert none == []
    # Ordered by distance: the exact digests (0) before anything else.
    assert [m.distance for m in exact_matches] == sorted(m.distance for m in exact_matches)


def test_threshold_and_quality_policy(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    near = hash_bytes(image_bytes(SEEDS[1], 60))
    strict = Matcher(factory, ["hotline"], MatchPolicy(threshold=0, variants=()))
    assert strict.match_record(near) == []
    # The reliable-bits rule is scaled to the threshold: at 0, only a copy whose reliable bits
    # all agree still matches, and then it says so.
    for m in Matcher(factory, ["hotline"], MatchPolicy(threshold=0)).match_record(near):
        assert m.reliable_distance == 0
    flat = near.model_copy(update={"pdq_quality": 10})
    assert Matcher(factory, ["hotline"]).match_record(flat) == []
    lenient = Matcher(factory, ["hotline"], MatchPolicy(min_quality=0))
    assert len(lenient.match_record(flat)) == 1


def test_retracted_entries_never_match(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    matcher = Matcher(factory, ["hotline"])
    record = hash_bytes(image_bytes(SEEDS[0], 95))
    assert len(matcher.match_record(record)) == 3
    retract(factory, "hotline", [(SignalType.PDQ, bytes.fromhex(record.pdq or ""))])
    # Before any refresh the index still holds it, but the lookup of details drops it.
    assert {m.signal_type for m in matcher.match_record(record)} == {
        SignalType.MD5,
        SignalType.SHA1,
    }
    assert matcher.refresh() is True
    assert matcher.versions() == {"hotline": 2}
    assert {m.signal_type for m in matcher.match_record(record)} == {
        SignalType.MD5,
        SignalType.SHA1,
    }
    assert matcher.entry_counts()["hotline"] == 3 * 3 - 1


def test_refresh_picks_up_additions(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    matcher = Matcher(factory, ["hotline"])
    late = hash_bytes(image_bytes(SEEDS[4], 95))
    assert matcher.match_record(late) == []
    assert matcher.refresh() is False
    add(factory, "hotline", [list_record(late, [A1])])
    assert matcher.refresh() is True
    assert len(matcher.match_record(late)) == 3


def test_index_cache_is_reused_and_brought_up_to_date(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _setup(factory)
    first = Matcher(factory, ["hotline"], cache_dir=tmp_path, database_key="db-a")
    first.load()
    assert len(list(tmp_path.glob("*.kvx"))) == 3  # md5, sha1, pdq: the types the bank holds
    record = hash_bytes(image_bytes(SEEDS[2], 95))
    retract(factory, "hotline", [(SignalType.MD5, bytes.fromhex(record.md5 or ""))])
    second = Matcher(factory, ["hotline"], cache_dir=tmp_path, database_key="db-a")
    assert {m.signal_type for m in second.match_record(record)} == {SignalType.SHA1, SignalType.PDQ}
    assert second.versions() == {"hotline": 2}
    # Another database never reads this cache (its key differs): it builds its own.
    third = Matcher(factory, ["hotline"], cache_dir=tmp_path / "other", database_key="db-b")
    assert len(third.match_record(record)) == 2


def test_several_banks_and_ad_hoc_queries(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    known = hash_bytes(image_bytes(SEEDS[3], 95))
    make_bank(factory, "police", [list_record(known, pdq_only=True)])
    matcher = Matcher(factory, ["hotline", "police"])
    [matches] = matcher.match([[Query(SignalType.PDQ, bytes.fromhex(known.pdq or ""))]])
    assert [(m.bank, m.distance, m.labels) for m in matches] == [("police", 0, [])]
    [[md5]] = matcher.match(
        [[Query(SignalType.MD5, bytes.fromhex(hash_bytes(image_bytes(SEEDS[0], 95)).md5 or ""))]]
    )
    assert md5.bank == "hotline"


def test_unknown_bank_is_a_clear_error(factory: sessionmaker[Session]) -> None:
    with pytest.raises(NotFoundError, match="no bank called 'nope'"):
        Matcher(factory, ["nope"]).load()
