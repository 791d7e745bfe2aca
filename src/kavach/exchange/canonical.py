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

__all__ = ["CanonicalError", "decode", "encode", "encode_members", "validate"]

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


def validate(value: Any) -> None:
    """Raise CanonicalError unless ``value`` is inside the canonical domain."""
    _check(value, 0)


def encode_members(obj: dict[str, Any], encoded: dict[str, bytes]) -> bytes:
    """The canonical bytes of ``obj`` with some members' values given already encoded.

    Equal to :func:`encode` of ``obj`` when each ``encoded[key]`` is the canonical encoding of
    ``obj[key]``; lets a follower hash a page's entries and check its signature from one
    encoding of each entry. The other members are checked and encoded as usual.
    """
    parts = []
    for key in sorted(obj):
        if not isinstance(key, str) or not key.isascii():
            raise CanonicalError("object keys must be ASCII strings")
        value = encoded.get(key)
        parts.append(encode(key) + b":" + (value if value is not None else encode(obj[key])))
    return b"{" + b",".join(parts) + b"}"


def decode(data: bytes, *, strict: bool = True) -> Any:
    """Parse JSON bytes; with ``strict``, refuse bytes that are not the canonical encoding."""
    try:
        value = json.loads(data.decode("utf-8"), parse_float=_no_float, parse_constant=_no_float)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CanonicalError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise CanonicalError("JSON nested too deeply") from None
    if strict and encode(value) != data:
        raise CanonicalError("JSON is valid but not in canonical form")
    return value


def _no_float(text: str) -> Any:
    raise ValueError(f"floats are not allowed ({text[:20]})")


def _check(value: Any, depth: int) -> None:
    # Scalars inside a container are checked inline, not by a call each: this runs for every
    # field of every entry of a feed page.
    if depth > 32:
        raise CanonicalError("value nested too deeply")
    kind = type(value)
    if kind is dict:
        items: Any = value.items()
    elif kind is list:
        items = ((None, item) for item in value)
    else:
        _check_other(value, depth)
        return
    inline = depth < 32  # a child at depth 33 must reach the depth check
    for key, item in items:
        if kind is dict and (type(key) is not str or not key.isascii()):
            raise CanonicalError("object keys must be ASCII strings")
        member = type(item)
        if inline and (member is str or item is None or member is bool):
            continue
        if inline and member is int:
            if not -_MAX_INT < item < _MAX_INT:
                raise CanonicalError("integer outside ±2^53")
            continue
        _check(item, depth + 1)


def _check_other(value: Any, depth: int) -> None:
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
