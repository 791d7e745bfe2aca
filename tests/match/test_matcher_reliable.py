"""The reliable-bits rule: a hash computed from the media also matches on its 192 reliable bits."""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from kavach.banks.service import get_bank, set_bank_variants
from kavach.hashing import hash_bytes
from kavach.match import Matcher, MatchPolicy, Query
from kavach.signals.pdq import PDQ_RELIABLE_BITS
from kavach.signals.types import SignalType
from kavach.store.db import session_scope
from tests.match.helpers import A1, good_seeds, image_bytes, list_record, make_bank
from tests.support.images import encode, scene, watermarked

SEEDS = good_seeds(2)


def _bits(packed: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(packed, dtype=np.uint8)).astype(bool)


def _pack(bits: np.ndarray) -> bytes:
    return np.packbits(bits).tobytes()


def _listed(factory: sessionmaker[Session]) -> bytes:
    record = hash_bytes(image_bytes(SEEDS[0], 95))
    make_bank(factory, "hotline", [list_record(record, [A1], pdq_only=True)])
    return bytes.fromhex(record.pdq or "")


def _query(listed: bytes, weak_flips: int, strong_flips: int, variant: str = "original") -> Query:
    """A query ``weak_flips`` bits from ``listed`` among its 64 unreliable bits and
    ``strong_flips`` among the reliable ones, with its mask."""
    rng = np.random.default_rng(weak_flips * 1000 + strong_flips)
    order = rng.permutation(256)
    weak, strong = order[: 256 - PDQ_RELIABLE_BITS], order[256 - PDQ_RELIABLE_BITS :]
    bits = _bits(listed)
    bits[weak[:weak_flips]] ^= True
    bits[strong[:strong_flips]] ^= True
    mask = np.ones(256, dtype=bool)
    mask[weak] = False
    return Query(SignalType.PDQ, _pack(bits), 100, variant=variant, reliable=_pack(mask))


def test_a_copy_whose_weak_bits_flipped_matches_on_its_reliable_bits(
    factory: sessionmaker[Session],
) -> None:
    listed = _listed(factory)
    matcher = Matcher(factory, ["hotline"])
    [[m]] = matcher.match([[_query(listed, weak_flips=40, strong_flips=10)]])
    assert m.distance == 50  # beyond the threshold of 31 on all 256 bits
    assert m.reliable_distance == 10
    assert m.variant == "original"
    assert m.found_by() == "original, reliable bits 10/192"
    # Without the mask (a hash typed in, not computed from media) nothing matches.
    plain = _query(listed, weak_flips=40, strong_flips=10)
    bare = Query(SignalType.PDQ, plain.value, 100)
    assert matcher.match([[bare]]) == [[]]


def test_the_reliable_threshold_holds(factory: sessionmaker[Session]) -> None:
    listed = _listed(factory)
    matcher = Matcher(factory, ["hotline"])
    found = matcher.match(
        [[_query(listed, 40, 23)], [_query(listed, 40, 24)], [_query(listed, 64, 0)]]
    )
    assert [[m.reliable_distance for m in f] for f in found] == [[23], [], [0]]
    strict = Matcher(factory, ["hotline"], MatchPolicy(reliable_threshold=9))
    assert strict.match([[_query(listed, 40, 10)]]) == [[]]


def test_guessed_variants_use_the_tighter_reliable_threshold(
    factory: sessionmaker[Session],
) -> None:
    listed = _listed(factory)
    matcher = Matcher(factory, ["hotline"])
    found = matcher.match(
        [
            [_query(listed, 40, 19, variant="crop:c4")],
            [_query(listed, 40, 20, variant="crop:c4")],
            [_query(listed, 40, 20, variant="trimmed")],
        ]
    )
    assert [[m.reliable_distance for m in f] for f in found] == [[19], [], [20]]


def test_a_match_on_the_whole_hash_is_not_reported_as_reliable(
    factory: sessionmaker[Session],
) -> None:
    listed = _listed(factory)
    [[m]] = Matcher(factory, ["hotline"]).match([[_query(listed, 20, 5)]])
    assert (m.distance, m.reliable_distance, m.found_by()) == (25, None, None)


def test_the_rule_is_a_policy_and_bank_switch(factory: sessionmaker[Session]) -> None:
    listed = _listed(factory)
    query = [[_query(listed, 40, 5)]]
    off = Matcher(factory, ["hotline"], MatchPolicy(variants=("dihedral", "trim")))
    assert off.match(query) == [[]]
    with session_scope(factory) as session:
        set_bank_variants(session, get_bank(session, "hotline"), "dihedral")
    assert Matcher(factory, ["hotline"]).match(query) == [[]]
    with session_scope(factory) as session:
        set_bank_variants(session, get_bank(session, "hotline"), "reliable")
    [[m]] = Matcher(factory, ["hotline"]).match(query)
    assert m.reliable_distance == 5


def test_distinct_images_do_not_match_on_reliable_bits(factory: sessionmaker[Session]) -> None:
    _listed(factory)
    other = hash_bytes(image_bytes(SEEDS[1], 80))
    assert other.pdq_reliable is not None
    assert Matcher(factory, ["hotline"]).match_record(other) == []


def test_flips_and_turns_are_not_looked_up_by_their_reliable_bits(
    factory: sessionmaker[Session],
) -> None:
    listed = _listed(factory)
    matcher = Matcher(factory, ["hotline"])
    flipped = _query(listed, 40, 5, variant="dihedral:flipy")
    assert matcher.match([[flipped]]) == [[]]
    [[m]] = matcher.match([[_query(listed, 40, 5, variant="rotate:+3")]])
    assert m.reliable_distance == 5


# Scenes whose watermarked copy lands 38-44 bits from the original on the whole hash (missed by
# plain PDQ) and 13-19 on its reliable bits.
WATERMARK_SEEDS = (11, 13, 17, 19, 24)


def test_watermarked_copies_are_found_by_their_reliable_bits(
    factory: sessionmaker[Session],
) -> None:
    pictures = [scene(640, 480, seed=seed) for seed in WATERMARK_SEEDS]
    listed = [hash_bytes(encode(p, quality=95)) for p in pictures]
    make_bank(factory, "hotline", [list_record(r, [A1], pdq_only=True) for r in listed])
    copies = [hash_bytes(encode(watermarked(p), quality=85)) for p in pictures]
    found = Matcher(factory, ["hotline"]).match_records(copies)
    for record, copy, matches in zip(listed, copies, found, strict=True):
        [m] = matches  # its own original, and no other picture
        assert m.value == record.pdq
        assert m.variant == "original"
        assert m.distance > 31
        assert m.reliable_distance is not None
        assert m.reliable_distance <= 23
        assert m.query_value == copy.pdq
    plain = Matcher(factory, ["hotline"], MatchPolicy(variants=()))
    assert plain.match_records(copies) == [[] for _ in copies]


def test_the_crop_grid_is_looked_up_by_its_reliable_bits_alone(
    factory: sessionmaker[Session],
) -> None:
    listed = _listed(factory)
    grid = "cropgrid:t0b10l2r8"
    # 25 bits off, all of them reliable ones: within the whole-hash threshold only.
    strong = _query(listed, weak_flips=0, strong_flips=25, variant=grid)
    # 25 bits off, all of them among the 64 unreliable ones.
    weak = _query(listed, weak_flips=25, strong_flips=0, variant=grid)
    default = Matcher(factory, ["hotline"])
    assert default.match([[strong]]) == [[]]
    [[m]] = default.match([[weak]])
    # Within the whole-hash threshold it is an ordinary match, whichever lookup found it.
    assert (m.distance, m.reliable_distance, m.variant) == (25, None, grid)
    # Without the reliable family the grid is looked up whole, as any other guess.
    whole = Matcher(factory, ["hotline"], MatchPolicy(variants=("cropgrid",)))
    assert [[(m.distance, m.variant) for m in found] for found in whole.match([[strong]])] == [
        [(25, grid)]
    ]
    # The same when the bank does not accept matches on reliable bits.
    with session_scope(factory) as session:
        set_bank_variants(session, get_bank(session, "hotline"), "cropgrid")
    fenced = Matcher(factory, ["hotline"])
    assert [len(found) for found in fenced.match([[strong], [weak]])] == [1, 1]
