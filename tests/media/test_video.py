"""Video decoding: every container we promise, limits, and every kind of bad input."""

from __future__ import annotations

import random

import numpy as np
import pytest

from kavach.errors import (
    CorruptMediaError,
    DecodeTimeoutError,
    EmptyFileError,
    MediaError,
    NoVideoStreamError,
    TooManyPixelsError,
    TruncatedMediaError,
    UnsupportedMediaError,
    VideoTooLongError,
)
from kavach.media.image import sniff_media_type
from kavach.media.video import (
    VideoLimits,
    decode_video_frames,
    frame_interval,
    is_animated,
    open_video,
)
from tests.support.videos import animation, audio_only, still, video

CONTAINERS = {
    "mp4": ("video/mp4", {"fmt": "mp4"}),
    "mov": ("video/quicktime", {"fmt": "mov", "codec": "h264"}),
    "mkv": ("video/x-matroska", {"fmt": "matroska"}),
    "webm": ("video/webm", {"fmt": "webm", "codec": "libvpx-vp9"}),
    "avi": ("video/x-msvideo", {"fmt": "avi", "codec": "mpeg4"}),
    "3gp": ("video/3gpp", {"fmt": "3gp", "codec": "h263", "width": 176, "height": 144}),
    "flv": ("video/x-flv", {"fmt": "flv", "codec": "flv"}),
}


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return video(fmt="mp4", seconds=3, fps=10)


@pytest.mark.parametrize("name", list(CONTAINERS))
def test_every_container_decodes_with_frame_numbers_and_timestamps(name):
    media_type, kwargs = CONTAINERS[name]
    data = video(seconds=2, fps=10, **kwargs)
    assert sniff_media_type(data[:64])[0] == media_type
    with open_video(data) as reader:
        assert reader.info.media_type == media_type
        assert reader.info.frame_rate == 10.0
        frames = list(reader.frames())
        assert reader.frames_decoded == 20
    assert [f.index for f in frames] == list(range(20))
    assert [f.timestamp for f in frames] == pytest.approx([i / 10 for i in range(20)])
    luma = frames[5].luma
    assert luma.dtype == np.float32
    assert luma.shape == (kwargs.get("height", 120), kwargs.get("width", 160))
    assert luma.min() >= 0
    assert luma.max() <= 255


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_gif_and_webp(fmt):
    data = animation(fmt, frames=6, delay_ms=200)
    assert is_animated(data)
    with open_video(data) as reader:
        assert reader.info.media_type == f"image/{fmt.lower()}"
        assert reader.info.frame_count == 6
        assert reader.info.duration == pytest.approx(1.2)
        frames = list(reader.frames(every=2))
    assert [f.index for f in frames] == [0, 2, 4]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.4, 0.8])
    assert not is_animated(still(fmt))


def test_sampling_follows_the_reference():
    # int(seconds_per_hash * frame_rate): 29.97 frames/s keeps every 29th frame at 1 fps.
    assert frame_interval(29.97, 1.0) == 29
    assert frame_interval(30.0, 1.0) == 30
    assert frame_interval(30.0, 2.0) == 15
    assert frame_interval(0.5, 1.0) == 1
    assert frame_interval(30.0, None) == frame_interval(30.0, 0) == 1


def test_sampled_frames(mp4):
    frames = list(decode_video_frames(mp4, every=10))
    assert [(f.index, f.timestamp) for f in frames] == [(0, 0.0), (10, 1.0), (20, 2.0)]


def test_path_and_file_object_sources(tmp_path, mp4):
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4)
    from_path = [f.index for f in decode_video_frames(path, every=15)]
    with open(path, "rb") as handle:
        from_file = [f.index for f in decode_video_frames(handle, every=15)]
    assert from_path == from_file == [0, 15]


def test_rotation_is_reported_not_applied():
    data = video(seconds=1, rotation=90)
    with open_video(data) as reader:
        frames = list(reader.frames())
        assert reader.info.rotation == 90
    assert frames[0].luma.shape == (120, 160)  # stored orientation, as the reference hashes


def test_audio_is_skipped_beside_video():
    with open_video(video(seconds=1, audio=True)) as reader:
        assert len(list(reader.frames())) == 10


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video/quicktime"),
        (b"\x00\x00\x00\x1cftyp3gp4\x00\x00\x00\x00", "video/3gpp"),
        (b"\x00\x00\x00\x1cftyp3g2a\x00\x00\x00\x00", "video/3gpp2"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00", "audio/mp4"),
        (b"\x00\x00\x00\x1cftypisom\x00\x00\x00\x00", "video/mp4"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
    ],
)
def test_sniffing(head, media_type):
    assert sniff_media_type(head + b"\x00" * 32) == (media_type, None)


def test_audio_only_is_a_clear_error():
    with pytest.raises(NoVideoStreamError, match="no video stream") as caught:
        open_video(audio_only())
    assert caught.value.code == "no_video_stream"
    assert isinstance(caught.value, UnsupportedMediaError)


def test_empty_and_non_video():
    with pytest.raises(EmptyFileError):
        open_video(b"")
    with pytest.raises(UnsupportedMediaError):
        open_video(b"just some text, not a video at all" * 4)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    with pytest.raises(UnsupportedMediaError, match="not a video format"):
        open_video(png)


@pytest.mark.parametrize("name", ["mp4", "mov", "mkv", "webm", "avi", "3gp"])
@pytest.mark.parametrize("keep", [0.3, 0.95])
def test_truncated_files(name, keep):
    data = video(seconds=2, **CONTAINERS[name][1])
    with pytest.raises(TruncatedMediaError, match="truncated") as caught:
        list(decode_video_frames(data[: int(len(data) * keep)]))
    assert caught.value.code == "truncated_media"


def test_garbage_after_a_valid_header(mp4):
    data = mp4[:40] + bytes(random.Random(1).randbytes(len(mp4) - 40))
    with pytest.raises((CorruptMediaError, TruncatedMediaError)):
        list(decode_video_frames(data))
    mkv = video(fmt="matroska", seconds=1)
    with pytest.raises((CorruptMediaError, TruncatedMediaError)):
        list(decode_video_frames(mkv[:64] + b"\x00" * (len(mkv) - 64)))


def test_random_damage_gives_media_errors_or_frames(mp4):
    rng = random.Random(7)
    for _ in range(12):
        data = bytearray(mp4)
        for _ in range(20):
            data[rng.randrange(48, len(data))] = rng.randrange(256)
        try:
            frames = list(decode_video_frames(bytes(data)))
        except MediaError:
            continue
        assert all(f.luma.shape == (120, 160) for f in frames)


def test_duration_and_frame_limits_from_the_header(mp4):
    with pytest.raises(VideoTooLongError, match="longer than the limit of 2 s"):
        open_video(mp4, limits=VideoLimits(max_duration=2))
    with pytest.raises(VideoTooLongError, match="more than the limit of 20"):
        open_video(mp4, limits=VideoLimits(max_frames=20))


def test_frame_limit_while_decoding_when_the_header_is_silent():
    # Matroska does not state a frame count: the count is enforced while decoding.
    mkv = video(fmt="matroska", seconds=3)
    with pytest.raises(VideoTooLongError, match="more than 12 frames"):
        list(decode_video_frames(mkv, limits=VideoLimits(max_frames=12)))


def test_resolution_limit(mp4):
    with pytest.raises(TooManyPixelsError, match="160×120"):
        open_video(mp4, limits=VideoLimits(max_pixels=160 * 120 - 1))
    with pytest.raises(TooManyPixelsError):
        open_video(animation("GIF"), limits=VideoLimits(max_pixels=100))


def test_time_limit_stops_decoding(mp4):
    with pytest.raises(DecodeTimeoutError, match="longer than the limit") as caught:
        list(decode_video_frames(mp4, limits=VideoLimits(time_limit=0)))
    assert caught.value.code == "decode_timeout"


def test_tiny_frames_are_refused():
    data = video(width=4, height=4, seconds=0.5, codec="mpeg4", fmt="avi")
    with pytest.raises(CorruptMediaError, match="smaller than"):
        list(decode_video_frames(data))
