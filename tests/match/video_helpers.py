"""Benign test videos for video matching: a generated clip and a re-encoded copy of it."""

from __future__ import annotations

import io
from fractions import Fraction

import av

from tests.support.videos import video

__all__ = ["clip", "reencode"]


def clip(seed: int, seconds: float = 4) -> bytes:
    """A short generated MP4 (160×120, 10 frames/s): a new demo scene every second."""
    return video(seed=seed, seconds=seconds, width=160, height=120, fps=10)


def reencode(data: bytes, *, width: int = 128, height: int = 96, crf: int = 38) -> bytes:
    """``data`` decoded and encoded again smaller and at a lower quality, as sharing apps do."""
    out = io.BytesIO()
    with av.open(io.BytesIO(data)) as source, av.open(out, mode="w", format="mp4") as target:
        stream = target.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": str(crf)}
        for number, frame in enumerate(source.decode(video=0)):
            small = frame.reformat(width=width, height=height, format="yuv420p")
            small.pts, small.time_base = number, Fraction(1, 10)
            target.mux(stream.encode(small))
        target.mux(stream.encode(None))
    return out.getvalue()
