"""The variants' compiled kernels against plain NumPy: same values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kavach.signals import _variant_kernels as kernels
from kavach.signals.pdq import _quality


def _select(values: np.ndarray, k: int) -> float:
    scratch = np.empty(len(values) + kernels._SAMPLE + 1, dtype=np.int32)
    before = values.copy()
    found = float(kernels.select_rank(values, k, scratch))
    np.testing.assert_array_equal(values, before)  # left as they were
    return found


@settings(max_examples=300, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        st.integers(1, 300),
        # Few distinct values as often as many: ties, ±0 and infinities are the hard cases.
        elements=st.one_of(
            st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, np.inf, -np.inf]),
            st.floats(allow_nan=False, width=32),
        ),
    ),
    st.data(),
)
def test_select_rank_is_numpy_s_partition(values: np.ndarray, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(values) - 1))
    assert _select(values, k) == np.partition(values, k)[k]


@pytest.mark.parametrize("distinct", [1, 2, 3, 17, 256])
def test_select_rank_every_rank_of_tied_coefficients(distinct: int) -> None:
    rng = np.random.default_rng(distinct)
    values = rng.integers(0, distinct, 256).astype(np.float32) - np.float32(distinct // 2)
    ranked = np.sort(values)
    for k in range(256):
        assert _select(values, k) == ranked[k]


def test_select_rank_on_dct_coefficients() -> None:
    from kavach.signals.pdq import _DCT

    rng = np.random.default_rng(3)
    buffers = np.cumsum(rng.normal(0, 1, (40, 64, 64)), axis=2).astype(np.float32)
    for dct in _DCT @ buffers @ _DCT.T:
        flat = np.ascontiguousarray(dct.reshape(-1))
        margins = np.abs(flat - np.partition(flat, 127)[127])
        assert _select(flat, 127) == np.partition(flat, 127)[127]
        assert _select(margins, 64) == np.partition(margins, 64)[64]


def _buffers() -> np.ndarray:
    rng = np.random.default_rng(5)
    smooth = np.cumsum(rng.normal(0, 0.3, (6, 64, 64)), axis=2) + 128
    rough = rng.random((4, 64, 64)) * 255
    steps = np.repeat(np.arange(64.0)[None, None, :] * 3.999, 64, axis=1)  # whole-number edges
    return np.concatenate([smooth, smooth * 0.05, rough, steps, steps.transpose(0, 2, 1)]).astype(
        np.float32
    )


def test_quality_is_pdq_s() -> None:
    buffers = _buffers()
    expected = [_quality(buffer) for buffer in buffers]
    assert len(set(expected)) > 3  # low, middling and 100
    assert [kernels._quality(buffer) for buffer in buffers] == expected


def test_hash_stack_masks_with_tied_margins() -> None:
    # Whole-number DCTs with few values: margins tie at the cut, and the kernel keeps the
    # lower bits among them, as pdq.reliable_masks' stable argpartition does.
    rng = np.random.default_rng(11)
    dcts = rng.integers(-4, 5, (8, 16, 16)).astype(np.float32)
    packed = np.empty((16, 32), dtype=np.uint8)
    quality = np.empty(16, dtype=np.int64)
    masks = np.empty((16, 32), dtype=np.uint8)
    source = np.repeat(np.arange(8), 2)
    transposed = np.tile([False, True], 8)
    kernels.hash_stack(dcts, np.empty((0, 64, 64), np.float32), source, transposed, packed,
                       quality, masks, 192)  # fmt: skip
    for n, (s, flip) in enumerate(zip(source, transposed, strict=True)):
        dct = np.ascontiguousarray(dcts[s].T if flip else dcts[s])
        flat = dct.reshape(-1)
        median = np.partition(flat, 127)[127]
        assert bytes(packed[n]) == bytes(np.packbits((flat > median)[::-1]))
        assert int(np.bitwise_count(masks[n]).sum()) == 192
        margin = np.abs(flat - median)
        cut = np.partition(margin, 64)[64]
        strong = margin > cut
        tied = np.flatnonzero(margin == cut)[: 192 - int(strong.sum())]
        strong[tied] = True
        assert bytes(masks[n]) == bytes(np.packbits(strong[::-1]))
    assert quality.tolist() == [-1] * 16


def test_uncropped_is_separable_plus_the_fade() -> None:
    from kavach.signals.variants import _crop_bands

    rng = np.random.default_rng(2)
    plane = (rng.random((90, 120)) * 255).astype(np.float32)
    row_bands, col_bands, pairs, sums = _crop_bands(180, 90, 240, 120, True, True)
    mean = 117.25
    faded = np.empty((len(pairs), 64, 64), dtype=np.float32)
    kernels.uncropped(plane, *row_bands, *col_bands, pairs, faded, mean, *sums)
    expected = np.empty_like(faded)
    kernels.separable(plane, *row_bands, *col_bands, pairs, expected)
    total_r, kept_r, total_c, kept_c = sums
    m = np.float32(mean)
    expected += m * (
        total_r[:, :, None] * total_c[:, None, :] - kept_r[:, :, None] * kept_c[:, None, :]
    )
    np.testing.assert_array_equal(faded, expected)


def test_turned_blur_is_the_numpy_one() -> None:
    rng = np.random.default_rng(4)
    for height, width in ((40, 53), (7, 1), (1, 9), (2, 2)):
        work = (rng.random((height, width)) * 255).astype(np.float32)
        padded = np.pad(work, 1, mode="edge")
        two, scale = np.float32(2.0), np.float32(1.0 / 16.0)
        across = padded[:-2] + two * padded[1:-1] + padded[2:]
        blurred = (across[:, :-2] + two * across[:, 1:-1] + across[:, 2:]) * scale
        # Sample each pixel at its own position: index of the pixel in the bordered plane.
        ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
        index = ((ys + 1) * (width + 2) + xs + 1).astype(np.int32).ravel()
        fraction = np.zeros((2, index.size), dtype=np.float32)
        out = np.empty(index.size, dtype=np.float32)
        kernels.turned(work, index, fraction, 0.0, out)
        np.testing.assert_array_equal(out.reshape(height, width), blurred)
