"""Hash-list formats Kavach reads and writes, each a streaming reader and writer."""

from __future__ import annotations

from kavach.banks.formats.base import (
    BankFormat,
    Deletion,
    HashRecord,
    Item,
    Label,
    ReadOptions,
    RecordError,
    WriteOptions,
)
from kavach.banks.formats.hma import HmaCsvFormat
from kavach.banks.formats.icse import IcseFormat
from kavach.banks.formats.ncmec import NcmecFormat
from kavach.banks.formats.text import TextFormat
from kavach.banks.formats.vics import VicsFormat
from kavach.banks.formats.vpdq import VpdqFormat
from kavach.errors import InputError

__all__ = [
    "FORMATS",
    "BankFormat",
    "Deletion",
    "HashRecord",
    "Item",
    "Label",
    "ReadOptions",
    "RecordError",
    "WriteOptions",
    "get_format",
]

FORMATS: dict[str, BankFormat] = {
    fmt.name: fmt
    for fmt in (
        VicsFormat(),
        NcmecFormat(),
        IcseFormat(),
        HmaCsvFormat(),
        TextFormat(),
        VpdqFormat(),
    )
}


def get_format(name: str) -> BankFormat:
    """The format called ``name`` (vics, ncmec, icse, hma, text, vpdq), or an InputError."""
    fmt = FORMATS.get(name.strip().lower())
    if fmt is None:
        raise InputError(f"unknown list format {name!r}; expected one of: {', '.join(FORMATS)}")
    return fmt
