"""Signed requests between nodes: the signing string, the headers, and their verification.

A request carries ``X-Kavach-Node`` (the caller's node id), ``X-Kavach-Timestamp`` (Unix
seconds), ``X-Kavach-Nonce`` (32 hex digits, fresh per request) and ``X-Kavach-Signature``
(base64 Ed25519 over the signing string)::

    kavach-exchange-v1 LF METHOD LF path?query LF timestamp LF nonce LF hex(SHA-256(body))

A server accepts it when the node is a registered, active peer, the signature verifies with the
key pinned for it, the timestamp is within ``WINDOW`` seconds of its clock, and the signature was
not seen before within the window (replays are refused).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time

from kavach.errors import AuthenticationError
from kavach.exchange.identity import NodeIdentity, b64, from_b64, verify

__all__ = [
    "NODE_HEADER",
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WINDOW",
    "ReplayGuard",
    "sign_request",
    "signing_string",
    "verify_request",
]

NODE_HEADER = "X-Kavach-Node"
TIMESTAMP_HEADER = "X-Kavach-Timestamp"
NONCE_HEADER = "X-Kavach-Nonce"
SIGNATURE_HEADER = "X-Kavach-Signature"
WINDOW = 300
_NONCE = re.compile(r"^[0-9a-f]{32}$")


def signing_string(method: str, target: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """What a request's signature covers."""
    digest = hashlib.sha256(body).hexdigest()
    lines = ("kavach-exchange-v1", method.upper(), target, str(timestamp), nonce, digest)
    return "\n".join(lines).encode()


def sign_request(
    identity: NodeIdentity, method: str, target: str, body: bytes = b"", *, now: float | None = None
) -> dict[str, str]:
    """The headers that authenticate a request to ``target`` (path and query) as this node."""
    timestamp = int(time.time() if now is None else now)
    nonce = secrets.token_hex(16)
    signature = identity.sign(signing_string(method, target, timestamp, nonce, body))
    return {
        NODE_HEADER: identity.node_id,
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: b64(signature),
    }


class ReplayGuard:
    """Nonces seen within the window, per process (a replay to this process is refused)."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self._seen: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def check(self, nonce: bytes, now: float) -> None:
        """Raise AuthenticationError when ``nonce`` was seen within the window."""
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {s: t for s, t in self._seen.items() if t > now - self.window}
            if nonce in self._seen:
                raise AuthenticationError("this signed request was already used (replay refused)")
            self._seen[nonce] = now


def verify_request(
    public_key: bytes,
    method: str,
    target: str,
    body: bytes,
    timestamp_header: str | None,
    nonce_header: str | None,
    signature_header: str | None,
    guard: ReplayGuard | None = None,
    *,
    now: float | None = None,
) -> None:
    """Raise AuthenticationError unless the headers authenticate the request for ``public_key``."""
    if not timestamp_header or not signature_header or not nonce_header:
        raise AuthenticationError(
            f"a signed request needs {TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER}"
        )
    if not _NONCE.match(nonce_header):
        raise AuthenticationError(f"{NONCE_HEADER} must be 32 lowercase hex digits")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise AuthenticationError(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > WINDOW:
        raise AuthenticationError(
            f"request timestamp is more than {WINDOW} s from this server's clock"
        )
    try:
        signature = from_b64(signature_header, size=64, what=SIGNATURE_HEADER)
    except Exception:
        raise AuthenticationError(f"{SIGNATURE_HEADER} is not a base64 Ed25519 signature") from None
    message = signing_string(method, target, timestamp, nonce_header, body)
    if not verify(public_key, signature, message):
        raise AuthenticationError("request signature does not verify with the peer's key")
    if guard is not None:
        guard.check(public_key + bytes.fromhex(nonce_header), current)
