"""Three ``kavach serve`` nodes on loopback, in three countries, each with its own database.

A (India) lists hashes; B (Britain) vouches for one; C (Germany) pulls both and matches only
what two members from two countries vouched for. Then: a retraction propagates, a peer that
goes down mid-sync is resumed without loss or doubles, a bad signature, a torn page and a
rewritten history are each refused with an alarm, and a referral makes the round trip through
``kavach worker``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from kavach.auth.models import Role
from kavach.banks.models import Bank, BankEntry
from kavach.exchange import referrals
from kavach.exchange.feeds import local_organisation
from kavach.exchange.identity import NodeIdentity, init_identity
from kavach.exchange.jobs import schedule_sync
from kavach.exchange.models import Alarm, PeerFeed, Referral
from kavach.exchange.peers import add_peer, clear_alarms, get_peer
from kavach.exchange.sync import sync_peer
from kavach.exchange.vouching import vouch_locally
from kavach.signals.types import SignalType
from kavach.store.db import make_engine, make_session_factory, session_scope
from kavach.store.migrate import upgrade
from tests.exchange.feedtools import rewrite_history
from tests.exchange.nodes import md5_of
from tests.exchange.tamper import Tamper
from tests.web.helpers import (
    auth,
    free_port,
    kavach_env,
    make_keys,
    start_kavach,
    stop,
    wait_ready,
)

pytestmark = pytest.mark.slow


@dataclass
class Live:
    name: str
    identity: NodeIdentity
    engine: Engine
    env: dict[str, str]
    url: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes]
    key: str  # an analyst API key of the node's own organisation

    @property
    def factory(self):  # type: ignore[no-untyped-def]
        return make_session_factory(self.engine)

    def start(self) -> None:
        self.proc = start_kavach(
            ["serve", "--port", str(self.port), "--log-level", "warning"], self.env, self.log
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kavach.cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


COUNTRIES = {"a": ("Hotline A", "IN"), "b": ("Hotline B", "GB"), "c": ("Hotline C", "DE")}


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Live]]:
    root = tmp_path_factory.mktemp("alliance")
    made: dict[str, Live] = {}
    try:
        for name, (org, country) in COUNTRIES.items():
            data = root / name
            url = f"sqlite:///{(data / 'kavach.db').as_posix()}"
            engine = make_engine(url)
            upgrade(engine)
            identity = init_identity(data, org, country)
            with session_scope(make_session_factory(engine)) as session:
                local_organisation(session, identity)
            key = make_keys(engine, org, (Role.ANALYST,))[Role.ANALYST]
            env = kavach_env(url, data, KAVACH_RELOAD_INTERVAL="0.2", KAVACH_RATE_LIMIT="0")
            port = free_port()
            live = Live(
                name,
                identity,
                engine,
                env,
                f"http://127.0.0.1:{port}",
                port,
                root / f"{name}.log",
                None,
                key,  # type: ignore[arg-type]
            )
            live.start()
            made[name] = live
        for live in made.values():
            wait_ready(live.url, live.proc)
        with httpx.Client(timeout=10) as client:
            for me in made.values():
                with session_scope(me.factory) as session:
                    for other in made.values():
                        if other is not me:
                            add_peer(
                                session,
                                client,
                                name=other.name,
                                url=other.url,
                                expect_node_id=other.identity.node_id,
                            )
                    schedule_sync(session)
        yield made
    finally:
        for live in made.values():
            if live.proc is not None:
                stop(live.proc)
            live.engine.dispose()


def _api(client: httpx.Client, node: Live, method: str, path: str, body: object) -> httpx.Response:
    response = client.request(method, f"{node.url}/api/v1{path}", json=body, headers=auth(node.key))
    assert response.status_code < 300, response.text
    return response


def _hashes(*values: bytes) -> list[dict[str, str]]:
    return [{"signal_type": "md5", "value": v.hex()} for v in values]


def _matches(client: httpx.Client, node: Live, value: bytes) -> int:
    got = _api(client, node, "POST", "/lookup", {"hashes": _hashes(value)}).json()
    return len(got["results"][0]["matches"])


def _until_matches(client: httpx.Client, node: Live, value: bytes, want: int) -> None:
    deadline = time.monotonic() + 15
    while _matches(client, node, value) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"{node.name} did not reach {want} matches")
        time.sleep(0.1)


def _mirror_rows(node: Live, bank: str) -> tuple[int, int]:
    """(live, retracted) entries of a mirrored bank."""
    with session_scope(node.factory) as session:
        rows = session.execute(
            select(BankEntry.retracted_at.is_(None), func.count())
            .join(Bank, Bank.id == BankEntry.bank_id)
            .where(Bank.name == bank)
            .group_by(BankEntry.retracted_at.is_(None))
        ).all()
    counts = {live: n for live, n in rows}
    return counts.get(True, 0), counts.get(False, 0)


def _sync(c: Live, peer: str, client: httpx.Client, **kw: int):  # type: ignore[no-untyped-def]
    return sync_peer(c.factory, client, c.identity, peer, **kw)


def test_a_hash_vouched_in_two_countries_reaches_the_third_and_retractions_follow(
    nodes: dict[str, Live],
) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    listed, other = md5_of(9001), md5_of(9002)
    with httpx.Client(timeout=10) as client:
        _api(client, a, "POST", "/banks", {"name": "a-list", "sharing": "alliance"})
        _api(client, b, "POST", "/banks", {"name": "b-list", "sharing": "alliance"})
        body = {"entries": [{"hashes": _hashes(listed)}, {"hashes": _hashes(other)}]}
        _api(client, a, "POST", "/banks/a-list/entries", body)
        # C hears from A alone: one member, one country — below the rule, no match.
        assert _sync(c, "a", client).ok
        assert _mirror_rows(c, "a.a-list") == (2, 0)
        assert _matches(client, c, listed) == 0
        # B pulls A's list, reviews one hash and vouches for it in its own shared bank.
        assert _sync(b, "a", client).ok
        with session_scope(b.factory) as session:
            vouch_locally(
                session,
                local_organisation(session, b.identity),
                bank="a.a-list",
                signal_type=SignalType.MD5,
                value=listed,
                into="b-list",
            )
        report = _sync(c, "b", client)
        assert report.ok
        assert report.applied == {"b-list": 1}
        # India and Britain now vouch: the hash acts on C and its API matches it.
        _until_matches(client, c, listed, 2)
        assert _matches(client, c, other) == 0
        # A retracts: C drops A's entry; B's vouch alone is below the rule again.
        _api(client, a, "POST", "/banks/a-list/retract", {"hashes": _hashes(listed)})
        assert _sync(c, "a", client).ok
        assert _mirror_rows(c, "a.a-list") == (1, 1)
        _until_matches(client, c, listed, 0)


def test_a_peer_that_goes_down_mid_sync_is_resumed_without_loss_or_doubles(
    nodes: dict[str, Live],
) -> None:
    a, c = nodes["a"], nodes["c"]
    values = [md5_of(10_000 + i) for i in range(40)]
    tamper = Tamper(httpx.HTTPTransport())
    with httpx.Client(timeout=10) as client, httpx.Client(transport=tamper, timeout=10) as flaky:
        _api(client, a, "POST", "/banks", {"name": "a-bulk", "sharing": "alliance"})
        _api(
            client,
            a,
            "POST",
            "/banks/a-bulk/entries",
            {"entries": [{"hashes": _hashes(v)} for v in values]},
        )

        def go_down_after_two_pages(request: httpx.Request) -> None:
            if tamper.pages == 2 and a.proc.poll() is None:
                stop(a.proc)

        tamper.before = go_down_after_two_pages
        report = _sync(c, "a", flaky, limit=7)
        assert not report.ok
        live, _ = _mirror_rows(c, "a.a-bulk")
        assert live == 14  # two pages of seven, committed page by page
        a.start()
        wait_ready(a.url, a.proc)
        tamper.before = None
        report = _sync(c, "a", flaky, limit=7)
        assert report.ok
        assert report.applied["a-bulk"] == 26
    assert _mirror_rows(c, "a.a-bulk") == (40, 0)
    with session_scope(c.factory) as session:
        feed = session.scalars(select(PeerFeed).where(PeerFeed.remote_bank == "a-bulk")).one()
        assert feed.cursor == feed.head_size == 40


def test_bad_signatures_torn_pages_and_rewritten_history_are_refused_with_alarms(
    nodes: dict[str, Live],
) -> None:
    b, c = nodes["b"], nodes["c"]
    tamper = Tamper(httpx.HTTPTransport())
    with httpx.Client(timeout=10) as client, httpx.Client(transport=tamper, timeout=10) as flaky:
        _api(client, b, "POST", "/banks", {"name": "b-more", "sharing": "alliance"})
        new = {"entries": [{"hashes": _hashes(md5_of(20_000 + i))} for i in range(3)]}
        _api(client, b, "POST", "/banks/b-more/entries", new)
        for kind, change in (
            ("bad_signature", lambda raw: raw.replace(b'"op":"add"', b'"op":"retract"', 1)),
            ("torn_page", lambda raw: raw[: len(raw) // 2]),
        ):
            tamper.change = change
            report = _sync(c, "b", flaky)
            tamper.change = None
            assert not report.ok
            assert kind in report.alarms[0]
            assert _mirror_rows(c, "b.b-more") == (0, 0)
        status = c.cli("exchange", "peer", "status", "b")
        assert status.returncode == 1
        assert "bad_signature" in status.stdout
        assert "torn_page" in status.stdout
        with session_scope(c.factory) as session:
            clear_alarms(session, "b")
        assert _sync(c, "b", client).ok
        assert _mirror_rows(c, "b.b-more") == (3, 0)
        # B's operator rewrites the b-more feed; C refuses it, halts B and says so.
        with session_scope(b.factory) as session:
            rewrite_history(session, "b-more", [md5_of(30_000 + i) for i in range(4)])
        synced = c.cli("exchange", "peer", "sync", "b")
        assert synced.returncode == 1
        assert "history_rewritten" in synced.stderr
        with session_scope(c.factory) as session:
            peer = get_peer(session, "b")
            assert peer.halted
            kinds = set(session.scalars(select(Alarm.kind).where(Alarm.cleared_at.is_(None))))
            assert "history_rewritten" in kinds
        assert _mirror_rows(c, "b.b-more") == (3, 0)
        listing = c.cli("exchange", "peer", "list")
        assert "HALTED" in listing.stdout


def test_a_referral_makes_the_round_trip_through_the_workers(nodes: dict[str, Live]) -> None:
    a, c = nodes["a"], nodes["c"]
    with session_scope(a.factory) as session:
        uid = referrals.refer(
            session,
            a.identity,
            "c",
            kind="url",
            subject={"url": "https://host.example.de/listed/1", "note": "hosted in Germany"},
        ).uid
    assert a.cli("worker", "--once").returncode == 0
    with session_scope(c.factory) as session:
        received = session.scalars(select(Referral).where(Referral.uid == uid)).one()
        assert received.direction == "in"
        assert received.case_id is not None
    with session_scope(a.factory) as session:
        sent = session.scalars(select(Referral).where(Referral.uid == uid)).one()
        assert sent.status == "received"
    done = c.cli("exchange", "referral", "status", uid, "removed", "--note", "taken down")
    assert done.returncode == 0, done.stderr
    assert c.cli("worker", "--once").returncode == 0
    with session_scope(a.factory) as session:
        sent = session.scalars(select(Referral).where(Referral.uid == uid)).one()
        assert sent.status == "removed"
        assert sent.history[-1]["note"] == "taken down"
