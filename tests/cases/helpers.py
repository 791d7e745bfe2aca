"""Users, cases and items for review tests, made without password hashing (it is slow)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from kavach.auth.models import Role, User
from kavach.cases import service
from kavach.cases.models import Case, CaseItem
from kavach.store.models import Organisation


def make_user(session: Session, org: Organisation, name: str, role: Role = Role.REVIEWER) -> User:
    """A user of ``org`` that cannot log in (no real password hash)."""
    user = User(organisation_id=org.id, username=name, password_hash="-", role=role)
    session.add(user)
    session.flush()
    return user


def digest(seed: str) -> str:
    """A SHA-256 in hex standing for one benign file."""
    return hashlib.sha256(seed.encode()).hexdigest()


def add_file(
    session: Session, case: Case, seed: str, *, distance: int = 0, **extra: Any
) -> CaseItem:
    """An item for the benign file ``seed`` that matched a listed hash at ``distance``."""
    return service.add_item(
        session,
        case,
        kind="file",
        hashes={"sha256": digest(seed), "md5": hashlib.md5(seed.encode()).hexdigest()},
        matches=[
            {
                "bank": "known",
                "signal_type": "pdq",
                "value": "00" * 32,
                "distance": distance,
                "labels": [{"scheme": "industry", "value": "B2"}],
            }
        ],
        **extra,
    )
