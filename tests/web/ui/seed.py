"""Cases to review in the console tests: benign generated images, hashes of them as "listed"."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Engine, select

from kavach.auth.models import User
from kavach.banks.service import create_bank, ensure_organisation
from kavach.cases import review, service
from kavach.evidence.store import Vault, store
from kavach.store.db import make_session_factory, session_scope
from tests.reports.helpers import DETAILS
from tests.web.helpers import jpeg


@dataclass(frozen=True)
class Seeded:
    case_id: int
    case_name: str
    item_ids: list[int]
    """Highest priority first; the first has retained media."""
    target_bank: str


def seed_case(engine: Engine, vault: Vault, *, org: str = "Org A", tag: str = "a") -> Seeded:
    """A case of three file items in ``org`` (the first with an encrypted copy kept), and a
    shared bank that confirmed items go to."""
    with session_scope(make_session_factory(engine)) as session:
        organisation = ensure_organisation(session, org, "IN")
        bank = create_bank(
            session, name=f"confirmed-{tag}", owner=organisation, source="local", sharing="alliance"
        )
        review.set_policy(session, organisation.id, actor="system", target_bank=bank.name)
        case = service.open_case(
            session,
            organisation_id=organisation.id,
            source="api",
            title="Upload matched a listed image",
            name=f"upload-{tag}",
            details=DETAILS,
        )
        ids = []
        # Lower distance and a more severe label rank first: item 0 is reviewed first.
        for n, (distance, label) in enumerate([(2, "A1"), (10, "B2"), (30, "B2")]):
            data = jpeg(n + 1, (96, 72))
            item = service.add_item(
                session,
                case,
                kind="file",
                hashes={"sha256": hashlib.sha256(data).hexdigest(), "pdq": f"{n + 1:02x}" * 32},
                matches=[
                    {
                        "bank": "listed",
                        "signal_type": "pdq",
                        "value": f"{n + 7:02x}" * 32,
                        "distance": distance,
                        "labels": [{"scheme": "industry", "value": label}],
                        "variant": "flip-h" if n == 1 else ("original" if n == 2 else None),
                        # Item 2 was found by its reliable bits alone (docs/robustness.md).
                        **({"reliable_distance": 17} if n == 2 else {}),
                    }
                ],
                metadata={"file_name": f"IMG_{n}.jpg", "uploader_ip": "203.0.113.7"},
            )
            ids.append(item.id)
            if n == 0:
                store(session, vault, item, data, actor="system", media_type="image/jpeg")
        return Seeded(case.id, case.name, ids, bank.name)


def confirm(
    engine: Engine, item_ids: list[int], graders: tuple[str, str] = ("alice", "bob")
) -> None:
    """Two reviewers grade ``item_ids`` alike (industry A2) through the review service."""
    with session_scope(make_session_factory(engine)) as session:
        users = [session.scalars(select(User).where(User.username == u)).one() for u in graders]
        for item_id in item_ids:
            item = service.get_item(session, item_id)
            for user in users:
                review.grade(session, item, user, scheme="industry", value="A2")
