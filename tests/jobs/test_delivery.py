"""Webhook delivery by the worker: signed, retried with backoff, failed for good when disabled."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, update

from kavach.banks.service import ensure_organisation
from kavach.config import get_settings
from kavach.errors import InputError
from kavach.jobs.models import Job, JobStatus, WebhookEndpoint
from kavach.jobs.webhooks import allow_private_targets, check_url, enqueue_event, new_secret
from kavach.jobs.worker import Worker, default_handlers
from kavach.store.base import utcnow
from kavach.store.db import make_session_factory, session_scope
from tests.jobs.receiver import receiver


def _setup(engine: Engine, url: str, secret: str) -> tuple[int, list[int]]:
    with session_scope(make_session_factory(engine)) as session:
        org = ensure_organisation(session, "Platform X")
        endpoint = WebhookEndpoint(organisation_id=org.id, url=url, secret=secret)
        session.add(endpoint)
        session.flush()
        jobs = enqueue_event(session, org.id, "match", {"content_id": "c-1"})
        return endpoint.id, jobs


def _job(engine: Engine, job_id: int) -> Job:
    with make_session_factory(engine)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _make_due(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(Job).values(run_at=utcnow()))


def test_delivery_is_signed_and_retried_until_it_succeeds(clean: Engine) -> None:
    secret = new_secret()
    with receiver() as rx, httpx.Client(timeout=5) as client:
        rx.secret = secret
        rx.failures = [500, 503]
        _, [job_id] = _setup(clean, rx.url, secret)
        factory = make_session_factory(clean)
        worker = Worker(factory, default_handlers(factory, client), base_delay=30)
        assert worker.run_once() == 1
        job = _job(clean, job_id)
        assert job.status is JobStatus.PENDING
        assert "HTTP 500" in (job.last_error or "")
        assert (job.run_at - utcnow()).total_seconds() > 15  # backed off, not hammering
        assert worker.run_once() == 0
        _make_due(clean)
        worker.run_once()
        _make_due(clean)
        worker.run_once()
        assert _job(clean, job_id).status is JobStatus.DONE
        assert rx.bad_signatures == 0
        assert rx.requests == 3
        [event] = rx.events
        assert event["type"] == "match"
        assert event["data"] == {"content_id": "c-1"}
        assert worker.stats.done == 1
        assert worker.stats.retried == 2


def test_a_disabled_endpoint_fails_the_delivery_for_good(clean: Engine) -> None:
    with receiver() as rx, httpx.Client(timeout=5) as client:
        endpoint_id, [job_id] = _setup(clean, rx.url, "whsec_x")
        with session_scope(make_session_factory(clean)) as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            assert endpoint is not None
            endpoint.active = False
        factory = make_session_factory(clean)
        Worker(factory, default_handlers(factory, client)).run_once()
        job = _job(clean, job_id)
        assert job.status is JobStatus.FAILED
        assert rx.requests == 0


def test_an_unreachable_receiver_is_retried(clean: Engine) -> None:
    with receiver() as rx:
        url = rx.url
    # The receiver is gone: connection refused.
    _, [job_id] = _setup(clean, url, "whsec_x")
    factory = make_session_factory(clean)
    with httpx.Client(timeout=2) as client:
        Worker(factory, default_handlers(factory, client)).run_once()
    job = _job(clean, job_id)
    assert job.status is JobStatus.PENDING
    assert job.attempts == 1
    assert "ConnectError" in (job.last_error or "")


@pytest.mark.parametrize(
    ("url", "allow_private", "ok"),
    [
        ("https://hooks.example.org/kavach", False, True),
        ("http://169.254.169.254/latest/meta-data", True, False),  # cloud metadata: never
        ("http://[fe80::1]/x", True, False),
        ("http://0.0.0.0/x", True, False),
        ("http://127.0.0.1:8080/x", True, True),
        ("http://127.0.0.1:8080/x", False, False),
        ("http://10.1.2.3/x", False, False),
        ("http://[::ffff:10.1.2.3]/x", False, False),
        ("http://localhost/x", False, False),
        ("ftp://example.org/x", True, False),
        ("https://user:pw@example.org/x", True, False),
        ("/relative", True, False),
    ],
)
def test_webhook_urls(url: str, allow_private: bool, ok: bool) -> None:
    if ok:
        assert check_url(url, allow_private=allow_private) == url
    else:
        with pytest.raises(InputError):
            check_url(url, allow_private=allow_private)


def test_private_targets_are_refused_at_delivery_in_production(clean: Engine) -> None:
    settings = get_settings({"KAVACH_ENV": "production", "KAVACH_DATA_DIR": "/tmp"})
    assert allow_private_targets(settings) is False
    assert allow_private_targets(settings, {"KAVACH_WEBHOOK_ALLOW_PRIVATE": "1"}) is True
    assert allow_private_targets(get_settings({"KAVACH_DATA_DIR": "/tmp"}), {}) is True
    with receiver() as rx, httpx.Client(timeout=5) as client:
        _, [job_id] = _setup(clean, rx.url, "whsec_x")
        factory = make_session_factory(clean)
        Worker(factory, default_handlers(factory, client, allow_private=False)).run_once()
        job = _job(clean, job_id)
        assert job.status is JobStatus.FAILED
        assert "private address" in (job.last_error or "")
        assert rx.requests == 0
