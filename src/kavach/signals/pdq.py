"""PDQ: Meta's 256-bit perceptual hash, written as two small matrix products.

The reference algorithm (ThreatExchange ``pdq/``) is: luma plane → two passes of a Jarosz box
filter along each axis → decimate to 64×64 by sampling → DCT to 16×16 (skipping DC) → one bit per
coefficient, set when it exceeds the median. Every step before the threshold is linear in the luma
plane, so for an ``H×W`` plane the 64×64 buffer is ``R @ Y @ C.T`` with ``R`` (64×H) and ``C``
(64×W) depending only on the dimensions. We build those matrices once per size and cache them.

Speed comes from the decode, not the arithmetic: a JPEG decoded at 1/s scale (libjpeg's DCT
scaling) yields pixels that are close to ``s×s`` block means of the full-size plane. Summing each
block's columns of ``R`` gives the filter that the full-size algorithm would have applied to those
pixels, so the hash of a scaled decode stays within a few bits of the full-size reference.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kavach.errors import InputError, InvalidHashError

__all__ = [
    "DIHEDRAL_NAMES",
    "PDQ_MATCH_THRESHOLD",
    "PDQ_MIN_QUALITY",
    "PDQ_RELIABLE_BITS",
    "PDQ_RELIABLE_GUESS_THRESHOLD",
    "PDQ_RELIABLE_THRESHOLD",
    "PDQHash",
    "hamming",
    "hash_from_hex",
    "hash_to_hex",
    "pdq_from_luma",
    "reliable_masks",
]

PDQ_MATCH_THRESHOLD = 31
"""Hamming distance at or below which two PDQ hashes are taken to match."""
PDQ_MIN_QUALITY = 50
"""Hashes of lower quality are too flat to match reliably."""
PDQ_RELIABLE_BITS = 192
"""Bits of a hash whose DCT coefficients lie farthest from the median: the query's reliable bits.

The other 64 sit so close to the median that a watermark, a crop or a turn flips them at random;
see :attr:`PDQHash.reliable` and docs/robustness.md."""
PDQ_RELIABLE_THRESHOLD = 23
"""Distance on a query's :data:`PDQ_RELIABLE_BITS` reliable bits at or below which it matches
(31 scaled to 192 bits). The closest distinct real photos measured 58 apart this way (a file's
own hash, its turns and trims; benchmarks/false_matches.py)."""
PDQ_RELIABLE_GUESS_THRESHOLD = 19
"""The same for guessed variants (crops, turns), tighter: a guess can undo part of the difference
between two shots of one scene (a stereo pair's crop guess came 26 reliable bits close)."""

DIHEDRAL_NAMES = (
    "original",
    "rot90",
    "rot180",
    "rot270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)
"""Order of dihedral hashes, as the reference CLI prints them."""

FloatArray = npt.NDArray[np.float32]
HashArray = npt.NDArray[np.uint8]

_SIZE = 64
_DCT_SIZE = 16
_PASSES = 2


@dataclass(frozen=True, slots=True)
class PDQHash:
    """A PDQ hash (32 packed bytes, hex order) with its quality (0–100).

    ``reliable``, for a file's own hash computed here (not parsed) and for the variants hashed
    with the ``reliable`` family, is a mask in the same bit order with the
    :data:`PDQ_RELIABLE_BITS` bits set whose coefficients were farthest from the median: a
    lookup may compare those alone (docs/robustness.md, *Reliable bits*).
    """

    hash: HashArray
    quality: int
    reliable: HashArray | None = None

    @property
    def hex(self) -> str:
        return hash_to_hex(self.hash)


def hash_to_hex(packed: HashArray | bytes) -> str:
    """Format 32 packed bytes as the canonical 64-character lowercase hex."""
    data = bytes(packed)
    if len(data) != 32:
        raise InvalidHashError(f"a PDQ hash has 32 bytes, got {len(data)}")
    return data.hex()


def hash_from_hex(text: str) -> HashArray:
    """Parse 64 hex characters into packed ``uint8[32]``, or raise :class:`InvalidHashError`."""
    from kavach.signals.types import SignalType, parse_hash

    return np.frombuffer(parse_hash(SignalType.PDQ, text), dtype=np.uint8).copy()


def hamming(a: HashArray | bytes, b: HashArray | bytes) -> int:
    """Hamming distance between two packed PDQ hashes."""
    x = np.frombuffer(bytes(a), dtype=np.uint8)
    y = np.frombuffer(bytes(b), dtype=np.uint8)
    if x.size != 32 or y.size != 32:
        raise InvalidHashError("PDQ hashes must have 32 bytes each")
    return int(np.bitwise_count(np.bitwise_xor(x, y)).sum())


def pdq_from_luma(
    luma: npt.ArrayLike,
    *,
    full_height: int | None = None,
    full_width: int | None = None,
    dihedral: bool = False,
) -> list[PDQHash]:
    """Hash a luma plane (``H×W``, 0–255) with PDQ.

    ``full_height``/``full_width`` give the size of the image the plane was scaled down from
    (by a JPEG DCT-scaled decode); the filter is then adapted so the hash approximates the one of
    the full-size image. Returns one hash, or the eight dihedral hashes in
    :data:`DIHEDRAL_NAMES` order when ``dihedral`` is true.
    """
    _single_threaded_blas()
    plane = np.asarray(luma, dtype=np.float32)
    if plane.ndim != 2 or plane.shape[0] < 1 or plane.shape[1] < 1:
        raise InputError(f"PDQ needs a non-empty 2-D luma plane, got shape {plane.shape}")
    height, width = plane.shape
    rows = _axis_matrix(full_height or height, height)
    cols = _axis_matrix(full_width or width, width)
    buffer64 = rows @ (plane @ cols.T)
    quality = _quality(buffer64)
    dct = _DCT @ buffer64 @ _DCT.T
    # Only the file's own hash gets a mask: the matcher never compares flips on their reliable
    # bits, and eight masks would cost ~100 µs on every `--dihedral` hash.
    mask = _reliable(dct)
    if not dihedral:
        return [PDQHash(_threshold(dct), quality, mask)]
    return [
        PDQHash(_threshold(variant), quality, mask if k == 0 else None)
        for k, variant in enumerate(_dihedral_dcts(dct))
    ]


@functools.cache
def _single_threaded_blas() -> None:
    # The products here are small (a few MFLOP). A multi-threaded BLAS spins up every core for
    # each one and, when another process holds a core, waits for it: measured 3.2 ms -> 8.8 ms
    # per image on a busy 2-core machine. Kavach parallelises by processes instead.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _dct_matrix() -> FloatArray:
    i = np.arange(1, _DCT_SIZE + 1, dtype=np.float64)[:, None]
    j = np.arange(_SIZE, dtype=np.float64)[None, :]
    matrix: FloatArray = (
        np.sqrt(2.0 / _SIZE) * np.cos((np.pi / 2 / _SIZE) * i * (2 * j + 1))
    ).astype(np.float32)
    return matrix


_DCT = _dct_matrix()


@functools.lru_cache(maxsize=256)
def _axis_matrix(full: int, scaled: int) -> FloatArray:
    """The 64×``scaled`` matrix that filters and decimates one axis.

    Built for the full-size axis of ``full`` pixels, then each group of full-size pixels that one
    scaled pixel stands for is summed into one column.
    """
    if scaled > full:
        raise InputError(f"scaled size {scaled} exceeds full size {full}")
    weights = _full_axis_matrix(full)
    if scaled == full:
        return weights.astype(np.float32)
    factor = -(-full // scaled)  # libjpeg's output is ceil(full / factor)
    if -(-full // factor) != scaled:
        raise InputError(f"{scaled} is not a DCT-scaled size of {full}")
    starts = np.arange(0, full, factor)
    summed: FloatArray = np.add.reduceat(weights, starts, axis=1).astype(np.float32)
    return summed


def _full_axis_matrix(length: int) -> npt.NDArray[np.float64]:
    """Rows of the reference box filter (two passes) sampled at the 64 decimation points."""
    window = (length + 2 * _SIZE - 1) // (2 * _SIZE)
    half = (window + 2) // 2
    left, right = window - half, half - 1
    samples = ((np.arange(_SIZE) + 0.5) * length / _SIZE).astype(np.int64)
    # Each output row is a one-hot at the sample point pushed back through the filter passes:
    # the transpose of "mean over [o-left, o+right] clipped to the axis".
    positions = np.arange(length)
    counts = np.minimum(positions + right, length - 1) - np.maximum(positions - left, 0) + 1
    weights = np.zeros((_SIZE, length), dtype=np.float64)
    weights[np.arange(_SIZE), samples] = 1.0
    for _ in range(_PASSES):
        scaled = weights / counts
        # transpose of the box mean: input k receives from outputs o with k-right <= o <= k+left
        csum = np.concatenate([np.zeros((_SIZE, 1)), np.cumsum(scaled, axis=1)], axis=1)
        lo = np.clip(positions - right, 0, length)
        hi = np.clip(positions + left + 1, 0, length)
        weights = csum[:, hi] - csum[:, lo]
    return weights


def _quality(buffer64: FloatArray) -> int:
    # Same integer truncation as the reference, so qualities agree exactly on equal buffers.
    vertical = np.trunc((buffer64[:-1, :] - buffer64[1:, :]) * 100 / 255)
    horizontal = np.trunc((buffer64[:, :-1] - buffer64[:, 1:]) * 100 / 255)
    total = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(total // 90, 100)


def _threshold(dct: FloatArray) -> HashArray:
    flat = dct.reshape(-1)
    median = np.partition(flat, 127)[127]
    # Bit k = row*16 + col; the hex form prints bit 255 first, so reverse before packing.
    bits = (flat > median)[::-1]
    return np.packbits(bits)


def _reliable(dct: FloatArray) -> HashArray:
    mask: HashArray = reliable_masks(dct.reshape(1, -1))[0]
    return mask


def reliable_masks(dcts: FloatArray) -> HashArray:
    """Packed masks (``uint8[n, 32]``, hash bit order) of the :data:`PDQ_RELIABLE_BITS` bits
    farthest from the median, for a stack of ``n`` DCTs (``[n, 16, 16]`` or ``[n, 256]``)."""
    flat = dcts.reshape(len(dcts), -1)
    median = np.partition(flat, 127, axis=1)[:, 127:128]
    margin = np.abs(flat - median)
    top = np.argpartition(margin, flat.shape[1] - PDQ_RELIABLE_BITS, axis=1)
    strong = np.zeros(flat.shape, dtype=np.bool_)
    np.put_along_axis(strong, top[:, -PDQ_RELIABLE_BITS:], True, axis=1)
    return np.packbits(strong[:, ::-1], axis=1)


# Flipping the image along an axis multiplies the DCT coefficient of frequency k by (-1)^k;
# row/col index i holds frequency i + 1, so even indices change sign.
_FLIP_SIGN = np.where(np.arange(_DCT_SIZE) % 2 == 1, 1.0, -1.0).astype(np.float32)


def _dihedral_dcts(dct: FloatArray) -> list[FloatArray]:
    row_sign = _FLIP_SIGN[:, None]
    col_sign = _FLIP_SIGN[None, :]
    flip_vertical = dct * row_sign  # rows reversed (upside down)
    flip_horizontal = dct * col_sign  # columns reversed (mirror)
    rot180 = dct * row_sign * col_sign
    transpose = dct.T
    return [
        dct,
        (dct * col_sign).T,  # rot90
        rot180,
        (dct * row_sign).T,  # rot270
        flip_vertical,
        flip_horizontal,
        transpose,
        rot180.T,
    ]
