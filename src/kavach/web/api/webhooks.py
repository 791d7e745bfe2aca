"""Webhook endpoints of an organisation and the deliveries made to them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from kavach.auth.service import Permission, Principal
from kavach.errors import NotFoundError
from kavach.jobs.models import Job, JobStatus, WebhookEndpoint
from kavach.jobs.webhooks import WEBHOOK_JOB, allow_private_targets, check_url, new_secret
from kavach.web.auth import RuntimeDep, require

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])

Admin = Annotated[Principal, Depends(require(Permission.WEBHOOKS_MANAGE))]
Id = Annotated[int, Path(ge=1, le=2**62)]

_DELIVERY_STATUS = {
    JobStatus.PENDING: "pending",
    JobStatus.RUNNING: "sending",
    JobStatus.DONE: "delivered",
    JobStatus.FAILED: "failed",
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description="http(s) URL to POST events to.")
    description: str = Field(default="", max_length=200)


class WebhookOut(BaseModel):
    id: int
    url: str
    description: str
    active: bool
    created_at: dt.datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret. Shown only now: keep it.")


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime | None
    finished_at: dt.datetime | None
    created_at: dt.datetime


def _out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        active=endpoint.active,
        created_at=endpoint.created_at,
    )


@router.post("/webhooks", response_model=WebhookCreated, status_code=201, summary="Add a webhook")
def create_webhook(body: WebhookCreate, runtime: RuntimeDep, principal: Admin) -> WebhookCreated:
    """Match events will be POSTed to ``url``, signed with the secret returned (once) here."""
    url = check_url(body.url, allow_private=allow_private_targets(runtime.settings))
    secret = new_secret()
    with runtime.session() as session:
        endpoint = WebhookEndpoint(
            organisation_id=principal.organisation_id,
            url=url,
            secret=secret,
            description=body.description,
        )
        session.add(endpoint)
        session.flush()
        return WebhookCreated(**_out(endpoint).model_dump(), secret=secret)


@router.get("/webhooks", response_model=list[WebhookOut], summary="This org's webhooks")
def list_webhooks(runtime: RuntimeDep, principal: Admin) -> list[WebhookOut]:
    """Endpoints without their secrets."""
    with runtime.session() as session:
        rows = session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organisation_id == principal.organisation_id)
            .order_by(WebhookEndpoint.id)
        )
        return [_out(e) for e in rows]


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Disable a webhook")
def delete_webhook(webhook_id: Id, runtime: RuntimeDep, principal: Admin) -> Response:
    """Stop sending to an endpoint (its delivery history stays; pending deliveries fail)."""
    with runtime.session() as session:
        endpoint = session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == webhook_id,
                WebhookEndpoint.organisation_id == principal.organisation_id,
            )
        ).one_or_none()
        if endpoint is None:
            raise NotFoundError(f"no webhook {webhook_id}")
        endpoint.active = False
    return Response(status_code=204)


@router.get("/webhooks/deliveries", response_model=list[DeliveryOut], summary="Webhook deliveries")
def list_deliveries(
    runtime: RuntimeDep,
    principal: Admin,
    status: Annotated[str | None, Query(pattern="^(pending|sending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    """Newest first: delivered, failed (given up), or still pending with the next attempt time."""
    stmt = (
        select(Job)
        .where(Job.kind == WEBHOOK_JOB, Job.organisation_id == principal.organisation_id)
        .order_by(Job.id.desc())
        .limit(limit)
    )
    if status is not None:
        wanted = next(k for k, v in _DELIVERY_STATUS.items() if v == status)
        stmt = stmt.where(Job.status == wanted)
    with runtime.session() as session:
        return [
            DeliveryOut(
                id=job.id,
                endpoint_id=int(job.payload.get("endpoint_id", 0)),
                event_id=str(job.payload.get("event_id", "")),
                status=_DELIVERY_STATUS[job.status],
                attempts=job.attempts,
                last_error=job.last_error,
                next_attempt_at=job.run_at if job.status is JobStatus.PENDING else None,
                finished_at=job.finished_at,
                created_at=job.created_at,
            )
            for job in session.scalars(stmt)
        ]
