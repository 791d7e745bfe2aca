"""``kavach worker``: run background jobs (webhook deliveries) from the job table."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from kavach.cli.serve import check_schema
from kavach.config import get_settings
from kavach.store.db import make_engine, make_session_factory


def register(app: typer.Typer) -> None:
    """Add ``kavach worker`` to the main app."""
    app.command("worker")(worker_command)


def worker_command(
    once: Annotated[bool, typer.Option(help="Run the jobs due now, then exit.")] = False,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Jobs claimed at a time.")] = 10,
    lease: Annotated[
        float,
        typer.Option(min=1, help="Seconds a claimed job is ours; after that another takes it."),
    ] = 60.0,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between idle polls.")] = 1.0,
    base_delay: Annotated[
        float, typer.Option(min=0.01, help="First retry delay in seconds (doubles each time).")
    ] = 2.0,
    timeout: Annotated[float, typer.Option(min=0.1, help="HTTP timeout per delivery.")] = 10.0,
) -> None:
    """Run background jobs: webhooks (at least once, exponential backoff), takedown checks and
    notices, exchange sync, report submission, evidence expiry. Stop with Ctrl-C or SIGTERM."""
    import httpx

    from kavach.jobs.webhooks import allow_private_targets
    from kavach.jobs.worker import Worker, default_handlers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    check_schema(settings)
    engine = make_engine(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        factory = make_session_factory(engine)
        from kavach.evidence.jobs import schedule_expiry
        from kavach.store.db import session_scope

        # Retention is enforced by a job that reschedules itself; make sure one is waiting.
        with session_scope(factory) as session:
            schedule_expiry(session)
        # Redirects are not followed: a webhook receiver must answer at the URL it registered.
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            worker = Worker(
                factory,
                default_handlers(factory, client, allow_private=allow_private_targets(settings)),
                batch=batch,
                lease_seconds=lease,
                poll_interval=poll,
                base_delay=base_delay,
            )
            typer.echo("kavach: worker running (Ctrl-C to stop)", err=True)
            if once:
                while worker.run_once():
                    pass
            else:
                worker.run(stop)
            s = worker.stats
            typer.echo(
                f"kavach: worker stopped: {s.done} done, {s.retried} to retry, {s.failed} failed",
                err=True,
            )
    finally:
        engine.dispose()
