"""Webhooks: match events queued in the match's transaction, signed, delivered by the worker.

Signature (documented in docs/service.md): header ``Kavach-Signature: t=<unix seconds>,v1=<hex>``
where ``hex = HMAC-SHA256(secret, f"{t}.".encode() + body)``. Receivers recompute it, compare in
constant time and refuse old timestamps (replays). ``Kavach-Event-Id`` repeats on every retry of
one event, so receivers can drop duplicates (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kavach.errors import AuthenticationError, InputError
from kavach.jobs.models import WebhookEndpoint
from kavach.jobs.queue import ClaimedJob, enqueue

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "WEBHOOK_JOB",
    "DeliveryError",
    "PermanentDeliveryError",
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


def check_url(url: str) -> str:
    """Accept only absolute http(s) URLs without credentials."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("a webhook URL must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise InputError("a webhook URL must not carry credentials; use the signing secret")
    return url.strip()


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


def deliver(session_factory: sessionmaker[Session], client: httpx.Client, job: ClaimedJob) -> None:
    """POST one queued event to its endpoint; raise DeliveryError unless it answered 2xx.

    The endpoint is read in its own short transaction: no database snapshot or lock is held
    while the receiver takes its time.
    """
    with session_factory() as session:
        endpoint = session.get(WebhookEndpoint, int(job.payload["endpoint_id"]))
        if endpoint is None or not endpoint.active:
            raise PermanentDeliveryError("the webhook endpoint was removed or disabled")
        url, secret = endpoint.url, endpoint.secret
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
