"""A real server and a real worker process: the worker is killed mid-delivery, a new one is
started, and the webhook still arrives (same event id, valid signature), exactly as recorded."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from kavach.auth.models import Role
from kavach.jobs.models import Job, JobStatus
from kavach.jobs.webhooks import WEBHOOK_JOB
from tests.jobs.receiver import receiver
from tests.web.helpers import auth, kavach_env, live_server, make_app, make_keys, start_kavach, stop


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_no_webhook_lost_when_the_worker_dies(
    database_url: str, clean: Engine, tmp_path: Path
) -> None:
    keys = make_keys(clean, "Org K", (Role.ADMIN, Role.PLATFORM))
    app = make_app(database_url, tmp_path)
    env = kavach_env(database_url, tmp_path)
    worker_args = ["worker", "--lease", "2", "--poll", "0.1", "--base-delay", "0.2"]
    with (
        receiver() as rx,
        live_server(app) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        admin = auth(keys[Role.ADMIN])
        hook = client.post("/api/v1/webhooks", json={"url": rx.url}, headers=admin).json()
        rx.secret = hook["secret"]
        rx.stall_first = 60
        bank = client.post("/api/v1/banks", json={"name": "kill-bank"}, headers=admin)
        assert bank.status_code == 201
        value = "c" * 32
        client.post(
            "/api/v1/banks/kill-bank/entries",
            json={"entries": [{"hashes": [{"signal_type": "md5", "value": value}]}]},
            headers=admin,
        ).raise_for_status()
        submit = {"content_id": "k-1", "hashes": [{"signal_type": "md5", "value": value}]}

        def matched() -> bool:
            r = client.post("/api/v1/submissions", json=submit, headers=auth(keys[Role.PLATFORM]))
            return bool(r.json().get("matched"))

        _wait(matched, 10, "the server to see the new entry")
        first = start_kavach(worker_args, env, tmp_path / "worker1.log")
        try:
            assert rx.first_seen.wait(30), "the first worker never called the receiver"
            first.send_signal(signal.SIGKILL)  # dies holding the job's lease
            first.wait(timeout=10)
        finally:
            stop(first)
        with clean.connect() as conn:
            status = conn.scalar(select(Job.status).where(Job.kind == WEBHOOK_JOB))
        assert status is JobStatus.RUNNING  # leased by a dead worker, not done and not lost
        second = start_kavach(worker_args, env, tmp_path / "worker2.log")
        try:
            _wait(lambda: len(rx.events) >= 1, 30, "the delivery after the restart")
        finally:
            stop(second)
        assert rx.bad_signatures == 0
        [event] = rx.events
        with clean.connect() as conn:
            job = conn.execute(
                select(Job.status, Job.attempts, Job.payload).where(Job.kind == WEBHOOK_JOB)
            ).one()
        assert job.status is JobStatus.DONE
        assert job.attempts == 2
        assert event["id"] == job.payload["event_id"]
        assert event["data"]["content_id"] == "k-1"
        deliveries = client.get("/api/v1/webhooks/deliveries", headers=admin).json()
        assert [d["status"] for d in deliveries] == ["delivered"]
