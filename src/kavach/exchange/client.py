"""Signed HTTP calls to a peer node (the caller owns the ``httpx.Client``)."""

from __future__ import annotations

from typing import Any

import httpx

from kavach.exchange.auth import sign_request
from kavach.exchange.identity import NodeIdentity

__all__ = ["signed_get", "signed_post"]


def _target(url: httpx.URL) -> str:
    # What the server sees: the raw path and query, exactly as sent.
    return url.raw_path.decode("ascii")


def signed_get(client: httpx.Client, identity: NodeIdentity, url: str) -> httpx.Response:
    """GET ``url`` with this node's request signature."""
    parsed = httpx.URL(url)
    headers = sign_request(identity, "GET", _target(parsed))
    return client.get(parsed, headers=headers)


def signed_post(
    client: httpx.Client, identity: NodeIdentity, url: str, body: bytes, **extra: Any
) -> httpx.Response:
    """POST canonical JSON ``body`` to ``url`` with this node's request signature."""
    parsed = httpx.URL(url)
    headers = sign_request(identity, "POST", _target(parsed), body)
    headers["Content-Type"] = "application/json"
    return client.post(parsed, content=body, headers=headers, **extra)
