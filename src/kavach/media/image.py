"""Safe decoding of still images into the luma plane PDQ needs.

Everything here treats the input as hostile: the format is sniffed from the bytes (never the file
name), only the matching Pillow plugin may open it, sizes are checked from the header before any
pixel is decoded, and every decoder failure becomes a :class:`~kavach.errors.MediaError` with a
code. Pixels are hashed as stored, without applying the EXIF orientation (as the reference does);
the orientation is reported so a reviewer can display the image upright.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, UnidentifiedImageError

from kavach.errors import (
    CorruptMediaError,
    EmptyFileError,
    FileTooLargeError,
    MediaError,
    TooManyPixelsError,
    TruncatedMediaError,
    UnsupportedMediaError,
)

__all__ = ["DecodedImage", "MediaLimits", "decode_image", "sniff_media_type"]

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """Limits that keep a hostile file from exhausting memory or time."""

    max_bytes: int = 256 * 1024 * 1024
    """Largest image file that is decoded (exact hashes are still computed beyond it)."""
    max_pixels: int = 150_000_000
    """Largest width × height decoded; larger images are refused as decompression bombs."""


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """The luma plane of an image, possibly decoded at a reduced scale."""

    luma: npt.NDArray[np.float32]
    width: int
    """Width of the stored image in pixels (before any scaled decode)."""
    height: int
    media_type: str
    orientation: int | None
    """EXIF orientation tag (1–8) when present."""

    @property
    def scale(self) -> int:
        """Reduction factor of the decode (1 = full size)."""
        return -(-self.width // int(self.luma.shape[1]))


# (magic test, media type, Pillow format name)
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "PNG"),
    (b"GIF87a", 0, "image/gif", "GIF"),
    (b"GIF89a", 0, "image/gif", "GIF"),
    (b"BM", 0, "image/bmp", "BMP"),
    (b"II*\x00", 0, "image/tiff", "TIFF"),
    (b"MM\x00*", 0, "image/tiff", "TIFF"),
)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
# ISO base media (ftyp) brands of MP4 video; 3GP ("3gp*", "3g2*") and QuickTime are told apart.
_VIDEO_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"mp71",
        b"avc1", b"M4V ", b"M4VH", b"M4VP", b"dash", b"mmp4", b"MSNV", b"XAVC", b"f4v ",
        b"NDAS", b"MP4 ",
    }
)  # fmt: skip
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
# A QuickTime file may start with any top-level atom instead of ftyp.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


def sniff_media_type(head: bytes) -> tuple[str, str | None]:
    """Media type of a file from its first bytes, and the Pillow format that decodes it.

    The format is ``None`` for media we recognise but do not decode as a still image (video, and
    MP4 audio, which the video decoder refuses with a clear error). Pass at least 40 bytes so
    Matroska and WebM are told apart.
    Raises :class:`UnsupportedMediaError` for anything else.
    """
    for magic, offset, media_type, fmt in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return media_type, fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "image/heic" if brand.startswith(b"he") else "image/heif", "HEIF"
        if brand == b"avif":
            return "image/avif", "AVIF"
        if brand == b"qt  ":
            return "video/quicktime", None
        if brand.startswith(b"3g2"):
            return "video/3gpp2", None
        if brand.startswith(b"3g"):
            return "video/3gpp", None
        if brand in _AUDIO_BRANDS:
            return "audio/mp4", None
        if brand in _VIDEO_BRANDS:
            return "video/mp4", None
    if head[4:8] in _QUICKTIME_ATOMS:
        return "video/quicktime", None
    if head[:4] == b"\x1a\x45\xdf\xa3":
        # The EBML header names its DocType within the first 40 bytes.
        return ("video/x-matroska", None) if b"matroska" in head else ("video/webm", None)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo", None
    if head[:3] == b"FLV" and head[3:4] == b"\x01":
        return "video/x-flv", None
    raise UnsupportedMediaError(
        "not an image or video Kavach can decode (JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC/HEIF, "
        "AVIF; MP4, MOV, 3GP, MKV, WebM, AVI, FLV)"
    )


def decode_image(
    data: bytes, *, limits: MediaLimits | None = None, fast: bool = True
) -> DecodedImage:
    """Decode ``data`` into a luma plane, refusing anything unsafe with a clear error.

    With ``fast`` (the default) a JPEG is decoded at the largest DCT scale that keeps its PDQ hash
    within the reference bound (see :func:`jpeg_scale`); other formats are decoded at full size.
    """
    limits = limits or MediaLimits()
    if not data:
        raise EmptyFileError("the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(
            f"the file has {len(data):,} bytes, more than the image limit of {limits.max_bytes:,}"
        )
    media_type, fmt = sniff_media_type(data[:32])
    if fmt is None:
        raise UnsupportedMediaError(f"{media_type} is video; still-image hashing does not apply")
    if fmt == "HEIF":
        _register_heif()
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel limit below, before any pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
            return _decode_opened(image, media_type, limits, fast)
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise TooManyPixelsError(f"refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise CorruptMediaError(f"the file starts like {media_type} but is not valid") from None
    except (OSError, SyntaxError, ValueError, IndexError, EOFError, KeyError, TypeError) as exc:
        text = str(exc)
        if "truncated" in text or isinstance(exc, EOFError):
            raise TruncatedMediaError(f"the {media_type} data is truncated ({text})") from None
        raise CorruptMediaError(
            f"the {media_type} data is corrupt ({text or type(exc).__name__})"
        ) from None


def _decode_opened(
    image: Image.Image, media_type: str, limits: MediaLimits, fast: bool
) -> DecodedImage:
    width, height = image.size
    if width < 1 or height < 1:
        raise CorruptMediaError(f"the image has no pixels ({width}×{height})")
    if width * height > limits.max_pixels:
        raise TooManyPixelsError(
            f"the image is {width}×{height} = {width * height:,} pixels, more than the limit of "
            f"{limits.max_pixels:,} (a possible decompression bomb)"
        )
    orientation = _orientation(image)
    if image.format == "JPEG" and fast:
        scale = jpeg_scale(width, height)
        if scale > 1:
            # Pillow picks the largest scale whose output still covers the requested size, so
            # ask for the floor: libjpeg then returns ceil(size / scale) pixels per axis.
            # The Y plane skips the colour conversion; the reference clamps each pixel's RGB,
            # which the Y plane does not, but at these scales the filter approximation dominates
            # (benchmarks/hashing.py measures both). Small images decode at full size in RGB.
            target = (max(1, width // scale), max(1, height // scale))
            image.draft("L" if image.mode in ("L", "RGB") else image.mode, target)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    image.load()
    luma = _luma(image)
    return DecodedImage(luma, width, height, media_type, orientation)


def jpeg_scale(width: int, height: int) -> int:
    """Largest libjpeg scale divisor (1, 2, 4, 8) that keeps PDQ within the reference bound.

    The reference filters each axis with a box of about ``size / 128`` pixels; a scaled decode
    already averages ``scale`` pixels, which only stays invisible while a block is small against
    that window. The ratio here was chosen by measurement (``benchmarks/hashing.py``).
    """
    window = (min(width, height) + 127) // 128
    for scale, min_window in _MIN_WINDOW:
        if window >= min_window:
            return scale
    return 1


# (scale, smallest reference filter window it may be used with), measured by benchmarks/hashing.py
_MIN_WINDOW = ((8, 12), (4, 6), (2, 3))


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(0x0112)
    except Exception:  # a broken EXIF block must not stop hashing
        return None
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else None


def _luma(image: Image.Image) -> npt.NDArray[np.float32]:
    if image.mode == "L":
        return np.asarray(image, dtype=np.float32)
    if image.mode != "RGB":
        # Pillow's own conversion, as the reference pipeline (``convert('RGB')``) does.
        image = image.convert("RGB")
    # Pillow's RGB -> F is the reference's 0.299 R + 0.587 G + 0.114 B in float32, 3x faster
    # than the same sum in NumPy.
    return np.asarray(image.convert("F"), dtype=np.float32)
