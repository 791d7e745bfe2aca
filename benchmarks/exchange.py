"""Exchange sync benchmark: a follower pulls a 1 M-entry feed from a peer on loopback.

Builds a publisher node (SQLite in ``--data-dir``): an alliance-shared bank of ``--entries``
MD5 entries, bulk-inserted, then published into its feed (log leaves, Merkle subtrees, signed
head: timed as "publish"). Starts ``kavach serve`` for the publisher, then runs the follower in
a child process (its own SQLite database), which pulls every page (``--page`` entries each),
verifies signatures and Merkle proofs, applies the entries to its mirror bank, records the
peer's vouches and checks the vouching rule. Prints a table: time, entries/s and the peak
resident memory of the follower and of the serving publisher.

    python benchmarks/exchange.py                       # 1 M entries
    python benchmarks/exchange.py --entries 20000       # a quick look
    KAVACH_BENCH_PROFILE=/tmp/follow.prof python benchmarks/exchange.py --entries 100000
                                                        # cProfile of the follower's sync
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert, select, update

from kavach.banks.models import Bank, BankEntry, EntryLabel
from kavach.banks.service import create_bank, ensure_organisation
from kavach.exchange.feeds import local_organisation, publish
from kavach.exchange.identity import init_identity, load_identity
from kavach.exchange.models import Peer
from kavach.store.base import utcnow
from kavach.store.db import make_engine, make_session_factory, session_scope
from kavach.store.migrate import upgrade

BANK = "bench-feed"


def _value(i: int) -> bytes:
    return hashlib.md5(f"benign benchmark item {i}".encode()).digest()


def build_publisher(data: Path, entries: int) -> float:
    """The publisher's bank and feed; returns the seconds publishing took (0 when reused)."""
    url = f"sqlite:///{(data / 'kavach.db').as_posix()}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    identity = (
        load_identity(data)
        if (data / "exchange" / "node.key").exists()
        else init_identity(data, "Bench Publisher", "IN")
    )
    with session_scope(factory) as session:
        org = local_organisation(session, identity)
        bank = session.scalars(select(Bank).where(Bank.name == BANK)).one_or_none()
        if bank is not None and bank.version > 0:
            engine.dispose()
            return 0.0
        bank = create_bank(session, name=BANK, owner=org, source="member", sharing="alliance")
        bank_id = bank.id
    now = utcnow()
    batch = 20_000
    for start in range(0, entries, batch):
        with session_scope(factory) as session:
            ids = session.scalars(
                insert(BankEntry).returning(BankEntry.id, sort_by_parameter_order=True),
                [
                    {
                        "bank_id": bank_id,
                        "signal_type": "md5",
                        "value": _value(i),
                        "item_id": f"item-{i}",
                        "attributes": {},
                        "added_at": now,
                        "added_by": "bench",
                        "changed_version": 1,
                    }
                    for i in range(start, min(start + batch, entries))
                ],
            ).all()
            session.execute(
                insert(EntryLabel),
                [
                    {"entry_id": i, "scheme": "industry", "value": "A1", "assessor": "bench"}
                    for i in ids
                ],
            )
    with session_scope(factory) as session:
        session.execute(update(Bank).where(Bank.id == bank_id).values(version=1))
    began = time.perf_counter()
    with session_scope(factory) as session:
        bank = session.get(Bank, bank_id)
        assert bank is not None
        state = publish(session, bank, identity)
        assert state.size == entries, state.size
    seconds = time.perf_counter() - began
    engine.dispose()
    return seconds


def follow(data: Path, publisher: Path, url: str, page: int) -> None:
    """Child process: register the publisher, pull its whole feed, print the figures."""
    from kavach.exchange.sync import sync_peer

    db = f"sqlite:///{(data / 'kavach.db').as_posix()}"
    engine = make_engine(db)
    upgrade(engine)
    factory = make_session_factory(engine)
    me = init_identity(data, "Bench Follower", "GB")
    them = load_identity(publisher)
    with session_scope(factory) as session:
        local_organisation(session, me)
        org = ensure_organisation(session, them.organisation, them.country)
        session.add(
            Peer(
                node_id=them.node_id,
                name="pub",
                url=url,
                public_key=them.public_key,
                organisation_id=org.id,
                accept_banks=[],
                accept_labels=[],
            )
        )
    sys.stdin.readline()  # the parent registers our key with the publisher, then says go
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    profile = os.environ.get("KAVACH_BENCH_PROFILE")
    with httpx.Client(timeout=120) as client:
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
            report = profiler.runcall(sync_peer, factory, client, me, "pub", limit=page)
            profiler.dump_stats(profile)
        else:
            report = sync_peer(factory, client, me, "pub", limit=page)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "applied": sum(report.applied.values()),
                "ok": report.ok,
                "errors": report.errors + report.alarms,
                "peak_kib": peak,
                "baseline_kib": baseline,
            }
        )
    )


def _server_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=5000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--follow", nargs=3, metavar=("DATA", "PUBLISHER", "URL"))
    args = parser.parse_args()
    if args.follow:
        follow(Path(args.follow[0]), Path(args.follow[1]), args.follow[2], args.page)
        return
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="kavach-exchange-bench-"))
    publisher, follower = root / f"publisher-{args.entries}", root / "follower"
    publisher.mkdir(parents=True, exist_ok=True)
    if follower.exists():
        import shutil

        shutil.rmtree(follower)
    follower.mkdir()
    began = time.perf_counter()
    publish_s = build_publisher(publisher, args.entries)
    build_s = time.perf_counter() - began - publish_s
    port = 18000 + os.getpid() % 1000
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAVACH_")}
    env.update(
        KAVACH_DATABASE_URL=f"sqlite:///{(publisher / 'kavach.db').as_posix()}",
        KAVACH_DATA_DIR=str(publisher),
        KAVACH_RATE_LIMIT="0",
    )
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "kavach.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("publisher did not start")
            time.sleep(0.2)
        # The publisher must know the follower's key: the child makes it, we register it here.
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--page",
                str(args.page),
                "--follow",
                str(follower),
                str(publisher),
                url,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        _register_follower(publisher, follower)
        out, _ = child.communicate("go\n")
        server_peak = _server_peak_kib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = json.loads(out.strip().splitlines()[-1])
    rate = result["applied"] / result["seconds"] if result["seconds"] else 0.0
    rows = [
        ("entries", f"{args.entries:,}"),
        ("page size", f"{args.page:,}"),
        ("build publisher bank (bulk insert)", f"{build_s:.1f} s"),
        ("publish feed (leaves, subtrees, signed head)", f"{publish_s:.1f} s"),
        ("sync: pull, verify, apply (follower)", f"{result['seconds']:.1f} s"),
        ("sync rate", f"{rate:,.0f} entries/s"),
        ("entries applied / verified ok", f"{result['applied']:,} / {result['ok']}"),
        ("follower peak RSS", f"{result['peak_kib'] / 1024:.0f} MiB"),
        ("follower RSS before sync", f"{result['baseline_kib'] / 1024:.0f} MiB"),
        ("publisher (kavach serve) peak RSS", f"{server_peak / 1024:.0f} MiB"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key:<{width}} | {value} |")
    if result["errors"]:
        print("errors:", result["errors"])


def _register_follower(publisher: Path, follower: Path) -> None:
    key = follower / "exchange" / "node.key"
    deadline = time.monotonic() + 120
    while not (key.exists() and (follower / "exchange" / "node.json").exists()):
        if time.monotonic() > deadline:
            raise SystemExit("follower did not make its key")
        time.sleep(0.05)
    time.sleep(0.2)
    them = load_identity(follower)
    engine = make_engine(f"sqlite:///{(publisher / 'kavach.db').as_posix()}")
    with session_scope(make_session_factory(engine)) as session:
        session.execute(Peer.__table__.delete().where(Peer.name == "follower"))
        org = ensure_organisation(session, them.organisation, them.country)
        session.add(
            Peer(
                node_id=them.node_id,
                name="follower",
                url="http://127.0.0.1:1",
                public_key=them.public_key,
                organisation_id=org.id,
                accept_banks=[],
                accept_labels=[],
            )
        )
    engine.dispose()


if __name__ == "__main__":
    main()
