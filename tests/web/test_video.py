"""Video in the API on a real server: vpdq frames in lookups, submissions, uploads and banks."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from kavach.auth.models import Role
from kavach.hashing import HashRecord, hash_bytes
from kavach.jobs.models import Job
from kavach.web.api.schemas import MAX_VIDEO_FRAMES
from tests.support.videos import video
from tests.web.helpers import LiveServer, auth
from tests.web.test_api import _wait_for_version


@cache
def _clip(seed: int, codec: str = "libx264", fmt: str = "mp4") -> bytes:
    """Six seconds of generated benign video (six frames hashed at 1 frame a second)."""
    return video(seconds=6, fps=10, width=320, height=240, seed=seed, codec=codec, fmt=fmt)


@cache
def _hashed(seed: int, codec: str = "libx264", fmt: str = "mp4") -> HashRecord:
    record = hash_bytes(_clip(seed, codec, fmt))
    assert record.vpdq, record.error
    return record


def _frames(record: HashRecord) -> list[dict[str, Any]]:
    return [frame.model_dump() for frame in record.vpdq or []]


def _item(record: HashRecord) -> dict[str, Any]:
    return {"signal_type": "vpdq", "frames": _frames(record)}


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def video_bank(server: LiveServer, keys: dict[Role, str]) -> str:
    """A bank listing one video (seed 21), imported as a vpdq list file through the API."""
    analyst = keys[Role.ANALYST]
    name = f"videos-{secrets.token_hex(4)}"
    listed = _hashed(21).video_hash()
    assert listed is not None
    listing = f"# video item_id=clip-21 labels=industry:A1\n{listed.to_text()}".encode()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        made = client.post("/api/v1/banks", json={"name": name}, headers=auth(analyst))
        assert made.status_code == 201, made.text
        report = client.post(
            f"/api/v1/banks/{name}/import?format=vpdq",
            files={"file": ("clip.txt", listing)},
            headers=auth(analyst),
        )
        assert report.status_code == 200, report.text
        assert report.json()["added"] == 1
        _wait_for_version(client, analyst, name)
    return name


def test_hash_upload_gives_the_frames(client: httpx.Client, keys: dict[Role, str]) -> None:
    response = client.post(
        "/api/v1/hash", files={"file": ("c.mp4", _clip(21))}, headers=auth(keys[Role.REVIEWER])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = _hashed(21)
    assert body["media_type"] == "video/mp4"
    assert body["md5"] == expected.md5
    assert body["vpdq"] == _frames(expected)
    assert body["frame_count"] == 60
    assert body["pdq"] is None
    assert body["error"] is None


def test_lookup_listed_reencoded_and_unrelated_videos(
    client: httpx.Client, keys: dict[Role, str], video_bank: str
) -> None:
    listed, copy, other = _hashed(21), _hashed(21, "mpeg4", "avi"), _hashed(500)
    assert copy.md5 != listed.md5
    response = client.post(
        "/api/v1/lookup",
        json={
            "banks": [video_bank],
            "hashes": [
                _item(listed),
                _item(copy),
                _item(other),
                {"signal_type": "md5", "value": listed.md5},  # digests are not listed
            ],
        },
        headers=auth(keys[Role.PLATFORM]),
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [len(r["matches"]) for r in results] == [1, 1, 0, 0]
    for result in results[:2]:
        [match] = result["matches"]
        assert match["signal_type"] == "vpdq"
        assert match["item_id"] == "clip-21"
        assert match["labels"][0]["value"] == "A1"
        assert match["query_match_percent"] == 100.0
        assert match["compared_match_percent"] == 100.0
        assert match["distance"] == 0
    # The value given with the frames is checked against them, and accepted when it is their key.
    key = results[0]["matches"][0]["value"]
    with_key = {**_item(listed), "value": key}
    response = client.post(
        "/api/v1/lookup", json={"hashes": [with_key]}, headers=auth(keys[Role.PLATFORM])
    )
    assert response.status_code == 200, response.text
    assert [m["value"] for m in response.json()["results"][0]["matches"]] == [key]


def test_video_verdicts_record_matches_and_queue_webhooks(
    client: httpx.Client, keys: dict[Role, str], engine: Engine, video_bank: str
) -> None:
    admin, platform = keys[Role.ADMIN], keys[Role.PLATFORM]
    hook = client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/video"}, headers=auth(admin)
    )
    assert hook.status_code == 201, hook.text
    content_id = f"v-{secrets.token_hex(4)}"
    try:
        upload = client.post(
            "/api/v1/submissions/upload",
            files={"file": ("copy.avi", _clip(21, "mpeg4", "avi"))},
            data={"content_id": content_id, "metadata": '{"user": "u-1"}', "banks": video_bank},
            headers=auth(platform),
        )
        assert upload.status_code == 200, upload.text
        verdict = upload.json()
        assert verdict["matched"] is True
        [match] = verdict["matches"]
        assert match["signal_type"] == "vpdq"
        assert match["query_match_percent"] == 100.0
        assert verdict["hashes"]["vpdq"] == [_key(_hashed(21, "mpeg4", "avi"))]
        recorded = client.get(
            f"/api/v1/matches/{verdict['submission_id']}", headers=auth(platform)
        ).json()
        assert [
            (m["signal_type"], m["value"], m["query_match_percent"], m["compared_match_percent"])
            for m in recorded["matches"]
        ] == [("vpdq", match["value"], 100.0, 100.0)]
        with engine.connect() as conn:
            jobs = conn.execute(select(Job.payload)).scalars().all()
        [event] = [p["body"] for p in jobs if p["body"]["data"]["content_id"] == content_id]
        assert event["data"]["submission_id"] == verdict["submission_id"]
        assert event["data"]["matches"][0]["compared_match_percent"] == 100.0

        by_hashes = client.post(
            "/api/v1/submissions",
            json={"content_id": f"{content_id}-h", "hashes": [_item(_hashed(21))]},
            headers=auth(platform),
        )
        assert by_hashes.status_code == 200, by_hashes.text
        assert by_hashes.json()["matched"] is True
        unrelated = client.post(
            "/api/v1/submissions/upload",
            files={"file": ("other.mp4", _clip(500))},
            data={"content_id": f"{content_id}-x", "banks": video_bank},
            headers=auth(platform),
        ).json()
        assert unrelated["matched"] is False
        assert unrelated["submission_id"] is None
    finally:
        client.delete(f"/api/v1/webhooks/{hook.json()['id']}", headers=auth(admin))


def _key(record: HashRecord) -> str:
    from kavach.signals.types import video_key

    video_hash = record.video_hash()
    assert video_hash is not None
    return video_key(video_hash).hex()


def test_bank_entries_and_export_with_videos(
    client: httpx.Client, keys: dict[Role, str], video_bank: str
) -> None:
    analyst = keys[Role.ANALYST]
    listed = _hashed(21).video_hash()
    assert listed is not None
    exported = client.get(f"/api/v1/banks/{video_bank}/export?format=vpdq", headers=auth(analyst))
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/plain")
    assert exported.text.startswith("# video")
    assert "item_id=clip-21" in exported.text
    assert listed.to_text() in exported.text
    hma = client.get(f"/api/v1/banks/{video_bank}/export?format=hma", headers=auth(analyst))
    assert hma.status_code == 200
    assert "vpdq" in hma.text

    # Added as JSON entries: a video's frames with its digests, as one media item.
    other = _hashed(77)
    bank = f"videos-{secrets.token_hex(4)}"
    assert client.post("/api/v1/banks", json={"name": bank}, headers=auth(analyst)).is_success
    entry = {"hashes": [{"signal_type": "md5", "value": other.md5}, _item(other)]}
    added = client.post(
        f"/api/v1/banks/{bank}/entries", json={"entries": [entry]}, headers=auth(analyst)
    )
    assert added.status_code == 200, added.text
    page = client.get(f"/api/v1/banks/{bank}/entries", headers=auth(analyst)).json()
    assert sorted(e["signal_type"] for e in page["items"]) == ["md5", "vpdq"]
    _wait_for_version(client, analyst, bank)
    found = client.post(
        "/api/v1/lookup",
        json={"banks": [bank], "hashes": [_item(other)]},
        headers=auth(keys[Role.PLATFORM]),
    ).json()
    assert [m["signal_type"] for m in found["results"][0]["matches"]] == ["vpdq"]
    # Retracted by its key, the video stops matching.
    retract = client.post(
        f"/api/v1/banks/{bank}/retract",
        json={"hashes": [{"signal_type": "vpdq", "value": _key(other)}]},
        headers=auth(analyst),
    )
    assert retract.json()["retracted"] == 1
    found = client.post(
        "/api/v1/lookup",
        json={"banks": [bank], "hashes": [_item(other)]},
        headers=auth(keys[Role.PLATFORM]),
    ).json()
    assert found["results"][0]["matches"] == []


def _frame(**changes: object) -> dict[str, object]:
    return {"frame": 0, "quality": 100, "hash": "ab" * 32, "timestamp": 0.0, **changes}


def _video_item(*frames: dict[str, object], **extra: object) -> dict[str, object]:
    return {"signal_type": "vpdq", "frames": list(frames), **extra}


@pytest.mark.parametrize(
    ("item", "status", "where"),
    [
        (_video_item(_frame(hash="xyz")), 422, "hash"),
        (_video_item(_frame(hash="ab" * 31)), 422, "hash"),
        (_video_item(_frame(quality=101)), 422, "quality"),
        (_video_item(_frame(frame=-1)), 422, "frame"),
        (_video_item(_frame(frame="7")), 422, "frame"),
        (_video_item(_frame(timestamp=-0.5)), 422, "timestamp"),
        (_video_item(_frame(extra=1)), 422, "extra"),
        (_video_item(), 422, "frames"),
        (_video_item(_frame(), value="00" * 32), 400, "key"),
        ({"signal_type": "vpdq", "value": "00" * 32}, 400, "frames"),
        ({"signal_type": "vpdq"}, 400, "frames"),
        ({"signal_type": "md5", "frames": [_frame()]}, 400, "md5"),
        ({"signal_type": "md5"}, 400, "value"),
    ],
)
def test_malformed_vpdq_is_4xx(
    client: httpx.Client,
    keys: dict[Role, str],
    item: dict[str, object],
    status: int,
    where: str,
) -> None:
    platform = keys[Role.PLATFORM]
    for path, body in (
        ("/api/v1/lookup", {"hashes": [item]}),
        ("/api/v1/submissions", {"content_id": "bad", "hashes": [item]}),
    ):
        response = client.post(path, json=body, headers=auth(platform))
        assert response.status_code == status, (path, response.text)
        assert where in response.json()["error"]["message"]


def test_video_limits(client: httpx.Client, keys: dict[Role, str]) -> None:
    platform = keys[Role.PLATFORM]
    too_many = [_frame(frame=i) for i in range(MAX_VIDEO_FRAMES + 1)]
    response = client.post(
        "/api/v1/lookup", json={"hashes": [_video_item(*too_many)]}, headers=auth(platform)
    )
    assert response.status_code == 422, response.text
    assert "36000" in response.json()["error"]["message"]
    # NaN and infinity are no timestamps (JSON has no such numbers; some encoders write them).
    raw = json.dumps({"hashes": [_video_item(_frame(timestamp=float("nan")))]})
    headers = {**auth(platform), "content-type": "application/json"}
    assert client.post("/api/v1/lookup", content=raw, headers=headers).status_code == 422
    # A broken video upload is hashed as far as it goes: digests, and the decoder's error.
    broken = _clip(21)[:4000]
    response = client.post(
        "/api/v1/hash", files={"file": ("b.mp4", broken)}, headers=auth(platform)
    )
    assert response.status_code == 200, response.text
    assert response.json()["error"]["code"] in {"truncated_media", "corrupt_media"}
    assert response.json()["vpdq"] is None
