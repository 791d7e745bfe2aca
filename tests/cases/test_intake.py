"""Cases from verdicts (the platform API) and the helpers the scan intake uses."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kavach.auth.models import Role
from kavach.banks.formats import HashRecord, Label
from kavach.banks.service import add_entries, create_bank, ensure_organisation
from kavach.cases import intake
from kavach.cases.models import Case, CaseItem, ItemStatus
from kavach.match.models import Match
from kavach.signals.types import SignalType
from kavach.store.db import make_session_factory, session_scope
from tests.web.helpers import auth, live_server, make_app, make_keys


def test_case_from_verdict_keeps_hashes_details_and_metadata(session: Session) -> None:
    org = ensure_organisation(session, "Messenger")
    sha = hashlib.sha256(b"benign").hexdigest()
    match = Match(bank="known", entry_id=1, signal_type=SignalType.SHA256, value=sha, distance=0)
    case = intake.case_from_verdict(
        session,
        organisation_id=org.id,
        submission_id=7,
        content_id="upload-1",
        hashes={"sha256": [sha], "photodna": ["photodna"]},
        matches=[match],
        metadata={"reported_person": {"esp_identifier": "u1"}, "file_name": "a.jpg"},
        actor="key:1",
    )
    assert case.source.value == "api"
    assert case.details == {"reported_person": {"esp_identifier": "u1"}}
    (item,) = session.scalars(select(CaseItem).where(CaseItem.case_id == case.id))
    assert item.hashes == {"sha256": sha}  # the PhotoDNA placeholder is not a hash
    assert item.attributes == {"file_name": "a.jpg", "content_id": "upload-1", "submission_id": 7}
    assert item.matches[0]["bank"] == "known"
    assert item.status is ItemStatus.QUEUED


def test_a_matching_submission_opens_a_case(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    value = hashlib.md5(b"listed benign item").hexdigest()
    keys = make_keys(engine, "Platform P", (Role.PLATFORM,))
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        org = ensure_organisation(session, "Platform P")
        bank = create_bank(session, name="p-known", owner=org, source="local")
        record = HashRecord(((SignalType.MD5, bytes.fromhex(value)),), (Label("industry", "B2"),))
        add_entries(session, bank, [record], added_by="test")
        org_id = org.id
    app = make_app(database_url, tmp_path)
    with live_server(app) as live, httpx.Client(base_url=live.url) as client:
        body = {"content_id": "c-77", "hashes": [{"signal_type": "md5", "value": value}]}
        deadline = time.monotonic() + 20
        verdict: dict[str, object] = {}
        while time.monotonic() < deadline:
            verdict = client.post(
                "/api/v1/submissions", json=body, headers=auth(keys[Role.PLATFORM])
            ).json()
            if verdict.get("matched"):
                break
            time.sleep(0.1)
    assert verdict.get("matched") is True, verdict
    with session_scope(factory) as session:
        cases = session.scalars(select(Case).where(Case.organisation_id == org_id)).all()
        assert cases
        items = session.scalars(select(CaseItem).where(CaseItem.case_id == cases[0].id)).all()
        assert items[0].hashes == {"md5": value}
        assert items[0].attributes["content_id"] == "c-77"
        assert items[0].matches[0]["labels"] == [{"scheme": "industry", "value": "B2"}]


def test_match_dict_is_plain_json() -> None:
    match = Match(
        bank="b",
        entry_id=3,
        signal_type=SignalType.PDQ,
        value="00" * 32,
        distance=5,
        variant="dihedral:rot90",
    )
    assert intake.match_dict(match) == {
        "bank": "b",
        "entry_id": 3,
        "signal_type": "pdq",
        "value": "00" * 32,
        "distance": 5,
        "labels": [],
        "variant": "dihedral:rot90",
    }
