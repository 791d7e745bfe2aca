"""The file-level engine: records, errors per file, order, parallelism."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import pytest

from kavach.errors import InputError
from kavach.hashing import HashOptions, hash_bytes, hash_file, hash_paths, iter_files, parse_signals
from kavach.media.image import MediaLimits
from tests.support.images import encode, scene
from tests.support.oracle import reference_pdq


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "b" / "deeper").mkdir(parents=True)
    files = {
        "a.jpg": encode(scene(300, 200, seed=1), "JPEG", quality=85),
        "b/c.png": encode(scene(200, 300, seed=2), "PNG"),
        "b/deeper/d.webp": encode(scene(256, 256, seed=3), "WEBP"),
        "notes.txt": b"not an image\n",
        "empty.jpg": b"",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder, files


def test_record_of_a_good_image(photos):
    folder, files = photos
    record = hash_file(folder / "a.jpg")
    data = files["a.jpg"]
    assert record.ok
    assert record.path == str(folder / "a.jpg")
    assert record.size == len(data)
    assert record.media_type == "image/jpeg"
    assert record.md5 == hashlib.md5(data).hexdigest()
    assert record.sha1 == hashlib.sha1(data).hexdigest()
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert reference_pdq(data).distance(record.pdq) <= 4
    assert 0 <= record.pdq_quality <= 100
    assert record.pdq_dihedral is None


def test_bad_files_get_error_records_with_digests(photos):
    folder, files = photos
    text = hash_file(folder / "notes.txt")
    assert text.error is not None
    assert text.error.code == "unsupported_media"
    assert text.md5 == hashlib.md5(files["notes.txt"]).hexdigest()  # still useful for exact lists
    assert text.pdq is None
    empty = hash_file(folder / "empty.jpg")
    assert empty.error.code == "empty_file"
    assert empty.size == 0
    missing = hash_file(folder / "nope.jpg")
    assert missing.error.code == "not_found"
    directory = hash_file(folder / "b")
    assert directory.error.code == "invalid_input"


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("r", hash_file(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "hashing a FIFO blocked"
    assert result["r"].error.code == "invalid_input"


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = tmp_path / "locked.jpg"
    path.write_bytes(b"\xff\xd8\xff")
    path.chmod(0)
    assert hash_file(path).error.code == "unreadable"


def test_large_file_gets_exact_hashes_only(tmp_path):
    path = tmp_path / "big.jpg"
    data = encode(scene(300, 200, seed=4), "JPEG")
    path.write_bytes(data)
    record = hash_file(path, HashOptions(limits=MediaLimits(max_bytes=len(data) - 1)))
    assert record.error.code == "media_error"
    assert "only exact hashes" in record.error.message
    assert record.md5 == hashlib.md5(data).hexdigest()
    assert record.media_type == "image/jpeg"


def test_signal_selection_and_dihedral(photos):
    folder, _ = photos
    only_pdq = hash_file(folder / "a.jpg", HashOptions(signals=parse_signals("pdq")))
    assert only_pdq.md5 is None
    assert only_pdq.sha256 is None
    assert only_pdq.pdq
    only_md5 = hash_file(folder / "notes.txt", HashOptions(signals=parse_signals("md5")))
    assert only_md5.ok  # no image was asked for, so a text file is no failure
    assert only_md5.md5
    assert only_md5.pdq is None
    with_dihedral = hash_file(folder / "a.jpg", HashOptions(dihedral=True))
    assert with_dihedral.pdq_dihedral["original"] == with_dihedral.pdq
    assert len(with_dihedral.pdq_dihedral) == 8


@pytest.mark.parametrize("text", ["", "md5,crc", " , "])
def test_parse_signals_rejects_bad_lists(text):
    with pytest.raises(InputError):
        parse_signals(text)


def test_walk_is_recursive_sorted_and_keeps_input_order(photos, tmp_path):
    folder, _ = photos
    single = tmp_path / "single.png"
    single.write_bytes(encode(scene(100, 100), "PNG"))
    found = list(iter_files([single, folder, tmp_path / "missing"]))
    relative = [os.path.relpath(p, folder) for p in found[1:-1]]
    assert found[0] == str(single)
    assert relative == ["a.jpg", "b/c.png", "b/deeper/d.webp", "empty.jpg", "notes.txt"]
    assert found[-1] == str(tmp_path / "missing")


def test_folder_symlinks_are_not_followed(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.png").write_bytes(encode(scene(50, 50), "PNG"))
    (tmp_path / "real" / "loop").symlink_to(tmp_path / "real")
    files = list(iter_files([tmp_path / "real"]))
    assert [os.path.basename(f) for f in files] == ["loop", "x.png"]
    assert hash_file(files[0]).error.code == "invalid_input"  # the link is a folder: reported


def test_parallel_run_equals_serial_run_in_order(photos):
    folder, _ = photos
    serial = list(hash_paths([folder], jobs=1))
    parallel = list(hash_paths([folder], jobs=2))
    assert [r.model_dump() for r in serial] == [r.model_dump() for r in parallel]
    assert len(serial) == 5


def test_hash_bytes_matches_hash_file(photos):
    folder, files = photos
    from_disk = hash_file(folder / "b" / "c.png")
    in_memory = hash_bytes(files["b/c.png"], path=str(folder / "b" / "c.png"))
    assert from_disk == in_memory


# --- video ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from tests.support.videos import animation, audio_only, video

    folder = tmp_path_factory.mktemp("clips")
    files = {
        "clip.mp4": video(seconds=3, fps=10, rotation=90),
        "clip.webm": video(fmt="webm", codec="libvpx-vp9", seconds=2, fps=10),
        "voice.m4a": audio_only(),
        "anim.gif": animation("GIF", frames=4, delay_ms=500),
    }
    data = video(seconds=2, fps=10)
    files["cut.mp4"] = data[: len(data) // 2]
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder, files


def test_video_record(clips):
    folder, files = clips
    record = hash_file(folder / "clip.mp4")
    data = files["clip.mp4"]
    assert record.ok, record.error
    assert record.media_type == "video/mp4"
    assert record.md5 == hashlib.md5(data).hexdigest()
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.pdq is None
    assert [(f.frame, f.timestamp) for f in record.vpdq] == [(0, 0.0), (10, 1.0), (20, 2.0)]
    assert all(len(f.hash) == 64 and 0 <= f.quality <= 100 for f in record.vpdq)
    assert (record.duration, record.frame_count, record.frame_rate, record.rotation) == (
        3.0,
        30,
        10.0,
        90,
    )
    video_hash = record.video_hash()
    assert video_hash is not None
    assert len(video_hash) == 3
    assert video_hash.lines()[1].startswith("10,")
    assert hash_bytes(data, path=record.path) == record


def test_every_frame_and_other_rates(clips):
    folder, _ = clips
    assert len(hash_file(folder / "clip.mp4", HashOptions(video_fps=None)).vpdq) == 30
    assert len(hash_file(folder / "clip.mp4", HashOptions(video_fps=2)).vpdq) == 6
    webm = hash_file(folder / "clip.webm")
    assert webm.media_type == "video/webm"
    assert len(webm.vpdq) == 2


def test_bad_videos_get_error_records_with_digests(clips):
    folder, files = clips
    voice = hash_file(folder / "voice.m4a")
    assert voice.media_type == "video/mp4"  # PyAV writes the generic "isom" brand
    assert voice.error.code == "no_video_stream"
    assert voice.sha1 == hashlib.sha1(files["voice.m4a"]).hexdigest()
    cut = hash_file(folder / "cut.mp4")
    assert cut.error.code == "truncated_media"
    assert cut.md5 == hashlib.md5(files["cut.mp4"]).hexdigest()
    assert cut.vpdq is None


def test_video_without_the_vpdq_signal_gets_digests_only(clips):
    folder, _ = clips
    record = hash_file(folder / "clip.mp4", HashOptions(signals=parse_signals("md5,pdq")))
    assert record.ok
    assert record.md5
    assert record.media_type == "video/mp4"
    assert record.vpdq is None
    assert record.sha1 is None


def test_animated_gif_is_an_image_unless_asked(clips):
    folder, _ = clips
    image = hash_file(folder / "anim.gif")
    assert image.ok
    assert image.pdq
    assert image.vpdq is None
    both = hash_file(folder / "anim.gif", HashOptions(animations_as_video=True, video_fps=None))
    assert both.ok
    assert both.pdq == image.pdq
    assert [f.frame for f in both.vpdq] == [0, 1, 2, 3]
    assert both.duration == 2.0
    assert both.vpdq[0].hash == image.pdq  # the first frame is the image


def test_display_path_escapes_only_undecodable_names() -> None:
    from kavach.hashing import HashRecord, display_path

    assert display_path("/photos/café.jpg") == "/photos/café.jpg"
    odd = os.fsdecode(b"/photos/caf\xe9.jpg")
    assert display_path(odd) == "/photos/caf\\xe9.jpg"
    record = HashRecord(path=odd)
    assert record.path == odd  # unchanged in Python: the file can still be opened
    assert json.loads(record.model_dump_json())["path"] == "/photos/caf\\xe9.jpg"


def test_variants_are_a_sequence_of_variant_hashes():
    import numpy as np

    from kavach.hashing import VariantHash, VariantHashes

    packed = np.arange(3 * 32, dtype=np.uint8).reshape(3, 32)
    masks = np.full((3, 32), 0xF0, dtype=np.uint8)
    variants = VariantHashes(["crop:c2", "rotate:+3", "trimmed"], packed, [80, 70, 60], masks)
    expected = [
        VariantHash(name, packed[k].tobytes().hex(), quality, "f0" * 32)
        for k, (name, quality) in enumerate((("crop:c2", 80), ("rotate:+3", 70), ("trimmed", 60)))
    ]
    assert len(variants) == 3
    assert list(variants) == expected
    assert variants == expected
    assert variants[-1] == expected[2]
    assert variants[1:] == expected[1:]
    assert [v.name for v in reversed(variants)] == ["trimmed", "rotate:+3", "crop:c2"]
    with pytest.raises(IndexError):
        variants[3]
    rows = list(variants.rows())
    assert rows[1] == ("rotate:+3", packed[1].tobytes(), 70, b"\xf0" * 32)
    # Made without masks, none are reported; a mismatch of lengths is refused.
    assert VariantHashes(["a"], packed[:1], [50])[0].reliable is None
    with pytest.raises(ValueError, match="differ in length"):
        VariantHashes(["a", "b"], packed[:1], [50, 50])
    with pytest.raises(ValueError, match="masks"):
        VariantHashes(["a"], packed[:1], [50], masks)


def test_a_hashed_file_and_its_variants_as_objects_make_the_same_lookups():
    """The matcher reads hashed variants as bytes; the same variants as a list of objects (a
    record built by hand, as an API client's would be) give the same queries."""
    from kavach.hashing import VariantHashes
    from kavach.match.matcher import record_queries
    from kavach.signals.variants import DEFAULT_VARIANTS, variant_allowed

    record = hash_bytes(
        encode(scene(480, 360, seed=5), "JPEG", quality=85), HashOptions(variants=DEFAULT_VARIANTS)
    )
    assert isinstance(record.pdq_variants, VariantHashes)
    assert len(record.pdq_variants) > 60
    as_objects = record.model_copy(update={"pdq_variants": list(record.pdq_variants)})
    for families in (DEFAULT_VARIANTS, frozenset({"crop"}), frozenset()):
        queries = record_queries(record, families)
        assert queries == record_queries(as_objects, families)
        pdq = [q for q in queries if q.variant is not None]
        assert pdq[0].variant == "original"
        assert pdq[0].reliable is not None
        assert all(variant_allowed(q.variant, families) for q in pdq[1:])
        assert len(pdq) > (40 if families == DEFAULT_VARIANTS else 10 if families else 0)
