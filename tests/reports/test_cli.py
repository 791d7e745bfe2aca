"""``kavach scan --case``, ``kavach report ...`` and ``kavach audit ...`` end to end: files, exit
codes, clear errors (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, delete, update

from kavach import audit
from kavach.audit import AuditRecord
from kavach.banks.service import ensure_organisation
from kavach.cases import review, service
from kavach.evidence import Vault, store
from kavach.store.base import utcnow
from kavach.store.db import make_engine, make_session_factory, session_scope
from kavach.store.models import Organisation
from kavach.store.testing import clear_tables, sqlite_database
from tests.cases.helpers import make_user
from tests.match.helpers import good_seeds, write_images
from tests.reports.helpers import DETAILS
from tests.support.cli import run

SEEDS = good_seeds(3)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite only: the services under these commands are tested on both databases, and every
    command here opens its own engine, which costs seconds on PostgreSQL."""
    with sqlite_database(Path(tmp_path_factory.mktemp("db"))) as url:
        yield url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _database(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path / "data"))
    yield
    clear_tables(engine)


def test_scan_to_case_to_reports(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, engine: Engine
) -> None:
    known = tmp_path / "known"
    write_images(known, SEEDS[:2], quality=95)
    assert run(capsys, "bank", "create", "hotline", "--owner", "Hotline")[0] == 0
    code, out, _ = run(capsys, "bank", "add", "hotline", str(known), "-l", "industry:A1", "-j", "1")
    assert code == 0, out
    code, _, err = run(
        capsys, "scan", str(known), "--case", "exhibit-9", "--case-org", "Police", "-j", "1"
    )
    assert code == 1, err  # matches found
    assert "case exhibit-9" in err
    assert "2 matched file(s) added" in err
    # Scanning the same folder into the same case adds nothing twice.
    code, _, err = run(
        capsys, "scan", str(known), "--case", "exhibit-9", "--case-org", "Police", "-j", "1"
    )
    assert "0 matched file(s) added" in err
    code, out, _ = run(capsys, "report", "cases", "--org", "Police")
    assert code == 0
    assert "exhibit-9\tscan\topen\t2 items" in out

    # Before anyone confirmed anything there is nothing to send to NCMEC.
    code, _, err = run(capsys, "report", "ncmec", "exhibit-9", "--out", str(tmp_path / "r.xml"))
    assert code == 2
    assert "no confirmed item" in err

    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        case = service.find_case(session, "exhibit-9")
        service.update_details(session, case, DETAILS, actor="user:examiner")
        org = session.get(Organisation, case.organisation_id)
        assert org is not None
        a, b = make_user(session, org, "ex-a"), make_user(session, org, "ex-b")
        for item in service.case_items(session, case):
            review.grade(session, item, a, scheme="industry", value="A1")
            review.grade(session, item, b, scheme="industry", value="A1")

    for kind, name in (("ncmec", "r.xml"), ("vics", "c.json"), ("html", "c.html")):
        code, out, err = run(capsys, "report", kind, "exhibit-9", "--out", str(tmp_path / name))
        assert code == 0, err
    assert etree.fromstring((tmp_path / "r.xml").read_bytes()).tag == "report"
    vics = json.loads((tmp_path / "c.json").read_text())
    assert {m["FileName"] for m in vics["value"][0]["Media"][0]["MediaFiles"]} <= {
        p.name for p in known.iterdir()
    }
    assert "exhibit-9" in (tmp_path / "c.html").read_text()
    code, _, err = run(
        capsys, "report", "india", "exhibit-9", "--out", str(tmp_path / "i.csv"), "--format", "csv"
    )
    assert code == 0, err
    assert (tmp_path / "i.csv").read_text().count("\n") == 3  # header and two items
    code, out, _ = run(capsys, "audit", "list", "--action", "report.*", "--json")
    assert code == 0
    assert {json.loads(line)["action"] for line in out.splitlines()} == {"report.generated"}


def test_clear_errors_and_audit_verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, engine: Engine
) -> None:
    code, _, err = run(capsys, "report", "html", "no-such-case", "--out", str(tmp_path / "x"))
    assert code == 2
    assert "no case with id or name 'no-such-case'" in err
    code, _, err = run(capsys, "report", "india", "1", "--out", "x", "--format", "pdf")
    assert code == 2
    assert "json or csv" in err
    code, _, err = run(capsys, "report", "html", "1", "--out", "x", "--org", "Nobody")
    assert "no organisation called 'Nobody'" in err
    code, _, err = run(
        capsys, "report", "ncmec", "1", "--out", "x", "--reporter-email", "safety team"
    )
    assert code == 2
    assert "--reporter-email: Value error, 'safety team' is not an e-mail address" in err
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        org = Organisation(name="Audited")
        session.add(org)
        session.flush()
        for n in range(3):
            service.open_case(session, organisation_id=org.id, source="manual", title=f"c{n}")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0
    assert "intact: 3 records" in out
    code, out, _ = run(capsys, "audit", "head")
    assert out.startswith("3 ")
    with engine.begin() as conn:
        conn.execute(update(AuditRecord.__table__).where(AuditRecord.seq == 2).values(at=utcnow()))
    code, _, err = run(capsys, "audit", "verify")
    assert code == 3
    assert "edited: seq 2" in err
    assert "BROKEN" in err
    with engine.begin() as conn:
        conn.execute(delete(AuditRecord.__table__).where(AuditRecord.seq == 2))
    code, _, err = run(capsys, "audit", "verify")
    assert code == 3
    assert "deleted: seq 2" in err


def test_review_policy_and_evidence_holds(
    capsys: pytest.CaptureFixture[str],
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = secrets.token_bytes(32)
    monkeypatch.setenv("KAVACH_EVIDENCE", "1")
    monkeypatch.setenv("KAVACH_EVIDENCE_KEY", base64.b64encode(key).decode())
    data = b"benign evidence bytes"
    with session_scope(make_session_factory(engine)) as session:
        org = ensure_organisation(session, "Cyber Cell", "IN")
        case = service.open_case(session, organisation_id=org.id, source="manual", title="t")
        item = service.add_item(
            session, case, kind="file", hashes={"sha256": hashlib.sha256(data).hexdigest()}
        )
        blob = store(session, Vault(tmp_path / "data" / "evidence", key), item, data, actor="t")
        item_id, blob_id = item.id, blob.id
    code, out, _ = run(capsys, "review", "policy", "Cyber Cell")
    assert (code, "retention 365 days" in out) == (0, True)
    code, out, _ = run(
        capsys, "review", "policy", "Cyber Cell", "--retention-days", "180", "--no-allow-colour"
    )
    assert code == 0
    assert "retention 180 days" in out
    assert "colour not allowed" in out
    code, _, err = run(capsys, "review", "policy", "Cyber Cell", "--required-agreements", "9")
    assert code == 2
    assert "between 1 and 5" in err
    code, out, _ = run(capsys, "review", "evidence", str(item_id), "--hold", "court order 7/2026")
    assert "on legal hold: court order 7/2026" in out
    code, _, err = run(capsys, "review", "evidence", str(item_id), "--destroy", "asked")
    assert code == 2
    assert "under legal hold" in err
    run(capsys, "review", "evidence", str(item_id), "--release")
    code, out, _ = run(capsys, "review", "evidence", str(item_id), "--destroy", "asked")
    assert code == 0
    assert "destroyed" in out
    with session_scope(make_session_factory(engine)) as session:
        actions = [r.action for r in audit.records(session, subject=f"evidence:{blob_id}")]
        assert actions == [
            "evidence.destroy",
            "evidence.release",
            "evidence.hold",
            "evidence.store",
        ]
        assert audit.records(session, action="config.review_policy")[0].actor.startswith("cli")
