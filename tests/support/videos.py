"""Benign generated videos for tests: frames of the demo scenes, encoded with PyAV."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
from PIL import Image

from kavach.demo.scenes import scene

__all__ = ["animation", "audio_only", "video"]


def _frames(width: int, height: int, count: int, fps: int, seed: int) -> list[np.ndarray]:
    # A new scene every second, panning slowly within it, so frames differ as in real video.
    bases: dict[int, np.ndarray] = {}
    out = []
    for i in range(count):
        second = i // fps
        if second not in bases:
            bases[second] = np.asarray(scene(width + 32, height + 32, seed=seed + second))
        shift = i % fps
        out.append(
            np.ascontiguousarray(bases[second][shift : shift + height, shift : shift + width])
        )
    return out


def video(
    *,
    fmt: str = "mp4",
    codec: str = "libx264",
    width: int = 160,
    height: int = 120,
    fps: int = 10,
    seconds: float = 3,
    seed: int = 0,
    audio: bool = False,
    rotation: int | None = None,
    options: dict[str, str] | None = None,
    pix_fmt: str = "yuv420p",
) -> bytes:
    """Encode ``seconds`` of generated frames into a container, in memory."""
    buffer = io.BytesIO()
    count = round(seconds * fps)
    with av.open(buffer, mode="w", format=fmt, options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=8000) if audio else None
        for i, rgb in enumerate(_frames(width, height, count, fps, seed)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            _add_silence(container, sound, seconds)
    return buffer.getvalue()


def _add_silence(
    container: av.container.OutputContainer, sound: av.AudioStream, seconds: float
) -> None:
    samples = sound.codec_context.frame_size or 1024
    for i in range(int(seconds * 8000 / samples)):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, samples), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts = 8000, i * samples
        container.mux(sound.encode(frame))
    container.mux(sound.encode(None))


def audio_only(seconds: float = 1.0) -> bytes:
    """An MP4 holding only an AAC stream of silence."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        _add_silence(container, container.add_stream("aac", rate=8000), seconds)
    return buffer.getvalue()


def animation(fmt: str = "GIF", *, frames: int = 6, delay_ms: int = 200, size: int = 96) -> bytes:
    """An animated GIF or WebP of ``frames`` different scenes."""
    images = [scene(size, size, seed=40 + i) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format=fmt, save_all=True, append_images=images[1:], duration=delay_ms, loop=0
    )
    return buffer.getvalue()


def still(fmt: str = "GIF", size: int = 96) -> bytes:
    """A one-frame GIF or WebP."""
    buffer = io.BytesIO()
    Image.Image.save(scene(size, size, seed=3), buffer, format=fmt)
    return buffer.getvalue()
