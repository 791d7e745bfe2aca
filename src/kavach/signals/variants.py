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
  The padding fades from the edge pixels to the picture's mean; as a linear map it folds into
  PDQ's filter matrices, so a crop variant costs one small banded product. ``cropgrid:t2b8l0r10``
  (family ``cropgrid``) guesses crops off-centre in both directions, and ``crop:c8+mirror`` is
  a centred guess mirrored (with ``dihedral`` on), for a copy both mirrored and trimmed.
- ``rotate:±1.5``, ``±3``, ``±4.5``: the query turned back (``rotate:-3`` undoes a copy
  turned 3° counter-clockwise), sampled from the small working plane at PDQ's turned sample
  points.

``docs/robustness.md`` explains each with its measured recall, false matches and cost
(``benchmarks/robustness.py``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import numpy.typing as npt

from kavach.errors import InputError
from kavach.signals.pdq import (
    _DCT,
    _FLIP_SIGN,
    DIHEDRAL_NAMES,
    PDQ_RELIABLE_BITS,
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
    "CROP_GRID_VARIANTS",
    "CROP_VARIANTS",
    "DEFAULT_VARIANTS",
    "FAST_VARIANTS",
    "GUESSED_VARIANTS",
    "GUESS_THRESHOLD",
    "RELIABLE_FAMILIES",
    "RELIABLE_ONLY_FAMILIES",
    "PDQVariant",
    "VariantArrays",
    "bank_variants",
    "content_box",
    "parse_variants",
    "pdq_variant_arrays",
    "pdq_variants",
    "variant_allowed",
    "variant_family",
]

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]
_SIZE = 64
_EXACT_DIHEDRAL_BELOW = 512

ALL_VARIANTS = ("dihedral", "trim", "crop", "rotate", "reliable", "cropgrid")
"""Variant families, as ``--variants`` and :class:`~kavach.match.MatchPolicy` name them.

``reliable`` is not a hash of its own: it lets every hash looked up also match on its reliable
bits alone (:data:`~kavach.signals.pdq.PDQ_RELIABLE_BITS`; docs/robustness.md)."""
DEFAULT_VARIANTS: frozenset[str] = frozenset(ALL_VARIANTS)
"""Families looked up by default: all of them, as none adds a false match in the robustness
benchmarks (generated scenes and 815 real photographs; docs/robustness.md).

A bank can accept fewer (``kavach bank create --variants``); a command can ask for fewer
(``kavach scan --variants``), e.g. :data:`FAST_VARIANTS`.
"""

FAST_VARIANTS: frozenset[str] = DEFAULT_VARIANTS - {"cropgrid"}
"""``--variants fast``: all but ``cropgrid``, whose 41 guesses at crops off-centre in both
directions are more than half of an image's index lookups (docs/robustness.md, *Speed*)."""

GUESSED_VARIANTS: frozenset[str] = frozenset({"crop", "rotate", "cropgrid"})
"""Families that guess at an edit (how much was cut, how far it was turned) rather than undo a
detected one; :attr:`~kavach.match.MatchPolicy.guess_threshold` applies to them."""

RELIABLE_FAMILIES: frozenset[str] = frozenset({"original", "trim", "crop", "rotate", "cropgrid"})
"""The hashes that the ``reliable`` family also compares on their reliable bits: not the seven
flips and turns, which gained nothing measurable (benchmarks/robustness.py) while a reliable
lookup costs 2-3x a whole-hash one (docs/index.md)."""

RELIABLE_ONLY_FAMILIES: frozenset[str] = frozenset({"cropgrid"})
"""Families looked up by their reliable bits alone when ``reliable`` is on (else whole, as any
other): every crop the grid found in the benchmarks it found that way too (suite and 200 real
photographs, to the image), and its 41 whole-hash lookups were about a quarter of an image's
index time (docs/robustness.md, *Speed*)."""

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


def _crop_grid() -> tuple[tuple[str, float, float, float, float], ...]:
    # Crops that keep the picture's shape (the same share cut across and down), 5% and 10% of
    # each axis, the cut split between the two sides in steps of 2.5% (5%) and 2% (10%): about
    # 1% either side of a guess is what PDQ's reliable bits forgive (on 200 real photos 10%
    # crops at random places were found 77.5% of the time with 2.5% steps, 87% with 2%; coarser
    # steps 40-72%; docs/robustness.md). Shapes CROP_VARIANTS already guesses are left out.
    known = {tuple(guess[1:]) for guess in CROP_VARIANTS}
    out = []
    for total, step in ((0.05, 0.025), (0.10, 0.02)):
        splits = [round(k * step, 3) for k in range(round(total / step) + 1)]
        for top in splits:
            for left in splits:
                cut = (top, round(total - top, 3), left, round(total - left, 3))
                if cut not in known:
                    name = "cropgrid:" + "".join(
                        f"{side}{100 * share:g}" for side, share in zip("tblr", cut, strict=True)
                    )
                    out.append((name, *cut))
    return tuple(out)


CROP_GRID_VARIANTS = _crop_grid()
"""The ``cropgrid`` family: crops off-centre in both directions (``cropgrid:t2b8l0r10``
assumes 2% was cut from the top, 8% from the bottom, none from the left, 10% from the
right)."""

ROTATE_DEGREES = (1.5, -1.5, 3.0, -3.0, 4.5, -4.5)
"""Turns undone: PDQ itself shrugs off under a degree. On the whole hash alone half a degree off
the guess cost beyond 3° (hence ±4 and ±5 once); with the reliable bits, ±4.5 finds 4° and 5°
copies as well (95.7 / 93.6%, against 95.7 / 95.7% with ±4 and ±5) for two lookups fewer per
image (benchmarks/robustness.py)."""

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

# The families that add hashes of their own, and those of them that need the working plane.
_HASHED_FAMILIES = frozenset({"dihedral", "trim", "crop", "rotate", "cropgrid"})
_WORKING_PLANE_FAMILIES = frozenset({"trim", "crop", "rotate", "cropgrid"})
_DIHEDRAL_VARIANTS = [f"dihedral:{name}" for name in DIHEDRAL_NAMES[1:]]
# The centred crop guesses (CROP_VARIANTS lists them first), also looked up mirrored when the
# dihedral family is on: ``crop:c8+mirror``.
_CENTRED_CROPS = [name for name, t, b, left, r in CROP_VARIANTS if t == b == left == r]
_MIRRORED = "+mirror"
_MIRRORED_CROP_NAMES = [f"{name}{_MIRRORED}" for name in _CENTRED_CROPS]
_MIRROR_SIGN = _FLIP_SIGN[None, None, :]  # a stack of DCTs' columns, as pdq._dihedral_dcts
_ROTATE_VARIANTS = [f"rotate:{degrees:+g}" for degrees in ROTATE_DEGREES]
_TURNS = len(ROTATE_DEGREES)
# Buffers one image can fill: the original, 7 flips and turns, a trimmed box per round, the
# guesses.
_MAX_BUFFERS = 1 + 7 + _ROUNDS + len(CROP_VARIANTS) + len(CROP_GRID_VARIANTS) + _TURNS
_NO_BUFFERS = np.empty((0, _SIZE, _SIZE), dtype=np.float32)
_ONE_PAIR = np.zeros((1, 2), dtype=np.intp)
# (row filter, column filter) of the exact dihedral buffers, filters 0 as listed, 1 flipped:
# flipy (mirrored columns), rot180 (both flipped), flipx (flipped rows).
_DIHEDRAL_PAIRS = np.asarray([(0, 1), (1, 1), (1, 0)], dtype=np.intp)
# Which buffer each hash is computed from, and whether transposed: the original from its own
# (the stack's first), the exact dihedral ones (rot90 … flipminus1) from the original, flipy,
# rot180 and flipx buffers (_exact_dihedral), the rest from their own.
_EXACT_SOURCES = np.concatenate([[0, 1, 2, 3, 3, 1, 0, 2], np.arange(4, _MAX_BUFFERS)])
_EXACT_TRANSPOSED = np.concatenate(
    [[False, True, False, True, False, False, True, True], np.zeros(_MAX_BUFFERS, dtype=np.bool_)]
)
_IN_ORDER = np.arange(_MAX_BUFFERS)
_AS_IS = np.zeros(_MAX_BUFFERS, dtype=np.bool_)


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
    """Parse ``dihedral,trim,...`` (``all``, ``none``, ``default`` or ``fast`` also accepted)."""
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    if names in ({"none"}, set()):
        return frozenset()
    if names == {"all"}:
        return frozenset(ALL_VARIANTS)
    if names == {"default"}:
        return DEFAULT_VARIANTS
    if names == {"fast"}:
        return FAST_VARIANTS
    unknown = names - set(ALL_VARIANTS)
    if unknown:
        raise InputError(
            f"unknown variant {sorted(unknown)[0]!r}; choose from {', '.join(ALL_VARIANTS)}, "
            "all, none, default or fast"
        )
    return frozenset(names)


def variant_family(name: str) -> str:
    """The family a variant name belongs to (``crop:c8`` → ``crop``; ``original`` for itself)."""
    head = name.partition(":")[0]
    return _FAMILIES.get(head, head)


_FAMILIES = {"trimmed": "trim"}


@functools.lru_cache(maxsize=1024)
def variant_allowed(name: str, families: frozenset[str]) -> bool:
    """Whether a variant is looked up under ``families``: its family is among them, and a
    mirrored guess (``crop:c8+mirror``) also needs ``dihedral``. Cached: a few dozen names
    recur in every image."""
    if name.endswith(_MIRRORED):
        return "dihedral" in families and variant_family(name) in families
    return variant_family(name) in families


@dataclass(frozen=True, slots=True)
class VariantArrays:
    """The hashes of :func:`pdq_variant_arrays`, row ``k`` named ``names[k]``."""

    names: list[str]
    packed: npt.NDArray[np.uint8]
    """``[n, 32]`` packed hashes, hex order."""
    qualities: list[int]
    reliable: npt.NDArray[np.uint8] | None
    """``[n, 32]`` reliable-bit masks, with the ``reliable`` family (else ``None``)."""


def pdq_variants(
    luma: npt.ArrayLike,
    *,
    full_height: int | None = None,
    full_width: int | None = None,
    families: Iterable[str] = DEFAULT_VARIANTS,
) -> list[PDQVariant]:
    """The canonical PDQ hash of a luma plane (first, named ``original``) and its variants.

    ``full_height``/``full_width`` are as for :func:`~kavach.signals.pdq.pdq_from_luma`; the
    original is bit for bit what that function returns. Two variants may share a hash (a
    symmetric picture's flips); the matcher looks each value up once. Flips, turns and the crop
    and turn guesses carry the original's quality; trimmed boxes their own.
    """
    found = pdq_variant_arrays(
        luma, full_height=full_height, full_width=full_width, families=families
    )
    if found.reliable is None:
        return [
            PDQVariant(name, PDQHash(bits, quality))
            for name, bits, quality in zip(found.names, found.packed, found.qualities, strict=True)
        ]
    return [
        PDQVariant(name, PDQHash(bits, quality, mask))
        for name, bits, quality, mask in zip(
            found.names, found.packed, found.qualities, found.reliable, strict=True
        )
    ]


def pdq_variant_arrays(
    luma: npt.ArrayLike,
    *,
    full_height: int | None = None,
    full_width: int | None = None,
    families: Iterable[str] = DEFAULT_VARIANTS,
) -> VariantArrays:
    """:func:`pdq_variants` as arrays, for a caller that wants the hashes as bytes or hex: ~70
    PDQVariant and PDQHash objects cost ~2 µs each, a fifth of what hashing them costs."""
    _single_threaded_blas()
    wanted = frozenset(families)
    plane = np.asarray(luma, dtype=np.float32)
    if plane.ndim != 2 or plane.shape[0] < 1 or plane.shape[1] < 1:
        raise InputError(f"PDQ needs a non-empty 2-D luma plane, got shape {plane.shape}")
    full_h = full_height or plane.shape[0]
    full_w = full_width or plane.shape[1]
    rows, cols = _axis(full_h, plane.shape[0]), _axis(full_w, plane.shape[1])
    buffer64 = rows @ (plane @ cols.T)
    dct = _DCT @ buffer64 @ _DCT.T
    # With the reliable family every hash carries its reliable-bit mask, as pdq_from_luma's do
    # (the kernel computes pdq.reliable_masks' set at a twentieth of its cost).
    masks = "reliable" in wanted
    if not wanted & _HASHED_FAMILIES:
        return VariantArrays(
            ["original"],
            _threshold(dct)[None],
            [_quality(buffer64)],
            _masks_of(dct[None]) if masks else None,
        )
    kernels = _kernels()
    exact = min(full_h, full_w) < _EXACT_DIHEDRAL_BELOW
    # Every hash but the large pictures' dihedral ones comes from a 64×64 buffer: they are
    # filled into one stack, the original's first, and hashed together.
    stack = _stack()
    stack[0] = buffer64
    names: list[str] = []
    filled = 1
    if "dihedral" in wanted and exact:
        filled = _exact_dihedral(plane, full_h, full_w, stack)
    if wanted & _WORKING_PLANE_FAMILIES:
        # Everything else works on a small plane (block means, as a DCT-scaled decode gives), so
        # a variant costs little even when the file was decoded at full size.
        work, factor = _reduce(plane, full_h, full_w)
        mean = _mean(work)
        if "trim" in wanted:
            names += _trimmed(work, factor, stack[filled:])
        crop, grid = "crop" in wanted, "cropgrid" in wanted
        crops_at = filled + len(names)
        if crop or grid:
            # The crop guesses take a plane of at most _WORK_SIDE pixels, which found 10% crops
            # more often; trimming and turning keep the finer one (5° turns needed it).
            if _block_factor(plane.shape, at_most=True) == _block_factor(plane.shape):
                names += _uncropped(work, factor, mean, stack[filled + len(names) :], crop, grid)
            else:
                coarse, coarse_factor = _reduce(plane, full_h, full_w, at_most=True)
                names += _uncropped(
                    coarse, coarse_factor, _mean(coarse), stack[filled + len(names) :], crop, grid
                )
        if "rotate" in wanted:
            taps = _rotation_taps(*work.shape, factor, full_h, full_w)
            start = filled + len(names)
            kernels.turned(work, *taps, mean, stack[start : start + _TURNS])
            names += _ROTATE_VARIANTS
    filled += len(names)
    buffers = stack[:filled]
    crop_mirrors = "crop" in wanted and "dihedral" in wanted
    # One product for every buffer's columns, then the small row products; the original's
    # DCT is pdq_from_luma's own, so its hash is bit for bit that function's.
    dcts = _DCT @ (buffers.reshape(-1, _SIZE) @ _DCT.T).reshape(filled, _SIZE, -1)
    dcts[0] = dct
    if "dihedral" in wanted and exact:
        names = ["original", *_DIHEDRAL_VARIANTS, *names]
        source, transposed = _EXACT_SOURCES, _EXACT_TRANSPOSED
    else:
        names = ["original", *names]
        source, transposed = _IN_ORDER, _AS_IS
    # A guess (crop, grid, turn) is the picture re-framed, so it is gated on the picture's
    # quality rather than its own: its made-up border (a fade to the mean) would only lower it,
    # and a quality pass over each of ~65 guess buffers cost ~75 µs an image.
    guessed_from = crops_at if wanted & GUESSED_VARIANTS else filled
    packed, qualities, reliable = _hash_stack(
        dcts, buffers[:guessed_from], source, transposed, len(names), masks
    )
    qualities[qualities < 0] = qualities[0]
    if crop_mirrors:
        # The centred crop guesses mirrored, for a copy both mirrored and trimmed evenly (a
        # re-post's usual pair of edits): a mirror flips the sign of the DCT's even columns
        # (pdq._dihedral_dcts), exactly for the buffer itself, so these cost a hash each and no
        # filtering.
        centred = slice(crops_at, crops_at + len(_CENTRED_CROPS))
        mirrored, _, mirrored_masks = _hash_stack(
            dcts[centred] * _MIRROR_SIGN,
            _NO_BUFFERS,
            _IN_ORDER,
            _AS_IS,
            len(_CENTRED_CROPS),
            masks,
        )
        names += _MIRRORED_CROP_NAMES
        packed = np.concatenate([packed, mirrored])
        qualities = np.concatenate([qualities, np.repeat(qualities[:1], len(_CENTRED_CROPS))])
        if masks:
            reliable = np.concatenate([reliable, mirrored_masks])
    if "dihedral" in wanted and not exact:
        # Sign flips and transposes of the original's DCT (pdq._dihedral_dcts), which share
        # its quality; they follow the original.
        turned = np.stack(_dihedral_dcts(dct)[1:])
        flipped, _, flipped_masks = _hash_stack(
            turned, _NO_BUFFERS, _IN_ORDER, _AS_IS, len(turned), masks
        )
        names[1:1] = _DIHEDRAL_VARIANTS
        packed = np.concatenate([packed[:1], flipped, packed[1:]])
        qualities = np.concatenate(
            [qualities[:1], np.repeat(qualities[:1], len(turned)), qualities[1:]]
        )
        if masks:
            reliable = np.concatenate([reliable[:1], flipped_masks, reliable[1:]])
    return VariantArrays(names, packed, qualities.tolist(), reliable if masks else None)


def content_box(plane: npt.ArrayLike) -> list[tuple[int, int, int, int]]:
    """Boxes ``(top, bottom, left, right)`` (end exclusive) of the content inside bars.

    Each box trims one layer more than the last: a round trims the thickest near-uniform band
    found on any side (captions included) and every other side's band of the same colour, so a
    screenshot peels status bar, app bar, then the letterbox around the photo, each in its own
    round. Empty when nothing was trimmed.

    A side's outermost band is a bar when its first line is flat (:data:`_BAR_LINE` of its
    pixels within :data:`_FLAT` grey levels of the line's median) and the band, up to its last
    flat line, is :data:`_BAR_BAND` within :data:`_TOLERANCE` levels of that colour, so caption
    strips go with their text. Lines that open and close a bar are flat, as drawn bars are and
    a photo's smooth edge (sky, a wall) rarely is after averaging.
    """
    grey = np.ascontiguousarray(plane, dtype=np.float32)
    if grey.ndim != 2:
        raise InputError(f"content_box needs a 2-D plane, got shape {grey.shape}")
    return [tuple(box) for box in _content_boxes(grey).tolist()]


def _mean(plane: FloatArray) -> float:
    """``float(plane.mean())`` (the same float32 pairwise sum) without ``mean``'s Python layer."""
    # NumPy's mean: a float32 sum, divided in float64 and rounded back to float32.
    return float(np.float32(float(np.add.reduce(plane, axis=None)) / plane.size))


def _masks_of(dcts: FloatArray) -> npt.NDArray[np.uint8]:
    """Reliable-bit masks of a stack of DCTs."""
    return _hash_stack(dcts, _NO_BUFFERS, _IN_ORDER, _AS_IS, len(dcts), True)[2]


def _hash_stack(
    dcts: FloatArray,
    buffers: FloatArray,
    source: IntArray,
    transposed: npt.NDArray[np.bool_],
    count: int,
    masks: bool,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Bits, qualities and (when ``masks``, else no rows) reliable-bit masks of ``count``
    hashes, in one kernel call (see ``_variant_kernels.hash_stack``)."""
    packed = np.empty((count, 32), dtype=np.uint8)
    qualities = np.empty(count, dtype=np.int64)
    reliable = np.empty((count if masks else 0, 32), dtype=np.uint8)
    _kernels().hash_stack(
        dcts,
        buffers,
        source[:count],
        transposed[:count],
        packed,
        qualities,
        reliable,
        PDQ_RELIABLE_BITS,
    )
    return packed, qualities, reliable


def _content_boxes(grey: FloatArray) -> npt.NDArray[np.int64]:
    boxes: npt.NDArray[np.int64] = _kernels().content_boxes(
        grey, _ROUNDS, _TOLERANCE, _FLAT, _BAR_LINE, _BAR_BAND, _MAX_BAR, _MIN_CONTENT, _MIN_PIXELS
    )
    return boxes


def _trimmed(work: FloatArray, factor: int, stack: FloatArray) -> list[str]:
    """Fill ``stack`` with the buffers of the trimmed boxes worth looking up; their names."""
    boxes = _content_boxes(work).tolist()
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
    for slot, (_, (top, bottom, left, right)) in enumerate(chosen):
        height, width = bottom - top, right - left
        row_band = _axis_band(height * factor, height)
        col_band = _axis_band(width * factor, width)
        _kernels().separable(
            work[top:bottom, left:right], *row_band, *col_band, _ONE_PAIR, stack[slot : slot + 1]
        )
    return [name for name, _ in chosen]


def _exact_dihedral(plane: FloatArray, full_h: int, full_w: int, stack: FloatArray) -> int:
    """Fill ``stack`` with the buffers the seven turns and flips are hashed from, computed from
    the turned plane itself, after the original's in ``stack[0]``; how many the stack then holds
    (:data:`_EXACT_SOURCES` says which serves which).

    PDQ samples pixel ``floor((i + 0.5) * L / 64)``, a grid that is not its own mirror image: a
    flip moves it by one pixel. On a large picture that is nothing, and the DCT sign flips are
    exact enough; below :data:`_EXACT_DIHEDRAL_BELOW` pixels it cost up to 96 bits (measured on
    256-pixel photos), so the flipped filters are applied instead (the planes are small there).
    Transposed pictures swap rows and columns (buffer = C Pᵀ Rᵀ = (R P Cᵀ)ᵀ) and a transposed
    buffer's DCT is the transposed DCT, so the original's buffer and three products give all
    seven.
    """
    row_bands, col_bands = _dihedral_bands(full_h, plane.shape[0], full_w, plane.shape[1])
    _kernels().separable(plane, *row_bands, *col_bands, _DIHEDRAL_PAIRS, stack[1:4])
    return 4


@functools.lru_cache(maxsize=64)
def _dihedral_bands(
    full_h: int, height: int, full_w: int, width: int
) -> tuple[tuple[IntArray, FloatArray], tuple[IntArray, FloatArray]]:
    rows, cols = _axis(full_h, height), _axis(full_w, width)
    return _bands([rows, rows[:, ::-1]]), _bands([cols, cols[:, ::-1]])


def _uncropped(
    work: FloatArray,
    factor: int,
    mean: float,
    stack: FloatArray,
    crop: bool,
    grid: bool,
) -> list[str]:
    """Fill ``stack`` with the buffers of the crop guesses (``crop``: :data:`CROP_VARIANTS`,
    ``grid``: :data:`CROP_GRID_VARIANTS`), the plane filtered as if padded back out; their
    names."""
    height, width = work.shape
    guesses, names = _guesses(crop, grid)
    row_bands, col_bands, pairs, sums = _crop_bands(
        height * factor, height, width * factor, width, crop, grid
    )
    # The padding fades from the edge pixels to the picture's mean (see _padded_axis): the
    # mean's share of each sample is 1 - (kept share along rows) x (kept share along columns),
    # a rank-2 term per variant.
    _kernels().uncropped(work, *row_bands, *col_bands, pairs, stack[: len(guesses)], mean, *sums)
    return names


@functools.cache
def _guesses(
    crop: bool, grid: bool
) -> tuple[tuple[tuple[str, float, float, float, float], ...], list[str]]:
    """The crop guesses looked up (``crop``, then ``grid``'s) and their names, made once: a
    list of 58 names cost ~10 µs per image."""
    guesses = (CROP_VARIANTS if crop else ()) + (CROP_GRID_VARIANTS if grid else ())
    return guesses, [name for name, *_ in guesses]


@functools.lru_cache(maxsize=64)
def _crop_bands(
    full_h: int,
    height: int,
    full_w: int,
    width: int,
    crop: bool,
    grid: bool,
) -> tuple[
    tuple[IntArray, FloatArray],
    tuple[IntArray, FloatArray],
    npt.NDArray[np.intp],
    tuple[FloatArray, FloatArray, FloatArray, FloatArray],
]:  # fmt: skip
    """The distinct row and column filters of the crop guesses (as bands), the (row, column)
    filter pair of each guess, and per guess the (total, kept) weight sums per sample along
    rows and along columns; keyed by the families, not the guesses (hashing 58 tuples cost
    ~3 µs a lookup)."""
    guesses = _guesses(crop, grid)[0]
    row_keys = list(dict.fromkeys((t, b) for _, t, b, _l, _r in guesses))
    col_keys = list(dict.fromkeys((left, right) for _, _t, _b, left, right in guesses))
    row_axes = [_padded_axis(full_h, height, *key) for key in row_keys]
    col_axes = [_padded_axis(full_w, width, *key) for key in col_keys]
    pairs = np.asarray(
        [(row_keys.index((t, b)), col_keys.index((lf, rt))) for _, t, b, lf, rt in guesses],
        dtype=np.intp,
    )
    row_sums = np.stack([sums for _, sums in row_axes])[pairs[:, 0]]
    col_sums = np.stack([sums for _, sums in col_axes])[pairs[:, 1]]
    sums = (row_sums[:, 0], row_sums[:, 1], col_sums[:, 0], col_sums[:, 1])
    return (
        _bands([matrix for matrix, _ in row_axes]),
        _bands([matrix for matrix, _ in col_axes]),
        pairs,
        tuple(np.ascontiguousarray(s) for s in sums),  # type: ignore[return-value]
    )


@functools.lru_cache(maxsize=64)
def _rotation_taps(
    height: int, width: int, factor: int, full_h: int, full_w: int
) -> tuple[npt.NDArray[np.int32], FloatArray]:
    """Bilinear taps of every turned sample point of a plane shape: the flat index of its
    top-left tap in the blurred plane with a one-pixel border (-1 where the point falls outside
    the picture) and its offsets down and across from it; cached, as a scan meets the same few
    shapes again and again.

    The copy is turned back by sampling the small working plane at PDQ's 64×64 sample points
    turned about the centre. Sampling the plane (lightly blurred, as PDQ's own filter is at
    this scale) before any 64×64 buffer exists keeps the copy's black corner wedges out of the
    picture: turning the filtered buffer instead smeared them inwards and interpolated on a
    grid too coarse, and found 64% of 5° turns against 77-81% here. Sample points that fall
    outside the copy (the original's lost corners) take the plane's mean.
    """
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
    # The border repeats the edge pixels: a tap one pixel outside reads what clipping would.
    index = ((y0 + 1) * (width + 2) + (x0 + 1)).astype(np.int32)
    index[outside] = -1
    fraction = np.stack([sy - y0, sx - x0]).astype(np.float32)
    return index, fraction


def _bands(matrices: list[FloatArray]) -> tuple[IntArray, FloatArray]:
    """Filter matrices (each 64×N, the same N) as bands of a common width: per sample, the
    first pixel weighed and the weights from there (``[filters, 64]``, ``[filters, 64, K]``).

    PDQ's filter touches a few neighbouring pixels per sample at the variants' scale, so the
    bands hold every nonzero weight in a few columns instead of N."""
    stacked = np.stack(matrices).astype(np.float32)
    length = stacked.shape[2]
    nonzero = stacked != 0
    first = np.where(nonzero.any(axis=2), nonzero.argmax(axis=2), 0)
    last = np.where(nonzero.any(axis=2), length - 1 - nonzero[:, :, ::-1].argmax(axis=2), 0)
    width = int((last - first).max()) + 1
    start = np.minimum(first, length - width).astype(np.intp)
    columns = start[:, :, None] + np.arange(width)
    weights = np.take_along_axis(stacked, columns, axis=2)
    return start, np.ascontiguousarray(weights)


@functools.lru_cache(maxsize=256)
def _axis_band(full: int, scaled: int) -> tuple[IntArray, FloatArray]:
    return _bands([_axis(full, scaled)])


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
        # its edge pixels.
        plane = _kernels().block_means(plane, factor)
    return plane, decoded * factor


_SCRATCH = threading.local()


def _stack() -> FloatArray:
    """This thread's stack of 64×64 buffers, reused from call to call: no hash keeps a
    reference to it, and a fresh 650 KB array each call is fresh memory to the CPU's caches."""
    stack: FloatArray | None = getattr(_SCRATCH, "stack", None)
    if stack is None:
        stack = _SCRATCH.stack = np.empty((_MAX_BUFFERS, _SIZE, _SIZE), dtype=np.float32)
    return stack


@functools.cache
def _kernels() -> ModuleType:
    # Imported on first use: numba costs a process that only hashes plainly nothing.
    from kavach.signals import _variant_kernels

    return _variant_kernels


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
