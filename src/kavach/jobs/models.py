"""Job table (the outbox the worker drains) and the webhook endpoints matches are sent to."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kavach.store.base import Base, IdMixin, StrEnumType, TimestampMixin, utcnow

__all__ = ["Job", "JobStatus", "WebhookEndpoint"]


class JobStatus(enum.StrEnum):
    """``pending`` (waiting or retrying), ``running`` (leased), ``done``, ``failed`` (gave up)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(IdMixin, TimestampMixin, Base):
    """One unit of background work, written in the transaction that caused it.

    A worker leases a job by setting ``lease`` and ``locked_until``; a lease that runs out (the
    worker died) makes the job claimable again, so work is done at least once.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_run_at", "status", "run_at"),)

    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[JobStatus] = mapped_column(StrEnumType(JobStatus), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    run_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    lease: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[dt.datetime | None] = mapped_column()


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """Where an organisation wants match events POSTed, and the secret they are signed with.

    The secret is kept as given: signing needs it (HMAC), unlike an API key which is only checked.
    """

    __tablename__ = "webhook_endpoint"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
