"""vpdq entries in banks on both databases: frames stored beside the key, exports per format."""

from __future__ import annotations

import io

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.banks import service
from kavach.banks.formats import HashRecord, Label
from kavach.banks.models import Bank, BankEntry
from kavach.errors import InputError
from kavach.signals.types import SignalType, video_key
from kavach.signals.vpdq import VideoHash

MD5 = (SignalType.MD5, bytes(range(16)))
SHA1 = (SignalType.SHA1, bytes(range(20)))


@pytest.fixture
def bank(session: Session) -> Bank:
    owner = service.ensure_organisation(session, "Test Hotline", "IN")
    return service.create_bank(session, name="videos", owner=owner, source="member")


def _video(seed: int, frames: int) -> VideoHash:
    rng = np.random.default_rng(seed)
    return VideoHash.from_frames(
        rng.integers(0, 256, (frames, 32), dtype=np.uint8),
        np.full(frames, 100),
        np.arange(frames) * 30,
        np.arange(frames, dtype=np.float64),
    )


def _export(session: Session, bank: Bank, fmt: str) -> bytes:
    out = io.BytesIO()
    service.export_bank(session, bank, out, fmt)
    return out.getvalue()


def test_a_long_video_is_stored_with_its_frames(session: Session, bank: Bank) -> None:
    # 2 hours at 1 frame a second: far over PostgreSQL's B-tree entry limit if it were the value.
    video = _video(1, 7200)
    record = HashRecord.with_video(video, (MD5, SHA1), (Label("industry", "A1"),), "item-1")
    stats = service.add_entries(session, bank, [record], added_by="test")
    assert stats.added == 3
    entry = session.scalars(
        select(BankEntry).where(BankEntry.signal_type == SignalType.VPDQ.value)
    ).one()
    assert entry.value == video_key(video)
    assert entry.payload is not None
    assert VideoHash.from_bytes(entry.payload) == video
    assert entry.attributes == {"media_type": "video"}
    # The same video again (other timestamps) is the same entry.
    again = VideoHash.from_frames(video.hashes, video.qualities, video.frames, video.timestamps * 0)
    stats = service.add_entries(session, bank, [HashRecord.with_video(again)], added_by="test")
    assert stats.added == 0
    assert service.bank_summary(session, bank).by_signal_type == {"md5": 1, "sha1": 1, "vpdq": 1}


def test_a_vpdq_key_without_frames_is_refused(session: Session, bank: Bank) -> None:
    with pytest.raises(InputError, match="frames"):
        service.add_entries(
            session, bank, [HashRecord(((SignalType.VPDQ, bytes(32)),))], added_by="test"
        )


def test_import_export_round_trips(session: Session, bank: Bank) -> None:
    videos = [_video(2, 5), _video(3, 3)]
    data = b"".join(
        f"# video item_id=v{n} labels=industry:A{n + 1}\n".encode() + v.to_text().encode()
        for n, v in enumerate(videos)
    )
    report = service.import_bank(
        session, bank, io.BytesIO(data), "vpdq", imported_by="test", filename="list.vpdq"
    )
    assert (report.added, report.error_count) == (2, 0)
    service.add_entries(session, bank, [HashRecord((MD5,), (), "v0")], added_by="test")
    assert _export(session, bank, "vpdq") == data
    hma = _export(session, bank, "hma")
    assert hma.count(b"\nvpdq,") == 2
    # Formats without video fields keep the video's md5 and leave the frames out.
    assert b"000102030405060708090a0b0c0d0e0f" in _export(session, bank, "text")
    assert b"vpdq" not in _export(session, bank, "text")
    for fmt in ("vics", "icse", "ncmec"):
        assert _export(session, bank, fmt)  # no error, md5 only
    # Into another bank through HMA CSV: the same keys, frames and labels.
    owner = service.ensure_organisation(session, "Other")
    other = service.create_bank(session, name="copy", owner=owner, source="member")
    service.import_bank(session, other, io.BytesIO(hma), "hma", imported_by="test")
    assert _export(session, other, "vpdq").count(b"# video") == 2
    keys = {
        (e.value, e.item_id)
        for e in session.scalars(select(BankEntry).where(BankEntry.signal_type == "vpdq"))
    }
    assert {(video_key(v), f"v{n}") for n, v in enumerate(videos)} <= keys
    # Retracting by key.
    assert (
        service.retract_entries(
            session, bank, [(SignalType.VPDQ, video_key(videos[0]))], retracted_by="test"
        )
        == 1
    )
