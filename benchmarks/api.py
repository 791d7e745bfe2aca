"""Platform API load test on loopback: a 1 M-entry bank, single and batched hash lookups, uploads.

Builds (or reuses) an SQLite database in ``--data-dir`` holding one bank of ``--entries`` entries
(90% random PDQ hashes, 10% MD5), starts ``kavach serve`` on 127.0.0.1 with the rate limit off,
then drives it from this process with a small HTTP/1.1 keep-alive client on raw sockets (cheap,
so the two cores go to the server). Each phase runs for ``--duration`` seconds with
``--concurrency`` connections in a closed loop and prints requests/s, p50/p99 latency and errors.

    python benchmarks/api.py                          # 1 M entries, 60 s per phase
    python benchmarks/api.py --duration 5 --entries 100000   # a quick look

Phases: ``lookup-1`` (one PDQ hash per request; ``--match-share`` of them, default 1%, are
listed hashes, whose matches read entry details from the database), ``lookup-100`` (100 hashes
per request), ``upload`` (1600x1200 JPEGs, quality 80, multipart to ``/api/v1/hash``: read in
memory, decoded, MD5/SHA-1/SHA-256/PDQ).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import func, insert, select, update

from kavach.auth.models import Role
from kavach.auth.service import create_api_key
from kavach.banks.models import Bank, BankEntry, BankSource
from kavach.banks.service import create_bank, ensure_organisation
from kavach.demo.scenes import encode, scene
from kavach.store.base import utcnow
from kavach.store.db import make_engine, make_session_factory, session_scope
from kavach.store.migrate import upgrade

BANK = "bench"


def build_database(url: str, entries: int) -> tuple[str, np.ndarray]:
    """Create the bank (if not there with the right size) and an API key; return the key and
    a sample of listed PDQ hashes."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    rng = np.random.default_rng(7)
    n_pdq = entries * 9 // 10
    with session_scope(factory) as session:
        org = ensure_organisation(session, "Bench Platform")
        token = create_api_key(session, org, Role.PLATFORM, name="bench").token
        bank = session.scalars(select(Bank).where(Bank.name == BANK)).one_or_none()
        have = 0
        if bank is not None:
            have = session.scalar(
                select(func.count()).select_from(BankEntry).where(BankEntry.bank_id == bank.id)
            )
        fresh = bank is None or have != entries
        if bank is None:
            bank = create_bank(session, name=BANK, owner=org, source=BankSource.LOCAL)
        bank_id = bank.id
    pdq = rng.integers(0, 256, size=(n_pdq, 32), dtype=np.uint8)
    if fresh:
        print(f"building a {entries:,}-entry bank…", file=sys.stderr)
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(BankEntry.__table__.delete().where(BankEntry.bank_id == bank_id))
        md5 = rng.integers(0, 256, size=(entries - n_pdq, 16), dtype=np.uint8)
        now = utcnow()
        rows = [("pdq", bytes(v)) for v in pdq] + [("md5", bytes(v)) for v in md5]
        for start_row in range(0, len(rows), 50_000):
            chunk = rows[start_row : start_row + 50_000]
            with engine.begin() as conn:
                conn.execute(
                    insert(BankEntry),
                    [
                        {
                            "bank_id": bank_id,
                            "signal_type": st,
                            "value": value,
                            "attributes": {},
                            "added_at": now,
                            "added_by": "bench",
                            "changed_version": 1,
                        }
                        for st, value in chunk
                    ],
                )
        with engine.begin() as conn:
            conn.execute(update(Bank).where(Bank.id == bank_id).values(version=1))
        print(f"  built in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    engine.dispose()
    return token, pdq[:: max(1, n_pdq // 1000)][:1000]


# -- a small HTTP/1.1 client on raw sockets --------------------------------------------------


def request_bytes(path: str, token: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int,
    requests: Callable[[], bytes],
    deadline: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    try:
        while time.perf_counter() < deadline:
            payload = requests()
            start = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors.append(str(status))
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(type(exc).__name__)
    finally:
        writer.close()


def run_phase(
    port: int, requests: Callable[[], bytes], duration: float, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> float:
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(
            *(_connection(port, requests, deadline, latencies, errors) for _ in range(concurrency))
        )
        return time.perf_counter() - start

    try:
        import uvloop

        elapsed = uvloop.run(main())
    except ImportError:
        elapsed = asyncio.run(main())
    lat = sorted(latencies)
    return {
        "requests": len(lat),
        "rps": len(lat) / elapsed,
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else float("nan"),
        "errors": len(errors),
    }


def cycle(items: list[bytes]) -> Callable[[], bytes]:
    it: Iterator[bytes] = iter(())
    state = {"i": 0}

    def next_item() -> bytes:
        state["i"] = (state["i"] + 1) % len(items)
        return items[state["i"]]

    del it
    return next_item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds per phase.")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--upload-concurrency", type=int, default=4)
    parser.add_argument(
        "--match-share",
        type=float,
        default=0.01,
        help="Share of looked-up hashes that are listed (matches read entry details).",
    )
    parser.add_argument("--workers", type=int, default=1, help="kavach serve processes.")
    parser.add_argument(
        "--phases", default="lookup-1,lookup-100,upload", help="Comma-separated phases to run."
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "kavach-bench-api",
        help="Where the benchmark database lives (reused when it has the right bank).",
    )
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{args.data_dir / 'bench.db'}"
    token, listed = build_database(url, args.entries)

    with socket_port() as port:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KAVACH_")},
            "KAVACH_DATABASE_URL": url,
            "KAVACH_DATA_DIR": str(args.data_dir),
            "KAVACH_RATE_LIMIT": "0",
        }
        log = (args.data_dir / "serve.log").open("wb")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kavach.cli.main",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            started = time.perf_counter()
            wait_ready(port, server)
            print(f"server ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            results = run_phases(args, port, token, listed)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    print()
    print(
        f"bank: {args.entries:,} entries; {args.duration:g} s per phase; loopback; "
        f"{os.cpu_count()} CPUs shared by server and load generator"
    )
    print(
        f"{'phase':<12} {'conns':>5} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6}"
    )
    for name, conns, r in results:
        print(
            f"{name:<12} {conns:>5} {r['requests']:>9,} {r['rps']:>8,.0f} {r['p50_ms']:>7.2f} "
            f"{r['p99_ms']:>7.2f} {r['errors']:>6}"
        )


def run_phases(
    args: argparse.Namespace, port: int, token: str, listed: np.ndarray
) -> list[tuple[str, int, dict[str, float]]]:
    rng = np.random.default_rng(11)
    phases = args.phases.split(",")
    results = []

    def lookup(hashes: list[str]) -> bytes:
        body = json.dumps({"hashes": [{"signal_type": "pdq", "value": h} for h in hashes]}).encode()
        return request_bytes("/api/v1/lookup", token, body, "application/json")

    def random_pdq() -> str:
        if rng.random() < args.match_share:
            return bytes(listed[rng.integers(len(listed))]).hex()
        return secrets.token_hex(32)

    if "lookup-1" in phases:
        items = [lookup([random_pdq()]) for _ in range(5000)]
        run_phase(port, cycle(items), 2.0, args.concurrency)  # warm-up (numba, caches)
        results.append(
            (
                "lookup-1",
                args.concurrency,
                run_phase(port, cycle(items), args.duration, args.concurrency),
            )
        )
    if "lookup-100" in phases:
        items = [lookup([random_pdq() for _ in range(100)]) for _ in range(300)]
        results.append(
            (
                "lookup-100",
                args.concurrency,
                run_phase(port, cycle(items), args.duration, args.concurrency),
            )
        )
    if "upload" in phases:
        items = []
        for seed in range(12):
            jpeg = encode(scene(1600, 1200, seed=seed), "JPEG", quality=80)
            boundary = secrets.token_hex(12)
            body = (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                    f'filename="{seed}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
                ).encode()
                + jpeg
                + f"\r\n--{boundary}--\r\n".encode()
            )
            items.append(
                request_bytes(
                    "/api/v1/hash", token, body, f"multipart/form-data; boundary={boundary}"
                )
            )
        results.append(
            (
                "upload",
                args.upload_concurrency,
                run_phase(port, cycle(items), args.duration, args.upload_concurrency),
            )
        )
    return results


class socket_port:  # noqa: N801 (used as a context manager)
    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


def wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"kavach serve exited with {server.returncode}; see serve.log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("kavach serve was not ready in time")


if __name__ == "__main__":
    main()
