"""Benign images generated on the fly: smooth scenes with shapes, edges and texture.

Demos, benchmarks and tests use these instead of real photographs, so nothing sensitive is ever
needed to exercise the hashing and matching pipeline.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["encode", "scene"]


def scene(width: int, height: int, seed: int = 0, *, noise: float = 4.0) -> Image.Image:
    """A photo-like RGB image: colour gradients, soft blobs, a few hard-edged shapes and grain.

    Large scenes are drawn at up to 1024 px and enlarged, with grain added at full size, which
    keeps a 6000-pixel image cheap to make.
    """
    rng = np.random.default_rng(seed)
    base_w, base_h = _base_size(width, height)
    y, x = np.mgrid[0:base_h, 0:base_w].astype(np.float32)
    x /= max(base_w - 1, 1)
    y /= max(base_h - 1, 1)
    rgb = np.empty((base_h, base_w, 3), dtype=np.float32)
    for c in range(3):
        a, b, d = rng.uniform(-120, 120, size=3)
        rgb[..., c] = 128 + a * x + b * y + d * x * y
    for _ in range(6):
        cx, cy = rng.uniform(0, 1, size=2)
        sx, sy = rng.uniform(0.05, 0.35, size=2)
        colour = rng.uniform(-90, 90, size=3)
        blob = np.exp(-(((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))
        rgb += blob[..., None] * colour
    for _ in range(2):
        # Mid-frequency texture (foliage, fabric, brickwork): photos rarely have flat regions.
        angle = rng.uniform(0, np.pi)
        cycles = rng.uniform(8, 40)
        phase = (np.cos(angle) * x + np.sin(angle) * y) * cycles * 2 * np.pi
        rgb += (rng.uniform(6, 16) * np.sin(phase))[..., None]
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    if (base_w, base_h) != (width, height):
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x0, x1 = sorted(rng.uniform(0, width, size=2))
        y0, y1 = sorted(rng.uniform(0, height, size=2))
        fill = tuple(int(v) for v in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x1, y1], fill=fill)
        else:
            draw.ellipse([x0, y0, x1, y1], fill=fill)
    if min(width, height) > 8:
        image = image.filter(ImageFilter.GaussianBlur(radius=max(width, height) / 800))
    if noise:
        tile = rng.integers(
            -int(noise), int(noise) + 1, size=(min(height, 257), min(width, 263), 3)
        )
        reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
        grain = np.tile(tile.astype(np.int16), reps)[:height, :width]
        pixels = np.asarray(image, dtype=np.int16) + grain
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return image


def _base_size(width: int, height: int, limit: int = 1024) -> tuple[int, int]:
    if max(width, height) <= limit:
        return width, height
    factor = limit / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """The image saved in ``fmt`` as bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()
