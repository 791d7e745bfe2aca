"""Canonical JSON, the node identity on disk, and signed requests."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from kavach.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    InvalidHashError,
    NotFoundError,
)
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
    for bad in ([[{"x": -(2**53)}]], [{"ok": [{"é": 1}]}], [[True, 2.5]]):
        with pytest.raises(canonical.CanonicalError):
            canonical.validate(bad)
    # Nesting: 32 levels below the top are allowed, a 33rd is refused, however deep the input.
    nested: object = "leaf"
    for _ in range(32):
        nested = [nested]
    canonical.validate(nested)
    with pytest.raises(canonical.CanonicalError):
        canonical.validate([nested])
    with pytest.raises(canonical.CanonicalError):
        canonical.decode(b"[" * 100_000 + b"]" * 100_000, strict=False)


def test_encoding_members_apart_gives_the_same_bytes() -> None:
    entries = [{"seq": 0, "op": "add", "labels": [["a", "b", "é"]]}, {"seq": 1, "item": None}]
    page = {"v": 1, "entries": entries, "bank": "x", "after": 0, "head": {"size": 2}}
    parts = {"entries": b"[" + b",".join(canonical.encode(e) for e in entries) + b"]"}
    assert canonical.encode_members(page, parts) == canonical.encode(page)
    with pytest.raises(canonical.CanonicalError):
        canonical.encode_members({**page, "head": {"size": 0.5}}, parts)


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


def test_the_worked_example_in_the_docs_is_what_the_code_computes() -> None:
    """docs/exchange.md "Worked example", read from the page itself: keys, leaves, roots,
    proofs and signatures are what the code computes, so the page cannot drift from it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kavach.exchange import merkle
    from kavach.exchange.identity import NodeIdentity, b64

    doc = (Path(__file__).parents[2] / "docs" / "exchange.md").read_text(encoding="utf-8")
    example = doc[doc.index("## Worked example") : doc.index("## NCMEC")]
    me = NodeIdentity(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "Example", "IN")
    assert f"public key `{b64(me.public_key)}`" in example
    assert f"node id `{me.node_id}`" in example
    # The leaves as printed are canonical JSON, and their hashes are the ones printed.
    printed = re.findall(r"^leaf \d  (\{.*\})$", example, re.MULTILINE)
    assert len(printed) == 3
    events = [json.loads(line) for line in printed]
    assert [canonical.encode(e).decode() for e in events] == printed
    leaves = [merkle.leaf_hash(canonical.encode(e)) for e in events]
    assert re.findall(r"leaf hash ([0-9a-f]{64})", example) == [h.hex() for h in leaves]
    root2, root3 = merkle.root_of(leaves[:2]), merkle.root_of(leaves)
    assert f"root at size 2  {root2.hex()}" in example
    assert f"root at size 3  {root3.hex()}" in example

    def subtree(lo: int, hi: int) -> bytes:
        return merkle.root_of(leaves[lo:hi])

    def short(proof: list[bytes]) -> str:
        return "`[" + ", ".join(h.hex()[:8] + "…" for h in proof) + "]`"

    for index in (2, 0):
        proof = merkle.inclusion_proof(index, 3, subtree)
        assert merkle.verify_inclusion(index, 3, leaves[index], proof, root3)
        assert f"leaf {index} = {short(proof)}" in example
    for first in (2, 1):
        proof = merkle.consistency_proof(first, 3, subtree)
        assert merkle.verify_consistency(first, 3, subtree(0, first), root3, proof)
        assert f"{first} → 3 = {short(proof)}" in example
    head = {
        "v": 1,
        "type": "tree_head",
        "node": me.node_id,
        "bank": "in-alliance",
        "size": 3,
        "root": root3.hex(),
        "timestamp": 1796032000000,
    }
    assert canonical.encode(head).decode() in example
    assert f"sign to `{b64(me.sign(canonical.encode(head)))}`" in example
    message = auth.signing_string(
        "GET",
        "/exchange/v1/feeds/in-alliance?after=0&limit=2",
        1796032000,
        "00112233445566778899aabbccddeeff",
        b"",
    )
    assert message.decode() in example
    assert f"signature `{b64(me.sign(message))}`" in example


def test_the_video_key_is_what_the_docs_define() -> None:
    """docs/exchange.md, "Video (vPDQ)": the key an implementation must recompute."""
    import hashlib

    import numpy as np

    from kavach.exchange.video import frames_of, video_of
    from kavach.signals.types import video_key
    from kavach.signals.vpdq import VideoHash

    rng = np.random.default_rng(3)
    video = VideoHash.from_frames(
        rng.integers(0, 256, (3, 32), dtype=np.uint8), [100, 50, 0], [0, 15, 30], [0, 0.5, 1]
    )
    frames = frames_of(video.to_bytes())
    assert frames[1][0:2] == [15, 50]
    assert frames[1][3] == 500
    data = b"kavach-vpdq-key-1\x00" + (3).to_bytes(8, "little")
    data += b"".join(bytes.fromhex(f[2]) for f in frames) + bytes(f[1] for f in frames)
    assert hashlib.sha256(data).digest() == video_key(video)
    assert video_of(frames, video_key(video)) == video
    for bad in ([], [[0, 101, "00" * 32, None]], [[0, 1, "zz" * 32, None]], [[0, 1, "00", 5]]):
        with pytest.raises(InvalidHashError):
            video_of(bad, video_key(video))
