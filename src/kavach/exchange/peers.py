"""Peers: register (pinning the key a node publishes), list, remove, alarms and status."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kavach.banks.service import ensure_organisation
from kavach.errors import ConflictError, InputError, NotFoundError, ServiceUnavailableError
from kavach.exchange.identity import from_b64, node_id_of
from kavach.exchange.models import Alarm, Peer, PeerFeed, Trust
from kavach.store.base import utcnow

__all__ = [
    "PeerStatus",
    "add_peer",
    "audit",
    "clear_alarms",
    "fetch_node",
    "get_peer",
    "peer_status",
    "raise_alarm",
    "remove_peer",
]

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


def audit(
    session: Session,
    action: str,
    *,
    actor: str = "system",
    subject: str | None = None,
    organisation_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record an exchange event in the audit log (peer changes, alarms, referrals)."""
    from kavach import audit as audit_log

    audit_log.record(
        session,
        actor=actor,
        action=action,
        subject=subject,
        organisation_id=organisation_id,
        details=details,
    )


def fetch_node(client: httpx.Client, url: str) -> dict[str, Any]:
    """The public identity a node serves at ``/exchange/v1/node``, checked for consistency."""
    try:
        response = client.get(f"{url.rstrip('/')}/exchange/v1/node")
        response.raise_for_status()
        info = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ServiceUnavailableError(f"could not read {url}/exchange/v1/node: {exc}") from None
    if not isinstance(info, dict):
        raise InputError("the node answered with something that is not a node description")
    key = from_b64(str(info.get("public_key", "")), size=32, what="public_key")
    if info.get("node_id") != node_id_of(key):
        raise InputError("the node's id is not the SHA-256 of its public key")
    return info


def add_peer(
    session: Session,
    client: httpx.Client,
    *,
    name: str,
    url: str,
    expect_node_id: str | None = None,
    trust: Trust | str = Trust.FULL,
    banks: list[str] | None = None,
    labels: list[str] | None = None,
    actor: str = "system",
) -> Peer:
    """Register a peer: read its node description and pin its key (trust on first use, unless
    ``expect_node_id`` — the fingerprint the peer's operator gave out of band — is given)."""
    if not _NAME.match(name):
        raise InputError("a peer name is 1-60 lowercase letters, digits, '-' or '_'")
    if not url.startswith(("http://", "https://")):
        raise InputError("a peer URL starts with http:// or https://")
    trust = Trust(trust)
    info = fetch_node(client, url)
    node_id = str(info["node_id"])
    if expect_node_id is not None and expect_node_id.lower() != node_id:
        raise InputError(
            f"the node at {url} has id {node_id}, not the {expect_node_id} you expected; not added"
        )
    if session.scalar(select(Peer.id).where((Peer.node_id == node_id) | (Peer.name == name))):
        raise ConflictError(f"a peer called {name!r} or with node id {node_id[:16]}… exists")
    country = str(info.get("country", "")).upper()[:2] or None
    org = ensure_organisation(session, str(info.get("organisation") or name), country)
    if org.country is None and country:
        org.country = country
    peer = Peer(
        node_id=node_id,
        name=name,
        url=url.rstrip("/"),
        public_key=from_b64(str(info["public_key"]), size=32),
        organisation_id=org.id,
        trust=trust,
        accept_banks=sorted(set(banks or [])),
        accept_labels=sorted(set(labels or [])),
        active=True,
        halted=False,
    )
    session.add(peer)
    session.flush()
    audit(
        session,
        "peer.add",
        actor=actor,
        subject=f"peer:{node_id}",
        organisation_id=org.id,
        details={"name": name, "url": peer.url, "trust": trust.value, "country": country},
    )
    return peer


def get_peer(session: Session, name: str) -> Peer:
    """The peer called ``name`` (or with that node id), or NotFoundError."""
    peer = session.scalars(
        select(Peer).where((Peer.name == name) | (Peer.node_id == name.lower()))
    ).one_or_none()
    if peer is None:
        raise NotFoundError(f"no peer called {name!r}; see `kavach exchange peer list`")
    return peer


def remove_peer(session: Session, name: str, *, actor: str = "system") -> None:
    """Forget a peer (its mirrored banks stay, with their entries, until deleted)."""
    peer = get_peer(session, name)
    audit(
        session,
        "peer.remove",
        actor=actor,
        subject=f"peer:{peer.node_id}",
        organisation_id=peer.organisation_id,
        details={"name": peer.name},
    )
    session.delete(peer)
    session.flush()


def raise_alarm(
    session: Session, peer: Peer, bank: str, kind: str, message: str, *, halt: bool = False
) -> Alarm:
    """Record (and audit) something refused from a peer; ``halt`` stops syncing it."""
    alarm = Alarm(peer_id=peer.id, bank=bank, kind=kind, message=message[:2000])
    session.add(alarm)
    peer.last_error = f"{kind}: {message}"[:2000]
    if halt:
        peer.halted = True
    session.flush()
    audit(
        session,
        "exchange.alarm",
        subject=f"peer:{peer.node_id}",
        organisation_id=peer.organisation_id,
        details={"bank": bank, "kind": kind, "message": message[:500], "halted": halt},
    )
    log.warning("exchange alarm from peer %s, feed %s: %s: %s", peer.name, bank, kind, message)
    return alarm


def clear_alarms(session: Session, name: str, *, actor: str = "system") -> int:
    """Acknowledge a peer's alarms and let it sync again; return how many were cleared."""
    peer = get_peer(session, name)
    alarms = session.scalars(
        select(Alarm).where(Alarm.peer_id == peer.id, Alarm.cleared_at.is_(None))
    ).all()
    now = utcnow()
    for alarm in alarms:
        alarm.cleared_at = now
    peer.halted = False
    peer.last_error = None
    audit(session, "peer.clear", actor=actor, subject=f"peer:{peer.node_id}")
    session.flush()
    return len(alarms)


@dataclass(frozen=True)
class PeerStatus:
    """A peer as ``kavach exchange peer list/status`` shows it."""

    name: str
    node_id: str
    url: str
    organisation: str
    country: str | None
    trust: str
    active: bool
    halted: bool
    last_sync_at: dt.datetime | None
    last_error: str | None
    feeds: list[dict[str, Any]]
    alarms: list[dict[str, Any]]


def peer_status(session: Session, peer: Peer) -> PeerStatus:
    """Where syncing with ``peer`` stands: feeds (cursor/head), open alarms."""
    from kavach.store.models import Organisation

    org = session.get(Organisation, peer.organisation_id)
    feeds = [
        {"bank": f.remote_bank, "cursor": f.cursor, "head": f.head_size}
        for f in session.scalars(
            select(PeerFeed).where(PeerFeed.peer_id == peer.id).order_by(PeerFeed.remote_bank)
        )
    ]
    alarms = [
        {"kind": a.kind, "bank": a.bank, "message": a.message, "at": a.created_at.isoformat()}
        for a in session.scalars(
            select(Alarm)
            .where(Alarm.peer_id == peer.id, Alarm.cleared_at.is_(None))
            .order_by(Alarm.id)
        )
    ]
    return PeerStatus(
        name=peer.name,
        node_id=peer.node_id,
        url=peer.url,
        organisation=org.name if org else "?",
        country=org.country if org else None,
        trust=peer.trust.value,
        active=peer.active,
        halted=peer.halted,
        last_sync_at=peer.last_sync_at,
        last_error=peer.last_error,
        feeds=feeds,
        alarms=alarms,
    )


def open_alarm_count(session: Session) -> int:
    """Alarms nobody has cleared yet, over all peers."""
    return int(
        session.scalar(select(func.count()).select_from(Alarm).where(Alarm.cleared_at.is_(None)))
        or 0
    )
