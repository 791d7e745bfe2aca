"""Referrals: a case handed to the member best placed to act (e.g. in the hosting country),
acknowledged and followed by status reports, every message signed by its sender's node key.

Messages are canonical JSON objects with a ``signature`` field (docs/exchange.md,
"Referrals"). Sending goes through the job outbox (``exchange.referral.send`` and
``exchange.referral.status``), so a peer that is down receives them when it is back.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from kavach.exchange import canonical
from kavach.exchange.client import signed_post
from kavach.exchange.feeds import event_time, local_organisation
from kavach.exchange.identity import NodeIdentity, b64, from_b64, verify
from kavach.exchange.models import Peer, Referral
from kavach.exchange.peers import audit, get_peer
from kavach.jobs.queue import enqueue

__all__ = [
    "KINDS",
    "SEND_JOB",
    "STATUSES",
    "STATUS_JOB",
    "deliver_referral",
    "deliver_status",
    "receive_referral",
    "receive_status",
    "refer",
    "set_status",
    "sign_message",
]

KINDS = frozenset({"url", "accounts", "hashes"})
# received: the peer has it; actioned: it acted (noticed the host, opened an investigation);
# removed: the material is gone; rejected: not for them (wrong country, not illegal there).
STATUSES = ("received", "actioned", "removed", "rejected")
SEND_JOB = "exchange.referral.send"
STATUS_JOB = "exchange.referral.status"


def sign_message(identity: NodeIdentity, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with this node's signature over its canonical bytes."""
    return {**body, "signature": b64(identity.sign(canonical.encode(body)))}


def check_message(message: Any, key: bytes, *, sender: str, recipient: str) -> dict[str, Any]:
    """A signed message from ``sender`` to ``recipient``, or AuthenticationError/InputError."""
    if not isinstance(message, dict) or message.get("v") != 1:
        raise InputError("not a version 1 exchange message")
    body = {k: v for k, v in message.items() if k != "signature"}
    signature = from_b64(str(message.get("signature", "")), size=64, what="signature")
    if not verify(key, signature, canonical.encode(body)):
        raise AuthenticationError("the message signature does not verify with the sender's key")
    if body.get("from") != sender or body.get("to") != recipient:
        raise AuthenticationError("the message is not from this peer to this node")
    return message


def refer(
    session: Session,
    identity: NodeIdentity,
    peer_name: str,
    *,
    kind: str,
    subject: dict[str, Any],
    case_id: int | None = None,
    actor: str = "system",
) -> Referral:
    """Refer a case to a peer: recorded now, sent by the worker (``exchange.referral.send``)."""
    if kind not in KINDS:
        raise InputError(f"unknown referral kind {kind!r}; expected one of {sorted(KINDS)}")
    canonical.encode(subject)  # refuse what cannot travel (floats, odd keys) now, not later
    if kind == "url" and not str(subject.get("url", "")).startswith(("http://", "https://")):
        raise InputError("a URL referral needs subject.url starting with http:// or https://")
    peer = get_peer(session, peer_name)
    uid = str(uuid.uuid4())
    message = sign_message(
        identity,
        {
            "v": 1,
            "type": "referral",
            "id": uid,
            "from": identity.node_id,
            "to": peer.node_id,
            "kind": kind,
            "subject": subject,
            "at": event_time(),
        },
    )
    referral = Referral(
        uid=uid,
        direction="out",
        peer_id=peer.id,
        kind=kind,
        subject=subject,
        status="pending",
        case_id=case_id,
        history=[message],
    )
    session.add(referral)
    session.flush()
    enqueue(session, SEND_JOB, {"referral_id": referral.id}, max_attempts=50)
    audit(
        session,
        "referral.send",
        actor=actor,
        subject=f"referral:{uid}",
        details={"peer": peer.name, "kind": kind},
    )
    return referral


def deliver_referral(
    session: Session, client: httpx.Client, identity: NodeIdentity, referral_id: int
) -> None:
    """Send an outbound referral and record the peer's signed acknowledgement (raises to retry)."""
    referral = session.get(Referral, referral_id)
    if referral is None or referral.direction != "out" or referral.status != "pending":
        return  # already delivered (a retried job), or gone
    peer = session.get(Peer, referral.peer_id)
    if peer is None:
        return
    response = signed_post(
        client,
        identity,
        f"{peer.url}/exchange/v1/referrals",
        canonical.encode(referral.history[0]),
    )
    response.raise_for_status()
    ack = check_message(
        response.json(), peer.public_key, sender=peer.node_id, recipient=identity.node_id
    )
    if ack.get("type") != "referral_status" or ack.get("id") != referral.uid:
        raise InputError("the peer's acknowledgement is for another referral")
    _apply_status(session, referral, ack)


def _apply_status(session: Session, referral: Referral, message: dict[str, Any]) -> None:
    from kavach.exchange.routing import on_status

    status = str(message.get("status"))
    if status not in STATUSES:
        raise InputError(f"unknown referral status {status!r}")
    referral.status = status
    referral.history = [*referral.history, message]
    # A takedown item referred through the exchange keeps the peer's answers on its events.
    on_status(session, referral, message)


def receive_referral(
    session: Session, identity: NodeIdentity, peer: Peer, message: Any
) -> dict[str, Any]:
    """Take a referral from ``peer``: record it, open a case, answer a signed acknowledgement.

    Idempotent: the same referral again gets the same acknowledgement.
    """
    message = check_message(
        message, peer.public_key, sender=peer.node_id, recipient=identity.node_id
    )
    if message.get("type") != "referral" or message.get("kind") not in KINDS:
        raise InputError("not a referral")
    uid = str(message.get("id", ""))
    try:
        uuid.UUID(uid)
    except ValueError:
        raise InputError("a referral id is a UUID") from None
    subject = message.get("subject")
    if not isinstance(subject, dict):
        raise InputError("a referral needs a subject object")
    existing = session.scalars(
        select(Referral).where(Referral.uid == uid, Referral.direction == "in")
    ).one_or_none()
    if existing is not None:
        if existing.peer_id != peer.id:
            raise ConflictError("a referral with this id came from another peer")
        return dict(existing.history[1])
    org = local_organisation(session, identity)
    referral = Referral(
        uid=uid,
        direction="in",
        peer_id=peer.id,
        kind=str(message["kind"]),
        subject=subject,
        status="received",
        history=[message],
    )
    session.add(referral)
    session.flush()
    referral.case_id = _open_case(session, org.id, peer, referral)
    ack = sign_message(identity, _status_body(identity, peer, uid, "received", ""))
    referral.history = [message, ack]
    audit(
        session,
        "referral.receive",
        actor=f"peer:{peer.node_id}",
        subject=f"referral:{uid}",
        organisation_id=org.id,
        details={"kind": referral.kind, "case_id": referral.case_id},
    )
    session.flush()
    return ack


def _open_case(session: Session, organisation_id: int, peer: Peer, referral: Referral) -> int:
    from kavach.cases.service import add_item, open_case

    subject = referral.subject
    case = open_case(
        session,
        organisation_id=organisation_id,
        source="referral",
        title=f"Referral from {peer.name}: {referral.kind}",
        details={"referral": referral.uid, "peer": peer.node_id, "subject": subject},
        actor=f"peer:{peer.node_id}",
    )
    url = subject.get("url")
    hashes = subject.get("hashes")
    if referral.kind == "url" and isinstance(url, str):
        add_item(session, case, kind="url", url=url[:2000], metadata={"referral": referral.uid})
    elif referral.kind == "hashes" and isinstance(hashes, dict):
        add_item(
            session,
            case,
            kind="hashes",
            hashes={str(k): str(v) for k, v in hashes.items()},
            metadata={"referral": referral.uid},
        )
    return int(case.id)


def _status_body(
    identity: NodeIdentity, peer: Peer, uid: str, status: str, note: str
) -> dict[str, Any]:
    return {
        "v": 1,
        "type": "referral_status",
        "id": uid,
        "from": identity.node_id,
        "to": peer.node_id,
        "status": status,
        "note": note[:2000],
        "at": event_time(),
    }


def set_status(
    session: Session,
    identity: NodeIdentity,
    uid: str,
    status: str,
    *,
    note: str = "",
    actor: str = "system",
) -> Referral:
    """Report progress on a referral we received; the worker sends it back to the referrer."""
    if status not in STATUSES[1:]:
        raise InputError(f"status must be one of {', '.join(STATUSES[1:])}")
    referral = session.scalars(
        select(Referral).where(Referral.uid == uid, Referral.direction == "in")
    ).one_or_none()
    if referral is None:
        raise NotFoundError(f"no referral {uid} received by this node")
    peer = session.get(Peer, referral.peer_id)
    assert peer is not None  # FK
    message = sign_message(identity, _status_body(identity, peer, uid, status, note))
    referral.status = status
    referral.history = [*referral.history, message]
    session.flush()
    enqueue(
        session,
        STATUS_JOB,
        {"referral_id": referral.id, "index": len(referral.history) - 1},
        max_attempts=50,
    )
    audit(
        session,
        "referral.status",
        actor=actor,
        subject=f"referral:{uid}",
        details={"status": status},
    )
    return referral


def deliver_status(
    session: Session, client: httpx.Client, identity: NodeIdentity, referral_id: int, index: int
) -> None:
    """Send one status message of a received referral back to its referrer (raises to retry)."""
    referral = session.get(Referral, referral_id)
    if referral is None or not 0 <= index < len(referral.history):
        return
    peer = session.get(Peer, referral.peer_id)
    if peer is None:
        return
    response = signed_post(
        client,
        identity,
        f"{peer.url}/exchange/v1/referrals/{referral.uid}/status",
        canonical.encode(referral.history[index]),
    )
    response.raise_for_status()


def receive_status(
    session: Session, identity: NodeIdentity, peer: Peer, uid: str, message: Any
) -> None:
    """Record a status report from the peer we referred ``uid`` to (idempotent)."""
    message = check_message(
        message, peer.public_key, sender=peer.node_id, recipient=identity.node_id
    )
    if message.get("type") != "referral_status" or message.get("id") != uid:
        raise InputError("not a status report for this referral")
    referral = session.scalars(
        select(Referral).where(Referral.uid == uid, Referral.direction == "out")
    ).one_or_none()
    if referral is None or referral.peer_id != peer.id:
        raise NotFoundError(f"no referral {uid} was sent to this peer")
    if message in referral.history:
        return
    _apply_status(session, referral, message)
    audit(
        session,
        "referral.update",
        actor=f"peer:{peer.node_id}",
        subject=f"referral:{uid}",
        details={"status": referral.status},
    )
    session.flush()
