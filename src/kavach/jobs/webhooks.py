"""Webhooks: match events queued in the match's transaction, signed, delivered by the worker.

Signature (documented in docs/service.md): header ``Kavach-Signature: t=<unix seconds>,v1=<hex>``
where ``hex = HMAC-SHA256(secret, f"{t}.".encode() + body)``. Receivers recompute it, compare in
constant time and refuse old timestamps (replays). ``Kavach-Event-Id`` repeats on every retry of
one event, so receivers can drop duplicates (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kavach.config import Settings
from kavach.errors import AuthenticationError, ConfigurationError, InputError
from kavach.jobs.models import WebhookEndpoint
from kavach.jobs.queue import ClaimedJob, enqueue

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "WEBHOOK_JOB",
    "DeliveryError",
    "PermanentDeliveryError",
    "allow_private_targets",
    "check_address",
    "check_url",
    "deliver",
    "enqueue_event",
    "new_secret",
    "sign",
    "verify",
]

WEBHOOK_JOB = "webhook.deliver"
SIGNATURE_HEADER = "Kavach-Signature"
EVENT_HEADER = "Kavach-Event-Id"
_TOLERANCE = 300


class DeliveryError(Exception):
    """A delivery attempt failed and should be retried."""


class PermanentDeliveryError(DeliveryError):
    """A delivery that can never succeed (endpoint removed or disabled)."""


def new_secret() -> str:
    """A fresh per-endpoint signing secret."""
    return "whsec_" + secrets.token_urlsafe(32)


def allow_private_targets(settings: Settings, environ: Mapping[str, str] | None = None) -> bool:
    """Whether webhooks may go to loopback and private addresses.

    ``KAVACH_WEBHOOK_ALLOW_PRIVATE=1|0``; by default yes in development and test (receivers on
    the same machine), no in production, where an organisation's admin must not be able to make
    the worker call services inside the operator's network.
    """
    env = os.environ if environ is None else environ
    raw = env.get("KAVACH_WEBHOOK_ALLOW_PRIVATE", "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    if raw:
        raise ConfigurationError(f"KAVACH_WEBHOOK_ALLOW_PRIVATE must be 1 or 0, got {raw!r}")
    return settings.environment != "production"


def check_url(url: str, *, allow_private: bool = True) -> str:
    """Accept only absolute http(s) URLs without credentials, to an address webhooks may reach.

    Link-local addresses (cloud metadata services live there), multicast and unspecified
    addresses are always refused; loopback and private ones unless ``allow_private``.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("a webhook URL must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise InputError("a webhook URL must not carry credentials; use the signing secret")
    host = parts.hostname
    try:
        check_address(ipaddress.ip_address(host), allow_private=allow_private)
    except ValueError:
        if not allow_private and (host == "localhost" or host.endswith(".localhost")):
            raise InputError("webhooks may not be sent to this server's own host") from None
    return url.strip()


def check_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool
) -> None:
    """Refuse addresses a webhook must never reach (InputError)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        raise InputError(f"webhooks may not be sent to {address} (link-local or special)")
    if not allow_private and (address.is_private or address.is_loopback or address.is_reserved):
        raise InputError(f"webhooks may not be sent to the private address {address}")


def _check_resolved(url: str, *, allow_private: bool) -> None:
    # Checked again at delivery: a name can point anywhere by then. (A name that changes between
    # this check and the connection is not caught; the firewall is the last line.)
    host = urlsplit(url).hostname or ""
    port = urlsplit(url).port or 443
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise DeliveryError(f"cannot resolve {host!r}: {exc}") from None
    for info in infos:
        try:
            check_address(ipaddress.ip_address(info[4][0]), allow_private=allow_private)
        except InputError as exc:
            raise PermanentDeliveryError(exc.message) from None


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Kavach-Signature`` header value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = _TOLERANCE) -> int:
    """Check a signature header (what a receiver does); return its timestamp or raise."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        raise AuthenticationError("malformed webhook signature") from None
    if abs(time.time() - t) > tolerance:
        raise AuthenticationError("webhook signature timestamp outside the tolerance")
    expected = sign(secret, body, t).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise AuthenticationError("webhook signature does not match")
    return t


def enqueue_event(
    session: Session, organisation_id: int, event: str, data: dict[str, Any]
) -> list[int]:
    """Queue one delivery per active endpoint of the organisation, in the caller's transaction."""
    endpoints = session.scalars(
        select(WebhookEndpoint.id).where(
            WebhookEndpoint.organisation_id == organisation_id,
            WebhookEndpoint.active.is_(True),
        )
    ).all()
    jobs = []
    for endpoint_id in endpoints:
        event_id = "evt_" + secrets.token_hex(12)
        body = {"id": event_id, "type": event, "created": int(time.time()), "data": data}
        job = enqueue(
            session,
            WEBHOOK_JOB,
            {"endpoint_id": endpoint_id, "event_id": event_id, "body": body},
            organisation_id=organisation_id,
        )
        jobs.append(job.id)
    return jobs


def deliver(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    job: ClaimedJob,
    *,
    allow_private: bool = True,
) -> None:
    """POST one queued event to its endpoint; raise DeliveryError unless it answered 2xx.

    The endpoint is read in its own short transaction: no database snapshot or lock is held
    while the receiver takes its time.
    """
    with session_factory() as session:
        endpoint = session.get(WebhookEndpoint, int(job.payload["endpoint_id"]))
        if endpoint is None or not endpoint.active:
            raise PermanentDeliveryError("the webhook endpoint was removed or disabled")
        url, secret = endpoint.url, endpoint.secret
    _check_resolved(url, allow_private=allow_private)
    body = json.dumps(job.payload["body"], separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "kavach-webhook/1",
        SIGNATURE_HEADER: sign(secret, body),
        EVENT_HEADER: str(job.payload["event_id"]),
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"endpoint answered HTTP {response.status_code}")
