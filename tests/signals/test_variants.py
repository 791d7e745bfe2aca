"""Query-side PDQ variants: each finds its transform, none matches a distinct image."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from kavach.errors import InputError
from kavach.media.image import decode_image
from kavach.signals.pdq import PDQ_MATCH_THRESHOLD, hamming, pdq_from_luma
from kavach.signals.variants import (
    ALL_VARIANTS,
    DEFAULT_VARIANTS,
    FAST_VARIANTS,
    PDQVariant,
    content_box,
    parse_variants,
    pdq_variants,
    variant_allowed,
    variant_family,
)
from tests.support.images import encode, scene

SIZE = (640, 480)
SEEDS = (11, 12, 13, 14, 15, 16)


@functools.cache
def _original(seed: int) -> Image.Image:
    return scene(*SIZE, seed=seed)


@functools.cache
def _listed(seed: int) -> bytes:
    decoded = decode_image(encode(_original(seed), "PNG"), fast=False)
    return bytes(pdq_from_luma(decoded.luma)[0].hash)


def _variants(image: Image.Image, families: frozenset[str] = DEFAULT_VARIANTS) -> list[PDQVariant]:
    decoded = decode_image(encode(image.convert("RGB"), quality=85))
    return pdq_variants(
        decoded.luma, full_height=decoded.height, full_width=decoded.width, families=families
    )


def _best(image: Image.Image, seed: int) -> tuple[int, str, int]:
    """(distance of the best variant, its name, distance of the plain hash) to the listed seed."""
    found = _variants(image)
    distances = [hamming(v.hash.hash, _listed(seed)) for v in found]
    best = int(np.argmin(distances))
    return distances[best], found[best].name, distances[0]


def test_original_is_the_canonical_hash() -> None:
    for fast in (True, False):
        image = scene(1600, 1200, seed=3)
        decoded = decode_image(encode(image, quality=80), fast=fast)
        canonical = pdq_from_luma(
            decoded.luma, full_height=decoded.height, full_width=decoded.width
        )
        found = pdq_variants(decoded.luma, full_height=decoded.height, full_width=decoded.width)
        assert found[0].name == "original"
        assert found[0].hash.hex == canonical[0].hex
        assert found[0].hash.quality == canonical[0].quality


def test_families_choose_the_variants() -> None:
    image = _original(SEEDS[0])
    assert [v.name for v in _variants(image, frozenset())] == ["original"]
    names = [v.name for v in _variants(image, frozenset({"dihedral"}))]
    assert names[1:] == [
        "dihedral:rot90",
        "dihedral:rot180",
        "dihedral:rot270",
        "dihedral:flipx",
        "dihedral:flipy",
        "dihedral:flipplus1",
        "dihedral:flipminus1",
    ]
    every = {variant_family(v.name) for v in _variants(image, FAST_VARIANTS)}
    assert every == {"original", "dihedral", "crop", "rotate"}  # no bars: nothing trimmed
    every = {variant_family(v.name) for v in _variants(image)}
    assert every == {"original", "dihedral", "crop", "rotate", "cropgrid"}
    # The centred crop guesses are also looked up mirrored, only with the dihedral family.
    mirrored = [v.name for v in _variants(image) if v.name.endswith("+mirror")]
    assert mirrored == ["crop:c2+mirror", "crop:c4+mirror", "crop:c6+mirror", "crop:c8+mirror",
                        "crop:c10+mirror"]  # fmt: skip
    assert not any(
        v.name.endswith("+mirror") for v in _variants(image, frozenset({"crop", "reliable"}))
    )


@pytest.mark.parametrize(
    ("transform", "family"),
    [
        (ImageOps.mirror, "dihedral"),
        (ImageOps.flip, "dihedral"),
        (lambda im: im.transpose(Image.Transpose.ROTATE_90), "dihedral"),
        (lambda im: im.transpose(Image.Transpose.ROTATE_270), "dihedral"),
    ],
)
def test_dihedral_finds_turns_and_flips(transform: object, family: str) -> None:
    for seed in SEEDS[:3]:
        distance, name, plain = _best(transform(_original(seed)), seed)  # type: ignore[operator]
        assert plain > PDQ_MATCH_THRESHOLD
        assert distance <= 16
        assert variant_family(name) == family


def _letterbox(image: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (image.width, round(image.height * 1.4)), (0, 0, 0))
    canvas.paste(image, (0, round(image.height * 0.2)))
    return canvas


def _caption(image: Image.Image) -> Image.Image:
    bar = image.height // 5
    canvas = Image.new("RGB", (image.width, image.height + bar), (255, 255, 255))
    canvas.paste(image, (0, bar))
    ImageDraw.Draw(canvas).text((30, bar // 4), "A CAPTION", fill=(0, 0, 0), font_size=bar // 2)
    return canvas


def _screenshot(image: Image.Image) -> Image.Image:
    # Status bar with icons, a light app bar, the photo letterboxed in black, a nav bar.
    canvas = Image.new("RGB", (540, 1170), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 540, 45), fill=(30, 30, 32))
    draw.rectangle((450, 15, 470, 30), fill=(255, 255, 255))
    draw.rectangle((0, 45, 540, 125), fill=(245, 245, 245))
    draw.text((70, 70), "Photo", fill=(20, 20, 20), font_size=28)
    photo = image.resize((540, 405))
    canvas.paste(photo, (0, 125 + (1170 - 125 - 65 - 405) // 2))
    draw.rectangle((0, 1105, 540, 1170), fill=(10, 10, 10))
    return canvas


@pytest.mark.parametrize(
    "transform",
    [
        _letterbox,
        lambda im: ImageOps.expand(im, border=40, fill=(255, 255, 255)),
        lambda im: ImageOps.expand(im, border=60, fill=(40, 90, 160)),
        _caption,
        _screenshot,
    ],
    ids=["letterbox", "white-border", "colour-border", "caption", "screenshot"],
)
def test_trimming_finds_the_picture_inside_bars(transform: object) -> None:
    for seed in SEEDS[:3]:
        distance, name, plain = _best(transform(_original(seed)), seed)  # type: ignore[operator]
        assert plain > PDQ_MATCH_THRESHOLD
        assert distance <= 20
        assert name.startswith("trimmed")


def test_content_box_nests_and_leaves_pictures_alone() -> None:
    luma = np.asarray(ImageOps.grayscale(_screenshot(_original(SEEDS[0]))), dtype=np.float32)
    boxes = content_box(luma)
    assert len(boxes) >= 2  # bars first, then the black letterbox inside them
    top, bottom, left, right = boxes[-1]
    assert abs(top - 412) <= 3
    assert abs(bottom - 817) <= 3
    assert (left, right) == (0, 540)
    for seed in SEEDS:
        plain = np.asarray(ImageOps.grayscale(_original(seed)), dtype=np.float32)
        assert content_box(plain) == []


@pytest.mark.parametrize(
    "box",
    [
        (0.03, 0.03, 0.97, 0.97),
        (0.045, 0.045, 0.955, 0.955),
        (0.05, 0.05, 0.95, 0.95),
        (0.0, 0.0, 0.95, 0.95),
        (0.1, 0, 1, 1),
    ],
    # 10% centred: the padding must fade to the mean (edge repetition alone misses most).
    ids=["centred-6%", "centred-9%", "centred-10%", "corner-5%", "side-10%"],
)
def test_crop_variants_undo_small_crops(box: tuple[float, float, float, float]) -> None:
    found = 0
    for seed in SEEDS[:4]:
        w, h = SIZE
        cropped = _original(seed).crop(
            (round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))
        )
        distance, name, _ = _best(cropped, seed)
        if distance <= PDQ_MATCH_THRESHOLD and variant_family(name) in ("crop", "cropgrid"):
            found += 1
    assert found >= 3


def test_mirrored_crop_guesses_undo_a_mirror_and_a_centred_crop() -> None:
    found = 0
    for seed in SEEDS[:4]:
        w, h = SIZE
        edited = ImageOps.mirror(
            _original(seed).crop(
                (round(0.03 * w), round(0.03 * h), round(0.97 * w), round(0.97 * h))
            )
        )
        distance, name, plain = _best(edited, seed)
        assert plain > PDQ_MATCH_THRESHOLD
        if distance <= PDQ_MATCH_THRESHOLD and name.endswith("+mirror"):
            found += 1
    assert found >= 3


@pytest.mark.parametrize("degrees", [3, -4.5])
def test_rotate_variants_undo_small_rotations(degrees: float) -> None:
    found = 0
    for seed in SEEDS[:4]:
        # Black corners, as a phone's or an editor's turn leaves them.
        turned = _original(seed).rotate(degrees, resample=Image.Resampling.BICUBIC)
        distance, name, plain = _best(turned, seed)
        # The variant is named after the turn that undoes the copy's.
        if distance <= PDQ_MATCH_THRESHOLD < plain and name == f"rotate:{-degrees:+g}":
            found += 1
    assert found >= 3


def _framed_screenshot(image: Image.Image) -> Image.Image:
    # The photo has a flat grey frame of its own at the bottom, right against the black
    # letterbox: trimming layer by layer keeps a box with the frame (the listed picture).
    framed = image.copy()
    ImageDraw.Draw(framed).rectangle(
        (0, image.height - image.height // 10, image.width, image.height), fill=(128, 128, 128)
    )
    return _screenshot(framed), framed


def test_layered_trimming_keeps_a_photo_s_own_frame() -> None:
    for seed in SEEDS[:3]:
        shot, framed = _framed_screenshot(_original(seed))
        listed = pdq_from_luma(np.asarray(ImageOps.grayscale(framed), dtype=np.float32))[0]
        found = _variants(shot)
        distances = {v.name: hamming(v.hash.hash, listed.hash) for v in found}
        best = min(distances, key=distances.__getitem__)
        assert distances[best] <= 20 < distances["original"]
        assert best.startswith("trimmed")


def test_no_variant_matches_a_distinct_image() -> None:
    edited = [_letterbox, ImageOps.mirror, lambda im: im.rotate(3)]
    for seed in SEEDS:
        for transform in (lambda im: im, *edited):
            for variant in _variants(transform(_original(seed)), frozenset(ALL_VARIANTS)):
                for other in SEEDS:
                    if other != seed:
                        assert hamming(variant.hash.hash, _listed(other)) > PDQ_MATCH_THRESHOLD


def test_parse_variants() -> None:
    assert parse_variants("default") == DEFAULT_VARIANTS == frozenset(ALL_VARIANTS)
    assert parse_variants("fast") == FAST_VARIANTS == DEFAULT_VARIANTS - {"cropgrid"}
    assert parse_variants("all") == frozenset(ALL_VARIANTS)
    assert parse_variants("none") == frozenset()
    assert parse_variants(" trim, Crop ") == frozenset({"trim", "crop"})
    with pytest.raises(InputError, match="unknown variant 'blur'"):
        parse_variants("trim,blur")


def test_mirrored_guesses_need_both_families() -> None:
    assert variant_allowed("crop:c8", frozenset({"crop"}))
    assert not variant_allowed("crop:c8+mirror", frozenset({"crop"}))
    assert not variant_allowed("crop:c8+mirror", frozenset({"dihedral"}))
    assert variant_allowed("crop:c8+mirror", frozenset({"crop", "dihedral"}))
    assert variant_family("crop:c8+mirror") == "crop"


def test_variant_family() -> None:
    assert variant_family("original") == "original"
    assert variant_family("dihedral:rot90") == "dihedral"
    assert variant_family("trimmed:outer") == "trim"
    assert variant_family("crop:c8") == "crop"
    assert variant_family("rotate:+3") == "rotate"


def test_refuses_an_empty_plane() -> None:
    with pytest.raises(InputError):
        pdq_variants(np.zeros((0, 4), dtype=np.float32))


@pytest.mark.parametrize("size", [(256, 256), (300, 200), (800, 600)])
def test_dihedral_variants_are_the_hashes_of_the_turned_picture(size: tuple[int, int]) -> None:
    # Small pictures are hashed from flipped filters (exact); large ones by DCT sign flips.
    plane = np.asarray(ImageOps.grayscale(scene(*size, seed=4)), dtype=np.float32)
    found = {v.name: v.hash for v in pdq_variants(plane, families={"dihedral"})}
    turned = {
        "rot90": np.rot90(plane, 1),
        "rot180": np.rot90(plane, 2),
        "rot270": np.rot90(plane, 3),
        "flipx": plane[::-1],
        "flipy": plane[:, ::-1],
        "flipplus1": plane.T,
        "flipminus1": np.rot90(plane, 2).T,
    }
    for name, picture in turned.items():
        expected = pdq_from_luma(np.ascontiguousarray(picture))[0]
        assert hamming(found[f"dihedral:{name}"].hash, expected.hash) <= 2, name


# The compiled kernels against the dense NumPy arithmetic they replace.


def _dense(matrices: tuple[np.ndarray, ...]) -> np.ndarray:
    return np.stack(matrices).astype(np.float32)


@pytest.mark.parametrize(("height", "width", "factor"), [(90, 120, 4), (150, 200, 4), (37, 53, 3)])
def test_banded_filters_match_the_dense_products(height: int, width: int, factor: int) -> None:
    from kavach.signals import _variant_kernels as kernels
    from kavach.signals.variants import _bands, _padded_axis

    rng = np.random.default_rng(height)
    plane = (rng.random((height, width)) * 255).astype(np.float32)
    rows = [_padded_axis(height * factor, height, t, b)[0] for t, b in ((0, 0), (0.05, 0.02))]
    cols = [_padded_axis(width * factor, width, lf, rt)[0] for lf, rt in ((0.1, 0), (0, 0))]
    pairs = np.asarray([(0, 0), (1, 0), (1, 1), (0, 1)], dtype=np.intp)
    out = np.empty((len(pairs), 64, 64), dtype=np.float32)
    kernels.separable(plane, *_bands(rows), *_bands(cols), pairs, out)
    for buffer, (r, c) in zip(out, pairs, strict=True):
        expected = rows[r].astype(np.float64) @ plane @ cols[c].astype(np.float64).T
        np.testing.assert_allclose(buffer, expected, rtol=1e-5, atol=1e-3)


def test_hash_stack_matches_pdq_one_at_a_time() -> None:
    from kavach.signals import _variant_kernels as kernels
    from kavach.signals.pdq import _DCT, _quality, _threshold, reliable_masks

    rng = np.random.default_rng(7)
    # Smooth and rough buffers: qualities from low to 100.
    buffers = np.cumsum(rng.normal(0, 1, (6, 64, 64)), axis=2).astype(np.float32)
    buffers *= np.float32(1.0) + np.arange(6, dtype=np.float32)[:, None, None]
    dcts = (_DCT @ buffers @ _DCT.T).astype(np.float32)
    source = np.asarray([0, 1, 2, 3, 4, 5, 2, 4], dtype=np.intp)
    transposed = np.asarray([False] * 6 + [True, True])
    packed = np.empty((8, 32), dtype=np.uint8)
    quality = np.empty(8, dtype=np.int64)
    masks = np.empty((8, 32), dtype=np.uint8)
    kernels.hash_stack(dcts, buffers, source, transposed, packed, quality, masks, 192)
    assert len(set(quality[:6].tolist())) > 1
    for n, (s, flip) in enumerate(zip(source, transposed, strict=True)):
        dct = dcts[s].T if flip else dcts[s]
        assert bytes(packed[n]) == bytes(_threshold(np.ascontiguousarray(dct)))
        assert quality[n] == _quality(buffers[s])
        assert bytes(masks[n]) == bytes(reliable_masks(dct[None])[0])
        assert int(np.bitwise_count(masks[n]).sum()) == 192


@pytest.mark.parametrize(("shape", "factor"), [((180, 240), 2), ((301, 403), 3), ((64, 70), 5)])
def test_block_means_as_numpy_computed_them(shape: tuple[int, int], factor: int) -> None:
    from kavach.signals import _variant_kernels as kernels

    plane = (np.random.default_rng(1).random(shape) * 255).astype(np.float32)
    out_h, out_w = -(-shape[0] // factor), -(-shape[1] // factor)
    padded = np.pad(plane, ((0, out_h * factor - shape[0]), (0, out_w * factor - shape[1])), "edge")
    rows = sum(padded[i::factor] for i in range(1, factor)) + padded[0::factor]
    blocks = sum(rows[:, j::factor] for j in range(1, factor)) + rows[:, 0::factor]
    expected = blocks * np.float32(1.0 / (factor * factor))
    np.testing.assert_array_equal(kernels.block_means(plane, factor), expected)


def _reference_bar(region: np.ndarray) -> tuple[int, float]:
    # The NumPy version content_box was written as (before it was compiled).
    limit = int(region.shape[0] * 0.45)
    if limit < 1 or region.shape[1] < 2:
        return 0, 0.0
    band = region[:limit]
    colour = float(np.median(band[0]))
    distance = np.abs(band - colour)
    near = (distance <= 12.0).mean(axis=1)
    flat = (distance <= 4.0).mean(axis=1) >= 0.9
    if not flat[0]:
        return 0, colour
    share = np.cumsum(near) / np.arange(1, limit + 1)
    return int(np.nonzero(flat & (share >= 0.7))[0][-1]) + 1, colour


def _reference_boxes(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    boxes: list[tuple[int, int, int, int]] = []
    top, bottom, left, right = 0, grey.shape[0], 0, grey.shape[1]
    for _ in range(8):
        region = grey[top:bottom, left:right]
        bars = [
            _reference_bar(region),
            _reference_bar(region[::-1]),
            _reference_bar(region.T),
            _reference_bar(region.T[::-1]),
        ]
        thickest = max(range(4), key=lambda k: bars[k][0])
        if bars[thickest][0] == 0:
            break
        colour = bars[thickest][1]
        cut = [n if n and abs(c - colour) <= 12.0 else 0 for n, c in bars]
        new = (top + cut[0], bottom - cut[1], left + cut[2], right - cut[3])
        if new[1] - new[0] < max(16, 0.2 * grey.shape[0]) or new[3] - new[2] < max(
            16, 0.2 * grey.shape[1]
        ):
            break
        top, bottom, left, right = new
        boxes.append(new)
    return boxes


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_content_box_is_the_numpy_rule(seed: int) -> None:
    framed, _ = _framed_screenshot(_original(seed))
    for picture in (
        _screenshot(_original(seed)),
        framed,
        _caption(_original(seed)),
        _letterbox(_original(seed)),
        ImageOps.expand(_original(seed), border=30, fill=(40, 90, 160)),
        _original(seed),
    ):
        grey = np.asarray(ImageOps.grayscale(picture), dtype=np.float32)
        assert content_box(grey) == _reference_boxes(grey)


def test_reliable_masks_come_with_the_reliable_family() -> None:
    decoded = decode_image(encode(_letterbox(_original(SEEDS[0])).convert("RGB"), quality=85))
    size = {"full_height": decoded.height, "full_width": decoded.width}
    plain = pdq_variants(decoded.luma, **size, families={"dihedral", "trim", "crop", "rotate"})
    assert all(v.hash.reliable is None for v in plain)
    masked = pdq_variants(decoded.luma, **size, families=FAST_VARIANTS)
    assert [v.name for v in masked] == [v.name for v in plain]
    canonical = pdq_from_luma(decoded.luma, **size)[0]
    assert masked[0].hash.reliable is not None
    assert canonical.reliable is not None
    assert bytes(masked[0].hash.reliable) == bytes(canonical.reliable)
    for with_mask, without in zip(masked, plain, strict=True):
        assert bytes(with_mask.hash.hash) == bytes(without.hash.hash)
        assert with_mask.hash.reliable is not None
        assert int(np.bitwise_count(with_mask.hash.reliable).sum()) == 192


@pytest.mark.parametrize(
    ("share", "across", "down"),
    [(0.10, 0.2, 1.0), (0.10, 0.75, 0.25), (0.05, 0.0, 0.5)],
    ids=["10%-bottom-left", "10%-top-right", "5%-left"],
)
def test_crop_grid_undoes_crops_off_centre_in_both_directions(
    share: float, across: float, down: float
) -> None:
    def found(variants: list[PDQVariant], listed: bytes) -> bool:
        # As the matcher decides for a guess: the whole hash within 31, or its reliable bits
        # within 19.
        for v in variants:
            assert v.hash.reliable is not None
            flipped = np.bitwise_xor(v.hash.hash, np.frombuffer(listed, dtype=np.uint8))
            reliable = int(np.bitwise_count(flipped & v.hash.reliable).sum())
            if hamming(v.hash.hash, listed) <= PDQ_MATCH_THRESHOLD or reliable <= 19:
                return True
        return False

    found_grid = found_default = 0
    w, h = SIZE
    for seed in SEEDS[:4]:
        left, top = round(w * share * across), round(h * share * down)
        cropped = _original(seed).crop(
            (left, top, left + w - round(w * share), top + h - round(h * share))
        )
        grid = _variants(cropped, frozenset({"cropgrid", "reliable"}))
        assert all(v.name == "original" or v.name.startswith("cropgrid:") for v in grid)
        found_grid += found(grid[1:], _listed(seed))
        found_default += found(_variants(cropped), _listed(seed))
    assert found_grid >= 3
    assert found_grid >= found_default


@pytest.mark.parametrize("size", [(480, 360), (1600, 1200)], ids=["exact-flips", "dct-flips"])
def test_variant_arrays_are_the_variants(size: tuple[int, int]) -> None:
    from kavach.signals.variants import pdq_variant_arrays

    decoded = decode_image(encode(scene(*size, seed=21), quality=85))
    shape = {"full_height": decoded.height, "full_width": decoded.width}
    for families in (set(), {"reliable"}, {"dihedral"}, DEFAULT_VARIANTS, set(ALL_VARIANTS)):
        listed = pdq_variants(decoded.luma, **shape, families=families)
        found = pdq_variant_arrays(decoded.luma, **shape, families=families)
        assert found.names == [v.name for v in listed]
        assert found.qualities == [v.hash.quality for v in listed]
        assert found.packed.shape == (len(listed), 32)
        assert [bytes(row) for row in found.packed] == [bytes(v.hash.hash) for v in listed]
        if "reliable" in families:
            assert found.reliable is not None
            assert [bytes(row) for row in found.reliable] == [
                bytes(v.hash.reliable) for v in listed
            ]
        else:
            assert found.reliable is None
            assert all(v.hash.reliable is None for v in listed)


def test_hashed_variants_are_the_variants() -> None:
    from kavach.hashing import HashOptions, VariantHash, hash_bytes

    data = encode(scene(480, 360, seed=22), quality=85)
    decoded = decode_image(data)
    for variants, dihedral in ((frozenset(ALL_VARIANTS), False), (DEFAULT_VARIANTS, True)):
        # The families hashed alike (dihedral is one of the defaults): the same products.
        listed = pdq_variants(
            decoded.luma,
            full_height=decoded.height,
            full_width=decoded.width,
            families=variants,
        )
        record = hash_bytes(data, HashOptions(variants=variants, dihedral=dihedral))
        expected = [
            VariantHash(
                v.name,
                v.hash.hex,
                v.hash.quality,
                None if v.hash.reliable is None else bytes(v.hash.reliable).hex(),
            )
            for v in listed[1:]
            if variant_family(v.name) in variants
        ]
        assert record.pdq_variants == expected
        assert len({hash(v) for v in record.pdq_variants}) > 1
        assert record.pdq == listed[0].hash.hex
        assert listed[0].hash.reliable is not None
        assert record.pdq_reliable == bytes(listed[0].hash.reliable).hex()
        if dihedral:
            assert record.pdq_dihedral is not None
            assert list(record.pdq_dihedral.values()) == [v.hash.hex for v in listed[:8]]


def test_guesses_take_the_picture_s_quality() -> None:
    """Crop and turn guesses re-frame the picture and gate on its quality; a trimmed box is a
    picture of its own and keeps its own."""
    from PIL import ImageFilter

    image = _letterbox(_original(SEEDS[1])).filter(ImageFilter.GaussianBlur(20))
    found = _variants(image)
    quality = found[0].hash.quality
    assert 0 < quality < 100  # blurred below the cap, so equal qualities are no coincidence
    guesses = [v for v in found if variant_family(v.name) in {"crop", "cropgrid", "rotate"}]
    assert len(guesses) > 60
    assert {v.hash.quality for v in guesses} == {quality}
    trims = [v for v in found if variant_family(v.name) == "trim"]
    assert trims
    assert all(v.hash.quality != quality for v in trims)
