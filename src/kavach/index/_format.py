"""The on-disk index format: a JSON header followed by raw arrays, read back by mmap.

Layout (all integers little-endian)::

    0   8 bytes   magic b"KAVACHIX"
    8   uint32    header length H
    12  uint32    CRC-32 of the header bytes
    16  H bytes   UTF-8 JSON header
    ..  arrays, each at the offset (a multiple of 64) the header gives, with its CRC-32

No pickle: a file holds only numbers, so loading one never runs code. See ``docs/index.md``.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kavach.errors import IndexFormatError

MAGIC = b"KAVACHIX"
FORMAT_NAME = "kavach-index"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sII")
_ALIGN = 64
_MAX_HEADER = 64 * 1024 * 1024
# Only plain numeric dtypes may come out of a file.
_DTYPES = frozenset({"|u1", "|b1", "<u4", "<u8", "<i8"})


@dataclass(frozen=True, slots=True)
class StoredSegment:
    """One segment as stored: small integer metadata and named arrays."""

    meta: Mapping[str, int]
    arrays: Mapping[str, NDArray[Any]]


@dataclass(frozen=True, slots=True)
class StoredIndex:
    kind: str
    params: Mapping[str, Any]
    segments: list[StoredSegment]


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _dtype_str(a: NDArray[Any]) -> str:
    s = a.dtype.str
    if s not in _DTYPES:
        raise ValueError(f"dtype {s} cannot be stored")
    return s


def write(path: str | os.PathLike[str], index: StoredIndex) -> None:
    """Write ``index`` to ``path`` atomically (a temporary file renamed over it)."""
    arrays: list[NDArray[Any]] = []
    seg_headers: list[dict[str, Any]] = []
    for seg in index.segments:
        entries: dict[str, Any] = {}
        for name, a in seg.arrays.items():
            a = np.ascontiguousarray(a)
            arrays.append(a)
            entries[name] = {
                "dtype": _dtype_str(a),
                "shape": list(a.shape),
                "crc32": zlib.crc32(a.data),
            }
        seg_headers.append({"meta": dict(seg.meta), "arrays": entries})

    # Offsets depend on the header's length and the header holds the offsets: grow until stable.
    offsets_width = 0
    while True:
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "kind": index.kind,
            "params": dict(index.params),
            "segments": seg_headers,
            "file_size": 0,
        }
        pos = _aligned(_PREAMBLE.size + offsets_width)
        k = 0
        for sh in seg_headers:
            for entry in sh["arrays"].values():
                entry["offset"] = pos
                pos = _aligned(pos + arrays[k].nbytes)
                k += 1
        header["file_size"] = file_size = pos
        blob = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
        if _PREAMBLE.size + len(blob) <= _aligned(_PREAMBLE.size + offsets_width):
            break
        offsets_width = len(blob)

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(_PREAMBLE.pack(MAGIC, len(blob), zlib.crc32(blob)))
            f.write(blob)
            k = 0
            for sh in seg_headers:
                for entry in sh["arrays"].values():
                    f.seek(entry["offset"])
                    f.write(arrays[k].data)
                    k += 1
            f.truncate(file_size)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read(path: str | os.PathLike[str], *, kind: str, verify: bool = True) -> StoredIndex:
    """Map ``path`` and return its arrays as read-only views of the file.

    Raises :class:`IndexFormatError` for anything that is not an intact index file of this
    version and ``kind``; ``verify`` also checks every array's CRC-32 (~0.25 s per GB).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < _PREAMBLE.size:
                raise IndexFormatError(f"{path}: too short to be an index file ({size} bytes)")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise IndexFormatError(f"{path}: cannot be read: {e}") from e
    magic, hlen, hcrc = _PREAMBLE.unpack_from(mm, 0)
    if magic != MAGIC:
        raise IndexFormatError(f"{path}: not a Kavach index file (bad magic bytes)")
    if hlen > _MAX_HEADER or _PREAMBLE.size + hlen > size:
        raise IndexFormatError(f"{path}: truncated or corrupt header")
    blob = mm[_PREAMBLE.size : _PREAMBLE.size + hlen]
    if zlib.crc32(blob) != hcrc:
        raise IndexFormatError(f"{path}: header checksum mismatch (corrupt file)")
    try:
        header = json.loads(blob)
    except ValueError as e:
        raise IndexFormatError(f"{path}: header is not valid JSON") from e
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise IndexFormatError(f"{path}: not a Kavach index file")
    if header.get("version") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: format version {header.get('version')!r}, this Kavach reads "
            f"version {FORMAT_VERSION}; rebuild the index"
        )
    if header.get("kind") != kind:
        raise IndexFormatError(f"{path}: holds a {header.get('kind')!r} index, not {kind!r}")
    if header.get("file_size") != size:
        raise IndexFormatError(
            f"{path}: truncated or padded ({size} bytes, header says {header.get('file_size')})"
        )
    try:
        segments = [_read_segment(mm, sh, size, verify) for sh in header["segments"]]
        params = header["params"]
        if not isinstance(params, dict):
            raise TypeError("params")
    except (KeyError, TypeError, ValueError) as e:
        raise IndexFormatError(f"{path}: malformed header ({e})") from e
    return StoredIndex(kind=kind, params=params, segments=segments)


def _read_segment(mm: mmap.mmap, sh: Any, size: int, verify: bool) -> StoredSegment:
    meta = {str(k): int(v) for k, v in sh["meta"].items()}
    arrays: dict[str, NDArray[Any]] = {}
    for name, entry in sh["arrays"].items():
        dtype = np.dtype(entry["dtype"]) if entry["dtype"] in _DTYPES else None
        shape = tuple(int(x) for x in entry["shape"])
        offset = int(entry["offset"])
        if dtype is None or any(x < 0 for x in shape) or offset < 0:
            raise ValueError(f"bad array entry {name!r}")
        count = int(np.prod(shape, dtype=np.int64))
        if offset + count * dtype.itemsize > size:
            raise IndexFormatError(f"array {name!r} runs past the end of the file (truncated)")
        if count == 0:
            a = np.empty(shape, dtype=dtype)
        else:
            a = np.frombuffer(mm, dtype=dtype, count=count, offset=offset).reshape(shape)
        if verify and zlib.crc32(a.data) != int(entry["crc32"]):
            raise IndexFormatError(f"array {name!r} fails its checksum (corrupt file)")
        arrays[str(name)] = a
    return StoredSegment(meta=meta, arrays=arrays)
