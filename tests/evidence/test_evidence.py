"""Evidence: sealed at rest, opened with an audit record, held, destroyed on request and expiry."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from kavach import audit, evidence
from kavach.banks.service import ensure_organisation
from kavach.cases import review, service
from kavach.demo.scenes import encode, scene
from kavach.errors import ConfigurationError, ConflictError, InputError, NotFoundError
from kavach.store.base import utcnow
from tests.cases.helpers import make_user

KEY = bytes(range(32))


def _env(key: bytes | None = KEY, on: str = "1") -> dict[str, str]:
    env = {"KAVACH_EVIDENCE": on}
    if key is not None:
        env["KAVACH_EVIDENCE_KEY"] = base64.b64encode(key).decode()
    return env


def test_configuration_refuses_unsafe_settings(tmp_path: Path) -> None:
    assert not evidence.evidence_enabled({})
    with pytest.raises(ConfigurationError, match="off"):
        evidence.vault_from_env(tmp_path, {})
    with pytest.raises(ConfigurationError, match="needs KAVACH_EVIDENCE_KEY"):
        evidence.vault_from_env(tmp_path, _env(None))
    with pytest.raises(ConfigurationError, match="32 bytes"):
        evidence.vault_from_env(tmp_path, _env(b"short"))
    with pytest.raises(ConfigurationError, match="base64"):
        evidence.vault_from_env(tmp_path, {"KAVACH_EVIDENCE": "1", "KAVACH_EVIDENCE_KEY": "%%"})
    assert evidence.vault_from_env(tmp_path, _env()).directory == tmp_path / "evidence"


def test_store_open_hold_destroy_expire(session: Session, tmp_path: Path) -> None:
    vault = evidence.vault_from_env(tmp_path, _env())
    org = ensure_organisation(session, "Platform")
    user = make_user(session, org, "rev")
    review.set_policy(session, org.id, actor="user:admin", retention_days=180)
    data = encode(scene(64, 48, seed=3), "JPEG")
    case = service.open_case(session, organisation_id=org.id, source="api", title="t")
    item = service.add_item(
        session, case, kind="file", hashes={"sha256": hashlib.sha256(data).hexdigest()}
    )
    blob = evidence.store(session, vault, item, data, actor="system", media_type="image/jpeg")
    assert blob.retain_until - utcnow() > dt.timedelta(days=179)
    files = [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert data not in files[0].read_bytes()  # encrypted at rest
    assert evidence.for_item(session, item) is blob
    shown, media_type = evidence.open_for_display(session, vault, blob, user)
    assert (shown, media_type) == (data, "image/jpeg")
    stranger = make_user(session, ensure_organisation(session, "Other"), "x")
    with pytest.raises(NotFoundError):
        evidence.open_for_display(session, vault, blob, stranger)
    # Another key cannot open it; a tampered file fails its integrity check.
    other = evidence.Vault(vault.directory, bytes(32))
    with pytest.raises(ConfigurationError, match="sealed with key"):
        evidence.read_for_report(session, other, blob, actor="system")
    raw = bytearray(files[0].read_bytes())
    raw[-1] ^= 1
    files[0].write_bytes(bytes(raw))
    with pytest.raises(InputError, match="integrity"):
        evidence.read_for_report(session, vault, blob, actor="system")
    # Legal hold blocks destruction on request and by expiry.
    with pytest.raises(InputError, match="reason"):
        evidence.set_legal_hold(session, blob, actor="user:admin", hold=True)
    evidence.set_legal_hold(session, blob, actor="user:admin", hold=True, reason="order 12/2026")
    with pytest.raises(ConflictError, match="legal hold"):
        evidence.destroy(session, vault, blob, actor="user:admin", reason="asked")
    later = utcnow() + dt.timedelta(days=181)
    assert evidence.expire(session, vault, now=later) == 0
    evidence.set_legal_hold(session, blob, actor="user:admin", hold=False)
    assert evidence.expire(session, vault, now=utcnow()) == 0  # not due yet
    assert evidence.expire(session, vault, now=later) == 1
    assert blob.destroyed_by == "system"
    assert not files[0].exists()
    with pytest.raises(NotFoundError, match="destroyed"):
        evidence.open_for_display(session, vault, blob, user)
    actions = [r.action for r in audit.records(session, subject=f"evidence:{blob.id}")]
    assert actions[::-1] == [
        "evidence.store",
        "evidence.open",
        "evidence.hold",
        "evidence.release",
        "evidence.destroy",
    ]


def test_refuses_a_file_that_is_not_the_item(session: Session, tmp_path: Path) -> None:
    vault = evidence.vault_from_env(tmp_path, _env())
    org = ensure_organisation(session, "P2")
    case = service.open_case(session, organisation_id=org.id, source="api", title="t")
    item = service.add_item(session, case, kind="file", hashes={"sha256": "00" * 32})
    with pytest.raises(InputError, match="SHA-256"):
        evidence.store(session, vault, item, b"other bytes", actor="system")
    with pytest.raises(InputError, match="empty"):
        evidence.store(session, vault, item, b"", actor="system")
