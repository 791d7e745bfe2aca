"""The matcher with query-side variants: a match says which variant found it."""

from __future__ import annotations

import io

from PIL import Image, ImageOps
from sqlalchemy.orm import Session, sessionmaker

from kavach.banks.service import get_bank, set_bank_variants
from kavach.hashing import HashOptions, hash_bytes
from kavach.match import Matcher, MatchPolicy, Query
from kavach.signals.pdq import hamming, hash_from_hex
from kavach.signals.types import SignalType
from kavach.signals.variants import ALL_VARIANTS, variant_family
from tests.match.helpers import A1, good_seeds, image_bytes, list_record, make_bank
from tests.support.images import encode

SEEDS = good_seeds(4)
VARIANTS = HashOptions(variants=frozenset(ALL_VARIANTS))


def _edited(seed: int, edit: object) -> bytes:
    image = Image.open(io.BytesIO(image_bytes(seed, 95))).convert("RGB")
    return encode(edit(image), quality=85)  # type: ignore[operator]


def _letterbox(image: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (image.width, image.height * 3 // 2), (0, 0, 0))
    canvas.paste(image, (0, image.height // 4))
    return canvas


def _setup(factory: sessionmaker[Session]) -> None:
    records = [list_record(hash_bytes(image_bytes(s, 95)), [A1], pdq_only=True) for s in SEEDS]
    make_bank(factory, "hotline", records)


def test_a_match_names_the_variant_that_found_it(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    matcher = Matcher(factory, ["hotline"], MatchPolicy(variants=ALL_VARIANTS))
    mirrored = hash_bytes(_edited(SEEDS[0], ImageOps.mirror), VARIANTS)
    boxed = hash_bytes(_edited(SEEDS[1], _letterbox), VARIANTS)
    plain = hash_bytes(image_bytes(SEEDS[2], 70), VARIANTS)
    found = matcher.match_records([mirrored, boxed, plain])
    assert [len(f) for f in found] == [1, 1, 1]
    (flip,), (trim,), (same,) = found
    assert flip.variant is not None
    assert flip.variant.startswith("dihedral:")
    assert trim.variant is not None
    assert trim.variant.startswith("trimmed")
    assert same.variant == "original"
    assert same.query_value == plain.pdq
    for m in (flip, trim, same):
        assert m.signal_type is SignalType.PDQ
        assert m.distance <= 31
        assert m.query_value is not None
        # The distance reported is the one between the listed hash and the variant's.
        assert hamming(hash_from_hex(m.query_value), hash_from_hex(m.value)) == m.distance
    # The stored hash of the file stays its canonical PDQ, whatever was looked up.
    assert mirrored.pdq == hash_bytes(_edited(SEEDS[0], ImageOps.mirror)).pdq


def test_the_policy_switches_variants_off(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    mirrored = hash_bytes(_edited(SEEDS[0], ImageOps.mirror), VARIANTS)
    boxed = hash_bytes(_edited(SEEDS[1], _letterbox), VARIANTS)
    none = Matcher(factory, ["hotline"], MatchPolicy(variants=()))
    assert none.match_records([mirrored, boxed]) == [[], []]
    trim_only = Matcher(factory, ["hotline"], MatchPolicy(variants=("trim",)))
    flip, trim = trim_only.match_records([mirrored, boxed])
    assert flip == []
    assert [variant_family(m.variant or "") for m in trim] == ["trim"]


def test_distinct_images_do_not_match_through_variants(factory: sessionmaker[Session]) -> None:
    make_bank(
        factory, "hotline", [list_record(hash_bytes(image_bytes(SEEDS[0], 95)), pdq_only=True)]
    )
    matcher = Matcher(
        factory, ["hotline"], MatchPolicy(variants=("crop", "dihedral", "rotate", "trim"))
    )
    others = [
        hash_bytes(_edited(s, e), VARIANTS)
        for s in SEEDS[1:]
        for e in (ImageOps.mirror, _letterbox)
    ]
    assert matcher.match_records(others) == [[] for _ in others]


def test_a_bank_can_accept_fewer_variants(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    mirrored = hash_bytes(_edited(SEEDS[0], ImageOps.mirror), VARIANTS)
    boxed = hash_bytes(_edited(SEEDS[1], _letterbox), VARIANTS)
    matcher = Matcher(factory, ["hotline"])  # the default policy: every family
    assert [len(found) for found in matcher.match_records([mirrored, boxed])] == [1, 1]
    with factory.begin() as session:
        bank = get_bank(session, "hotline")
        assert set_bank_variants(session, bank, "trim") == frozenset({"trim"})
    # A running matcher picks the bank's setting up on its next refresh.
    matcher.refresh()
    flip, trim = matcher.match_records([mirrored, boxed])
    assert flip == []
    assert [variant_family(m.variant or "") for m in trim] == ["trim"]
    with factory.begin() as session:
        set_bank_variants(session, get_bank(session, "hotline"), "none")
    fresh = Matcher(factory, ["hotline"])
    assert fresh.match_records([mirrored, boxed]) == [[], []]
    # The file's own hash always matches, whatever the bank says of variants.
    assert len(fresh.match_record(hash_bytes(image_bytes(SEEDS[2], 70), VARIANTS))) == 1


def _mirrored_crop(image: Image.Image) -> Image.Image:
    w, h = image.size
    box = (round(0.03 * w), round(0.03 * h), round(0.97 * w), round(0.97 * h))
    return ImageOps.mirror(image.crop(box))


def test_a_mirrored_centred_crop_is_found_with_crop_and_dihedral(
    factory: sessionmaker[Session],
) -> None:
    _setup(factory)
    edited = [hash_bytes(_edited(s, _mirrored_crop), VARIANTS) for s in SEEDS]
    found = Matcher(factory, ["hotline"]).match_records(edited)
    mirrored = [m for f in found for m in f if (m.variant or "").endswith("+mirror")]
    assert len(mirrored) >= 3
    assert all(variant_family(m.variant or "") == "crop" for m in mirrored)
    # Without the dihedral family the mirrored guesses are not looked up, by the policy or by a
    # bank that accepts crops alone.
    no_flips = Matcher(factory, ["hotline"], MatchPolicy(variants=("crop", "reliable")))
    assert not any(
        (m.variant or "").endswith("+mirror") for f in no_flips.match_records(edited) for m in f
    )
    with factory.begin() as session:
        set_bank_variants(session, get_bank(session, "hotline"), "crop,reliable")
    fresh = Matcher(factory, ["hotline"])
    assert not any(
        (m.variant or "").endswith("+mirror") for f in fresh.match_records(edited) for m in f
    )


def _flip_bits(value: bytes, count: int) -> bytes:
    as_int = int.from_bytes(value, "big") ^ ((1 << count) - 1)
    return as_int.to_bytes(len(value), "big")


def test_guessed_variants_match_at_the_tighter_guess_threshold(
    factory: sessionmaker[Session],
) -> None:
    _setup(factory)
    listed = bytes.fromhex(hash_bytes(image_bytes(SEEDS[0], 95)).pdq or "")
    assert MatchPolicy().guess_threshold == MatchPolicy().threshold  # no recall lost by default
    policy = MatchPolicy(guess_threshold=23)
    between = _flip_bits(listed, policy.guess_threshold + 2)  # over the guess threshold only
    matcher = Matcher(factory, ["hotline"], policy)
    found = matcher.match(
        [
            [Query(SignalType.PDQ, between, 90, variant="original")],
            [Query(SignalType.PDQ, between, 90, variant="trimmed")],
            [Query(SignalType.PDQ, between, 90, variant="dihedral:rot90")],
            [Query(SignalType.PDQ, between, 90, variant="crop:c4")],
            [Query(SignalType.PDQ, between, 90, variant="rotate:+3")],
        ]
    )
    assert [[m.distance for m in f] for f in found] == [[policy.guess_threshold + 2]] * 3 + [[]] * 2
    near = _flip_bits(listed, policy.guess_threshold)
    [[guess]] = matcher.match([[Query(SignalType.PDQ, near, 90, variant="crop:c4")]])
    assert (guess.variant, guess.distance) == ("crop:c4", policy.guess_threshold)
    loose = Matcher(factory, ["hotline"], MatchPolicy())
    assert len(loose.match([[Query(SignalType.PDQ, between, 90, variant="crop:c4")]])[0]) == 1
