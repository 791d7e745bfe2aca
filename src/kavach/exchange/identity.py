"""This node's Ed25519 identity: the key pair in the data directory and what it publishes.

The private key lives in ``<data dir>/exchange/node.key`` (PKCS#8 PEM, mode 0600) and never
leaves this module except as signatures; ``node.json`` beside it holds the public facts (key,
organisation, country). The node id is the SHA-256 of the raw 32-byte public key, in hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kavach.errors import ConflictError, InputError, NotFoundError

__all__ = [
    "NodeIdentity",
    "b64",
    "from_b64",
    "identity_dir",
    "init_identity",
    "load_identity",
    "node_id_of",
    "public_key_from",
    "verify",
]


def b64(data: bytes) -> str:
    """Standard base64 with padding (how keys and signatures travel)."""
    return base64.b64encode(data).decode("ascii")


def from_b64(text: str, *, size: int | None = None, what: str = "value") -> bytes:
    """Decode standard base64, checking the length when ``size`` is given."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InputError(f"{what} is not valid base64") from None
    if size is not None and len(raw) != size:
        raise InputError(f"{what} must be {size} bytes, got {len(raw)}")
    return raw


def node_id_of(public_key: bytes) -> str:
    """The node id of a raw Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()


def public_key_from(raw: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its 32 raw bytes."""
    if len(raw) != 32:
        raise InputError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is the key's Ed25519 signature of ``message``."""
    try:
        public_key_from(public_key).verify(signature, message)
    except (InvalidSignature, InputError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class NodeIdentity:
    """This node: its signing key and the facts it publishes."""

    _key: Ed25519PrivateKey
    organisation: str
    country: str

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def node_id(self) -> str:
        """SHA-256 of the public key, hex."""
        return node_id_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def public(self) -> dict[str, Any]:
        """What ``GET /exchange/v1/node`` serves."""
        return {
            "v": 1,
            "node_id": self.node_id,
            "public_key": b64(self.public_key),
            "organisation": self.organisation,
            "country": self.country,
        }

    def __repr__(self) -> str:  # never show key material
        return f"NodeIdentity(node_id={self.node_id[:16]}…, organisation={self.organisation!r})"


def identity_dir(data_dir: Path) -> Path:
    """Where the node's key files live."""
    return data_dir / "exchange"


def init_identity(data_dir: Path, organisation: str, country: str) -> NodeIdentity:
    """Create this node's key pair; refuses to replace an existing one (peers pinned it)."""
    organisation = organisation.strip()
    country = country.strip().upper()
    if not organisation or len(organisation) > 200:
        raise InputError("the organisation name must be 1-200 characters")
    if len(country) != 2 or not country.isalpha() or not country.isascii():
        raise InputError("the country must be an ISO 3166-1 alpha-2 code such as IN or GB")
    folder = identity_dir(data_dir)
    key_path = folder / "node.key"
    if key_path.exists():
        raise ConflictError(f"this node already has a key in {folder}; peers have pinned it")
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 from the start: no moment where another user could read it.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    identity = NodeIdentity(key, organisation, country)
    facts = {k: v for k, v in identity.public().items() if k != "v"}
    (folder / "node.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return identity


def load_identity(data_dir: Path) -> NodeIdentity:
    """This node's identity, or NotFoundError when ``kavach exchange init`` was not run."""
    folder = identity_dir(data_dir)
    key_path = folder / "node.key"
    try:
        pem = key_path.read_bytes()
        facts = json.loads((folder / "node.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(
            "this node has no exchange identity; run `kavach exchange init`"
        ) from None
    if key_path.stat().st_mode & 0o077:
        raise InputError(f"{key_path} is readable by others; chmod 600 it")
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{key_path} does not hold an Ed25519 key")
    identity = NodeIdentity(key, str(facts["organisation"]), str(facts["country"]))
    if facts.get("node_id") not in (None, identity.node_id):
        raise InputError(f"{folder / 'node.json'} does not belong to {key_path}")
    return identity
