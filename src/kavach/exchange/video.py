"""vPDQ frames as feed events carry them: ``[[frame, quality, hash hex, milliseconds], ...]``.

A ``vpdq`` entry's ``value`` is its key (``kavach.signals.types.video_key``: SHA-256 over the
frame hashes and qualities); ``add`` and ``vouch`` events carry the frames beside it, as
integers and strings only (canonical JSON has no floats), and a receiver recomputes the key
from them (docs/exchange.md, "Feeds and events").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kavach.errors import InvalidHashError
from kavach.signals.types import video_key
from kavach.signals.vpdq import VideoHash

__all__ = ["MAX_FRAMES", "frames_of", "video_of"]

MAX_FRAMES = 1_000_000
"""The most frames one entry may carry (the vpdq list format's bound)."""
_NO_TIME = 0xFFFFFFFF


def frames_of(payload: bytes) -> list[list[Any]]:
    """The frames field for a vpdq entry's stored payload (its compact frames)."""
    video = VideoHash.from_bytes(payload)
    return [
        [frame, quality, bytes(row).hex(), None if math.isnan(ts) else round(ts * 1000)]
        for frame, quality, row, ts in zip(
            video.frames.tolist(),
            video.qualities.tolist(),
            video.hashes,
            video.timestamps.tolist(),
            strict=True,
        )
    ]


def video_of(frames: Any, key: bytes) -> VideoHash:
    """The video a frames field describes, or InvalidHashError (also when its key is not
    ``key``: the frames would not be the hash the event names)."""
    if not isinstance(frames, list) or not 0 < len(frames) <= MAX_FRAMES:
        raise InvalidHashError(f"a vpdq entry needs 1 to {MAX_FRAMES:,} frames")
    hashes: list[bytes] = []
    qualities: list[int] = []
    numbers: list[int] = []
    stamps: list[float] = []
    for row in frames:
        if not isinstance(row, list) or len(row) != 4:
            raise InvalidHashError("a vpdq frame is [frame, quality, hash, milliseconds]")
        frame, quality, text, millis = row
        if (
            type(frame) is not int
            or not 0 <= frame < 2**32
            or type(quality) is not int
            or not 0 <= quality <= 100
            or not isinstance(text, str)
            or len(text) != 64
            or not (millis is None or (type(millis) is int and 0 <= millis < _NO_TIME))
        ):
            raise InvalidHashError("a vpdq frame has a value out of range")
        try:
            hashes.append(bytes.fromhex(text))
        except ValueError:
            raise InvalidHashError("a vpdq frame hash is not hexadecimal") from None
        qualities.append(quality)
        numbers.append(frame)
        stamps.append(math.nan if millis is None else millis / 1000.0)
    video = VideoHash.from_frames(
        np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32),
        qualities,
        numbers,
        stamps,
    )
    if video_key(video) != key:
        raise InvalidHashError("the vpdq frames do not hash to the entry's key")
    return video
