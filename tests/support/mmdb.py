"""A tiny MaxMind DB (``.mmdb``) writer for tests: networks mapped to records, IPv6 tree.

Writes the format the ``maxminddb`` reader reads (MaxMind DB spec 2.0): a binary search tree of
32-bit records, a 16-byte separator, the data section, then the metadata map. IPv4 networks are
placed at ``::a.b.c.d/96+len`` as MaxMind's own databases do. Networks must not overlap.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["write_mmdb"]

_EMPTY = -1


def _control(type_id: int, size: int) -> bytes:
    if size < 29:
        extra, first = b"", size
    elif size < 29 + 256:
        extra, first = bytes([size - 29]), 29
    elif size < 285 + 65536:
        extra, first = struct.pack(">H", size - 285), 30
    else:
        extra, first = struct.pack(">I", size - 65821)[1:], 31
    if type_id <= 7:
        return bytes([(type_id << 5) | first]) + extra
    return bytes([first, type_id - 7]) + extra


def _uint(type_id: int, value: int, width: int) -> bytes:
    raw = value.to_bytes(width, "big").lstrip(b"\x00")
    return _control(type_id, len(raw)) + raw


class _U16(int):
    """An int the writer stores as uint16 (the metadata fields the spec types so)."""


class _U64(int):
    """An int the writer stores as uint64."""


def _encode(value: Any) -> bytes:
    if isinstance(value, _U16):
        return _uint(5, value, 2)
    if isinstance(value, _U64):
        return _uint(9, value, 8)
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(2, len(raw)) + raw
    if isinstance(value, bytes):
        return _control(4, len(value)) + value
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, int):
        if value < 0:
            return _control(8, 4) + struct.pack(">i", value)
        if value < 2**32:
            return _uint(6, value, 4)
        return _uint(9, value, 8)
    if isinstance(value, Mapping):
        out = _control(7, len(value))
        for key, item in value.items():
            out += _encode(str(key)) + _encode(item)
        return out
    if isinstance(value, list | tuple):
        out = _control(11, len(value))
        for item in value:
            out += _encode(item)
        return out
    raise TypeError(f"cannot encode {type(value).__name__} in an MMDB")


def write_mmdb(
    path: Path,
    networks: Mapping[str, Mapping[str, Any]],
    *,
    database_type: str = "Kavach-Test",
) -> Path:
    """Write ``networks`` (CIDR → record) as an MMDB file at ``path``."""
    nodes: list[list[int]] = [[_EMPTY, _EMPTY]]
    data = b""
    leaves: list[tuple[int, int, int]] = []  # (node, side, data offset)
    for cidr, record in networks.items():
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version == 4:
            bits, length = int(net.network_address), 96 + net.prefixlen
        else:
            bits, length = int(net.network_address), net.prefixlen
        offset = len(data)
        data += _encode(record)
        node = 0
        for depth in range(length):
            side = (bits >> (127 - depth)) & 1
            if depth == length - 1:
                leaves.append((node, side, offset))
                break
            child = nodes[node][side]
            if child == _EMPTY:
                nodes.append([_EMPTY, _EMPTY])
                child = len(nodes) - 1
                nodes[node][side] = child
            node = child
    count = len(nodes)
    resolved = [[count if r == _EMPTY else r for r in pair] for pair in nodes]
    for node, side, offset in leaves:
        resolved[node][side] = count + 16 + offset
    tree = b"".join(struct.pack(">II", left, right) for left, right in resolved)
    metadata = {
        "node_count": count,
        "record_size": _U16(32),
        "ip_version": _U16(6),
        "database_type": database_type,
        "languages": ["en"],
        "binary_format_major_version": _U16(2),
        "binary_format_minor_version": _U16(0),
        "build_epoch": _U64(int(time.time())),
        "description": {"en": "Kavach test database"},
    }
    blob = tree + b"\x00" * 16 + data + b"\xab\xcd\xefMaxMind.com" + _encode(metadata)
    path.write_bytes(blob)
    return path
