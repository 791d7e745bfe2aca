"""Takedown referrals through the exchange: an item whose host is in a peer's country goes to
that peer as a signed referral (ICCAM-style routing), and the peer's status reports come back
onto the item's events.

``kavach.takedown.service.refer`` asks :func:`route_takedown` first and falls back to the
e-mail or webhook contact configured for the country when no peer is registered there (or this
node has no exchange identity).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.config import get_settings
from kavach.errors import ConfigurationError, InputError, NotFoundError
from kavach.exchange.identity import NodeIdentity, load_identity
from kavach.exchange.models import Peer, Referral
from kavach.store.base import utcnow
from kavach.store.models import Organisation

if TYPE_CHECKING:
    from kavach.takedown.models import TakedownItem

__all__ = ["REFERENCE_FIELD", "on_status", "peer_for_country", "route_takedown"]

log = logging.getLogger(__name__)

REFERENCE_FIELD = "reference"
"""The subject field of a takedown referral naming our item (the public report reference)."""


def peer_for_country(session: Session, country: str | None) -> Peer | None:
    """The active peer whose organisation is in ``country`` (the first by name), or None."""
    if not country:
        return None
    return session.scalars(
        select(Peer)
        .join(Organisation, Organisation.id == Peer.organisation_id)
        .where(Peer.active.is_(True), Organisation.country == country.upper())
        .order_by(Peer.name)
        .limit(1)
    ).one_or_none()


def _identity(data_dir: Any = None) -> NodeIdentity | None:
    try:
        return load_identity(data_dir or get_settings().data_dir)
    except (NotFoundError, ConfigurationError, InputError) as exc:
        log.warning("takedown referral not routed through the exchange: %s", exc)
        return None


def route_takedown(
    session: Session,
    item: TakedownItem,
    *,
    reason: str,
    now: dt.datetime,
    identity: NodeIdentity | None = None,
) -> Referral | None:
    """Refer ``item`` to the peer registered for its hosting country; None when there is none.

    Records the ``referred`` event and the audit line as the e-mail route does; the worker
    delivers the referral (``exchange.referral.send``) and :func:`on_status` records answers.
    """
    from kavach import audit
    from kavach.exchange.referrals import refer
    from kavach.takedown.models import EventKind
    from kavach.takedown.service import event

    peer = peer_for_country(session, item.country)
    if peer is None:
        return None
    identity = identity or _identity()
    if identity is None:
        return None
    subject: dict[str, Any] = {
        "url": item.url,
        "note": f"hosted in {item.country}; {reason}",
        REFERENCE_FIELD: item.reference,
        "country": item.country,
    }
    for key in ("ip", "asn", "network"):
        value = getattr(item, key)
        if value is not None:
            subject[key] = value
    referral = refer(
        session,
        identity,
        peer.name,
        kind="url",
        subject=subject,
        case_id=item.case_id,
        actor="system:takedown",
    )
    organisation = session.get(Organisation, peer.organisation_id)
    event(
        session,
        item,
        EventKind.REFERRED,
        now,
        recipient=f"peer:{peer.name}",
        to=organisation.name if organisation else peer.name,
        role="exchange",
        country=item.country,
        reason=reason,
        referral=referral.uid,
    )
    audit.record(
        session,
        actor="system:takedown",
        action="takedown.refer",
        subject=f"takedown:{item.reference}",
        organisation_id=item.organisation_id,
        details={"kind": "exchange", "country": item.country, "to": peer.name},
    )
    return referral


def on_status(session: Session, referral: Referral, message: dict[str, Any]) -> None:
    """Record a peer's status report on the takedown item an outbound referral came from.

    ``removed`` also brings the item's next check forward: our own check decides removal.
    """
    from kavach.takedown.models import EventKind, ItemStatus, TakedownItem
    from kavach.takedown.service import event, schedule_check

    reference = referral.subject.get(REFERENCE_FIELD)
    if referral.direction != "out" or referral.kind != "url" or not isinstance(reference, str):
        return
    item = session.scalars(
        select(TakedownItem).where(TakedownItem.reference == reference)
    ).one_or_none()
    if item is None:
        return
    now = utcnow()
    status = str(message.get("status"))
    event(
        session,
        item,
        EventKind.REFERRAL_STATUS,
        now,
        status=status,
        note=str(message.get("note") or "")[:500],
        referral=referral.uid,
        reported_at=str(message.get("at") or ""),
    )
    if status == "removed" and item.status is ItemStatus.CONFIRMED:
        schedule_check(session, item, now)
