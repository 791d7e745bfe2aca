"""Safe decoding: every format and colour mode, and a clear error for every kind of bad input."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from kavach.errors import (
    CorruptMediaError,
    EmptyFileError,
    FileTooLargeError,
    TooManyPixelsError,
    TruncatedMediaError,
    UnsupportedMediaError,
)
from kavach.media.image import MediaLimits, _luma, decode_image, sniff_media_type
from kavach.signals.pdq import hamming, pdq_from_luma
from tests.support.images import encode, scene
from tests.support.oracle import reference_pdq

PHOTO = scene(320, 240, seed=5)


def _pdq_hex(data: bytes) -> str:
    decoded = decode_image(data)
    (result,) = pdq_from_luma(decoded.luma, full_height=decoded.height, full_width=decoded.width)
    return result.hex


def _heif(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, format="HEIF", quality=95)
    return buffer.getvalue()


def _animated_gif() -> bytes:
    frames = [PHOTO.convert("P"), PHOTO.transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


FORMATS = {
    "jpeg": ("image/jpeg", lambda: encode(PHOTO, "JPEG", quality=90)),
    "png": ("image/png", lambda: encode(PHOTO, "PNG")),
    "gif": ("image/gif", _animated_gif),
    "webp": ("image/webp", lambda: encode(PHOTO, "WEBP", quality=90)),
    "bmp": ("image/bmp", lambda: encode(PHOTO, "BMP")),
    "tiff": ("image/tiff", lambda: encode(PHOTO, "TIFF")),
    "heic": ("image/heic", lambda: _heif(PHOTO)),
    "avif": ("image/avif", lambda: encode(PHOTO, "AVIF", quality=90)),
}


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_decodes_and_hashes_like_the_reference(name):
    media_type, make = FORMATS[name]
    data = make()
    decoded = decode_image(data)
    assert decoded.media_type == media_type
    assert (decoded.width, decoded.height) == (320, 240)
    if name == "heic":
        # The reference pipeline cannot open HEIC; the lossy file must still hash near the photo.
        expected = reference_pdq(encode(PHOTO, "PNG"))
        assert expected.distance(_pdq_hex(data)) <= 16
    else:
        assert reference_pdq(data).distance(_pdq_hex(data)) <= 4


def test_gif_hashes_its_first_frame():
    data = _animated_gif()
    first = encode(PHOTO.convert("P"), "GIF")
    assert _pdq_hex(data) == _pdq_hex(first)


TIFF_MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "I", "I;16", "F"]


@pytest.mark.parametrize("mode", TIFF_MODES)
def test_every_colour_mode_hashes_as_pillow_rgb_conversion(mode):
    image = _in_mode(PHOTO, mode)
    data = encode(image, "TIFF")
    decoded = decode_image(data)
    assert decoded.luma.dtype == np.float32
    assert decoded.luma.shape == (240, 320)
    # The reference pipeline is Pillow's convert('RGB') then PDQ: same result expected.
    assert reference_pdq(data).distance(_pdq_hex(data)) <= 4


def test_hsv_mode_luma_follows_pillow():
    # No file format stores HSV; check the conversion itself.
    image = PHOTO.convert("HSV") if hasattr(Image, "HSV") else Image.new("HSV", (32, 24))
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    expected = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    np.testing.assert_allclose(_luma(image), expected, atol=1e-3)


def _in_mode(image: Image.Image, mode: str) -> Image.Image:
    if mode == "LAB":
        return image.convert("RGB").convert("LAB") if _can_convert("RGB", "LAB") else _lab(image)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16))
        assert image.mode == "I;16"
        return image
    if mode == "PA":
        return image.convert("P").convert("PA")
    return image.convert(mode)


def _can_convert(source: str, target: str) -> bool:
    try:
        Image.new(source, (1, 1)).convert(target)
    except ValueError:
        return False
    return True


def _lab(image: Image.Image) -> Image.Image:
    from PIL import ImageCms

    return ImageCms.applyTransform(
        image.convert("RGB"),
        ImageCms.buildTransform(
            ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"
        ),
    )


def test_orientation_is_reported_not_applied():
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    PHOTO.save(buffer, "JPEG", quality=90, exif=exif)
    decoded = decode_image(buffer.getvalue())
    assert decoded.orientation == 6
    assert (decoded.width, decoded.height) == (320, 240)  # pixels as stored
    plain = encode(PHOTO, "JPEG", quality=90)
    assert decode_image(plain).orientation is None
    assert hamming(bytes.fromhex(_pdq_hex(buffer.getvalue())), bytes.fromhex(_pdq_hex(plain))) == 0


def test_content_decides_the_type_not_the_name(tmp_path):
    # A PNG saved as .jpg is decoded as the PNG it is.
    data = encode(PHOTO, "PNG")
    assert decode_image(data).media_type == "image/png"
    assert sniff_media_type(data[:32]) == ("image/png", "PNG")


# ----- bad input ------------------------------------------------------------------------------


def test_empty_file():
    with pytest.raises(EmptyFileError, match="empty"):
        decode_image(b"")


def test_file_over_the_size_limit():
    data = encode(PHOTO, "PNG")
    with pytest.raises(FileTooLargeError, match="image limit"):
        decode_image(data, limits=MediaLimits(max_bytes=len(data) - 1))


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file\n" * 10,
        b"%PDF-1.7\n" + b"0" * 100,
        b"PK\x03\x04" + b"\x00" * 100,
        bytes(range(256)),
    ],
    ids=["text", "pdf", "zip", "binary"],
)
def test_non_media_bytes(data):
    with pytest.raises(UnsupportedMediaError, match="not an image"):
        decode_image(data)


def test_video_is_recognised_but_not_decoded_as_an_image():
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    with pytest.raises(UnsupportedMediaError, match="video"):
        decode_image(mp4)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF"])
def test_truncated_files(fmt):
    data = encode(scene(640, 480, seed=2), fmt)
    with pytest.raises((TruncatedMediaError, CorruptMediaError)) as caught:
        decode_image(data[: len(data) // 2])
    assert caught.value.code in ("truncated_media", "corrupt_media")
    if fmt in ("JPEG", "PNG"):
        assert caught.value.code == "truncated_media"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"])
def test_right_magic_wrong_body(fmt):
    # A file that lies about its type: the signature of one format, garbage after it.
    magic = encode(PHOTO, fmt)[:12]
    rng = np.random.default_rng(3)
    data = magic + rng.integers(0, 256, size=4000, dtype=np.uint8).tobytes()
    refusals = (CorruptMediaError, TruncatedMediaError, UnsupportedMediaError, TooManyPixelsError)
    with pytest.raises(refusals):
        decode_image(data)


def test_jpeg_with_corrupt_scan_data_never_crashes():
    data = bytearray(encode(scene(400, 300, seed=9), "JPEG", quality=85))
    rng = np.random.default_rng(4)
    for _ in range(200):
        position = int(rng.integers(600, len(data) - 2))
        data[position] = int(rng.integers(0, 256))
    try:
        decoded = decode_image(bytes(data))
    except (CorruptMediaError, TruncatedMediaError):
        return
    assert decoded.luma.shape[0] > 0  # libjpeg may repair damage; then it must still hash


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels: a decompression bomb."""
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_decompression_bomb_is_refused_before_decoding():
    bomb = _png_claiming(100_000, 100_000)
    tracemalloc.start()
    try:
        with pytest.raises(TooManyPixelsError, match="decompression bomb"):
            decode_image(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024  # the 10 G-pixel image was never allocated


def test_pixel_limit_is_configurable():
    data = encode(PHOTO, "PNG")
    with pytest.raises(TooManyPixelsError):
        decode_image(data, limits=MediaLimits(max_pixels=320 * 240 - 1))
    assert decode_image(data, limits=MediaLimits(max_pixels=320 * 240)).width == 320


def test_huge_gif_canvas_is_refused():
    data = bytearray(encode(Image.new("P", (2, 2)), "GIF"))
    data[6:10] = struct.pack("<HH", 65535, 65535)
    with pytest.raises((TooManyPixelsError, CorruptMediaError)):
        decode_image(bytes(data))


def test_zero_sized_image_is_refused():
    data = _png_claiming(0, 10)
    with pytest.raises((CorruptMediaError, TruncatedMediaError)):
        decode_image(data)


def test_fast_and_full_decode_agree_closely_on_a_large_jpeg():
    data = encode(scene(2400, 1800, seed=8), "JPEG", quality=80)
    fast = decode_image(data)
    full = decode_image(data, fast=False)
    assert fast.scale == 8
    assert full.scale == 1
    assert fast.luma.shape == (225, 300)
    hashes = [
        pdq_from_luma(d.luma, full_height=d.height, full_width=d.width)[0].hash
        for d in (fast, full)
    ]
    assert hamming(*hashes) <= 4
