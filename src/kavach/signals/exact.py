"""Cryptographic digests of file bytes (MD5, SHA-1, SHA-256), streamed so any size works."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import BinaryIO

__all__ = ["EXACT_SIGNALS", "digest_bytes", "digest_stream"]

EXACT_SIGNALS = ("md5", "sha1", "sha256")
_CHUNK = 1024 * 1024


def _hashers(names: Iterable[str]) -> dict[str, hashlib._Hash]:
    # MD5 and SHA-1 identify known files here; they are not used for security.
    return {name: hashlib.new(name, usedforsecurity=False) for name in names}


def digest_bytes(data: bytes, names: Iterable[str] = EXACT_SIGNALS) -> dict[str, str]:
    """Hex digests of ``data`` for each algorithm in ``names``."""
    hashers = _hashers(names)
    for hasher in hashers.values():
        hasher.update(data)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def digest_stream(
    stream: BinaryIO, names: Iterable[str] = EXACT_SIGNALS, *, keep_up_to: int = 0
) -> tuple[dict[str, str], int, bytes | None]:
    """Hex digests of everything left in ``stream``, its length, and its bytes if short enough.

    The bytes are returned only when the stream holds at most ``keep_up_to`` bytes, so a caller
    can decode a small image without reading the file twice and a huge file never sits in memory.
    """
    hashers = _hashers(names)
    kept: list[bytes] | None = [] if keep_up_to > 0 else None
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        for hasher in hashers.values():
            hasher.update(chunk)
        if kept is not None:
            if total <= keep_up_to:
                kept.append(chunk)
            else:
                kept = None
    data = b"".join(kept) if kept is not None else None
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}, total, data
