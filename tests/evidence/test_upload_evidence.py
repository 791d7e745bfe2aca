"""Evidence end to end: a matching API upload is kept encrypted with its case item, for the
console to show blurred; a non-matching one never is, nor anything while retention is off."""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kavach import audit
from kavach.auth.models import Role
from kavach.auth.service import create_user
from kavach.banks.formats import HashRecord, Label
from kavach.banks.service import add_entries, create_bank, ensure_organisation
from kavach.cases.models import CaseItem
from kavach.errors import ConfigurationError
from kavach.evidence import Vault
from kavach.evidence.models import EvidenceBlob
from kavach.signals.types import SignalType
from kavach.store.db import make_session_factory, session_scope
from kavach.store.submissions import Submission
from tests.web.helpers import auth, jpeg, make_app, make_keys
from tests.web.ui.client import TestClient
from tests.web.ui.conftest import PASSWORD, login

LISTED = jpeg(1, (96, 72))
OTHER = jpeg(2, (96, 72))


def _upload(client: TestClient, token: str, data: bytes, content_id: str) -> dict[str, object]:
    answer = client.post(
        "/api/v1/submissions/upload",
        files={"file": ("IMG_1.jpg", data, "image/jpeg")},
        data={"content_id": content_id, "metadata": '{"uploader_ip": "203.0.113.7"}'},
        headers=auth(token),
    )
    assert answer.status_code == 200, answer.text
    verdict: dict[str, object] = answer.json()
    return verdict


def _items(engine: Engine, content_id: str) -> list[CaseItem]:
    with session_scope(make_session_factory(engine)) as session:
        items = session.scalars(select(CaseItem)).all()
        return [i for i in items if i.attributes.get("content_id") == content_id]


def _blobs(engine: Engine) -> list[EvidenceBlob]:
    with session_scope(make_session_factory(engine)) as session:
        return list(session.scalars(select(EvidenceBlob).order_by(EvidenceBlob.id)))


def test_a_matching_upload_is_kept_encrypted_and_shown_blurred(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = make_keys(engine, "Platform E", (Role.PLATFORM,))
    with session_scope(make_session_factory(engine)) as session:
        org = ensure_organisation(session, "Platform E")
        bank = create_bank(session, name="e-known", owner=org, source="local")
        digest = bytes.fromhex(hashlib.sha256(LISTED).hexdigest())
        record = HashRecord(((SignalType.SHA256, digest),), (Label("industry", "A2"),))
        add_entries(session, bank, [record], added_by="test")
        create_user(session, org, "erin", PASSWORD, Role.REVIEWER)
    vault = Vault(tmp_path / "evidence", secrets.token_bytes(32))
    app = make_app(database_url, tmp_path / "data")
    token = keys[Role.PLATFORM]
    with TestClient(app) as client:
        # Turned on without its key: the upload is refused with the reason, not half-done.
        monkeypatch.setenv("KAVACH_EVIDENCE", "1")
        monkeypatch.delenv("KAVACH_EVIDENCE_KEY", raising=False)
        refused = client.post(
            "/api/v1/submissions/upload",
            files={"file": ("IMG_1.jpg", LISTED, "image/jpeg")},
            data={"content_id": "no-key"},
            headers=auth(token),
        )
        assert refused.status_code == 500
        assert "KAVACH_EVIDENCE_KEY" in refused.json()["error"]["message"]
        assert _items(engine, "no-key") == []
        monkeypatch.delenv("KAVACH_EVIDENCE")

        # Retention off (the default): a match opens a case, and no file is kept.
        app.state.evidence_vault = None
        deadline = time.monotonic() + 20
        while not _upload(client, token, LISTED, "off-1")["matched"]:
            assert time.monotonic() < deadline, "the bank never reached the index"
            time.sleep(0.1)
        assert _items(engine, "off-1")
        assert _blobs(engine) == []

        # Retention on: the matching upload is kept, sealed, with its item.
        app.state.evidence_vault = vault
        assert _upload(client, token, LISTED, "on-1")["matched"] is True
        (item,) = _items(engine, "on-1")
        (blob,) = _blobs(engine)
        assert (blob.item_id, blob.media_type, blob.size) == (item.id, "image/jpeg", len(LISTED))
        assert blob.sha256 == item.hashes["sha256"] == hashlib.sha256(LISTED).hexdigest()
        sealed = [p for p in vault.directory.rglob("*") if p.is_file()]
        assert len(sealed) == 1
        assert LISTED not in sealed[0].read_bytes()
        assert vault.unseal(blob.storage_name, blob.sha256) == LISTED
        with session_scope(make_session_factory(engine)) as session:
            stored = audit.records(session, subject=f"evidence:{blob.id}", action="evidence.store")
            assert [r.actor.startswith("key:") for r in stored] == [True]

        # A file that matched nothing: a verdict, no case, nothing kept.
        before = {p.name for p in vault.directory.rglob("*")}
        assert _upload(client, token, OTHER, "on-2")["matched"] is False
        assert _items(engine, "on-2") == []
        assert len(_blobs(engine)) == 1
        assert {p.name for p in vault.directory.rglob("*")} == before
        with session_scope(make_session_factory(engine)) as session:
            contents = session.scalars(select(Submission.content_id)).all()
            assert "on-2" not in contents

        # The console shows the kept file blurred, and serves it only to a logged-in person.
        client.headers.pop("Authorization", None)
        assert login(client, "erin").status_code == 303
        page = client.get(f"/console/items/{item.id}")
        assert 'class="media shielded' in page.text
        media = client.get(f"/console/items/{item.id}/media")
        assert media.status_code == 200
        assert media.content == LISTED
        assert media.headers["cache-control"].startswith("no-store")


def test_the_service_refuses_to_start_with_retention_on_and_no_key(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAVACH_EVIDENCE", "1")
    monkeypatch.delenv("KAVACH_EVIDENCE_KEY", raising=False)
    app = make_app(database_url, tmp_path / "data")
    with pytest.raises(ConfigurationError, match="KAVACH_EVIDENCE_KEY"), TestClient(app):
        pass
