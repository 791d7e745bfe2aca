"""The luma vPDQ hashes: FFmpeg's table-driven YUV -> RGB24 conversion, as the reference does."""

from __future__ import annotations

import av
import numpy as np
import pytest

from kavach.media.video import VideoLimits, _frame_luma
from kavach.signals.vpdq import hash_video
from tests.support.videos import video


def _frame(fmt: str, width: int, height: int, y, u, v) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, fmt)
    for plane, values in zip(frame.planes, (y, u, v), strict=True):
        buf = np.zeros((plane.height, plane.line_size), np.uint8)
        buf[:, : plane.width] = values
        plane.update(buf.tobytes())
    return frame


def _luma(frame: av.VideoFrame) -> np.ndarray:
    return _frame_luma(frame, VideoLimits())


def _planes(seed: int, width: int, height: int, chroma_rows: int):
    rng = np.random.default_rng(seed)
    half = (width + 1) // 2
    return (
        rng.integers(0, 256, (height, width), dtype=np.uint8),
        rng.integers(0, 256, (chroma_rows, half), dtype=np.uint8),
        rng.integers(0, 256, (chroma_rows, half), dtype=np.uint8),
    )


def test_full_range_grey_is_the_y_plane():
    y, _, _ = _planes(1, 66, 10, 5)
    luma = _luma(_frame("yuvj420p", 66, 10, y, 128, 128))
    assert luma.shape == (10, 66)
    assert luma.dtype == np.float32
    np.testing.assert_allclose(luma, y, atol=1e-3)


def test_limited_range_grey_expands_and_clips():
    y = np.tile(np.arange(256, dtype=np.uint8), (6, 1))
    luma = _luma(_frame("yuv420p", 256, 6, y, 128, 128))[0]
    # FFmpeg's tables (so the reference) clip Y ≤ 17 to black and Y ≥ 237 to white: about 1.5
    # steps below the nominal (Y - 16) * 255 / 219, in whole steps of 255/219.
    assert luma[:18].max() == 0
    assert luma[18] > 0
    assert luma[237:].min() > 254.99
    assert luma[236] < 254.5
    steps = np.diff(luma[20:230])
    assert steps.min() >= 0.99
    assert steps.max() <= 2.01
    assert np.abs(luma[20:230] - (np.arange(20, 230) - 16) * 255 / 219).max() < 2.5


def test_one_chroma_sample_colours_a_two_by_two_block():
    y, u, v = _planes(2, 16, 8, 4)
    base = _luma(_frame("yuv420p", 16, 8, y, u, v))
    u2 = u.copy()
    u2[1, 2] ^= 0x80  # block rows 2-3, columns 4-5
    changed = _luma(_frame("yuv420p", 16, 8, y, u2, v)) != base
    expected = np.zeros_like(changed)
    expected[2:4, 4:6] = True
    assert changed[~expected].sum() == 0
    assert changed[expected].any()


def test_422_uses_the_even_rows_chroma_for_both_rows():
    y, u, v = _planes(3, 16, 8, 8)
    base = _luma(_frame("yuv422p", 16, 8, y, u, v))
    odd = u.copy()
    odd[1::2] = 255 - odd[1::2]
    assert np.array_equal(_luma(_frame("yuv422p", 16, 8, y, odd, v)), base)
    even = u.copy()
    even[0::2] = 255 - even[0::2]
    assert not np.array_equal(_luma(_frame("yuv422p", 16, 8, y, even, v)), base)


def test_odd_width_and_odd_height():
    y, u, v = _planes(4, 15, 8, 4)
    assert _luma(_frame("yuv420p", 15, 8, y, u, v)).shape == (8, 15)
    # An odd height is not converted by the table path: swscale's general path, as the reference.
    y, _, _ = _planes(5, 16, 9, 5)
    luma = _luma(_frame("yuv420p", 16, 9, y, 128, 128))
    expanded = np.clip((y.astype(np.float64) - 16) * 255 / 219, 0, 255)
    np.testing.assert_allclose(luma, expanded, atol=2.5)


def test_grey_video_is_its_plane():
    frame = av.VideoFrame(16, 8, "gray")
    y = np.random.default_rng(6).integers(0, 256, (8, 16), dtype=np.uint8)
    buf = np.zeros((8, frame.planes[0].line_size), np.uint8)
    buf[:, :16] = y
    frame.planes[0].update(buf.tobytes())
    assert np.array_equal(_luma(frame), y.astype(np.float32))


@pytest.mark.parametrize(
    ("codec", "pix_fmt"),
    [("libx264", "yuv422p"), ("libx264", "yuv444p"), ("ffv1", "yuv420p10le"), ("ffv1", "bgr0")],
)
def test_other_pixel_formats_hash(codec, pix_fmt):
    # 4:2:2 takes the table path; the others go through swscale's RGB conversion (BT.601).
    clip = video(codec=codec, pix_fmt=pix_fmt, seconds=1, fmt="matroska")
    plain = hash_video(video(seconds=1), fps=None).vpdq
    ours = hash_video(clip, fps=None).vpdq
    assert len(ours) == len(plain) == 10
    # The same pictures, encoded otherwise: the hashes stay close.
    assert np.bitwise_count(ours.hashes ^ plain.hashes).sum(axis=1).max() <= 16
