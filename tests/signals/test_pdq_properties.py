"""Properties of PDQ hashes as values: hex round trips and Hamming distance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kavach.errors import InputError, InvalidHashError
from kavach.signals.pdq import PDQHash, hamming, hash_from_hex, hash_to_hex, pdq_from_luma

raw_hashes = st.binary(min_size=32, max_size=32)


@given(raw_hashes)
def test_hex_round_trip(raw):
    text = hash_to_hex(raw)
    assert len(text) == 64
    assert text == text.lower()
    assert bytes(hash_from_hex(text)) == raw
    assert bytes(hash_from_hex(text.upper())) == raw
    assert bytes(hash_from_hex(f"  {text}\n")) == raw


@given(raw_hashes, raw_hashes)
def test_distance_is_popcount_of_xor(a, b):
    expected = bin(int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).count("1")
    assert hamming(a, b) == expected == hamming(b, a)


@given(raw_hashes, raw_hashes, raw_hashes)
def test_triangle_inequality(a, b, c):
    assert hamming(a, c) <= hamming(a, b) + hamming(b, c)


@given(raw_hashes)
def test_distance_bounds(a):
    assert hamming(a, a) == 0
    inverse = bytes(255 - x for x in a)
    assert hamming(a, inverse) == 256


@pytest.mark.parametrize(
    "text",
    ["", "abc", "g" * 64, "0" * 63, "0" * 65, "0x" + "0" * 62, "é" * 64, "0" * 32 + " " + "0" * 31],
)
def test_malformed_hex_is_rejected(text):
    with pytest.raises(InvalidHashError):
        hash_from_hex(text)


def test_distance_rejects_wrong_lengths():
    with pytest.raises(InvalidHashError):
        hamming(b"\x00" * 31, b"\x00" * 32)


def test_hash_has_128_bits_set_on_a_real_image():
    # Median thresholding sets half the bits whenever the coefficients are distinct.
    rng = np.random.default_rng(1)
    luma = rng.uniform(0, 255, size=(200, 300)).astype(np.float32)
    (result,) = pdq_from_luma(luma)
    assert isinstance(result, PDQHash)
    assert int(np.unpackbits(result.hash).sum()) == 128
    assert len(result.hex) == 64


@pytest.mark.parametrize("shape", [(0, 10), (10, 0), (5,), (2, 3, 4)])
def test_luma_plane_shape_is_checked(shape):
    with pytest.raises(InputError):
        pdq_from_luma(np.zeros(shape, np.float32))


def test_scaled_plane_must_fit_the_full_size():
    with pytest.raises(InputError):
        pdq_from_luma(np.zeros((100, 100), np.float32), full_height=50, full_width=100)
    with pytest.raises(InputError):
        # 1000 / 8 = 125 rows, so 120 is no DCT-scaled size of it.
        pdq_from_luma(np.zeros((120, 120), np.float32), full_height=1000, full_width=960)


@given(st.integers(1, 3000), st.integers(1, 8))
def test_axis_filter_keeps_the_mean(length, factor):
    # Each decimated value is a weighted mean of the axis: weights are non-negative and sum to 1,
    # at full size and after summing blocks for a scaled decode.
    from kavach.signals.pdq import _axis_matrix

    scaled = -(-length // factor)
    if -(-length // -(-length // scaled)) != scaled:
        return
    weights = _axis_matrix(length, scaled)
    assert weights.shape == (64, scaled)
    assert (weights >= -1e-6).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-4)
