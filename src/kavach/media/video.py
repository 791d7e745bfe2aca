"""Safe decoding of video (and animated GIF/WebP) into the luma planes vPDQ hashes.

As for still images the input is hostile: the container is sniffed from the bytes (never the
name) and only that demuxer may open it, so FFmpeg never follows a playlist, a URL or a reference
to another file; the file is read through a Python file object, never by name, so a name that
looks like a URL is never opened as one. Sizes, duration and frame count are checked from the
header before decoding and again while decoding (headers lie), and a wall-clock limit per file is
checked between packets. Every failure becomes a :class:`~kavach.errors.MediaError` with a code.

Frames are numbered in output order from 0 and stamped ``index / frame_rate`` (the stream's
average frame rate), as Meta's vPDQ does, so hashes line up with the reference's lines. Pixels are
hashed as stored; the rotation a player would apply is reported, not applied (as the reference).
Their luma is the reference's too: FFmpeg's YUV -> RGB24 conversion (its lookup tables reproduced
for 8-bit 4:2:0 and 4:2:2, see :class:`_Converter`), then PDQ's single-precision weighting.

Video goes through PyAV (FFmpeg). FFmpeg cannot decode animated WebP, so animated GIF and WebP go
through Pillow, with the frame rate taken from their frame delays.
"""

from __future__ import annotations

import io
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kavach.errors import (
    CorruptMediaError,
    DecodeTimeoutError,
    EmptyFileError,
    MediaError,
    NoVideoStreamError,
    TooManyPixelsError,
    TruncatedMediaError,
    UnsupportedMediaError,
    VideoTooLongError,
)
from kavach.media.image import sniff_media_type

if TYPE_CHECKING:
    import av.container
    import av.video.frame
    import av.video.stream
    from PIL import Image

__all__ = [
    "ANIMATED_TYPES",
    "VIDEO_TYPES",
    "LumaFrame",
    "VideoInfo",
    "VideoLimits",
    "VideoReader",
    "decode_video_frames",
    "frame_interval",
    "is_animated",
    "open_video",
]

Source = str | os.PathLike[str] | bytes | IO[bytes]

# Media type (from sniff_media_type) -> the one FFmpeg demuxer allowed to open it.
_DEMUXERS = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/3gpp": "mov",
    "video/3gpp2": "mov",
    "audio/mp4": "mov",
    "video/webm": "matroska",
    "video/x-matroska": "matroska",
    "video/x-msvideo": "avi",
    "video/x-flv": "flv",
}
VIDEO_TYPES = frozenset(_DEMUXERS)
"""Media types :func:`open_video` decodes with FFmpeg."""
ANIMATED_TYPES = frozenset({"image/gif", "image/webp"})
"""Image types that may hold an animation, decoded frame by frame with Pillow."""

# Formats the reference converts with FFmpeg's unscaled YUV -> RGB24 table converter (even
# heights only); the value says whether the chroma rows are halved (4:2:0) or not (4:2:2).
_TABLE_FORMATS = {"yuv420p": True, "yuvj420p": True, "yuv422p": False, "yuvj422p": False}
_MIN_SIDE = 5  # the reference refuses frames smaller than 5 px on a side


@dataclass(frozen=True, slots=True)
class _Converter:
    """Lookup tables reproducing FFmpeg's table-driven YUV -> RGB24 conversion plus PDQ's luma.

    The reference (vPDQ) converts each frame to RGB24 with ``sws_scale`` at the frame's own
    size and sets no colourspace: BT.601, range from the pixel format. For 8-bit 4:2:0 and 4:2:2
    with an even height FFmpeg converts with tables: each chroma term becomes whole steps of a
    luma index (rounded down per term), then one clipped table maps that index to the channel
    value; one chroma sample serves a 2×2 block. PDQ then takes ``0.299 R + 0.587 G + 0.114 B``
    in single precision. Folding that weighting into the table gives one float table per
    channel; a pixel's luma is three lookups added in the reference's order.
    """

    red: npt.NDArray[np.float32]
    green: npt.NDArray[np.float32]
    blue: npt.NDArray[np.float32]
    v_red: npt.NDArray[np.int16]
    """Index offset of the red lookup per V (the tables' base folded in)."""
    u_green: npt.NDArray[np.int16]
    """Index offset of the green lookup per U (the base folded in); add :attr:`v_green`."""
    v_green: npt.NDArray[np.int16]
    u_blue: npt.NDArray[np.int16]


def _converter(full_range: bool) -> _Converter:
    # BT.601 in FFmpeg's 16.16 fixed point, chroma scaled for 224 steps: V->R, U->B, U->G, V->G.
    v_r, u_b, u_g, v_g = 104597, 132201, -25675, -53279
    one = 1 << 16
    if full_range:
        luma_step, luma_offset, base = one, 0, 384
        v_r, u_b, u_g, v_g = (_c_div(c * 224, 255) for c in (v_r, u_b, u_g, v_g))
    else:
        luma_step, luma_offset, base = one * 255 // 219, 16 << 16, 326
    # Chroma coefficients in luma-index steps (16.16), divided as C divides (toward zero).
    v_r, u_b, u_g, v_g = (_c_div(c * one + 0x8000, luma_step) for c in (v_r, u_b, u_g, v_g))
    headroom = 512
    index = np.arange(1024 + 2 * headroom, dtype=np.int64)
    start = -(384 << 16) - headroom * luma_step - luma_offset
    channel = np.clip((start + index * luma_step + 0x8000) >> 16, 0, 255).astype(np.float32)
    chroma = np.arange(256, dtype=np.int64)

    def offsets(coeff: int, shift: int) -> npt.NDArray[np.int16]:
        return (shift - (coeff >> 9) + ((chroma * coeff) >> 16)).astype(np.int16)

    at = base + headroom
    return _Converter(
        red=channel * np.float32(0.299),
        green=channel * np.float32(0.587),
        blue=channel * np.float32(0.114),
        v_red=offsets(v_r, at),
        u_green=offsets(u_g, at),
        v_green=offsets(v_g, 0),
        u_blue=offsets(u_b, at),
    )


def _c_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as C does."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


_CONVERTERS = {False: _converter(False), True: _converter(True)}
# Grey video: its single plane is the luma, as is (full range) or expanded when tagged limited.
_LIMITED_LUT = np.clip((np.arange(256, dtype=np.float32) - 16) * (255 / 219), 0, 255).astype(
    np.float32
)
_FULL_LUT = np.arange(256, dtype=np.float32)
_RGB_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """Limits that keep a hostile or enormous video from exhausting memory or time."""

    max_duration: float = 4 * 3600.0
    """Longest video decoded, in seconds."""
    max_frames: int = 1_000_000
    """Most frames decoded (about 9 hours at 30 frames/s)."""
    max_pixels: int = 40_000_000
    """Largest frame (width × height): 8K video fits, a decompression bomb does not."""
    time_limit: float = 600.0
    """Wall-clock seconds one file may take to decode before it is abandoned."""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container says about the video stream."""

    media_type: str
    codec: str
    width: int
    height: int
    frame_rate: float
    """Frames per second (the average rate): timestamps are ``frame / frame_rate``."""
    duration: float | None
    """Seconds, from the container; ``None`` when it does not say."""
    frame_count: int | None
    """Frames, from the container header; ``None`` when it does not say (may be wrong)."""
    rotation: int
    """Degrees (0–359) a player turns the stored frames counter-clockwise for display, from the
    display matrix; known once the first frame is decoded (0 before)."""


@dataclass(frozen=True, slots=True)
class LumaFrame:
    """One decoded frame's luma plane (float32, 0–255, stored orientation)."""

    index: int
    timestamp: float
    luma: npt.NDArray[np.float32]


def frame_interval(frame_rate: float, fps: float | None) -> int:
    """Keep every n-th frame to sample ``fps`` frames per second (``None``/0: every frame).

    Computed as the reference does (``int(seconds_per_hash * frame_rate)``, at least 1), so the
    same frames are chosen.
    """
    if not fps or fps <= 0:
        return 1
    return max(1, int((1.0 / fps) * frame_rate))


class VideoReader:
    """An opened video: :attr:`info` at once, frames on demand. Use as a context manager."""

    info: VideoInfo

    def __init__(self, info: VideoInfo, limits: VideoLimits, deadline: float) -> None:
        self.info = info
        self.limits = limits
        self._deadline = deadline
        self.frames_decoded = 0
        """Frames decoded so far (all of them once :meth:`frames` is exhausted)."""

    def frames(self, every: int = 1) -> Iterator[LumaFrame]:
        """Decode every frame; yield the luma of those whose index is a multiple of ``every``."""
        raise NotImplementedError  # pragma: no cover

    def close(self) -> None:
        """Release the decoder and the file."""

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_progress(self, index: int) -> None:
        if time.monotonic() > self._deadline:
            raise DecodeTimeoutError(
                f"decoding took longer than the limit of {self.limits.time_limit:g} s per file "
                f"(stopped at frame {index}); raise the time limit to hash this file"
            )
        if index >= self.limits.max_frames:
            raise VideoTooLongError(
                f"the video has more than {self.limits.max_frames:,} frames, the limit"
            )
        if index / self.info.frame_rate > self.limits.max_duration:
            raise VideoTooLongError(
                f"the video runs longer than the limit of {self.limits.max_duration:g} s"
            )


def open_video(
    source: Source, *, limits: VideoLimits | None = None, media_type: str | None = None
) -> VideoReader:
    """Open a video file, path or bytes, checking its header against ``limits``.

    Raises :class:`~kavach.errors.MediaError` subclasses: ``unsupported_media`` (not a video
    format Kavach reads), ``no_video_stream`` (audio only), ``too_many_pixels``,
    ``video_too_long``, ``truncated_media``, ``corrupt_media``, ``empty_file``.
    """
    limits = limits or VideoLimits()
    deadline = time.monotonic() + limits.time_limit
    stream, owned = _open_stream(source)
    try:
        head = stream.read(64)
        stream.seek(0)
        if not head:
            raise EmptyFileError("the file is empty (0 bytes)")
        sniffed = sniff_media_type(head)[0]
        media_type = media_type or sniffed
        if media_type in ANIMATED_TYPES:
            return _AnimationReader(stream, owned, media_type, limits, deadline)
        if media_type not in _DEMUXERS:
            raise UnsupportedMediaError(
                f"{media_type} is not a video format Kavach decodes "
                "(MP4, MOV, 3GP, MKV, WebM, AVI, FLV, animated GIF/WebP)"
            )
        _check_complete(stream, media_type)
        return _AVReader(stream, owned, media_type, limits, deadline)
    except BaseException:
        if owned:
            stream.close()
        raise


def decode_video_frames(
    source: Source, *, every: int = 1, limits: VideoLimits | None = None
) -> Iterator[LumaFrame]:
    """Luma planes of every ``every``-th frame of a video, with frame numbers and timestamps."""
    with open_video(source, limits=limits) as reader:
        yield from reader.frames(every)


def is_animated(data_or_path: Source) -> bool:
    """Whether a GIF or WebP holds more than one frame (without decoding any pixels)."""
    from PIL import Image

    stream, owned = _open_stream(data_or_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=["GIF", "WEBP"])
            return bool(getattr(image, "is_animated", False))
    except Exception:  # not readable as an animation: the still-image path reports why
        return False
    finally:
        if owned:
            stream.close()


def _open_stream(source: Source) -> tuple[IO[bytes], bool]:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, str | os.PathLike):
        return open(os.fspath(source), "rb"), True  # the reader closes it
    return source, False


def _check_complete(stream: IO[bytes], media_type: str) -> None:
    """Refuse a file whose container says it is longer than it is (a cut-off copy or download).

    FFmpeg decodes what it can of such a file without complaint, so the container's own sizes
    are checked first: the top-level boxes of MP4/MOV/3GP, the Segment of Matroska/WebM, the RIFF
    chunk of AVI.
    """
    length = stream.seek(0, io.SEEK_END)
    try:
        demuxer = _DEMUXERS[media_type]
        if demuxer == "mov":
            short = _iso_short_by(stream, length)
        elif demuxer == "matroska":
            short = _ebml_short_by(stream, length)
        elif demuxer == "avi":
            stream.seek(4)
            short = int.from_bytes(stream.read(4), "little") + 8 - length
        else:
            short = 0
    finally:
        stream.seek(0)
    if short > 0:
        raise TruncatedMediaError(
            f"the {media_type} file is truncated: its container needs {short:,} more bytes "
            "than the file has; copy it again in full"
        )


def _iso_short_by(stream: IO[bytes], length: int) -> int:
    at = 0
    for _ in range(10_000):  # top-level boxes are few; a bound keeps a crafted file cheap
        if at + 8 > length:
            return 0
        stream.seek(at)
        header = stream.read(16)
        size = int.from_bytes(header[:4], "big")
        if size == 1 and len(header) == 16:
            size = int.from_bytes(header[8:16], "big")
        elif size == 0:  # runs to the end of the file
            return 0
        if size < 8:
            return 0  # not a box structure we can follow; let the demuxer judge
        if at + size > length:
            return at + size - length
        at += size
    return 0


def _ebml_short_by(stream: IO[bytes], length: int) -> int:
    stream.seek(0)
    head = stream.read(64)
    at = 4  # after the EBML header ID
    size, width = _vint(head, at)
    at += width + size
    if head[at : at + 4] != b"\x18\x53\x80\x67" or at + 4 >= len(head):  # the Segment
        return 0
    size, width = _vint(head, at + 4)
    if size < 0:
        return 0  # "unknown size" (live streams)
    end = at + 4 + width + size
    return max(0, end - length)


def _vint(data: bytes, at: int) -> tuple[int, int]:
    """An EBML variable-length integer at ``at``: (value, bytes); value -1 means unknown."""
    if at >= len(data) or data[at] == 0:
        return -1, 1
    width = 9 - data[at].bit_length()
    raw = int.from_bytes(data[at : at + width], "big")
    value = raw & ((1 << (7 * width)) - 1)
    return (-1 if value == (1 << (7 * width)) - 1 else value), width


class _AVReader(VideoReader):
    """FFmpeg (PyAV) decoding of a container with a video stream."""

    def __init__(
        self,
        stream: IO[bytes],
        owned: bool,
        media_type: str,
        limits: VideoLimits,
        deadline: float,
    ) -> None:
        import av

        self._file = stream
        self._owned = owned
        try:
            self._container: av.container.InputContainer = av.open(
                stream, mode="r", format=_DEMUXERS[media_type]
            )
        except av.FFmpegError as exc:
            raise _media_error(exc, media_type) from None
        try:
            video = self._container.streams.video
            if not video:
                raise NoVideoStreamError(
                    f"the {media_type} file has no video stream (audio only?); nothing to hash"
                )
            self._stream: av.video.stream.VideoStream = video[0]
            info = self._read_info(media_type, limits)
        except BaseException:
            self._container.close()
            raise
        super().__init__(info, limits, deadline)

    def _read_info(self, media_type: str, limits: VideoLimits) -> VideoInfo:
        s = self._stream
        ctx = s.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width < 1 or height < 1:
            raise CorruptMediaError(f"the {media_type} video stream has no frame size")
        if width * height > limits.max_pixels:
            raise TooManyPixelsError(
                f"the video is {width}×{height} = {width * height:,} pixels per frame, more "
                f"than the limit of {limits.max_pixels:,}"
            )
        # The reference's rate: the average frame rate, else the stream's base rate.
        rate = s.average_rate or s.base_rate or s.guessed_rate
        if not rate or rate <= 0:
            raise CorruptMediaError(f"the {media_type} video stream has no frame rate")
        frame_rate = float(rate)
        duration: float | None = None
        if s.duration is not None and s.time_base:
            duration = float(s.duration * s.time_base)
        elif self._container.duration:
            duration = self._container.duration / 1_000_000
        frame_count = int(s.frames) or None
        if duration is not None and duration > limits.max_duration:
            raise VideoTooLongError(
                f"the video runs {duration:,.0f} s, longer than the limit of "
                f"{limits.max_duration:g} s"
            )
        if frame_count is not None and frame_count > limits.max_frames:
            raise VideoTooLongError(
                f"the video has {frame_count:,} frames, more than the limit of "
                f"{limits.max_frames:,}"
            )
        ctx.thread_type = "AUTO"  # frame + slice threads: decode is the cost
        return VideoInfo(
            media_type=media_type,
            codec=str(ctx.name),
            width=width,
            height=height,
            frame_rate=frame_rate,
            duration=duration,
            frame_count=frame_count,
            rotation=0,
        )

    def frames(self, every: int = 1) -> Iterator[LumaFrame]:
        import av

        every = max(1, int(every))
        media_type = self.info.media_type
        index = 0
        try:
            for packet in self._container.demux(self._stream):
                self._check_progress(index)
                for frame in packet.decode():
                    self._check_progress(index)
                    if not isinstance(frame, av.VideoFrame):  # pragma: no cover - video only
                        continue
                    if index == 0:
                        self.info = replace(self.info, rotation=_frame_rotation(frame))
                    if index % every == 0:
                        luma = _frame_luma(frame, self.limits)
                        yield LumaFrame(index, _timestamp(index, self.info.frame_rate), luma)
                    index += 1
                    self.frames_decoded = index
        except av.FFmpegError as exc:
            raise _media_error(exc, media_type, index) from None
        if index == 0:
            raise CorruptMediaError(
                f"no frame of the {media_type} video could be decoded (corrupt or truncated)"
            )

    def close(self) -> None:
        self._container.close()
        if self._owned:
            self._file.close()


def _frame_rotation(frame: av.video.frame.VideoFrame) -> int:
    # PyAV exposes the stream's display matrix on decoded frames only (not on the stream).
    try:
        return round(frame.rotation or 0) % 360
    except Exception:  # a rotation we cannot read must not stop hashing
        return 0


def _frame_luma(frame: av.video.frame.VideoFrame, limits: VideoLimits) -> npt.NDArray[np.float32]:
    width, height = frame.width, frame.height
    if width * height > limits.max_pixels:
        raise TooManyPixelsError(
            f"a frame is {width}×{height} pixels, more than the limit of {limits.max_pixels:,}"
        )
    if width < _MIN_SIDE or height < _MIN_SIDE:
        raise CorruptMediaError(
            f"a frame is {width}×{height} pixels, smaller than the {_MIN_SIDE}×{_MIN_SIDE} vPDQ "
            "can hash"
        )
    fmt = frame.format.name
    if fmt in _TABLE_FORMATS and height % 2 == 0:
        return _table_luma(frame, _TABLE_FORMATS[fmt], _CONVERTERS[fmt.startswith("yuvj")])
    if fmt == "gray":  # the picture is its luma; full range unless tagged otherwise
        lut = _LIMITED_LUT if frame.color_range == 1 else _FULL_LUT
        luma: npt.NDArray[np.float32] = lut[_plane(frame, 0, height, width)]
        return luma
    # Other formats (4:4:4, 10-bit, RGB, odd heights) take swscale's general path in the
    # reference too: BT.601 whatever the stream's colour tags say, area flags.
    converted = frame.reformat(format="rgb24", src_colorspace="itu601", interpolation="AREA")
    rgb = np.asarray(converted.to_ndarray(), dtype=np.uint8)
    return _rgb_luma(rgb)


def _plane(frame: av.video.frame.VideoFrame, i: int, rows: int, cols: int) -> npt.NDArray[np.uint8]:
    plane = frame.planes[i]
    data = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
    return data[:rows, :cols]


def _table_luma(
    frame: av.video.frame.VideoFrame, halved_rows: bool, conv: _Converter
) -> npt.NDArray[np.float32]:
    """The reference's luma of an 8-bit 4:2:0/4:2:2 frame (see :class:`_Converter`)."""
    width, height = frame.width, frame.height
    half_w, half_h = (width + 1) // 2, height // 2
    y = _plane(frame, 0, height, width)
    # One chroma sample per 2x2 block: 4:2:2 frames use the even row's chroma for both rows.
    step = 1 if halved_rows else 2
    u = _plane(frame, 1, half_h * step, half_w)[::step]
    v = _plane(frame, 2, half_h * step, half_w)[::step]
    red = conv.v_red[v]
    green = conv.u_green[u] + conv.v_green[v]
    blue = conv.u_blue[u]
    if width % 2:  # give the last column its own (cropped) chroma block
        y = np.pad(y, ((0, 0), (0, 1)), mode="edge")
    blocks = y.reshape(half_h, 2, half_w, 2).astype(np.int16)

    def channel(
        table: npt.NDArray[np.float32], offset: npt.NDArray[np.int16]
    ) -> npt.NDArray[np.float32]:
        found: npt.NDArray[np.float32] = table[blocks + offset[:, None, :, None]]
        return found

    luma = channel(conv.red, red) + channel(conv.green, green)
    luma += channel(conv.blue, blue)
    out: npt.NDArray[np.float32] = luma.reshape(height, 2 * half_w)[:, :width]
    return out


def _rgb_luma(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    luma: npt.NDArray[np.float32] = rgb.astype(np.float32) @ _RGB_WEIGHTS
    return luma


def _timestamp(index: int, frame_rate: float) -> float:
    # The reference divides in single precision; doing the same keeps the 3-decimal text equal.
    return float(np.float32(index) / np.float32(frame_rate))


def _media_error(exc: Exception, media_type: str, index: int | None = None) -> MediaError:
    text = str(getattr(exc, "strerror", None) or exc)
    where = "" if index is None else f" at frame {index}"
    lowered = text.lower()
    if "moov atom not found" in lowered or "end of file" in lowered or "eof" in lowered:
        return TruncatedMediaError(
            f"the {media_type} file is truncated{where} ({text}); copy it again in full"
        )
    return CorruptMediaError(f"the {media_type} data is corrupt{where} ({text})")


class _AnimationReader(VideoReader):
    """Animated GIF or WebP through Pillow (FFmpeg has no animated WebP decoder)."""

    def __init__(
        self,
        stream: IO[bytes],
        owned: bool,
        media_type: str,
        limits: VideoLimits,
        deadline: float,
    ) -> None:
        from PIL import Image

        self._file = stream
        self._owned = owned
        fmt = "GIF" if media_type == "image/gif" else "WEBP"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self._image: Image.Image = Image.open(stream, formats=[fmt])
                width, height = self._image.size
                if width * height > limits.max_pixels:
                    raise TooManyPixelsError(
                        f"the animation is {width}×{height} pixels per frame, more than the "
                        f"limit of {limits.max_pixels:,}"
                    )
                count = int(getattr(self._image, "n_frames", 1))
                durations = self._durations(fmt, count, deadline, limits)
        except MediaError:
            raise
        except Exception as exc:
            raise CorruptMediaError(
                f"the {media_type} animation is corrupt ({exc or type(exc).__name__})"
            ) from None
        seconds = sum(durations)
        info = VideoInfo(
            media_type=media_type,
            codec=fmt.lower(),
            width=width,
            height=height,
            frame_rate=count / seconds,
            duration=seconds,
            frame_count=count,
            rotation=0,
        )
        if seconds > limits.max_duration:
            raise VideoTooLongError(
                f"the animation runs {seconds:,.0f} s, longer than the limit of "
                f"{limits.max_duration:g} s"
            )
        super().__init__(info, limits, deadline)

    def _durations(self, fmt: str, count: int, deadline: float, limits: VideoLimits) -> list[float]:
        if count > limits.max_frames:
            raise VideoTooLongError(
                f"the animation has {count:,} frames, more than the limit of {limits.max_frames:,}"
            )
        durations = []
        for i in range(count):
            if time.monotonic() > deadline:
                raise DecodeTimeoutError(
                    f"reading the animation took longer than {limits.time_limit:g} s"
                )
            self._image.seek(i)
            if fmt == "WEBP":
                self._image.load()  # Pillow reads a WebP frame's delay when it decodes it
            ms = float(self._image.info.get("duration") or 0)
            # Browsers show delays of 10 ms or less as 100 ms; so do we.
            durations.append((ms if ms > 10 else 100.0) / 1000)
        self._image.seek(0)
        return durations

    def frames(self, every: int = 1) -> Iterator[LumaFrame]:
        every = max(1, int(every))
        count = self.info.frame_count or 1
        try:
            for index in range(count):
                self._check_progress(index)
                self.frames_decoded = index + 1
                if index % every:
                    continue
                self._image.seek(index)
                yield LumaFrame(
                    index, _timestamp(index, self.info.frame_rate), _pil_luma(self._image)
                )
        except MediaError:
            raise
        except EOFError:
            raise TruncatedMediaError(
                f"the {self.info.media_type} animation is truncated at frame {index}"
            ) from None
        except Exception as exc:
            raise CorruptMediaError(
                f"the {self.info.media_type} animation is corrupt at frame {index} "
                f"({exc or type(exc).__name__})"
            ) from None

    def close(self) -> None:
        self._image.close()
        if self._owned:
            self._file.close()


def _pil_luma(image: Image.Image) -> npt.NDArray[np.float32]:
    frame = image if image.mode == "RGB" else image.convert("RGB")
    return np.asarray(frame.convert("F"), dtype=np.float32)
