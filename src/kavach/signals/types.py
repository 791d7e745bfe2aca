"""Signal types: the kinds of hash Kavach computes, stores and matches, and their text forms."""

from __future__ import annotations

import enum
import hashlib
import string
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kavach.errors import InvalidHashError

if TYPE_CHECKING:
    from kavach.signals.vpdq import VideoHash

__all__ = ["SignalType", "format_hash", "parse_hash", "video_key"]

_HEX = frozenset(string.hexdigits)


class SignalType(enum.StrEnum):
    """A kind of hash. The value is the name used in files, the API and the CLI."""

    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    PDQ = "pdq"
    PHOTODNA = "photodna"
    VPDQ = "vpdq"
    """A video's frame hashes. Its value (what ``size``, ``parse_hash`` and ``format_hash`` speak
    of) is the entry's key, :func:`video_key` of the frames; the frames themselves travel beside
    it (``BankEntry.payload``, ``Query.video``)."""

    @property
    def size(self) -> int:
        """Length of the raw hash in bytes (vpdq: of its key)."""
        return _SIZES[self]

    @property
    def is_exact(self) -> bool:
        """True for cryptographic digests, matched only by equality."""
        return self in (SignalType.MD5, SignalType.SHA1, SignalType.SHA256)

    @classmethod
    def parse(cls, name: str) -> SignalType:
        """The signal type named ``name`` (case-insensitive), or a clear error."""
        key = name.strip().lower().replace("-", "")
        for member in cls:
            if member.value == key:
                return member
        known = ", ".join(m.value for m in cls)
        raise InvalidHashError(f"unknown signal type {name!r}; expected one of: {known}")


_SIZES = {
    SignalType.MD5: 16,
    SignalType.SHA1: 20,
    SignalType.SHA256: 32,
    SignalType.PDQ: 32,
    SignalType.PHOTODNA: 144,
    SignalType.VPDQ: 32,
}

_VIDEO_KEY_DOMAIN = b"kavach-vpdq-key-1\0"


def video_key(video: VideoHash) -> bytes:
    """The 32-byte key of a vPDQ hash: SHA-256 over its frame hashes and qualities, in order.

    Frame numbers and timestamps are left out: they do not take part in matching, and
    python-threatexchange's form of the signal has no frame numbers, so a video keeps its key
    through an HMA CSV round trip.
    """
    digest = hashlib.sha256(_VIDEO_KEY_DOMAIN)
    digest.update(len(video).to_bytes(8, "little"))
    digest.update(np.ascontiguousarray(video.hashes, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(video.qualities, dtype=np.uint8).tobytes())
    return digest.digest()


def parse_hash(signal_type: SignalType | str, text: str) -> bytes:
    """Parse a user-supplied hash into raw bytes, or raise :class:`InvalidHashError`.

    Hex is accepted in either case with surrounding white space; PhotoDNA hashes are also
    accepted as base64 (as Project VIC and NCMEC ship them) or as 144 comma-separated bytes.
    """
    st = SignalType.parse(signal_type) if isinstance(signal_type, str) else signal_type
    value = text.strip()
    if st is SignalType.PHOTODNA:
        return _parse_photodna(value)
    expected = st.size * 2
    if len(value) != expected:
        raise InvalidHashError(
            f"{st.value} hash must be {expected} hex characters, got {len(value)}: {_clip(value)!r}"
        )
    if not _HEX.issuperset(value):
        raise InvalidHashError(f"{st.value} hash is not hexadecimal: {_clip(value)!r}")
    return bytes.fromhex(value)


def format_hash(signal_type: SignalType | str, raw: bytes | npt.NDArray[np.uint8]) -> str:
    """Format raw hash bytes as the canonical lowercase hex string (base64 for PhotoDNA)."""
    st = SignalType.parse(signal_type) if isinstance(signal_type, str) else signal_type
    data = bytes(raw) if not isinstance(raw, bytes) else raw
    if len(data) != st.size:
        raise InvalidHashError(f"{st.value} hash must be {st.size} bytes, got {len(data)}")
    if st is SignalType.PHOTODNA:
        import base64

        return base64.b64encode(data).decode("ascii")
    return data.hex()


def _parse_photodna(value: str) -> bytes:
    import base64
    import binascii

    if "," in value:
        try:
            numbers = [int(part) for part in value.split(",")]
        except ValueError:
            raise InvalidHashError("photodna hash in CSV form must be integers 0-255") from None
        if len(numbers) != 144 or not all(0 <= n <= 255 for n in numbers):
            raise InvalidHashError("photodna hash in CSV form must be 144 integers 0-255")
        return bytes(numbers)
    if len(value) == 288 and _HEX.issuperset(value):
        return bytes.fromhex(value)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidHashError(f"photodna hash is not valid base64: {_clip(value)!r}") from None
    if len(data) != 144:
        raise InvalidHashError(f"photodna hash must decode to 144 bytes, got {len(data)}")
    return data


def _clip(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
