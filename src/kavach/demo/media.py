"""A demo 'device': known benign images and a folder holding copies of some of them.

The copies are what messengers and re-posters produce — recompressed, resized, mirrored — next to
unrelated images, a zip archive and a file that is no image, so one scan shows exact matches,
perceptual matches, misses and an error record.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from kavach.demo.scenes import encode, scene

__all__ = ["DemoMedia", "make_demo_media"]


@dataclass(frozen=True)
class DemoMedia:
    known: Path
    """Folder of the images a hotline has confirmed (their hashes go into a bank)."""
    device: Path
    """Folder to scan: copies of some known images among unrelated ones."""
    expected_matches: int


def make_demo_media(folder: Path, *, known: int = 5, unrelated: int = 8) -> DemoMedia:
    """Write the demo images under ``folder`` and say what a scan should find."""
    known_dir = folder / "known"
    device = folder / "device"
    (device / "DCIM" / "Camera").mkdir(parents=True, exist_ok=True)
    (device / "WhatsApp" / "Media").mkdir(parents=True, exist_ok=True)
    known_dir.mkdir(parents=True, exist_ok=True)
    originals = [scene(1600, 1200, seed=100 + i) for i in range(known)]
    for i, image in enumerate(originals):
        (known_dir / f"known-{i + 1}.jpg").write_bytes(encode(image, "JPEG", quality=90))

    media = device / "WhatsApp" / "Media"
    # An exact copy, then what a messenger chain does to a photo.
    (media / "IMG-0001.jpg").write_bytes((known_dir / "known-1.jpg").read_bytes())
    (media / "IMG-0002.jpg").write_bytes(_recompress(originals[1], 1280, 60))
    (media / "IMG-0003.jpg").write_bytes(_recompress(originals[2], 800, 50))
    mirrored = originals[3].transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    (media / "IMG-0004.webp").write_bytes(encode(mirrored.resize((960, 720)), "WEBP", quality=70))
    camera = device / "DCIM" / "Camera"
    for i in range(unrelated):
        (camera / f"PXL_{i:04d}.jpg").write_bytes(encode(scene(1200, 900, seed=500 + i), "JPEG"))
    (device / "notes.txt").write_text("shopping list: rice, dal, milk\n")
    with zipfile.ZipFile(device / "backup.zip", "w") as archive:
        archive.writestr("old/IMG-0005.jpg", _recompress(originals[4], 1024, 70))
        archive.writestr("old/holiday.jpg", encode(scene(800, 600, seed=900), "JPEG"))
    # Exact copy, two recompressions, the zipped copy, and the mirror (a query-side variant).
    return DemoMedia(known=known_dir, device=device, expected_matches=5)


def _recompress(image: Image.Image, long_side: int, quality: int) -> bytes:
    factor = long_side / max(image.size)
    resized = image.resize((round(image.width * factor), round(image.height * factor)))
    buffer = io.BytesIO()
    resized.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
