"""Benign test images generated on the fly: smooth scenes with shapes, edges and texture."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scene(width: int, height: int, seed: int = 0, *, noise: float = 4.0) -> Image.Image:
    """A photo-like RGB image: colour gradients, soft blobs, a few hard-edged shapes and grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x /= max(width - 1, 1)
    y /= max(height - 1, 1)
    rgb = np.empty((height, width, 3), dtype=np.float32)
    for c in range(3):
        a, b, d = rng.uniform(-120, 120, size=3)
        rgb[..., c] = 128 + a * x + b * y + d * x * y
    for _ in range(6):
        cx, cy = rng.uniform(0, 1, size=2)
        sx, sy = rng.uniform(0.05, 0.35, size=2)
        colour = rng.uniform(-90, 90, size=3)
        blob = np.exp(-(((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))
        rgb += blob[..., None] * colour
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(5):
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
        grain = rng.normal(0, noise, size=(height, width, 3))
        image = Image.fromarray(
            np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8), "RGB"
        )
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """The image saved in ``fmt`` as bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()
