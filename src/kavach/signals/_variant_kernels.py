"""Compiled inner loops of the query-side PDQ variants (numba, cached on disk).

PDQ's filter, at the scale the variants work on (a plane of about 150 pixels), touches only 2-7
neighbouring pixels per sample: as dense matrices the variants' products were ~97% multiplications
by zero, and NumPy's per-call overhead on 30-odd small arrays cost as much again. These loops
apply the same filters as bands (first weight and a few weights per sample) and hash a stack of
buffers in one call. Like :mod:`kavach.index._kernels` they trust their inputs (numba does no
bounds checking): :mod:`kavach.signals.variants` builds every band and index itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

_SIZE = 64
_DCT_SIZE = 16
_BLOCK = 8
_HIGHEST = 100 * 90  # a quality total from which on the quality is 100


@njit(cache=True, nogil=True, inline="always")
def _banded_rows(dst: Any, d0: int, d1: int, src: Any, s: int, first: int, weights: Any) -> None:
    """``dst[d0, d1, :] = sum_k weights[k] * src[s, first + k, :]`` (whole rows).

    The common band widths are written out, so the compiler vectorises along the row and
    keeps the sum in registers; a generic loop over the band measured twice as slow."""
    k = weights.shape[0]
    n = dst.shape[2]
    w0 = weights[0]
    if k == 1:
        for x in range(n):
            dst[d0, d1, x] = w0 * src[s, first, x]
        return
    w1 = weights[1]
    if k == 2:
        for x in range(n):
            dst[d0, d1, x] = w0 * src[s, first, x] + w1 * src[s, first + 1, x]
        return
    w2 = weights[2]
    if k == 3:
        for x in range(n):
            dst[d0, d1, x] = (
                w0 * src[s, first, x] + w1 * src[s, first + 1, x] + w2 * src[s, first + 2, x]
            )
        return
    w3 = weights[3]
    for x in range(n):
        dst[d0, d1, x] = (
            w0 * src[s, first, x]
            + w1 * src[s, first + 1, x]
            + w2 * src[s, first + 2, x]
            + w3 * src[s, first + 3, x]
        )
    for a in range(4, k):
        w = weights[a]
        for x in range(n):
            dst[d0, d1, x] += w * src[s, first + a, x]


@njit(cache=True, nogil=True)
def separable(
    plane: Any,
    row_start: Any,
    row_weight: Any,
    col_start: Any,
    col_weight: Any,
    pairs: Any,
    out: Any,
) -> None:
    """``out[v] = R[pairs[v, 0]] @ plane @ C[pairs[v, 1]].T`` for banded filter matrices.

    Filter ``k`` of an axis is 64 bands: sample ``i`` weighs pixels ``start[k, i]`` onwards by
    ``weight[k, i, :]`` (zero-padded to a common width). Both passes add whole rows (a short
    dot product per sample instead measured 2-3x slower): the column filters run on the
    transposed plane, once per distinct filter, and their result is transposed back for the
    row filters of every pair that shares it.
    """
    none = np.empty((0, _SIZE), dtype=np.float32)
    uncropped(
        plane, row_start, row_weight, col_start, col_weight, pairs, out, 0.0, none, none, none, none
    )


@njit(cache=True, nogil=True)
def uncropped(
    plane: Any,
    row_start: Any,
    row_weight: Any,
    col_start: Any,
    col_weight: Any,
    pairs: Any,
    out: Any,
    mean: float,
    total_r: Any,
    kept_r: Any,
    total_c: Any,
    kept_c: Any,
) -> None:
    """:func:`separable`, plus (where ``total_r`` has rows) the uncropped border's share of the
    picture's mean in each buffer: ``mean * (total_r ⊗ total_c - kept_r ⊗ kept_c)`` (per
    buffer, a rank-2 term), added to each row as it is written (a pass of its own over the
    buffers cost ~30 µs)."""
    height, width = plane.shape
    n_cols = col_start.shape[0]
    if out.shape[0] < pairs.shape[0]:
        raise ValueError("fewer output buffers than filter pairs")
    fade = total_r.shape[0] > 0
    if fade and min(kept_r.shape[0], total_c.shape[0], kept_c.shape[0]) < pairs.shape[0]:
        raise ValueError("fewer fade weights than filter pairs")
    m = np.float32(mean)
    used = np.zeros(n_cols, dtype=np.bool_)
    for v in range(pairs.shape[0]):
        used[pairs[v, 1]] = True
    transposed = np.empty((1, width, height), dtype=np.float32)
    for y in range(height):
        for x in range(width):
            transposed[0, x, y] = plane[y, x]
    # Eight samples' columns at a time, then transposed back: the block stays in the L1 cache
    # and each row is written eight values at a time (a whole transpose afterwards measured
    # 1.5x slower on a 150-pixel plane). One column filter's result at a time, used by every
    # pair that shares it, keeps the working set small.
    block = np.empty((1, _BLOCK, height), dtype=np.float32)
    across = np.empty((1, height, _SIZE), dtype=np.float32)
    for c in range(n_cols):
        if not used[c]:
            continue
        for j0 in range(0, _SIZE, _BLOCK):
            for j in range(_BLOCK):
                first = col_start[c, j0 + j]
                _banded_rows(block, 0, j, transposed, 0, first, col_weight[c, j0 + j])
            for y in range(height):
                for j in range(_BLOCK):
                    across[0, y, j0 + j] = block[0, j, y]
        for v in range(pairs.shape[0]):
            if pairs[v, 1] != c:
                continue
            r = pairs[v, 0]
            for i in range(_SIZE):
                _banded_rows(out, v, i, across, 0, row_start[r, i], row_weight[r, i])
                if fade:
                    tr = total_r[v, i]
                    kr = kept_r[v, i]
                    for j in range(_SIZE):
                        out[v, i, j] += m * (tr * total_c[v, j] - kr * kept_c[v, j])


@njit(cache=True, nogil=True)
def turned(work: Any, index: Any, fraction: Any, mean: float, out: Any) -> None:
    """Sample ``work`` blurred by [1 2 1]/4 per axis (edges repeated) at the turned points
    ``index`` (flat, into the blurred plane with a one-pixel border of repeated edges, so the
    four bilinear taps never need clipping; -1: outside the picture, which takes ``mean``),
    with ``fraction[0]``/``fraction[1]`` the point's offset down and across from its tap."""
    height, width = work.shape
    padded = width + 2
    blurred = np.empty((height + 2) * padded, dtype=np.float32)
    # The vertical pass with its edge values repeated once more at either end, so that one
    # loop (vectorised) does the whole horizontal pass: 3x faster than edges handled apart.
    across = np.empty(padded, dtype=np.float32)
    two = np.float32(2.0)
    scale = np.float32(1.0 / 16.0)
    for y in range(height):
        above = work[max(y - 1, 0)]
        middle = work[y]
        below = work[min(y + 1, height - 1)]
        for x in range(width):
            across[x + 1] = above[x] + two * middle[x] + below[x]
        across[0] = across[1]
        across[width + 1] = across[width]
        base = (y + 1) * padded + 1
        row = blurred[base : base + width]
        for x in range(width):
            row[x] = (across[x] + two * across[x + 1] + across[x + 2]) * scale
        blurred[base - 1] = blurred[base]
        blurred[base + width] = blurred[base + width - 1]
    for x in range(padded):
        blurred[x] = blurred[padded + x]
        blurred[(height + 1) * padded + x] = blurred[height * padded + x]
    m = np.float32(mean)
    one = np.float32(1.0)
    flat = out.reshape(-1)
    if flat.shape[0] != index.shape[0]:
        raise ValueError("one sample point per output value")
    for p in range(flat.shape[0]):
        i = index[p]
        if i < 0:
            flat[p] = m
            continue
        fy = fraction[0, p]
        fx = fraction[1, p]
        top = (one - fx) * blurred[i] + fx * blurred[i + 1]
        low = (one - fx) * blurred[i + padded] + fx * blurred[i + padded + 1]
        flat[p] = (one - fy) * top + fy * low


@njit(cache=True, nogil=True)
def block_means(plane: Any, factor: int) -> Any:
    """``factor``×``factor`` block means of ``plane`` (``factor`` ≥ 2), a partial last block
    padded with its edge pixels, summed in the order ``variants._reduce`` always summed them
    (the block's second row or column first, its first last)."""
    height, width = plane.shape
    out_h = -(-height // factor)
    out_w = -(-width // factor)
    # Rows padded out to whole blocks with the edge column, so the column pass needs no clip.
    rows = np.empty((out_h, out_w * factor), dtype=np.float32)
    for oy in range(out_h):
        acc = rows[oy]
        second = plane[min(oy * factor + 1, height - 1)]
        for x in range(width):
            acc[x] = second[x]
        for i in range(2, factor):
            source = plane[min(oy * factor + i, height - 1)]
            for x in range(width):
                acc[x] += source[x]
        source = plane[min(oy * factor, height - 1)]
        for x in range(width):
            acc[x] += source[x]
        for x in range(width, out_w * factor):
            acc[x] = acc[width - 1]
    out = np.empty((out_h, out_w), dtype=np.float32)
    scale = np.float32(1.0 / (factor * factor))
    # The common factors spelled out: with the stride a constant the compiler vectorises the
    # column pass (2.4x faster at factor 2).
    if factor == 2:
        for oy in range(out_h):
            acc = rows[oy]
            total = out[oy]
            for ox in range(out_w):
                total[ox] = (acc[2 * ox + 1] + acc[2 * ox]) * scale
        return out
    if factor == 3:
        for oy in range(out_h):
            acc = rows[oy]
            total = out[oy]
            for ox in range(out_w):
                total[ox] = (acc[3 * ox + 1] + acc[3 * ox + 2] + acc[3 * ox]) * scale
        return out
    for oy in range(out_h):
        acc = rows[oy]
        total = out[oy]
        for ox in range(out_w):
            total[ox] = acc[ox * factor + 1]
        for j in range(2, factor):
            for ox in range(out_w):
                total[ox] += acc[ox * factor + j]
        for ox in range(out_w):
            total[ox] = (total[ox] + acc[ox * factor]) * scale
    return out


_SAMPLE = 15  # values sampled by select_rank; its sorted sample brackets the rank sought
_KEY_MAX = np.int32(2**31 - 1)
_KEY_MIN = np.int32(-(2**31))


@njit(cache=True, nogil=True, inline="always")
def _key(bits: Any) -> Any:
    """The order-preserving int32 key of a float32's bits (negative floats' magnitude bits
    flipped), an involution: applied to a key it gives the bits back."""
    return bits ^ ((bits >> 31) & _KEY_MAX)


@njit(cache=True, nogil=True, inline="never")
def _count_below(keys: Any, pivot: Any) -> Any:
    """How many ``keys`` are below ``pivot``.

    The sum is kept in int32 explicitly: numba widens int32 arithmetic to int64, which halves
    the vector width (measured 3x slower)."""
    count = np.int32(0)
    for i in range(keys.shape[0]):
        count = np.int32(count + np.int32(keys[i] < pivot))
    return count


@njit(cache=True, nogil=True, inline="never")
def _least_from(keys: Any, low: Any) -> Any:
    """The smallest of ``keys`` not below ``low``."""
    least = _KEY_MAX
    for i in range(keys.shape[0]):
        key = keys[i]
        least = min(least, key if key >= low else _KEY_MAX)
    return least


@njit(cache=True, nogil=True, inline="never")
def _most_upto(keys: Any, top: Any) -> Any:
    """The largest of ``keys`` not above ``top``."""
    most = _KEY_MIN
    for i in range(keys.shape[0]):
        key = keys[i]
        most = max(most, key if key <= top else _KEY_MIN)
    return most


@njit(cache=True, nogil=True, inline="always")
def _insertion_sort(values: Any, n: int) -> None:
    for i in range(1, n):
        v = values[i]
        j = i - 1
        while j >= 0 and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v


@njit(cache=True, nogil=True)
def select_rank(values: Any, k: int, scratch: Any) -> Any:
    """The value of rank ``k`` (0: the smallest) of ``values`` (contiguous float32, no NaN,
    left as they are); ``scratch`` is int32 room for ``n + _SAMPLE + 1`` values.

    Any correct selection returns the same value, so ties need no rule of their own. A
    quickselect spends most of its time on branches mispredicted at random (3.6 µs for 256 DCT
    coefficients against ~0.25 µs this way), so nothing here branches on the data but a binary
    search: the values become order-preserving integer keys, and counts of the keys below a
    pivot (vectorised) bracket the rank, first between the values of a sorted sample, then by
    halving the bracket's key range, until the rank is the bracket's first or last value,
    which a vectorised minimum or maximum finds (or the bracket is one key wide).
    """
    n = values.shape[0]
    bits = values.view(np.int32)
    keys = scratch[:n]
    for i in range(n):
        keys[i] = _key(bits[i])
    # The bracket: keys from low to top, below_low of them below low, below_top of them up
    # to top; below_low <= k < below_top.
    low = _KEY_MIN
    top = _KEY_MAX
    below_low: Any = np.int32(0)
    below_top: Any = np.int32(n)
    if n >= _SAMPLE:
        sample = scratch[n : n + _SAMPLE]
        step = n // _SAMPLE
        for i in range(_SAMPLE):
            sample[i] = keys[i * step + (step >> 1)]
        _insertion_sort(sample, _SAMPLE)
        first = -1
        last = _SAMPLE
        while last - first > 1:
            middle = (first + last) >> 1
            count = _count_below(keys, sample[middle])
            if count <= k:
                first = middle
                below_low = count
            else:
                last = middle
                below_top = count
        if first >= 0:
            low = sample[first]
        if last < _SAMPLE:
            top = np.int32(sample[last] - np.int32(1))
    while True:
        if k == below_low:
            found = _least_from(keys, low)
            break
        if k == below_top - 1:
            found = _most_upto(keys, top)
            break
        if low == top:
            found = low
            break
        pivot = np.int32((np.int64(low) + np.int64(top) + 1) >> 1)  # low < pivot <= top
        count = _count_below(keys, pivot)
        if count <= k:
            low = pivot
            below_low = count
        else:
            top = np.int32(pivot - np.int32(1))
            below_top = count
    out = scratch[n : n + 1]
    out[0] = _key(found)
    return out.view(np.float32)[0]


@njit(cache=True, nogil=True)
def _quality(buffer: Any) -> Any:
    """``pdq._quality`` of one 64×64 buffer (C-contiguous): each step truncated to a whole
    number (truncating ``|x|`` is the integer conversion itself; the reference's float32 sum
    of whole numbers far below 2**24 is exact), stopping once the total makes the quality 100.

    Each column's steps add up in a lane of their own, whole rows at a time, and the lanes are
    summed every few rows: a sum per row measured 1.7x slower (a horizontal sum and a scalar
    tail of seven steps each row). Whole numbers add up alike in any order.
    """
    hundred = np.float32(100.0)
    grey = np.float32(255.0)
    flat = buffer.reshape(-1)
    # Steps to the right neighbour; lane 63 takes the next row's first pixel and is never summed.
    across = np.zeros(_SIZE, dtype=np.int32)
    down = np.zeros(_SIZE, dtype=np.int32)
    total: Any = 0
    for first in range(0, _SIZE, _BLOCK):
        for i in range(first, first + _BLOCK):
            row = i * _SIZE
            if i < _SIZE - 1:
                for j in range(_SIZE):
                    across[j] += np.int32(abs((flat[row + j] - flat[row + j + 1]) * hundred / grey))
                for j in range(_SIZE):
                    down[j] += np.int32(
                        abs((flat[row + j] - flat[row + _SIZE + j]) * hundred / grey)
                    )
            else:
                for j in range(_SIZE - 1):
                    across[j] += np.int32(abs((flat[row + j] - flat[row + j + 1]) * hundred / grey))
        total = 0
        for j in range(_SIZE - 1):
            total += across[j]
        for j in range(_SIZE):
            total += down[j]
        if total >= _HIGHEST:
            return 100
    return total // 90


@njit(cache=True, nogil=True)
def _reliable_mask(margin: Any, cut: Any, bits: int, out: Any) -> None:
    """The packed mask (hash bit order) of the ``bits`` largest ``margin`` values, ``cut`` the
    smallest of them (the value of rank ``size - bits``)."""
    size = margin.shape[0]
    # Everything above the cut and the cut itself, unless values tie with it: then those at
    # the cut in bit order, as many as make up the count.
    above: Any = np.int32(0)
    at: Any = np.int32(0)
    for k in range(size):
        above = np.int32(above + np.int32(margin[k] > cut))
        at = np.int32(at + np.int32(margin[k] == cut))
    ties = bits - above
    if at == ties:  # no value at the cut left out (the rule when no coefficients tie)
        for m in range(size // 8):
            byte: Any = 0
            for q in range(8):
                byte |= np.int64(margin[size - 1 - 8 * m - q] >= cut) << (7 - q)
            out[m] = byte
        return
    for m in range(size // 8):
        byte = 0
        for q in range(8):
            k = size - 1 - 8 * m - q
            if margin[k] > cut or (margin[k] == cut and _taken(margin, cut, k, ties)):
                byte |= 1 << (7 - q)
        out[m] = byte


@njit(cache=True, nogil=True)
def _taken(margin: Any, cut: Any, index: int, ties: int) -> bool:
    """Whether the value at ``index``, tied with the cut, is among the first ``ties`` tied
    values in bit order (lowest bit first)."""
    before = 0
    for k in range(index):
        if margin[k] == cut:
            before += 1
    return before < ties


@njit(cache=True, nogil=True)
def hash_stack(
    dcts: Any,
    buffers: Any,
    source: Any,
    transposed: Any,
    packed: Any,
    quality: Any,
    reliable: Any,
    reliable_bits: int,
) -> None:
    """PDQ hashes of a stack: hash ``n`` has the bits (``packed[n]``, hex order) of DCT
    ``source[n]``, of its transpose where ``transposed[n]``, and the quality of buffer
    ``source[n]`` (-1 past the buffers given), as ``pdq._threshold`` and ``pdq._quality``.

    A transposed picture's DCT is the transposed DCT and its quality the same, so the turned
    copies that are transposes of others cost no DCT or quality of their own (nor median: the
    same values). When ``reliable`` has rows, ``reliable[n]`` is the mask of the
    ``reliable_bits`` coefficients farthest from the median, as ``pdq.reliable_masks`` (ties
    at the cut go to the lower bit).
    """
    if packed.shape[0] < source.shape[0] or quality.shape[0] < source.shape[0]:
        raise ValueError("fewer outputs than hashes")
    masks = reliable.shape[0] > 0
    if masks and reliable.shape[0] < source.shape[0]:
        raise ValueError("fewer masks than hashes")
    qualities = np.empty(buffers.shape[0], dtype=np.int64)
    for b in range(buffers.shape[0]):
        qualities[b] = _quality(buffers[b])
    size = _DCT_SIZE * _DCT_SIZE
    flat = np.empty(size, dtype=np.float32)
    margin = np.empty(size, dtype=np.float32)
    scratch = np.empty(size + _SAMPLE + 1, dtype=np.int32)
    medians = np.empty(dcts.shape[0], dtype=np.float32)
    cuts = np.empty(dcts.shape[0], dtype=np.float32)
    known = np.zeros(dcts.shape[0], dtype=np.bool_)
    for n in range(source.shape[0]):
        s = source[n]
        if transposed[n]:
            for a in range(_DCT_SIZE):
                for b in range(_DCT_SIZE):
                    flat[a * _DCT_SIZE + b] = dcts[s, b, a]
        else:
            for a in range(_DCT_SIZE):
                for b in range(_DCT_SIZE):
                    flat[a * _DCT_SIZE + b] = dcts[s, a, b]
        if not known[s]:
            medians[s] = select_rank(flat, 127, scratch)  # PDQ's median: the 128th smallest of 256
        median = medians[s]
        # Bit k = row*16 + col; the hex form prints bit 255 first (pdq._threshold).
        for m in range(32):
            byte: Any = 0
            for q in range(8):
                byte |= np.int64(flat[255 - 8 * m - q] > median) << (7 - q)
            packed[n, m] = byte
        quality[n] = qualities[s] if s < buffers.shape[0] else -1
        if masks:
            for k in range(size):
                margin[k] = abs(flat[k] - median)
            if not known[s]:
                cuts[s] = select_rank(margin, size - reliable_bits, scratch)
            _reliable_mask(margin, cuts[s], reliable_bits, reliable[n])
        known[s] = True


@njit(cache=True, nogil=True)
def _line_pixel(grey: Any, box: Any, side: int, line: int, k: int) -> Any:
    """Pixel ``k`` of line ``line`` counted inwards from ``side`` (0 top, 1 bottom, 2 left,
    3 right) of ``grey[top:bottom, left:right]``."""
    top, bottom, left, right = box[0], box[1], box[2], box[3]
    if side == 0:
        return grey[top + line, left + k]
    if side == 1:
        return grey[bottom - 1 - line, left + k]
    if side == 2:
        return grey[top + k, left + line]
    return grey[top + k, right - 1 - line]


@njit(cache=True, nogil=True)
def _bar(
    grey: Any, box: Any, side: int, tolerance: float, flat_within: float, line_share: float,
    band_share: float, max_bar: float, scratch: Any, keys: Any,
) -> tuple[int, float]:  # fmt: skip
    """Lines of a bar on ``side`` of the box (0 when its first line is not flat) and its
    colour: ``variants._bar`` of the region turned so that ``side`` is at the top."""
    lines = box[1] - box[0] if side < 2 else box[3] - box[2]
    length = box[3] - box[2] if side < 2 else box[1] - box[0]
    limit = int(lines * max_bar)
    if limit < 1 or length < 2:
        return 0, 0.0
    first = scratch[:length]
    for k in range(length):
        first[k] = _line_pixel(grey, box, side, 0, k)
    half = length // 2
    # NumPy's median of float32: the middle value, or the mean of the middle two in float32
    # (selected, not sorted: sorting each side's line took 5/6 of content_boxes' time).
    middle = select_rank(first, half, keys)
    colour = (
        middle if length % 2 else (select_rank(first, half - 1, keys) + middle) / np.float32(2.0)
    )
    tol = np.float32(tolerance)
    flat_tol = np.float32(flat_within)
    cumulative = 0.0
    rows = 0
    for line in range(limit):
        near = 0
        flat = 0
        for k in range(length):
            distance = abs(_line_pixel(grey, box, side, line, k) - colour)
            if distance <= tol:
                near += 1
            if distance <= flat_tol:
                flat += 1
        is_flat = flat / length >= line_share
        if line == 0 and not is_flat:
            return 0, float(colour)
        cumulative += near / length
        if is_flat and cumulative / (line + 1) >= band_share:
            rows = line + 1
    return rows, float(colour)


@njit(cache=True, nogil=True)
def content_boxes(
    grey: Any, rounds: int, tolerance: float, flat_within: float, line_share: float,
    band_share: float, max_bar: float, min_content: float, min_pixels: int,
) -> Any:  # fmt: skip
    """The nested boxes of ``variants.content_box`` (``[n, 4]``: top, bottom, left, right)."""
    height, width = grey.shape
    boxes = np.zeros((rounds, 4), dtype=np.int64)
    box = np.array([0, height, 0, width], dtype=np.int64)
    scratch = np.empty(max(height, width), dtype=np.float32)
    keys = np.empty(max(height, width) + _SAMPLE + 1, dtype=np.int32)
    lines = np.zeros(4, dtype=np.int64)
    colours = np.zeros(4, dtype=np.float64)
    count = 0
    for _ in range(rounds):
        thickest = 0
        for side in range(4):
            lines[side], colours[side] = _bar(
                grey,
                box,
                side,
                tolerance,
                flat_within,
                line_share,
                band_share,
                max_bar,
                scratch,
                keys,
            )
            if lines[side] > lines[thickest]:
                thickest = side
        if lines[thickest] == 0:
            break
        colour = colours[thickest]
        cut = np.zeros(4, dtype=np.int64)
        for side in range(4):
            if lines[side] and abs(colours[side] - colour) <= tolerance:
                cut[side] = lines[side]
        new_top = box[0] + cut[0]
        new_bottom = box[1] - cut[1]
        new_left = box[2] + cut[2]
        new_right = box[3] - cut[3]
        if new_bottom - new_top < max(min_pixels, min_content * height) or (
            new_right - new_left < max(min_pixels, min_content * width)
        ):
            break  # nothing left that looks like a picture: keep the last good box
        box[0], box[1], box[2], box[3] = new_top, new_bottom, new_left, new_right
        boxes[count] = box
        count += 1
    return boxes[:count]
