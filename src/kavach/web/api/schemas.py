"""Request and response models shared by several API areas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from kavach.errors import InvalidHashError
from kavach.match.matcher import Query
from kavach.signals.types import SignalType, parse_hash, video_key

if TYPE_CHECKING:
    from kavach.signals.vpdq import VideoHash

__all__ = ["MAX_VIDEO_FRAMES", "FrameIn", "HashIn", "ParsedHash", "parse_hash_in", "parse_queries"]

MAX_VIDEO_FRAMES = 36_000
"""Most frames in one vpdq hash sent to the API: 10 hours at 1 frame a second (the default
sampling), 20 minutes with every frame of 30 frames/s video."""


class FrameIn(BaseModel):
    """One sampled frame of a video: the vPDQ reference's ``frame,quality,hash,timestamp``."""

    # Strict: a frame number sent as "12" or a quality as 99.5 is a client bug worth a 422.
    model_config = ConfigDict(extra="forbid", strict=True)

    frame: int = Field(ge=0, le=2**31 - 1, description="Frame number, from 0.")
    quality: int = Field(ge=0, le=100, description="PDQ quality of the frame.")
    hash: str = Field(
        min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]{64}$", description="PDQ hash, hex."
    )
    timestamp: float | None = Field(
        default=None, ge=0, le=10_000_000, allow_inf_nan=False, description="Seconds."
    )


class HashIn(BaseModel):
    """One hash: its signal type and its text form (hex; base64 for PhotoDNA).

    A video (``vpdq``) is sent as its ``frames``; ``value``, if given as well, must be their key.
    """

    model_config = ConfigDict(extra="forbid")

    signal_type: SignalType
    value: str | None = Field(
        default=None,
        min_length=1,
        max_length=600,
        description="The hash (required except for vpdq; for vpdq the key of the frames).",
    )
    quality: int | None = Field(
        default=None, ge=0, le=100, description="PDQ quality, when the caller computed it."
    )
    frames: list[FrameIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_VIDEO_FRAMES,
        description="vpdq only: the video's sampled frames, as `kavach hash` and /hash give them.",
    )


@dataclass(frozen=True, slots=True)
class ParsedHash:
    """A checked :class:`HashIn`: raw value (a video's key for vpdq) and the frames, if sent."""

    signal_type: SignalType
    value: bytes
    video: VideoHash | None = None


def parse_hash_in(item: HashIn) -> ParsedHash:
    """Check one hash from a request; raise InvalidHashError (400) saying what is wrong."""
    if item.frames is None:
        if item.value is None:
            if item.signal_type is SignalType.VPDQ:
                raise InvalidHashError("a vpdq hash needs its frames")
            raise InvalidHashError(f"a {item.signal_type.value} hash needs a value")
        return ParsedHash(item.signal_type, parse_hash(item.signal_type, item.value))
    if item.signal_type is not SignalType.VPDQ:
        raise InvalidHashError(f"only vpdq hashes have frames, not {item.signal_type.value}")
    video = _video(item.frames)
    key = video_key(video)
    if item.value is not None and parse_hash(SignalType.VPDQ, item.value) != key:
        raise InvalidHashError("the vpdq value is not the key of the frames sent with it")
    return ParsedHash(SignalType.VPDQ, key, video)


def _video(frames: list[FrameIn]) -> VideoHash:
    # Built from arrays directly (the frames are already validated): a long video has tens of
    # thousands of frames, and going through the text form would parse each line again.
    import numpy as np

    from kavach.signals.vpdq import VideoHash

    hashes = np.frombuffer(bytes.fromhex("".join(f.hash for f in frames)), dtype=np.uint8)
    return VideoHash.from_frames(
        hashes.reshape(-1, 32),
        [f.quality for f in frames],
        [f.frame for f in frames],
        [np.nan if f.timestamp is None else f.timestamp for f in frames],
    )


def parse_queries(hashes: list[HashIn], where: str = "hashes") -> list[Query]:
    """Turn hashes from a request into matcher queries; a bad one is a 400 naming its position."""
    queries = []
    for i, item in enumerate(hashes):
        try:
            parsed = parse_hash_in(item)
        except InvalidHashError as exc:
            raise InvalidHashError(f"{where}[{i}]: {exc.message}") from None
        if parsed.video is not None:
            queries.append(Query.for_video(parsed.video))
        elif parsed.signal_type is SignalType.VPDQ:
            # A key alone cannot be matched: videos match by their frames.
            raise InvalidHashError(f"{where}[{i}]: a vpdq hash needs its frames")
        else:
            queries.append(Query(parsed.signal_type, parsed.value, item.quality))
    return queries
