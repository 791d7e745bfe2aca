"""Video hashes (vpdq) in list formats: the reference lines, pytx's form in HMA CSV, and the
formats that cannot carry them. No database."""

from __future__ import annotations

import io
import json

import numpy as np

from kavach.banks.formats import (
    HashRecord,
    Label,
    ReadOptions,
    RecordError,
    WriteOptions,
    get_format,
)
from kavach.banks.formats.vpdq import video_from_pytx, video_to_pytx
from kavach.signals.types import SignalType, video_key
from kavach.signals.vpdq import VideoHash


def _video(seed: int, frames: int = 4) -> VideoHash:
    rng = np.random.default_rng(seed)
    return VideoHash.from_frames(
        rng.integers(0, 256, (frames, 32), dtype=np.uint8),
        [100, 90, 49, 100][:frames],
        [i * 30 for i in range(frames)],
        [float(i) for i in range(frames)],
    )


def _read(name: str, data: bytes) -> list[object]:
    return list(get_format(name).read(io.BytesIO(data), ReadOptions()))


def _write(name: str, records: list[HashRecord]) -> bytes:
    out = io.BytesIO()
    get_format(name).write(out, records, WriteOptions())
    return out.getvalue()


def test_a_reference_file_is_one_video() -> None:
    video = _video(1)
    (record,) = _read("vpdq", video.to_text().encode())
    assert isinstance(record, HashRecord)
    assert record.video == video
    assert record.hashes == ((SignalType.VPDQ, video_key(video)),)
    assert record.attributes == {"media_type": "video"}


def test_vpdq_format_round_trip_with_headers() -> None:
    records = [
        HashRecord.with_video(_video(1), (), (Label("industry", "A1"),), "item one"),
        HashRecord.with_video(_video(2, 3)),
        HashRecord(((SignalType.MD5, bytes(16)),)),  # no video: not written
    ]
    text = _write("vpdq", records)
    assert text.decode().startswith("# video item_id=item%20one labels=industry:A1\n0,100,")
    back = _read("vpdq", text)
    assert len(back) == 2
    for got, want in zip(back, records, strict=False):
        assert isinstance(got, HashRecord)
        assert (got.video, got.item_id, got.labels, got.hashes) == (
            want.video,
            want.item_id,
            want.labels,
            want.hashes,
        )


def test_a_bad_line_skips_its_video_and_names_the_line() -> None:
    good = _video(1).to_text()
    data = f"# video item_id=a\n{good}# video item_id=b\n0,100,nothex,0.0\n# video\n{good}"
    items = _read("vpdq", data.encode())
    assert [type(i).__name__ for i in items] == ["HashRecord", "RecordError", "HashRecord"]
    error = items[1]
    assert isinstance(error, RecordError)
    assert error.line == 7
    assert "line 7" in str(error)


def test_key_ignores_frame_numbers_and_timestamps() -> None:
    video = _video(3)
    renumbered = VideoHash.from_frames(video.hashes, video.qualities, [0, 1, 2, 3], [0, 0, 0, 0])
    assert video_key(renumbered) == video_key(video)
    assert video_key(_video(4)) != video_key(video)


def test_pytx_signal_string_round_trip() -> None:
    video = _video(5)
    text = video_to_pytx(video)
    features = json.loads(text)
    assert features[0] == f"{bytes(video.hashes[0]).hex()},100,0.000"
    back = video_from_pytx(text)
    assert video_key(back) == video_key(video)
    assert back.frames.tolist() == [0, 1, 2, 3]
    # pytx prints timestamps with 3 significant digits ("1.23e+02"): read as numbers.
    assert video_from_pytx(json.dumps([f"{'0' * 64},100,1.23e+02"])).timestamps[0] == 123.0


def test_hma_csv_carries_vpdq_rows() -> None:
    video = _video(6)
    md5 = (SignalType.MD5, bytes(range(16)))
    record = HashRecord.with_video(video, (md5,), (Label("industry", "A2"),), "v1")
    text = _write("hma", [record])
    assert b"\nvideo_md5," in text
    assert b'\nvpdq,"[' in text
    back = [r for r in _read("hma", text) if isinstance(r, HashRecord)]
    assert sorted(h for r in back for h in r.hashes) == sorted(record.hashes)
    (with_video,) = [r for r in back if r.video is not None]
    assert with_video.item_id == "v1"
    assert with_video.labels == (Label("industry", "A2"),)
    bad = _read("hma", b'signal_type,signal\nvpdq,"[""abc,100,0""]"\n')
    assert isinstance(bad[0], RecordError)
    assert "vpdq feature 1" in bad[0].message


def test_text_format_refuses_vpdq_keys_and_skips_them_on_export() -> None:
    (error,) = _read("text", f"vpdq {'ab' * 32}\n".encode())
    assert isinstance(error, RecordError)
    assert "--format vpdq" in error.message
    record = HashRecord.with_video(_video(7), ((SignalType.MD5, bytes(16)),))
    assert _write("text", [record]).decode() == f"md5 {'00' * 16}\n"
