"""Feeds, proofs, sync, vouching, alarms and referrals between two in-process nodes.

Node A publishes from a throw-away SQLite database; node B follows on the module's database
(SQLite and PostgreSQL), so the follower side runs on both.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select

from kavach.audit import AuditRecord
from kavach.banks.models import Bank, BankEntry, EntryLabel
from kavach.banks.service import get_bank, retract_entries
from kavach.exchange import canonical, feeds, merkle, referrals
from kavach.exchange.client import signed_get
from kavach.exchange.models import Alarm, Peer, Trust
from kavach.exchange.peers import clear_alarms, get_peer
from kavach.exchange.sync import FeedRefusedError, sync_peer, verify_page
from kavach.exchange.vouching import pending, vouch_locally
from kavach.match.matcher import Matcher, Query
from kavach.signals.types import SignalType
from kavach.store.base import utcnow
from kavach.store.db import make_engine, session_scope
from kavach.store.testing import sqlite_database
from tests.exchange.feedtools import rewrite_history
from tests.exchange.nodes import Node, make_node, md5_of, register_peer, shared_bank
from tests.exchange.tamper import Tamper
from tests.web.helpers import live_server, make_app


class Pair:
    def __init__(self, a: Node, b: Node, url_a: str, url_b: str) -> None:
        self.a, self.b, self.url_a, self.url_b = a, b, url_a, url_b
        self.tamper = Tamper(httpx.HTTPTransport())
        # B's client to A (pages can be corrupted on the way); plain clients for referrals.
        self.client = httpx.Client(transport=self.tamper, timeout=10)
        self.to_a = httpx.Client(base_url=url_a, timeout=10)
        self.to_b = httpx.Client(base_url=url_b, timeout=10)


@pytest.fixture(scope="module")
def pair(
    database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("nodes")
    with sqlite_database(root / "a-db") as url_a:
        engine_a = make_engine(url_a)
        a = make_node(engine_a, root / "a", "Hotline A", "IN")
        b = make_node(engine, root / "b", "Hotline B", "GB")
        app_a = make_app(url_a, a.data_dir)
        app_b = make_app(database_url, b.data_dir)
        with live_server(app_a) as live_a, live_server(app_b) as live_b:
            register_peer(a, b, "b", live_b.url)
            register_peer(b, a, "a", live_a.url)
            pair = Pair(a, b, live_a.url, live_b.url)
            yield pair
            for client in (pair.client, pair.to_a, pair.to_b):
                client.close()
        engine_a.dispose()


def _count(node: Node, bank: str, *, live: bool = True, acting: bool | None = None) -> int:
    with session_scope(node.factory) as session:
        stmt = (
            select(func.count())
            .select_from(BankEntry)
            .join(Bank, Bank.id == BankEntry.bank_id)
            .where(Bank.name == bank, BankEntry.retracted_at.is_(None) == live)
        )
        if acting is not None:
            stmt = stmt.where(BankEntry.acts.is_(acting))
        return int(session.scalar(stmt) or 0)


def _matches(node: Node, bank: str, value: bytes) -> int:
    matcher = Matcher(node.factory, [bank])
    return len(matcher.match([[Query(SignalType.MD5, value)]])[0])


def _page(pair: Pair, bank: str, after: int = 0, limit: int = 100) -> httpx.Response:
    return signed_get(
        pair.client,
        pair.b.identity,
        f"{pair.url_a}/exchange/v1/feeds/{bank}?after={after}&limit={limit}",
    )


def test_node_and_feeds_need_a_registered_peer_signature(pair: Pair) -> None:
    node = pair.to_a.get("/exchange/v1/node").json()
    assert node["node_id"] == pair.a.identity.node_id
    assert node["country"] == "IN"
    shared_bank(pair.a, "auth-feed", [md5_of(1)])
    assert pair.to_a.get("/exchange/v1/feeds").status_code == 401
    assert pair.to_a.get("/exchange/v1/feeds/auth-feed?after=0").status_code == 401
    # Signed by a node A does not know (A's own key is not a registered peer of A).
    stranger = signed_get(pair.client, pair.a.identity, f"{pair.url_a}/exchange/v1/feeds")
    assert stranger.status_code == 401
    listing = signed_get(pair.client, pair.b.identity, f"{pair.url_a}/exchange/v1/feeds")
    assert {"bank": "auth-feed", "size": 1} in listing.json()["feeds"]
    # A replayed request is refused.
    headers = {k: v for k, v in listing.request.headers.items() if k.lower().startswith("x-kavach")}
    assert pair.client.get(f"{pair.url_a}/exchange/v1/feeds", headers=headers).status_code == 401
    assert _page(pair, "no-such-feed").status_code == 404


def test_pages_are_signed_and_proofs_verify(pair: Pair) -> None:
    values = [md5_of(i) for i in range(10, 17)]
    shared_bank(pair.a, "proofs", values)
    body = _page(pair, "proofs", after=2, limit=3).content
    page = canonical.decode(body)  # strict: the page is served in canonical form
    assert [e["op"] for e in page["entries"]] == ["add"] * 3
    assert [e["seq"] for e in page["entries"]] == [2, 3, 4]
    head = page["head"]
    assert head["size"] == 7
    # Inclusion of each leaf under the signed head, from the endpoint.
    root = bytes.fromhex(head["root"])
    for index in range(7):
        proof = signed_get(
            pair.client,
            pair.b.identity,
            f"{pair.url_a}/exchange/v1/feeds/proofs/inclusion?index={index}&size=7",
        ).json()
        leaf = bytes.fromhex(proof["leaf_hash"])
        path = [bytes.fromhex(h) for h in proof["proof"]]
        assert merkle.verify_inclusion(index, 7, leaf, path, root)
    # The page's entries, folded onto a frontier of the first two, prove into the head.
    with session_scope(pair.a.factory) as session:
        bank = get_bank(session, "proofs")
        leaves = [merkle.leaf_hash(d) for d in feeds.log.leaves(session, bank.id, 0, 2)]
    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    verified = verify_page(
        body,
        key=pair.a.identity.public_key,
        node_id=pair.a.identity.node_id,
        bank="proofs",
        after=2,
        frontier=frontier,
        known_size=0,
        known_root=None,
        consistency=lambda m, n: [],
    )
    assert verified.frontier.size == 5
    # Tampered pages are refused, each for its own reason.
    cases = {
        "bad_signature": body.replace(b'"op":"add"', b'"op":"retract"', 1),
        "torn_page": body[: len(body) // 2],
    }
    forged = json.loads(body)
    forged["entries"] = [*forged["entries"][:2], dict(forged["entries"][2], item="x")]
    del forged["signature"]
    forged["signature"] = feeds.b64(pair.a.identity.sign(canonical.encode(forged)))
    cases["bad_proof"] = canonical.encode(forged)
    for kind, raw in cases.items():
        with pytest.raises(FeedRefusedError) as refused:
            verify_page(
                raw,
                key=pair.a.identity.public_key,
                node_id=pair.a.identity.node_id,
                bank="proofs",
                after=2,
                frontier=frontier,
                known_size=0,
                known_root=None,
                consistency=lambda m, n: [],
            )
        assert refused.value.kind == kind


def test_sync_applies_the_vouching_rule_and_retractions(pair: Pair) -> None:
    values = [md5_of(i) for i in range(20, 23)]
    shared_bank(pair.a, "alliance", values)
    report = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a", limit=2)
    assert report.ok
    assert report.applied["alliance"] == 3
    mirror = "a.alliance"
    # One member (A, India) vouches: below the 2-member, 2-country rule, nothing acts.
    assert _count(pair.b, mirror, acting=False) == 3
    assert _matches(pair.b, mirror, values[0]) == 0
    with session_scope(pair.b.factory) as session:
        queue = pending(session, bank=mirror)
        assert {p.value for p in queue} == {v.hex() for v in values}
        assert queue[0].vouchers == ["Hotline A"]
        assert queue[0].required == (2, 2)
        org = feeds.local_organisation(session, pair.b.identity)
        vouch_locally(
            session, org, bank=mirror, signal_type=SignalType.MD5, value=values[0], into=None
        )
    # Now India and Britain vouch: it acts and matches; the others still wait.
    assert _matches(pair.b, mirror, values[0]) == 1
    assert _count(pair.b, mirror, acting=False) == 2
    with session_scope(pair.a.factory) as session:
        retract_entries(
            session, get_bank(session, "alliance"), [(SignalType.MD5, values[0])], retracted_by="t"
        )
    report = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a")
    assert report.ok
    assert report.applied["alliance"] == 1
    assert _matches(pair.b, mirror, values[0]) == 0
    assert _count(pair.b, mirror, live=False) == 1
    again = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a")
    assert again.ok
    assert again.applied.get("alliance", 0) == 0


def test_a_failed_sync_resumes_with_nothing_lost_or_doubled(pair: Pair) -> None:
    values = [md5_of(i) for i in range(100, 130)]
    shared_bank(pair.a, "resume", values)
    pair.tamper.pages, pair.tamper.fail_after = 0, 3
    try:
        report = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a", limit=4)
    finally:
        pair.tamper.fail_after = None
    assert not report.ok
    assert "went away" in report.errors[0]
    with session_scope(pair.b.factory) as session:
        peer = get_peer(session, "a")
        assert "went away" in (peer.last_error or "")
    assert _count(pair.b, "a.resume") + _count(pair.b, "a.resume", live=False) <= 12
    report = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a", limit=7)
    assert report.ok
    assert _count(pair.b, "a.resume") == 30


def test_a_rewritten_history_halts_the_peer_with_an_alarm(pair: Pair) -> None:
    shared_bank(pair.a, "history", [md5_of(i) for i in range(200, 205)])
    assert sync_peer(pair.b.factory, pair.client, pair.b.identity, "a").ok
    # A's operator rewrites the feed: same size, different past entries, freshly signed.
    with session_scope(pair.a.factory) as session:
        rewrite_history(session, "history", [md5_of(i) for i in range(300, 306)])
    report = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a")
    assert not report.ok
    assert "history_rewritten" in report.alarms[0]
    with session_scope(pair.b.factory) as session:
        peer = get_peer(session, "a")
        assert peer.halted
        kinds = set(session.scalars(select(Alarm.kind).where(Alarm.peer_id == peer.id)))
        assert "history_rewritten" in kinds
        audited = session.scalars(
            select(AuditRecord.action).where(AuditRecord.action == "exchange.alarm")
        ).all()
        assert audited
    # Nothing of the rewritten feed was applied, and a halted peer is not synced.
    assert _count(pair.b, "a.history") == 5
    assert not sync_peer(pair.b.factory, pair.client, pair.b.identity, "a").ok
    # Clean up for the other tests: forget that feed on both sides, lift the halt.
    with session_scope(pair.a.factory) as session:
        bank = get_bank(session, "history")
        bank.sharing = feeds.SharingPolicy.PRIVATE
    with session_scope(pair.b.factory) as session:
        assert clear_alarms(session, "a") >= 1


def test_bad_signature_and_torn_pages_raise_alarms_and_apply_nothing(pair: Pair) -> None:
    shared_bank(pair.a, "faults", [md5_of(i) for i in range(400, 404)])
    for kind, change in (
        ("bad_signature", lambda b: b.replace(b'"op":"add"', b'"op":"vouch"', 1)),
        ("torn_page", lambda b: b[: len(b) - 40]),
    ):
        pair.tamper.change = change
        try:
            report = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a")
        finally:
            pair.tamper.change = None
        assert not report.ok
        assert kind in report.alarms[0]
        assert _count(pair.b, "a.faults") == 0
        with session_scope(pair.b.factory) as session:
            peer = get_peer(session, "a")
            assert not peer.halted  # a bad page is refused; the peer is retried next time
            assert kind in set(session.scalars(select(Alarm.kind).where(Alarm.peer_id == peer.id)))
            clear_alarms(session, "a")
    assert sync_peer(pair.b.factory, pair.client, pair.b.identity, "a").ok
    assert _count(pair.b, "a.faults") == 4


def test_a_referral_makes_the_round_trip(pair: Pair) -> None:
    with session_scope(pair.a.factory) as session:
        referral = referrals.refer(
            session,
            pair.a.identity,
            "b",
            kind="url",
            subject={"url": "https://files.example.co.uk/x/1", "note": "hosted in GB"},
        )
        referral_id, uid = referral.id, referral.uid
    with session_scope(pair.a.factory) as session:
        referrals.deliver_referral(session, pair.to_b, pair.a.identity, referral_id)
        assert session.scalar(select(Peer.id)) is not None
    with session_scope(pair.a.factory) as session:
        from kavach.exchange.models import Referral

        sent = session.get(Referral, referral_id)
        assert sent is not None
        assert sent.status == "received"
    with session_scope(pair.b.factory) as session:
        received = referrals.set_status(session, pair.b.identity, uid, "removed", note="gone")
        assert received.case_id is not None
        rid, index = received.id, len(received.history) - 1
    with session_scope(pair.b.factory) as session:
        referrals.deliver_status(session, pair.to_a, pair.b.identity, rid, index)
    with session_scope(pair.a.factory) as session:
        sent = session.get(Referral, referral_id)
        assert sent is not None
        assert sent.status == "removed"
        assert [m["type"] for m in sent.history] == [
            "referral",
            "referral_status",
            "referral_status",
        ]


def test_per_peer_label_filter_and_listen_trust(pair: Pair) -> None:
    shared_bank(pair.a, "labelled-a1", [md5_of(i) for i in range(500, 503)], label="A1")
    shared_bank(pair.a, "labelled-b2", [md5_of(i) for i in range(503, 505)], label="B2")
    with session_scope(pair.b.factory) as session:
        peer = get_peer(session, "a")
        peer.accept_labels = ["industry:B2"]
        peer.accept_banks = ["labelled-a1", "labelled-b2"]
        peer.trust = Trust.LISTEN
    try:
        report = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a")
    finally:
        with session_scope(pair.b.factory) as session:
            peer = get_peer(session, "a")
            peer.accept_labels, peer.accept_banks, peer.trust = [], [], Trust.FULL
    assert report.ok
    assert report.skipped == 3
    assert set(report.applied) == {"labelled-a1", "labelled-b2"}
    assert _count(pair.b, "a.labelled-a1") == 0
    assert _count(pair.b, "a.labelled-b2") == 2
    # A peer we only listen to never counts as a voucher: even our own vouch leaves it below 2.
    with session_scope(pair.b.factory) as session:
        queue = pending(session, bank="a.labelled-b2")
        assert [p.vouchers for p in queue] == [[], []]


def test_a_takedown_referral_goes_to_the_peer_in_the_hosting_country(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kavach.exchange.models import Referral
    from kavach.takedown import service as takedown
    from kavach.takedown.models import (
        ContactScope,
        EventKind,
        ItemStatus,
        Notice,
        TakedownEvent,
        TakedownItem,
    )
    from kavach.takedown.settings import TakedownSettings

    monkeypatch.setenv("KAVACH_DATA_DIR", str(pair.a.data_dir))
    settings = TakedownSettings()
    now = utcnow()
    with session_scope(pair.a.factory) as session:
        org = takedown.portal_organisation(session, settings)
        # A mail contact for GB too: the peer registered for GB (B) still takes precedence.
        takedown.set_contact(session, ContactScope.HOTLINE, "GB", "gb@hotline.example")
        takedown.set_contact(session, ContactScope.HOTLINE, "NL", "nl@hotline.example")
        ids = {}
        for country, url in (("GB", "https://files.example.co.uk/t/1"), ("NL", "https://x.nl/2")):
            item = session.get(
                TakedownItem,
                takedown.submit_report(session, url=url, organisation_id=org).item_id,
            )
            assert item is not None
            item.country, item.status = country, ItemStatus.CONFIRMED
            item.next_check_at = now + dt.timedelta(hours=24)
            ids[country] = item.id
            notice = takedown.refer(session, item, settings=settings, now=now, reason="test")
            if country == "GB":
                assert notice is None
            else:  # no peer in NL: the configured hotline by e-mail, as before
                assert notice is not None
                assert notice.recipient == "nl@hotline.example"
        referred = session.scalars(
            select(TakedownEvent).where(
                TakedownEvent.item_id == ids["GB"], TakedownEvent.kind == EventKind.REFERRED
            )
        ).one()
        assert referred.details["recipient"] == "peer:b"
        assert session.scalar(select(Notice.id).where(Notice.item_id == ids["GB"])) is None
        uid = referred.details["referral"]
        referral_id = session.scalars(select(Referral.id).where(Referral.uid == uid)).one()
    with session_scope(pair.a.factory) as session:
        referrals.deliver_referral(session, pair.to_b, pair.a.identity, referral_id)
    with session_scope(pair.b.factory) as session:
        received = session.scalars(
            select(Referral).where(Referral.uid == uid, Referral.direction == "in")
        ).one()
        assert received.subject["url"] == "https://files.example.co.uk/t/1"
        assert received.subject["country"] == "GB"
        rid = referrals.set_status(session, pair.b.identity, uid, "removed", note="host acted").id
        index = len(received.history) - 1
    with session_scope(pair.b.factory) as session:
        referrals.deliver_status(session, pair.to_a, pair.b.identity, rid, index)
    with session_scope(pair.a.factory) as session:
        events = session.scalars(
            select(TakedownEvent)
            .where(
                TakedownEvent.item_id == ids["GB"],
                TakedownEvent.kind == EventKind.REFERRAL_STATUS,
            )
            .order_by(TakedownEvent.id)
        ).all()
        assert [(e.details["status"], e.details["note"]) for e in events] == [
            ("received", ""),
            ("removed", "host acted"),
        ]
        # The peer says removed: our own check is brought forward to confirm it.
        item = session.get(TakedownItem, ids["GB"])
        assert item is not None
        assert item.next_check_at is not None
        assert item.next_check_at.replace(tzinfo=dt.UTC) < now + dt.timedelta(hours=1)


def test_a_video_entry_travels_with_its_frames_and_matches(pair: Pair) -> None:
    import numpy as np

    from kavach.banks.formats import HashRecord, Label
    from kavach.banks.service import add_entries, create_bank
    from kavach.exchange.sync import apply_events
    from kavach.signals.vpdq import VideoHash

    rng = np.random.default_rng(7)
    video = VideoHash.from_frames(
        rng.integers(0, 256, (5, 32), dtype=np.uint8),
        [100, 90, 100, 80, 100],
        [0, 30, 60, 90, 120],
        [0.0, 1.0, 2.0, float("nan"), 4.0],
    )
    record = HashRecord.with_video(video, labels=(Label("industry", "A1"),), item_id="clip-1")
    key = record.hashes[-1][1]
    with session_scope(pair.a.factory) as session:
        org = feeds.local_organisation(session, pair.a.identity)
        bank = create_bank(session, name="videos", owner=org, source="member", sharing="alliance")
        add_entries(session, bank, [record], added_by="test")
    assert sync_peer(pair.b.factory, pair.client, pair.b.identity, "a").ok
    mirror = "a.videos"
    with session_scope(pair.b.factory) as session:
        entry = session.scalars(
            select(BankEntry).join(Bank).where(Bank.name == mirror, BankEntry.value == key)
        ).one()
        assert entry.signal_type == "vpdq"
        assert VideoHash.from_bytes(bytes(entry.payload or b"")) == video
        # B's analyst vouches into B's own shared bank: the copy carries the frames too.
        org_b = feeds.local_organisation(session, pair.b.identity)
        create_bank(session, name="b-videos", owner=org_b, source="member", sharing="alliance")
        vouch_locally(
            session, org_b, bank=mirror, signal_type=SignalType.VPDQ, value=key, into="b-videos"
        )
    # India and Britain vouch: the video acts on B and matches a query with the same frames.
    matcher = Matcher(pair.b.factory, [mirror])
    assert len(matcher.match([[Query.for_video(video)]])[0]) == 1
    # A relabels it: B keeps the frames and takes the new label set.
    with session_scope(pair.a.factory) as session:
        relabelled = HashRecord.with_video(video, labels=(Label("industry", "B2"),))
        add_entries(session, get_bank(session, "videos"), [relabelled], added_by="test")
    report = sync_peer(pair.b.factory, pair.client, pair.b.identity, "a")
    assert report.ok
    assert report.applied["videos"] == 1
    with session_scope(pair.b.factory) as session:
        entry = session.scalars(
            select(BankEntry).join(Bank).where(Bank.name == mirror, BankEntry.value == key)
        ).one()
        labels = session.scalars(select(EntryLabel.value).where(EntryLabel.entry_id == entry.id))
        assert sorted(labels) == ["A1", "B2"]
        assert VideoHash.from_bytes(bytes(entry.payload or b"")) == video
        # Frames that do not hash to the key named are skipped, not stored.
        peer = get_peer(session, "a")
        forged = {
            "v": 1,
            "seq": 99,
            "op": "add",
            "signal": "vpdq",
            "value": "00" * 32,
            "labels": [],
            "frames": [[0, 100, "ab" * 32, 0]],
        }
        assert apply_events(session, peer, get_bank(session, mirror), [forged], "x") == (0, 1)
    # Pages are bounded in bytes as well as entries (a video's frames can be large).
    from kavach.exchange import log

    with session_scope(pair.a.factory) as session:
        bank_id = get_bank(session, "videos").id
        assert len(log.leaves(session, bank_id, 0, 10)) == 2
        assert len(log.leaves(session, bank_id, 0, 10, max_bytes=1)) == 1
