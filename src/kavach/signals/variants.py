"""Query-side PDQ variants: extra lookups from one decoded luma plane.

Partners list one PDQ hash per item, so robustness has to come from the query: besides the
canonical hash of the file (the only one ever stored or shared), a file is looked up by the hashes
of what it probably was before someone edited it. Every variant is computed from the luma plane
already decoded for the canonical hash (never by decoding again) and carries its own name, which a
match reports:

- ``dihedral:rot90`` … ``dihedral:flipminus1``: the seven rotations and flips, from the canonical
  DCT itself (exact flipped filters on pictures under 512 pixels).
- ``trimmed`` (and ``trimmed:outer``, ``trimmed:N``): the content inside near-uniform bars, frames
  and caption strips, trimmed one layer (one bar colour) at a time, so a screenshot's status,
  app and navigation bars and the letterbox around the photo each go in their own round; every
  distinct box is looked up, because a photo's own flat frame looks like one more bar, see
  :func:`content_box`.
- ``crop:…``: the query padded back out, for a copy that lost a few percent at its edges;
  ``crop:c8`` assumes 8% was cut evenly around, ``crop:t10`` 10% from the top only, and so on.
  The padding repeats the edge pixels; as a linear map it folds into PDQ's filter matrices, so a
  crop variant costs one small matrix product.
- ``rotate:±1.5``, ``±3``, ``±4``, ``±5``: the query turned back (``rotate:-3`` undoes a copy
  turned 3° counter-clockwise), sampled from the small working plane at PDQ's turned sample
  points.

``docs/robustness.md`` explains each with its measured recall, false matches and cost
(``benchmarks/robustness.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kavach.errors import InputError
from kavach.signals.pdq import (
    _DCT,
    DIHEDRAL_NAMES,
    PDQHash,
    _axis_matrix,
    _dihedral_dcts,
    _full_axis_matrix,
    _quality,
    _single_threaded_blas,
    _threshold,
)

__all__ = [
    "ALL_VARIANTS",
    "CROP_VARIANTS",
    "DEFAULT_VARIANTS",
    "GUESSED_VARIANTS",
    "GUESS_THRESHOLD",
    "PDQVariant",
    "bank_variants",
    "content_box",
    "parse_variants",
    "pdq_variants",
    "variant_family",
]

FloatArray = npt.NDArray[np.float32]
_SIZE = 64
_EXACT_DIHEDRAL_BELOW = 512

ALL_VARIANTS = ("dihedral", "trim", "crop", "rotate", "reliable")
"""Variant families, as ``--variants`` and :class:`~kavach.match.MatchPolicy` name them.

``reliable`` is not a hash of its own: it lets every hash looked up also match on its reliable
bits alone (:data:`~kavach.signals.pdq.PDQ_RELIABLE_BITS`; docs/robustness.md)."""
DEFAULT_VARIANTS: frozenset[str] = frozenset(ALL_VARIANTS)
"""Families looked up by default: all of them (none adds a false match in the robustness
benchmark).

A bank can accept fewer (``kavach bank create --variants``); a command can ask for fewer
(``kavach scan --variants``).
"""

GUESSED_VARIANTS: frozenset[str] = frozenset({"crop", "rotate"})
"""Families that guess at an edit (how much was cut, how far it was turned) rather than undo a
detected one; :attr:`~kavach.match.MatchPolicy.guess_threshold` applies to them."""

GUESS_THRESHOLD = 31
"""The largest distance at which a guessed variant matches by default: the same as a file's own
hash. A tighter one makes each guess cheaper to look up (at 23 a 12-chunk multi-index probes each
chunk at radius 1 instead of 2, about five times fewer probes) and is one fewer chance of a false
match, but the right guess often lands 24-31 bits away: at 23, 5% crops fell from 89% to 70% and
3° turns from 83% to 55% (benchmarks/robustness.py --guess-threshold, docs/robustness.md)."""

CROP_VARIANTS: tuple[tuple[str, float, float, float, float], ...] = (
    # name, share of the original cut from the top, bottom, left, right. PDQ moves ~20 bits
    # per 1% of misalignment, so centred crops get a 1%-per-side grid; off-centre ones only
    # their most common shapes (one side, one corner).
    ("crop:c2", 0.01, 0.01, 0.01, 0.01),
    ("crop:c4", 0.02, 0.02, 0.02, 0.02),
    ("crop:c6", 0.03, 0.03, 0.03, 0.03),
    ("crop:c8", 0.04, 0.04, 0.04, 0.04),
    ("crop:c10", 0.05, 0.05, 0.05, 0.05),
    ("crop:t5", 0.05, 0.0, 0.0, 0.0),
    ("crop:b5", 0.0, 0.05, 0.0, 0.0),
    ("crop:l5", 0.0, 0.0, 0.05, 0.0),
    ("crop:r5", 0.0, 0.0, 0.0, 0.05),
    ("crop:t10", 0.10, 0.0, 0.0, 0.0),
    ("crop:b10", 0.0, 0.10, 0.0, 0.0),
    ("crop:l10", 0.0, 0.0, 0.10, 0.0),
    ("crop:r10", 0.0, 0.0, 0.0, 0.10),
    ("crop:tl5", 0.05, 0.0, 0.05, 0.0),
    ("crop:tr5", 0.05, 0.0, 0.0, 0.05),
    ("crop:bl5", 0.0, 0.05, 0.05, 0.0),
    ("crop:br5", 0.0, 0.05, 0.0, 0.05),
)
"""The crops undone by padding; chosen with ``benchmarks/robustness.py``."""

ROTATE_DEGREES = (1.5, -1.5, 3.0, -3.0, 4.0, -4.0, 5.0, -5.0)
"""Turns undone: PDQ itself shrugs off under a degree; beyond 3° half a degree off the guess
already costs (4° copies: 87% found with ±4, 83% with ±4.5 alone), hence 4 and 5."""

# Trimming: a line belongs to a bar when this share of its pixels is within _TOLERANCE grey levels
# of the bar's colour; a band may hold text (a caption) as long as most of it is bar-coloured.
_TOLERANCE = 12.0
_FLAT = 4.0
_BAR_LINE = 0.9
_BAR_BAND = 0.7
_MAX_BAR = 0.45  # no side's bar is more than this share of the axis
_MIN_CONTENT = 0.2  # nor is the content less than this share
_MIN_PIXELS = 16
_SAME_BOX = 2  # boxes within this many pixels on every side hash alike
_ROUNDS = 8  # a bar edge that falls inside a pixel makes a one-pixel bar of its own
# Variants other than the dihedral ones are hashed from a plane this small on its short side (a
# 1600x1200 JPEG's 1/8 decode already is): each costs a fifth of a millisecond, and the hash of
# the whole plane stays within a few bits of the canonical one (benchmarks/robustness.py).
_WORK_SIDE = 150
# How far an uncropped border fades from its edge pixel towards the picture's mean at its outer
# end (0: the edge repeated). Measured on exact guesses of 2/5/10% centred crops, edge repetition
# found 96/81/32%, a fade to 0.8 96/92/70% (benchmarks/robustness.py).
_FADE = 0.8


@dataclass(frozen=True, slots=True)
class PDQVariant:
    """One lookup hash: ``name`` says how it was derived (``original`` for the canonical one)."""

    name: str
    hash: PDQHash


def bank_variants(stored: str | None) -> frozenset[str] | None:
    """A bank's stored variant setting (``None``: whatever the policy looks up)."""
    if stored is None:
        return None
    return parse_variants(stored)


def parse_variants(text: str) -> frozenset[str]:
    """Parse ``dihedral,trim,...`` (``all``, ``none`` or ``default`` also accepted)."""
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    if names in ({"none"}, set()):
        return frozenset()
    if names == {"all"}:
        return frozenset(ALL_VARIANTS)
    if names == {"default"}:
        return DEFAULT_VARIANTS
    unknown = names - set(ALL_VARIANTS)
    if unknown:
        raise InputError(
            f"unknown variant {sorted(unknown)[0]!r}; choose from {', '.join(ALL_VARIANTS)}, "
            "all, none or default"
        )
    return frozenset(names)


def variant_family(name: str) -> str:
    """The family a variant name belongs to (``crop:c8`` → ``crop``; ``original`` for itself)."""
    head = name.partition(":")[0]
    return _FAMILIES.get(head, head)


_FAMILIES = {"trimmed": "trim"}


def pdq_variants(
    luma: npt.ArrayLike,
    *,
    full_height: int | None = None,
    full_width: int | None = None,
    families: Iterable[str] = ALL_VARIANTS,
) -> list[PDQVariant]:
    """The canonical PDQ hash of a luma plane (first, named ``original``) and its variants.

    ``full_height``/``full_width`` are as for :func:`~kavach.signals.pdq.pdq_from_luma`; the
    original is bit for bit what that function returns. Two variants may share a hash (a
    symmetric picture's flips); the matcher looks each value up once.
    """
    _single_threaded_blas()
    wanted = frozenset(families)
    plane = np.asarray(luma, dtype=np.float32)
    if plane.ndim != 2 or plane.shape[0] < 1 or plane.shape[1] < 1:
        raise InputError(f"PDQ needs a non-empty 2-D luma plane, got shape {plane.shape}")
    full_h = full_height or plane.shape[0]
    full_w = full_width or plane.shape[1]
    rows, cols = _axis(full_h, plane.shape[0]), _axis(full_w, plane.shape[1])
    buffer64 = rows @ (plane @ cols.T)
    quality = _quality(buffer64)
    dct = _DCT @ buffer64 @ _DCT.T
    out = [PDQVariant("original", PDQHash(_threshold(dct), quality))]
    if "dihedral" in wanted:
        if min(full_h, full_w) < _EXACT_DIHEDRAL_BELOW:
            out.extend(_exact_dihedral(plane, rows, cols))
        else:
            for name, turned in zip(DIHEDRAL_NAMES[1:], _dihedral_dcts(dct)[1:], strict=True):
                out.append(PDQVariant(f"dihedral:{name}", PDQHash(_threshold(turned), quality)))
    if wanted & {"trim", "crop", "rotate"}:
        # Everything else works on a small plane (block means, as a DCT-scaled decode gives), so
        # a variant costs little even when the file was decoded at full size.
        work, factor = _reduce(plane, full_h, full_w)
        if "trim" in wanted:
            out.extend(_trimmed(work, factor))
        if "crop" in wanted:
            # The crop guesses are dense products over the plane (most of the variants' cost):
            # they take a plane of at most _WORK_SIDE pixels, which also found 10% crops more
            # often; trimming and turning keep the finer one (5° turns needed it).
            if _block_factor(plane.shape, at_most=True) == _block_factor(plane.shape):
                out.extend(_uncropped(work, factor))
            else:
                out.extend(_uncropped(*_reduce(plane, full_h, full_w, at_most=True)))
        if "rotate" in wanted:
            out.extend(_rotated(work, factor, full_h, full_w))
    return out


def content_box(plane: npt.ArrayLike) -> list[tuple[int, int, int, int]]:
    """Boxes ``(top, bottom, left, right)`` (end exclusive) of the content inside bars.

    Each box trims one layer more than the last: a round trims the thickest near-uniform band
    found on any side (captions included) and every other side's band of the same colour, so a
    screenshot peels status bar, app bar, then the letterbox around the photo, each in its own
    round. Empty when nothing was trimmed.
    """
    grey = np.asarray(plane, dtype=np.float32)
    boxes: list[tuple[int, int, int, int]] = []
    top, bottom, left, right = 0, grey.shape[0], 0, grey.shape[1]
    for _ in range(_ROUNDS):
        region = grey[top:bottom, left:right]
        bars = [_bar(region), _bar(region[::-1]), _bar(region.T), _bar(region.T[::-1])]
        thickest = max(range(4), key=lambda k: bars[k][0])
        if bars[thickest][0] == 0:
            break
        colour = bars[thickest][1]
        cut = [n if n and abs(c - colour) <= _TOLERANCE else 0 for n, c in bars]
        new = (top + cut[0], bottom - cut[1], left + cut[2], right - cut[3])
        height, width = new[1] - new[0], new[3] - new[2]
        if height < max(_MIN_PIXELS, _MIN_CONTENT * grey.shape[0]) or width < max(
            _MIN_PIXELS, _MIN_CONTENT * grey.shape[1]
        ):
            break  # nothing left that looks like a picture: keep the last good box
        top, bottom, left, right = new
        boxes.append(new)
    return boxes


def _bar(region: FloatArray) -> tuple[int, float]:
    """Rows of a bar at the top of ``region`` (0 when its first row is not bar-like), and its
    colour."""
    limit = int(region.shape[0] * _MAX_BAR)
    if limit < 1 or region.shape[1] < 2:
        return 0, 0.0
    band = region[:limit]
    colour = float(np.median(band[0]))
    distance = np.abs(band - colour)
    near = (distance <= _TOLERANCE).mean(axis=1)
    # Rows that open and close a bar are flat, as drawn bars are and a photo's smooth edge
    # (sky, a wall) rarely is after averaging; rows between may hold a caption's text.
    flat = (distance <= _FLAT).mean(axis=1) >= _BAR_LINE
    if not flat[0]:
        return 0, colour
    share = np.cumsum(near) / np.arange(1, limit + 1)
    rows = np.nonzero(flat & (share >= _BAR_BAND))[0]
    return int(rows[-1]) + 1, colour


def _trimmed(work: FloatArray, factor: int) -> list[PDQVariant]:
    boxes = content_box(work)
    if not boxes:
        return []
    chosen = [("trimmed", boxes[-1])]
    if len(boxes) > 1:
        chosen.append(("trimmed:outer", boxes[0]))
    for k, box in enumerate(boxes[1:-1], start=2):
        if all(
            max(abs(a - b) for a, b in zip(box, other, strict=True)) > _SAME_BOX
            for _, other in chosen
        ):
            chosen.append((f"trimmed:{k}", box))
    out = []
    for name, (top, bottom, left, right) in chosen:
        crop = work[top:bottom, left:right]
        rows = _axis(crop.shape[0] * factor, crop.shape[0])
        cols = _axis(crop.shape[1] * factor, crop.shape[1])
        dct, quality = _dct(crop, rows, cols)
        out.append(PDQVariant(name, PDQHash(_threshold(dct), quality)))
    return out


def _exact_dihedral(plane: FloatArray, rows: FloatArray, cols: FloatArray) -> list[PDQVariant]:
    """The seven turns and flips hashed from the turned plane itself.

    PDQ samples pixel ``floor((i + 0.5) * L / 64)``, a grid that is not its own mirror image: a
    flip moves it by one pixel. On a large picture that is nothing, and the DCT sign flips are
    exact enough; below :data:`_EXACT_DIHEDRAL_BELOW` pixels it cost up to 96 bits (measured on
    256-pixel photos), so the flipped filters are applied instead (the planes are small there).
    """
    flip_r, flip_c = rows[:, ::-1], cols[:, ::-1]
    plain = plane @ cols.T  # H×64
    mirrored = plane @ flip_c.T
    # Transposed pictures: rows and columns swap roles (buffer = C Pᵀ Rᵀ = (R P Cᵀ)ᵀ).
    buffers = np.stack(
        [
            (rows @ mirrored).T,  # rot90: transpose of the mirror
            flip_r @ mirrored,  # rot180
            (flip_r @ plain).T,  # rot270: transpose of the upside-down picture
            flip_r @ plain,  # flipx: upside down
            rows @ mirrored,  # flipy: mirror
            (rows @ plain).T,  # flipplus1: transpose
            (flip_r @ mirrored).T,  # flipminus1: anti-transpose
        ]
    )
    names = [f"dihedral:{name}" for name in DIHEDRAL_NAMES[1:]]
    return [PDQVariant(n, h) for n, h in zip(names, _hashes(buffers), strict=True)]


def _uncropped(work: FloatArray, factor: int) -> list[PDQVariant]:
    height, width = work.shape
    rows, columns, which, row_sums, col_sums = _crop_matrices(
        height * factor, height, width * factor, width
    )
    # The costly product is plane × column filters: one product for all distinct column
    # filters (crops share them), then the cheap 64×H one per variant.
    filtered = (work @ columns.T).reshape(height, -1, _SIZE).transpose(1, 0, 2)
    buffers = rows @ filtered[which]
    # The padding fades from the edge pixels to the picture's mean (see _padded_axis): the
    # mean's share of each sample is 1 - (kept share along rows) x (kept share along columns),
    # a rank-2 term per variant.
    total_r, kept_r = row_sums[:, 0], row_sums[:, 1]
    total_c, kept_c = col_sums[which, 0], col_sums[which, 1]
    mean = np.float32(work.mean())
    buffers += mean * (
        total_r[:, :, None] * total_c[:, None, :] - kept_r[:, :, None] * kept_c[:, None, :]
    )
    names = [name for name, *_ in CROP_VARIANTS]
    return [PDQVariant(n, h) for n, h in zip(names, _hashes(buffers), strict=True)]


@functools.lru_cache(maxsize=64)
def _crop_matrices(
    full_h: int, height: int, full_w: int, width: int
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.intp], FloatArray, FloatArray]:
    """Every crop variant's row filter (stacked), the distinct column filters (concatenated),
    which of those each variant uses, and each filter's (total, kept) weight sums per sample
    (``[variants or distinct columns, 2, 64]``)."""
    row_axes = [_padded_axis(full_h, height, t, b) for _, t, b, _l, _r in CROP_VARIANTS]
    keys = [(left, right) for _, _t, _b, left, right in CROP_VARIANTS]
    distinct = list(dict.fromkeys(keys))
    col_axes = [_padded_axis(full_w, width, *key) for key in distinct]
    rows = np.stack([matrix for matrix, _ in row_axes])
    columns = np.concatenate([matrix for matrix, _ in col_axes])
    which = np.asarray([distinct.index(key) for key in keys], dtype=np.intp)
    row_sums = np.stack([sums for _, sums in row_axes])
    col_sums = np.stack([sums for _, sums in col_axes])
    return rows, columns, which, row_sums, col_sums


def _rotated(work: FloatArray, factor: int, full_h: int, full_w: int) -> list[PDQVariant]:
    """Turn the copy back by sampling the small working plane at PDQ's 64×64 sample points
    turned about the centre.

    Sampling the plane (lightly blurred, as PDQ's own filter is at this scale) before any
    64×64 buffer exists keeps the copy's black corner wedges out of the picture: turning the
    filtered buffer instead smeared them inwards and interpolated on a grid too coarse, and
    found 64% of 5° turns against 77-81% here. Sample points that fall outside the copy (the
    original's lost corners) take the plane's mean.
    """
    height, width = work.shape
    padded = np.pad(work, 1, mode="edge")
    # [1, 2, 1] / 4 along each axis: about the variance of PDQ's two box passes at this scale.
    blurred = padded[:-2] + 2 * padded[1:-1] + padded[2:]
    blurred = (blurred[:, :-2] + 2 * blurred[:, 1:-1] + blurred[:, 2:]) * np.float32(1 / 16)
    index, weight, outside = _rotation_taps(height, width, factor, full_h, full_w)
    flat = blurred.ravel()
    samples = flat.take(index[0]) * weight[0]
    for tap in range(1, 4):
        samples += flat.take(index[tap]) * weight[tap]
    samples[outside] = float(work.mean())
    buffers = samples.reshape(len(ROTATE_DEGREES), _SIZE, _SIZE)
    names = [f"rotate:{degrees:+g}" for degrees in ROTATE_DEGREES]
    return [PDQVariant(n, h) for n, h in zip(names, _hashes(buffers), strict=True)]


@functools.lru_cache(maxsize=64)
def _rotation_taps(
    height: int, width: int, factor: int, full_h: int, full_w: int
) -> tuple[npt.NDArray[np.intp], FloatArray, npt.NDArray[np.bool_]]:
    """Bilinear taps (flat indices, weights) of every turned sample point of a plane shape, and
    which points fall outside it; cached, as a scan meets the same few shapes again and again."""
    # PDQ samples full-size pixel floor((i + 0.5) * L / 64); in working pixels, centre-based.
    ys = (np.floor((np.arange(_SIZE) + 0.5) * full_h / _SIZE) + 0.5) / factor - 0.5
    xs = (np.floor((np.arange(_SIZE) + 0.5) * full_w / _SIZE) + 0.5) / factor - 0.5
    cy, cx = height / 2 - 0.5, width / 2 - 0.5
    dy, dx = np.meshgrid(ys - cy, xs - cx, indexing="ij")
    angles = -np.radians(np.asarray(ROTATE_DEGREES))[:, None, None]
    # ``rotate:-3`` turns the copy back by 3° clockwise: it undoes a copy turned by +3°
    # (counter-clockwise on screen, as PIL turns), which holds the original's point p at R(3°)p.
    cos, sin = np.cos(angles), np.sin(angles)
    sy = (cos * dy - sin * dx + cy).ravel()
    sx = (sin * dy + cos * dx + cx).ravel()
    outside = (sy < -0.5) | (sy > height - 0.5) | (sx < -0.5) | (sx > width - 0.5)
    y0, x0 = np.floor(sy), np.floor(sx)
    fy, fx = sy - y0, sx - x0
    top = np.clip(y0, 0, height - 1).astype(np.intp)
    low = np.clip(y0 + 1, 0, height - 1).astype(np.intp)
    lft = np.clip(x0, 0, width - 1).astype(np.intp)
    rgt = np.clip(x0 + 1, 0, width - 1).astype(np.intp)
    # One row per tap: four contiguous takes are faster than one (N, 4) gather.
    index = np.stack([top * width + lft, top * width + rgt, low * width + lft, low * width + rgt])
    weight = np.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx]).astype(
        np.float32
    )
    return index, weight, outside


def _hashes(buffers: FloatArray) -> list[PDQHash]:
    """PDQ hashes of a stack of 64×64 buffers at once (as ``_quality`` and ``_threshold``)."""
    dcts = (_DCT @ buffers @ _DCT.T).reshape(len(buffers), -1)
    median = np.partition(dcts, 127, axis=1)[:, 127:128]
    packed = np.packbits((dcts > median)[:, ::-1], axis=1)
    vertical = np.trunc((buffers[:, :-1, :] - buffers[:, 1:, :]) * 100 / 255)
    horizontal = np.trunc((buffers[:, :, :-1] - buffers[:, :, 1:]) * 100 / 255)
    totals = np.abs(vertical).sum(axis=(1, 2)) + np.abs(horizontal).sum(axis=(1, 2))
    return [
        PDQHash(bits, min(int(total) // 90, 100))
        for bits, total in zip(packed, totals, strict=True)
    ]


def _dct(plane: FloatArray, rows: FloatArray, cols: FloatArray) -> tuple[FloatArray, int]:
    buffer64 = rows @ (plane @ cols.T)
    dct: FloatArray = _DCT @ buffer64 @ _DCT.T
    return dct, _quality(buffer64)


def _block_factor(shape: tuple[int, ...], *, at_most: bool = False) -> int:
    """The block size :func:`_reduce` uses for a plane of ``shape``."""
    short = min(shape)
    return max(1, -(-short // _WORK_SIDE) if at_most else short // _WORK_SIDE)


def _reduce(
    plane: FloatArray, full_h: int, full_w: int, *, at_most: bool = False
) -> tuple[FloatArray, int]:
    """``plane`` as block means about :data:`_WORK_SIDE` pixels on its short side (at least
    that many, or with ``at_most`` at most that many), and its scale in full-size pixels per
    working pixel."""
    height, width = plane.shape
    decoded = max(-(-full_h // height), -(-full_w // width))
    factor = _block_factor(plane.shape, at_most=at_most)
    if factor > 1:
        # Block means as libjpeg's scaled decode gives them; a partial last block is padded with
        # its edge pixels. Sums of strided views: ten times faster than np.add.reduceat or a
        # mean over reshaped axes.
        out_h, out_w = -(-height // factor), -(-width // factor)
        padded = np.pad(plane, ((0, out_h * factor - height), (0, out_w * factor - width)), "edge")
        rows = sum(padded[i::factor] for i in range(1, factor)) + padded[0::factor]
        blocks = sum(rows[:, j::factor] for j in range(1, factor)) + rows[:, 0::factor]
        plane = (blocks * np.float32(1.0 / (factor * factor))).astype(np.float32)
    return plane, decoded * factor


def _axis(full: int, scaled: int) -> FloatArray:
    # The canonical hash's own (cached) matrices, so ``original`` is bit for bit pdq_from_luma's.
    return _axis_matrix(full, scaled)


@functools.lru_cache(maxsize=512)
def _padded_axis(
    full: int, scaled: int, before: float, after: float
) -> tuple[FloatArray, FloatArray]:
    """PDQ's 64×``scaled`` filter matrix for an axis padded out to undo a crop, and per sample
    the (total, kept) sums of its weights (``[2, 64]``).

    ``before``/``after`` are the shares of the uncropped axis that were cut. The padding fades
    from the edge pixel (kept share 1 at the edge) towards the picture's mean (kept share
    1 - :data:`_FADE` at the outer end): the lost border is unknown, and its best guess far
    from the edge is the average, not the edge repeated. The kept share's filter weights are
    folded onto the edge column here; the mean's share is added by the caller.
    """
    kept = 1.0 - before - after
    pad_before = round(full * before / kept)
    pad_after = round(full * after / kept)
    weights = _full_axis_matrix(full + pad_before + pad_after)
    keep = np.ones(full + pad_before + pad_after, dtype=np.float64)
    if pad_before:
        keep[:pad_before] = 1.0 - _FADE * np.arange(pad_before, 0, -1) / pad_before
    if pad_after:
        keep[pad_before + full :] = 1.0 - _FADE * np.arange(1, pad_after + 1) / pad_after
    faded = weights * keep
    folded = faded[:, pad_before : pad_before + full].copy()
    folded[:, 0] += faded[:, :pad_before].sum(axis=1)
    folded[:, -1] += faded[:, pad_before + full :].sum(axis=1)
    factor = -(-full // scaled)
    if factor > 1:
        folded = np.add.reduceat(folded, np.arange(0, full, factor), axis=1)
    if folded.shape[1] != scaled:
        raise InputError(f"{scaled} is not a DCT-scaled size of {full}")
    sums = np.stack([weights.sum(axis=1), faded.sum(axis=1)]).astype(np.float32)
    result: FloatArray = folded.astype(np.float32)
    return result, sums
