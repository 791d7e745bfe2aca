"""Canonical JSON: the one byte encoding of everything the exchange signs or hashes.

It is RFC 8785 (JCS) restricted to a value domain where JCS and a plain sorted, compact
``json.dumps`` agree: objects with ASCII keys, strings, integers within ±2^53, booleans, null and
arrays; no floats. Bytes are UTF-8 without a BOM. Decoding checks the bytes were canonical, so a
value cannot be signed in one spelling and read in another.
"""

from __future__ import annotations

import json
from typing import Any

from kavach.errors import InputError

__all__ = ["CanonicalError", "decode", "encode"]

_MAX_INT = 2**53


class CanonicalError(InputError):
    """A value outside the canonical domain, or bytes that are not its canonical encoding."""

    code = "not_canonical"


def encode(value: Any, *, validate: bool = True) -> bytes:
    """The canonical bytes of ``value``.

    ``validate=False`` skips the domain check, for values that :func:`decode` (or ``json.loads``
    refusing floats) just produced: their shape is already right, and on a million-entry feed the
    check costs more than the encoding.
    """
    if validate:
        _check(value, 0)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(data: bytes, *, strict: bool = True) -> Any:
    """Parse JSON bytes; with ``strict``, refuse bytes that are not the canonical encoding."""
    try:
        value = json.loads(data.decode("utf-8"), parse_float=_no_float, parse_constant=_no_float)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CanonicalError(f"not valid JSON: {exc}") from None
    if strict and encode(value) != data:
        raise CanonicalError("JSON is valid but not in canonical form")
    return value


def _no_float(text: str) -> Any:
    raise ValueError(f"floats are not allowed ({text[:20]})")


def _check(value: Any, depth: int) -> None:
    if depth > 32:
        raise CanonicalError("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -_MAX_INT < value < _MAX_INT:
            raise CanonicalError("integer outside ±2^53")
        return
    if isinstance(value, list):
        for item in value:
            _check(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise CanonicalError("object keys must be ASCII strings")
            _check(item, depth + 1)
        return
    raise CanonicalError(f"{type(value).__name__} has no canonical JSON form")
