"""Benign generated images for tests (the generator lives in the package, for demos too)."""

from PIL import Image, ImageDraw

from kavach.demo.scenes import encode, scene

__all__ = ["encode", "scene", "watermarked"]


def watermarked(image: Image.Image) -> Image.Image:
    """A large half-transparent mark: a disk top left and a bar bottom right (as a logo and a
    handle would be)."""
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    w, h = image.size
    draw.ellipse((w // 18, w // 18, 3 * w // 18, 3 * w // 18), fill=(255, 255, 255, 110))
    draw.rectangle(
        (w - 7 * w // 18, h - w // 9, w - w // 36, h - w // 18), fill=(255, 255, 255, 150)
    )
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")
