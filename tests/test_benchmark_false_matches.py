"""benchmarks/false_matches.py: the pairing and counting, on a few generated scenes, so the
script cannot rot unnoticed (the real-photo run is recorded in docs/benchmarks.md)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from kavach.demo.scenes import encode, scene

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SIZES = ((400, 300), (300, 400), (512, 512), (480, 270), (360, 360))


@pytest.fixture(scope="module")
def fm() -> ModuleType:
    # The script imports robustness.py's transforms as a sibling module, as when it is run.
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(BENCHMARKS))
        return importlib.import_module("false_matches")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    for k, size in enumerate(SIZES):
        fmt, suffix = ("PNG", "png") if k % 2 else ("JPEG", "jpg")
        where = root / "sub" if k == 4 else root
        (where / f"scene{k}.{suffix}").write_bytes(encode(scene(*size, seed=300 + k), fmt))
    (root / "notes.txt").write_text("not a photo\n")
    return root


@pytest.fixture(scope="module")
def photos(fm: ModuleType, folder: Path) -> list:
    return fm.hash_photos(fm.photo_files([folder]), fm.DEFAULT_VARIANTS, list(fm.COPIES), jobs=1,
                          root=folder)  # fmt: skip


def test_photo_files_finds_images_recursively(fm: ModuleType, folder: Path) -> None:
    names = [p.relative_to(folder).as_posix() for p in fm.photo_files([folder])]
    assert names == ["scene0.jpg", "scene1.png", "scene2.jpg", "scene3.png", "sub/scene4.jpg"]


def test_each_photo_is_listed_and_queried_with_every_copy(fm: ModuleType, photos: list) -> None:
    assert [p.name for p in photos][-1] == "sub/scene4.jpg"
    for photo in photos:
        assert photo.listed.shape == (32,)
        assert [q.copy for q in photo.queries] == list(fm.COPIES)
        for query in photo.queries:
            assert query.names[0] == "original"
            families = {fm.variant_family(n) for n in query.names[1:]}
            assert families == {"dihedral", "trim", "crop", "cropgrid", "rotate"} or (
                # trimming finds no bar on a copy without one
                families == {"dihedral", "crop", "cropgrid", "rotate"}
                and query.copy != "letterbox 20%"
            )
            assert query.hashes.shape == (len(query.names), 32)


def test_distinct_scenes_counted_and_copies_found(fm: ModuleType, photos: list) -> None:
    result = fm.tally(photos)
    n, copies = len(photos), len(fm.COPIES)
    assert (result.photos, result.image_pairs) == (n, n * (n - 1) // 2)
    assert result.query_pairs == n * copies * (n - 1)
    plain, policy = result.rows["plain PDQ"], result.rows["policy"]
    assert plain.comparisons == result.query_pairs  # one hash per query, all of quality >= 50
    hashes = sum(int((q.qualities >= 50).sum()) for p in photos for q in p.queries)
    assert policy.comparisons == hashes * (n - 1)
    families = ("crop", "cropgrid", "dihedral", "rotate", "trim")
    assert sum(result.rows[f].comparisons for f in families) + plain.comparisons == (
        policy.comparisons
    )
    # Generated scenes sit far apart: nothing matches, nothing comes near.
    for row in result.rows.values():
        assert (row.matches, row.pairs_matched) == (0, 0)
        assert row.smallest > 60
    assert policy.smallest <= plain.smallest
    assert {c: (r.queries, r.policy) for c, r in result.recall.items()} == {
        c: (n, n) for c in fm.COPIES
    }
    assert result.recall["as is"].plain == n
    assert result.recall["mirror"].plain == 0  # plain PDQ loses a mirrored copy
    assert result.recall["mirror"].found_by.most_common(1)[0][0].startswith("dihedral:")
    # The closest pairs are distinct photos, each pair once, nearest first.
    assert result.closest
    assert len(result.closest) <= 10
    pairs = [frozenset((c.query, c.listed)) for c in result.closest]
    assert all(len(p) == 2 for p in pairs)
    assert len(set(pairs)) == len(pairs)
    assert [c.distance for c in result.closest] == sorted(c.distance for c in result.closest)
    assert result.closest[0].distance == policy.smallest
    assert result.closest_plain[0].distance == plain.smallest


def test_a_copy_of_the_same_picture_counts_as_a_match(fm: ModuleType, photos: list) -> None:
    # A recompressed copy of scene 1 slipped into the set as if it were another picture.
    twin = fm.Photo("twin.jpg", photos[1].listed.copy(), photos[1].quality, photos[1].queries)
    flipped = np.unpackbits(twin.listed)
    flipped[:5] ^= 1  # 5 bits away, as a recompression moves it
    twin = fm.Photo(twin.name, np.packbits(flipped), twin.quality, twin.queries)
    result = fm.tally([*photos, twin])
    plain = result.rows["plain PDQ"]
    # Both directions, every copy that plain PDQ finds ("as is", messenger): 2 x 2 pairs.
    assert plain.pairs_matched == 4
    assert plain.matches == 4
    assert result.rows["policy"].pairs_matched == 2 * len(fm.COPIES)
    assert result.closest[0].distance <= 5
    assert {result.closest[0].query, result.closest[0].listed} == {photos[1].name, "twin.jpg"}


def test_low_quality_photos_are_not_listed(fm: ModuleType, photos: list) -> None:
    flat = fm.Photo("flat.png", photos[0].listed, 10, photos[0].queries)
    result = fm.tally([*photos, flat])
    assert result.photos == len(photos)
    assert result.rows["plain PDQ"].matches == 0


def test_main_prints_the_tables(fm: ModuleType, folder: Path, capsys) -> None:
    fm.main([str(folder), "--jobs", "1", "--copies", "as is,mirror", "--closest", "3"])
    out = capsys.readouterr().out
    assert "5 photos listed, 10 distinct image pairs; 40 (query copy, other photo) pairs" in out
    for label in ("plain PDQ", "policy", "crop", "dihedral", "rotate"):
        assert f"\n{label} " in out
    assert "mirror                               0.0%     100.0%  dihedral:" in out
    assert "closest distinct photos, policy" in out
    with pytest.raises(SystemExit):
        fm.main([str(folder), "--copies", "sepia"])


def test_reliable_bits_are_compared_and_their_margin_reported(fm: ModuleType, photos: list) -> None:
    for photo in photos:
        for query in photo.queries:
            assert query.masks is not None
            carries = query.masks.any(axis=1)
            # Every hash carries its mask (the flips too; the rule skips them, not the hashing).
            assert carries.all(), [n for n, c in zip(query.names, carries, strict=True) if not c]
    result = fm.tally(photos)
    assert set(result.reliable_margin) == {"exact", "guessed"}
    assert min(result.reliable_margin.values()) > 0  # distinct scenes: no reliable match
    off = fm.tally(photos, reliable=None)
    assert off.reliable_margin == {}
    # A copy whose own reliable bits are all that agree still counts as found: flip 40 of the
    # listed hash's bits outside the query's mask and the whole-hash comparison misses it.
    photo = photos[0]
    query = photo.queries[0]
    bits = np.unpackbits(photo.listed)
    unreliable = np.flatnonzero(np.unpackbits(query.masks[0]) == 0)[:40]
    bits[unreliable] ^= 1
    moved = fm.Photo(photo.name, np.packbits(bits), photo.quality, photo.queries)
    whole = fm.tally([moved, *photos[1:]], reliable=None).recall["as is"]
    masked = fm.tally([moved, *photos[1:]]).recall["as is"]
    assert masked.policy == whole.policy + 1
