"""``kavach blocklist export``, ``kavach stats`` and ``kavach takedown`` on a real database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kavach.banks.service import ensure_organisation
from kavach.cli.main import main
from kavach.store.db import make_session_factory, session_scope
from kavach.store.testing import clear_tables
from kavach.takedown.models import EventKind, ItemStatus, TakedownEvent, TakedownItem


@pytest.fixture
def data(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    monkeypatch.setenv("KAVACH_DATA_DIR", str(tmp_path))
    at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    with session_scope(make_session_factory(engine)) as session:
        org = ensure_organisation(session, "Kavach hotline")
        for n, (status, dedicated) in enumerate(
            [
                (ItemStatus.CONFIRMED, True),
                (ItemStatus.CONFIRMED, False),
                (ItemStatus.REMOVED, True),
                (ItemStatus.CONFIRMED, True),
            ]
        ):
            host = "192.0.2.7" if n == 3 else f"h{n}.test"
            item = TakedownItem(
                organisation_id=org.id,
                reference=f"KV-CLI0-000{n}",
                url=f"http://{host}/p",
                url_sha256=f"{n}" * 64,
                host=host,
                status=status,
                dedicated_domain=dedicated,
                country="NL",
                matches=[{"url": f"http://{host}/i.jpg"}],
            )
            session.add(item)
            session.flush()
            session.add(TakedownEvent(item_id=item.id, kind=EventKind.CONFIRMED, at=at, details={}))
            if status is ItemStatus.REMOVED:
                session.add(
                    TakedownEvent(
                        item_id=item.id,
                        kind=EventKind.REMOVED,
                        at=at + dt.timedelta(hours=5),
                        details={"seconds": 5 * 3600.0, "notices": 1},
                    )
                )
    return tmp_path


def test_blocklist_export_stats_and_contacts(
    data: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        assert (
            main(["blocklist", "export", "--format", "url", "--out", str(data / "urls.txt")]) == 0
        )
        urls = (data / "urls.txt").read_text().splitlines()
        assert urls == [
            "http://192.0.2.7/i.jpg",
            "http://192.0.2.7/p",
            "http://h0.test/i.jpg",
            "http://h0.test/p",
            "http://h1.test/i.jpg",
            "http://h1.test/p",
        ]
        assert main(["blocklist", "export", "--format", "domain"]) == 0
        assert capsys.readouterr().out == "h0.test\n"  # dedicated and live only
        assert main(["blocklist", "export", "--format", "rpz", "--out", str(data / "zone")]) == 0
        zone = (data / "zone").read_text()
        assert "h0.test CNAME ." in zone
        assert "\n32.7.2.0.192.rpz-ip CNAME .\n" in zone  # a dedicated IP host: address trigger
        assert "h2.test" not in zone  # removed
        if engine.dialect.name == "sqlite":  # the CLI's own checks: once is enough
            assert main(["blocklist", "export", "--format", "csv"]) == 2
            assert "choose url, domain or rpz" in capsys.readouterr().err
            assert main(["blocklist", "export", "--out", str(data / "no" / "urls.txt")]) == 2
            assert "cannot write" in capsys.readouterr().err
            assert main(["takedown", "list", "--status", "gone"]) == 2
            assert "unknown status 'gone'" in capsys.readouterr().err
            assert main(["stats", "report", "--year", "2025", "--out", str(data)]) == 2
            assert "cannot write" in capsys.readouterr().err

        assert main(["stats", "show", "--year", "2025", "--plots", str(data / "plots")]) == 0
        out = capsys.readouterr().out
        assert "confirmed\t4" in out
        assert "median hours to removal\t5.0" in out
        assert "country NL\t4\t100%" in out
        assert sorted(p.name for p in (data / "plots").iterdir()) == [
            "country.svg",
            "network.svg",
            "notices.svg",
            "reappearance.svg",
            "removal.svg",
        ]
        assert main(["stats", "report", "--year", "2025", "--out", str(data / "r.html")]) == 0
        assert "transparency report 2025" in (data / "r.html").read_text()

        assert main(["takedown", "contact", "hotline", "bg", "hotline@bg.test"]) == 0
        assert "hotline BG: hotline@bg.test" in capsys.readouterr().out
        assert main(["takedown", "contact", "asn", "not-a-number", "a@b.test"]) == 2
        assert main(["takedown", "list", "--status", "removed"]) == 0
        assert "KV-CLI0-0002" in capsys.readouterr().out
    finally:
        clear_tables(engine)
