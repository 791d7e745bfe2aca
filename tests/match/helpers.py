"""Shared by the match, scan and CLI tests: benign generated images and banks of their hashes."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from kavach.banks import service
from kavach.banks.formats import HashRecord as ListRecord
from kavach.banks.formats import Label
from kavach.hashing import HashRecord, hash_bytes
from kavach.signals.types import SignalType
from kavach.store.db import session_scope
from tests.support.images import encode, scene

SIZE = (256, 192)


@functools.cache
def image_bytes(seed: int, quality: int = 90, size: tuple[int, int] = SIZE) -> bytes:
    """A benign photo-like JPEG."""
    return encode(scene(*size, seed=seed), quality=quality)


@functools.cache
def good_seeds(count: int, start: int = 0) -> tuple[int, ...]:
    """Seeds whose images hash with PDQ quality ≥ 60, so they are matchable at the default 50."""
    seeds: list[int] = []
    seed = start
    while len(seeds) < count:
        record = hash_bytes(image_bytes(seed))
        if (record.pdq_quality or 0) >= 60:
            seeds.append(seed)
        seed += 1
    return tuple(seeds)


def write_images(folder: Path, seeds: Iterable[int], *, quality: int = 90) -> list[Path]:
    """Write one JPEG per seed into ``folder`` (``img-SEED.jpg``)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = folder / f"img-{seed:04d}.jpg"
        path.write_bytes(image_bytes(seed, quality))
        paths.append(path)
    return paths


def list_record(
    record: HashRecord, labels: Sequence[Label] = (), *, pdq_only: bool = False
) -> ListRecord:
    """A bank record for a hashed file (all its hashes, or only the PDQ hash)."""
    hashes: list[tuple[SignalType, bytes]] = []
    if not pdq_only:
        hashes += [
            (SignalType.MD5, bytes.fromhex(record.md5 or "")),
            (SignalType.SHA1, bytes.fromhex(record.sha1 or "")),
        ]
    hashes.append((SignalType.PDQ, bytes.fromhex(record.pdq or "")))
    return ListRecord(tuple(hashes), tuple(labels), record.sha256)


def make_bank(
    factory: sessionmaker[Session],
    name: str,
    records: Iterable[ListRecord],
    *,
    owner: str = "Test Hotline",
) -> None:
    """Create bank ``name`` holding ``records`` (committed)."""
    with session_scope(factory) as session:
        org = service.ensure_organisation(session, owner)
        bank = service.create_bank(session, name=name, owner=org, source="member")
        service.add_entries(session, bank, records, added_by="test")


def retract(
    factory: sessionmaker[Session], name: str, hashes: Iterable[tuple[SignalType, bytes]]
) -> None:
    with session_scope(factory) as session:
        bank = service.get_bank(session, name)
        service.retract_entries(session, bank, hashes, retracted_by="test")


def add(factory: sessionmaker[Session], name: str, records: Iterable[ListRecord]) -> None:
    with session_scope(factory) as session:
        bank = service.get_bank(session, name)
        service.add_entries(session, bank, records, added_by="test")


A1 = Label("industry", "A1")
VICS_1 = Label("vics-us", "1")
