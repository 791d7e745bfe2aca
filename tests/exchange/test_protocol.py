"""Canonical JSON, the node identity on disk, and signed requests."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kavach.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from kavach.exchange import auth, canonical
from kavach.exchange.identity import init_identity, load_identity, node_id_of, verify


def test_canonical_json_is_sorted_compact_and_strict() -> None:
    value = {"b": [1, "é", None, True], "a": {"z": 0, "y": "x"}}
    data = canonical.encode(value)
    assert data == '{"a":{"y":"x","z":0},"b":[1,"é",null,true]}'.encode()
    assert canonical.decode(data) == value
    with pytest.raises(canonical.CanonicalError):
        canonical.decode(b'{"b":1, "a":2}')  # valid JSON, not canonical
    assert canonical.decode(b'{"b":1, "a":2}', strict=False) == {"a": 2, "b": 1}
    for bad in ({"x": 1.5}, {"x": 2**60}, {1: "x"}, {"x": b"raw"}):
        with pytest.raises(canonical.CanonicalError):
            canonical.encode(bad)
    with pytest.raises(canonical.CanonicalError):
        canonical.decode(b'{"x":1.0}')
    with pytest.raises(canonical.CanonicalError):
        canonical.decode(b'{"x":')


def test_identity_is_created_once_private_and_never_shown(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_identity(tmp_path)
    with pytest.raises(InputError):
        init_identity(tmp_path, "Hotline", "India")
    me = init_identity(tmp_path, "Hotline IN", "in")
    key_file = tmp_path / "exchange" / "node.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert me.country == "IN"
    assert me.node_id == node_id_of(me.public_key)
    assert "PRIVATE" not in repr(me)
    assert me.node_id[:16] in repr(me)
    again = load_identity(tmp_path)
    assert again.node_id == me.node_id
    assert verify(me.public_key, again.sign(b"m"), b"m")
    assert not verify(me.public_key, again.sign(b"m"), b"n")
    with pytest.raises(ConflictError):
        init_identity(tmp_path, "Other", "GB")
    key_file.chmod(0o644)
    with pytest.raises(InputError):
        load_identity(tmp_path)


def test_signed_requests_check_key_body_clock_and_replays(tmp_path: Path) -> None:
    me = init_identity(tmp_path, "Node", "GB")
    target = "/exchange/v1/feeds/x?after=0&limit=10"
    headers = auth.sign_request(me, "GET", target, b"", now=1_000_000)
    args = (
        headers[auth.TIMESTAMP_HEADER],
        headers[auth.NONCE_HEADER],
        headers[auth.SIGNATURE_HEADER],
    )
    guard = auth.ReplayGuard()
    auth.verify_request(me.public_key, "GET", target, b"", *args, guard, now=1_000_010)
    with pytest.raises(AuthenticationError, match="replay"):
        auth.verify_request(me.public_key, "GET", target, b"", *args, guard, now=1_000_011)
    for method, path, body, now in (
        ("POST", target, b"", 1_000_000),
        ("GET", target.replace("0&", "5&"), b"", 1_000_000),
        ("GET", target, b"{}", 1_000_000),
        ("GET", target, b"", 1_000_000 + auth.WINDOW + 1),
    ):
        with pytest.raises(AuthenticationError):
            auth.verify_request(me.public_key, method, path, body, *args, now=now)
    other = init_identity(tmp_path / "b", "Other", "IN")
    with pytest.raises(AuthenticationError):
        auth.verify_request(other.public_key, "GET", target, b"", *args, now=1_000_000)
    with pytest.raises(AuthenticationError):
        auth.verify_request(me.public_key, "GET", target, b"", args[0], None, args[2])
