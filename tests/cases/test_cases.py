"""Opening cases and adding items: validation, names, content keys, priority, audit."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from kavach import audit
from kavach.banks.service import ensure_organisation
from kavach.cases import service
from kavach.cases.models import ItemStatus
from kavach.errors import ConflictError, InputError, InvalidHashError, NotFoundError

SHA = "ab" * 32
MD5 = "cd" * 16


def test_open_case_names_and_audits(session: Session) -> None:
    org = ensure_organisation(session, "Org A")
    case = service.open_case(session, organisation_id=org.id, source="scan", title="Seized disk")
    assert case.name == f"case-{case.id}"
    named = service.open_case(
        session, organisation_id=org.id, source="portal", title="t", name="exhibit-7"
    )
    assert service.find_case(session, "exhibit-7").id == named.id
    assert service.find_case(session, str(case.id)).id == case.id
    with pytest.raises(ConflictError):
        service.open_case(
            session, organisation_id=org.id, source="api", title="t", name="exhibit-7"
        )
    with pytest.raises(InputError, match="source"):
        service.open_case(session, organisation_id=org.id, source="email", title="t")
    with pytest.raises(InputError, match="case name"):
        service.open_case(session, organisation_id=org.id, source="api", title="t", name="a b")
    with pytest.raises(NotFoundError):
        service.find_case(session, "nope")
    actions = [r.action for r in audit.records(session, subject=f"case:{case.id}")]
    assert actions == ["case.open"]


def test_add_item_checks_hashes_and_ranks(session: Session) -> None:
    org = ensure_organisation(session, "Org B")
    case = service.open_case(session, organisation_id=org.id, source="api", title="upload")
    exact = service.add_item(
        session,
        case,
        kind="file",
        hashes={"SHA256": SHA.upper(), "md5": MD5},
        matches=[{"bank": "x", "distance": 0, "labels": [{"scheme": "industry", "value": "A1"}]}],
    )
    far = service.add_item(
        session,
        case,
        kind="file",
        hashes={"md5": "ef" * 16},
        matches=[{"bank": "x", "distance": 30, "labels": []}],
    )
    assert exact.content_key == f"sha256:{SHA}"
    assert far.content_key == "md5:" + "ef" * 16
    assert exact.priority > far.priority
    assert exact.status is ItemStatus.QUEUED
    url = service.add_item(session, case, kind="url", url="https://example.org/x")
    assert url.content_key == "url:https://example.org/x"
    with pytest.raises(InvalidHashError):
        service.add_item(session, case, kind="file", hashes={"md5": "zz"})
    with pytest.raises(InputError, match="needs at least one hash"):
        service.add_item(session, case, kind="file")
    with pytest.raises(InputError, match="kind"):
        service.add_item(session, case, kind="photo", hashes={"md5": MD5})
    assert [i.id for i in service.case_items(session, case)] == [exact.id, far.id, url.id]
