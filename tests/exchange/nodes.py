"""Helpers for exchange tests: nodes (identity + database), banks of benign hashes, peers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kavach.banks.formats import HashRecord, Label
from kavach.banks.service import add_entries, create_bank, ensure_organisation
from kavach.exchange.feeds import local_organisation
from kavach.exchange.identity import NodeIdentity, init_identity
from kavach.exchange.models import Peer, Trust
from kavach.signals.types import SignalType
from kavach.store.db import make_session_factory, session_scope


def md5_of(n: int) -> bytes:
    """The MD5 of a benign made-up byte string (a stand-in for a listed file's hash)."""
    return hashlib.md5(f"benign test item {n}".encode()).digest()


@dataclass
class Node:
    identity: NodeIdentity
    engine: Engine
    data_dir: Path

    @property
    def factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)


def make_node(engine: Engine, data_dir: Path, organisation: str, country: str) -> Node:
    identity = init_identity(data_dir, organisation, country)
    with session_scope(make_session_factory(engine)) as session:
        local_organisation(session, identity)
    return Node(identity, engine, data_dir)


def shared_bank(node: Node, name: str, values: list[bytes], *, label: str = "A1") -> None:
    with session_scope(node.factory) as session:
        org = local_organisation(session, node.identity)
        bank = create_bank(session, name=name, owner=org, source="member", sharing="alliance")
        add_records(session, bank, values, label=label)


def add_records(session: Session, bank: object, values: list[bytes], *, label: str = "A1") -> None:
    records = [
        HashRecord(((SignalType.MD5, v),), (Label("industry", label),), f"item-{v.hex()[:8]}")
        for v in values
    ]
    add_entries(session, bank, records, added_by="test")  # type: ignore[arg-type]


def register_peer(node: Node, other: Node, name: str, url: str, trust: Trust = Trust.FULL) -> None:
    """Register ``other`` as a peer of ``node`` without asking it over HTTP."""
    with session_scope(node.factory) as session:
        org = ensure_organisation(session, other.identity.organisation, other.identity.country)
        session.add(
            Peer(
                node_id=other.identity.node_id,
                name=name,
                url=url,
                public_key=other.identity.public_key,
                organisation_id=org.id,
                trust=trust,
                accept_banks=[],
                accept_labels=[],
                active=True,
                halted=False,
            )
        )
