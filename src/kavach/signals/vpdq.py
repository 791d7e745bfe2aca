"""vPDQ: Meta's video signal, the PDQ hash of sampled frames.

A :class:`VideoHash` holds, per sampled frame, the packed PDQ hash (``uint8[F, 32]``), its
quality, the frame number and the timestamp in seconds. Its text form is the reference's, one
``frame,quality,hash,timestamp`` line per frame (timestamp with 3 decimals); its compact form
(:meth:`VideoHash.to_bytes`, 41 bytes a frame) is what storage keeps. Hashes stay arrays inside and
become strings only at the edges.

:func:`hash_video` samples one frame a second by default (``fps=None`` or 0: every frame, as the
reference's golden files), choosing frames exactly as the reference does (see
:func:`kavach.media.video.frame_interval`).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kavach.errors import InvalidHashError
from kavach.media.video import Source, VideoInfo, VideoLimits, frame_interval, open_video
from kavach.signals.pdq import PDQ_MIN_QUALITY, hash_from_hex, pdq_from_luma

__all__ = ["HashedVideo", "VideoHash", "hash_video"]

_MAGIC = b"KVPD"
_VERSION = 1
_HEADER = struct.Struct("<4sBxxxI")  # magic, version, padding, frame count
_BYTES_PER_FRAME = 32 + 1 + 4 + 4


@dataclass(frozen=True, slots=True, eq=False)
class VideoHash:
    """The vPDQ hash of a video: one PDQ hash per sampled frame."""

    hashes: npt.NDArray[np.uint8]
    """``uint8[F, 32]``, packed PDQ hashes in hex order."""
    qualities: npt.NDArray[np.uint8]
    """``uint8[F]``, PDQ quality 0–100 per frame."""
    frames: npt.NDArray[np.int64]
    """``int64[F]``, frame numbers (0-based, output order)."""
    timestamps: npt.NDArray[np.float64]
    """``float64[F]``, seconds from the start (NaN where a source line had none)."""

    def __post_init__(self) -> None:
        n = len(self.hashes)
        if self.hashes.shape != (n, 32) or self.hashes.dtype != np.uint8:
            raise InvalidHashError(f"vPDQ hashes must be uint8[F, 32], got {self.hashes.shape}")
        for name in ("qualities", "frames", "timestamps"):
            if len(getattr(self, name)) != n:
                raise InvalidHashError(f"vPDQ {name} has {len(getattr(self, name))} rows, not {n}")

    @classmethod
    def from_frames(
        cls,
        hashes: npt.ArrayLike,
        qualities: npt.ArrayLike,
        frames: npt.ArrayLike,
        timestamps: npt.ArrayLike,
    ) -> VideoHash:
        """Build from array-likes (converted and checked)."""
        return cls(
            np.asarray(hashes, dtype=np.uint8).reshape(-1, 32),
            np.asarray(qualities, dtype=np.uint8).reshape(-1),
            np.asarray(frames, dtype=np.int64).reshape(-1),
            np.asarray(timestamps, dtype=np.float64).reshape(-1),
        )

    def __len__(self) -> int:
        return len(self.hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VideoHash):
            return NotImplemented
        return (
            np.array_equal(self.hashes, other.hashes)
            and np.array_equal(self.qualities, other.qualities)
            and np.array_equal(self.frames, other.frames)
            and np.array_equal(self.timestamps, other.timestamps, equal_nan=True)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside

    def distinct(self, min_quality: int = PDQ_MIN_QUALITY) -> npt.NDArray[np.uint8]:
        """The distinct frame hashes of quality ≥ ``min_quality``, in first-seen order.

        These are what vPDQ matching counts: repeated frames (a still scene) count once.
        """
        kept = self.hashes[self.qualities >= min_quality]
        if len(kept) == 0:
            return kept
        _, first = np.unique(kept, axis=0, return_index=True)
        return kept[np.sort(first)]

    # --- text form (the reference's) -----------------------------------------------------

    def lines(self) -> list[str]:
        """One ``frame,quality,hash,timestamp`` line per frame, as the reference writes them."""
        hexes = [bytes(row).hex() for row in self.hashes]
        out = []
        for frame, quality, hex_, ts in zip(
            self.frames.tolist(),
            self.qualities.tolist(),
            hexes,
            self.timestamps.tolist(),
            strict=True,
        ):
            line = f"{frame},{quality},{hex_}"
            out.append(line if math.isnan(ts) else f"{line},{ts:.3f}")
        return out

    def to_text(self) -> str:
        """The reference's text file: :meth:`lines` joined, newline-terminated."""
        return "".join(line + "\n" for line in self.lines())

    @classmethod
    def from_text(cls, text: str) -> VideoHash:
        """Parse the reference's lines (``frame,quality,hash[,timestamp]``; blanks skipped)."""
        hashes, qualities, frames, stamps = [], [], [], []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            parts = [p.strip() for p in line.split(",")]
            if len(parts) not in (3, 4):
                raise InvalidHashError(
                    f"vPDQ line {number}: expected frame,quality,hash,timestamp, got "
                    f"{len(parts)} fields"
                )
            try:
                frame, quality = int(parts[0]), int(parts[1])
                stamp = float(parts[3]) if len(parts) == 4 else math.nan
            except ValueError:
                raise InvalidHashError(
                    f"vPDQ line {number}: frame and quality must be integers and the timestamp "
                    "a number"
                ) from None
            if frame < 0 or not 0 <= quality <= 100 or not (math.isnan(stamp) or stamp >= 0):
                raise InvalidHashError(
                    f"vPDQ line {number}: frame and timestamp must be ≥ 0, quality 0–100"
                )
            try:
                hashes.append(hash_from_hex(parts[2]))
            except InvalidHashError as exc:
                raise InvalidHashError(f"vPDQ line {number}: {exc.message}") from None
            qualities.append(quality)
            frames.append(frame)
            stamps.append(stamp)
        return cls.from_frames(
            np.array(hashes, dtype=np.uint8).reshape(-1, 32), qualities, frames, stamps
        )

    # --- JSON records ----------------------------------------------------------------------

    def to_records(self) -> list[dict[str, Any]]:
        """``[{"frame", "quality", "hash", "timestamp"}, ...]`` (the JSONL field of records)."""
        return [
            {
                "frame": frame,
                "quality": quality,
                "hash": bytes(row).hex(),
                "timestamp": None if math.isnan(ts) else round(ts, 3),
            }
            for frame, quality, row, ts in zip(
                self.frames.tolist(),
                self.qualities.tolist(),
                self.hashes,
                self.timestamps.tolist(),
                strict=True,
            )
        ]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> VideoHash:
        """Inverse of :meth:`to_records`."""
        text = "\n".join(
            f"{r['frame']},{r['quality']},{r['hash']}"
            + ("" if r.get("timestamp") is None else f",{r['timestamp']}")
            for r in records
        )
        return cls.from_text(text)

    # --- compact binary form -----------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Compact form: header, then hashes, qualities, frame numbers, timestamps in ms.

        Timestamps keep the text form's precision (milliseconds; missing ones are stored as
        ``0xFFFFFFFF``).
        """
        n = len(self)
        millis = np.full(n, 0xFFFFFFFF, dtype="<u4")
        known = ~np.isnan(self.timestamps)
        millis[known] = np.round(self.timestamps[known] * 1000).astype("<u4")
        return b"".join(
            (
                _HEADER.pack(_MAGIC, _VERSION, n),
                self.hashes.tobytes(),
                self.qualities.tobytes(),
                self.frames.astype("<u4").tobytes(),
                millis.tobytes(),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> VideoHash:
        """Inverse of :meth:`to_bytes`; raises :class:`InvalidHashError` on anything else."""
        if len(data) < _HEADER.size:
            raise InvalidHashError("not a compact vPDQ hash: too short")
        magic, version, n = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _VERSION:
            raise InvalidHashError("not a compact vPDQ hash (wrong magic or version)")
        if len(data) != _HEADER.size + n * _BYTES_PER_FRAME:
            raise InvalidHashError(
                f"compact vPDQ hash of {n} frames must have "
                f"{_HEADER.size + n * _BYTES_PER_FRAME} bytes, got {len(data)}"
            )
        at = _HEADER.size
        hashes = np.frombuffer(data, np.uint8, n * 32, at).reshape(n, 32)
        at += n * 32
        qualities = np.frombuffer(data, np.uint8, n, at)
        at += n
        frames = np.frombuffer(data, "<u4", n, at)
        at += 4 * n
        millis = np.frombuffer(data, "<u4", n, at)
        stamps = np.where(millis == 0xFFFFFFFF, np.nan, millis / 1000.0)
        if np.any(qualities > 100):
            raise InvalidHashError("compact vPDQ hash has a quality above 100")
        return cls.from_frames(hashes.copy(), qualities.copy(), frames, stamps)


@dataclass(frozen=True, slots=True)
class HashedVideo:
    """The result of :func:`hash_video`: the signal and what the container said."""

    vpdq: VideoHash
    info: VideoInfo
    frame_count: int
    """Frames decoded (all of them, not only the sampled ones)."""

    @property
    def duration(self) -> float:
        """Seconds: the container's duration, else frames decoded / frame rate."""
        if self.info.duration is not None:
            return self.info.duration
        return self.frame_count / self.info.frame_rate


def hash_video(
    source: Source, *, fps: float | None = 1.0, limits: VideoLimits | None = None
) -> HashedVideo:
    """vPDQ-hash a video (path, bytes or binary file): ``fps`` frames a second, 0/None: all.

    Raises the :class:`~kavach.errors.MediaError` subclasses of
    :func:`kavach.media.video.open_video` for input that cannot be decoded safely.
    """
    hashes: list[npt.NDArray[np.uint8]] = []
    qualities: list[int] = []
    frames: list[int] = []
    stamps: list[float] = []
    with open_video(source, limits=limits) as reader:
        every = frame_interval(reader.info.frame_rate, fps)
        for frame in reader.frames(every):
            pdq = pdq_from_luma(frame.luma)[0]
            hashes.append(pdq.hash)
            qualities.append(pdq.quality)
            frames.append(frame.index)
            stamps.append(frame.timestamp)
        info, total = reader.info, reader.frames_decoded
    packed = np.array(hashes, dtype=np.uint8).reshape(-1, 32)
    return HashedVideo(VideoHash.from_frames(packed, qualities, frames, stamps), info, total)
