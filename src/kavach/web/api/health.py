"""Liveness, readiness and Prometheus metrics (no authentication: they carry no hash data)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from kavach.jobs.queue import pending_count
from kavach.web.auth import RuntimeDep
from kavach.web.runtime import Runtime

__all__ = ["router"]

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: bool
    indexes: bool
    banks: int
    entries: int
    detail: str | None = None


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


def _database_ok(runtime: Runtime) -> str | None:
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        # Any failure means "not ready"; the message goes to the probe, not a stack trace.
        return f"database unreachable: {type(exc).__name__}"
    return None


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Ready to serve: database reachable, indexes loaded",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    problem = await run_in_threadpool(_database_ok, runtime)
    indexes = runtime.indexes.ready
    if problem is None and not indexes:
        problem = f"indexes not loaded: {runtime.indexes.last_error or 'loading'}"
    counts = runtime.indexes.entry_counts()
    body = Readiness(
        status="ok" if problem is None else "unavailable",
        database=problem is None or problem.startswith("indexes"),
        indexes=indexes,
        banks=len(runtime.indexes.banks()),
        entries=sum(counts.values()),
        detail=problem,
    )
    return JSONResponse(body.model_dump(), status_code=200 if problem is None else 503)


def _queue_depth(runtime: Runtime) -> int | None:
    try:
        with runtime.session() as session:
            return pending_count(session)
    except Exception:
        # Metrics must answer even when the database does not.
        return None


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    depth = await run_in_threadpool(_queue_depth, runtime)
    if depth is not None:
        runtime.metrics.queue_depth.set(depth)
    gauge = runtime.metrics.index_entries
    for bank, count in runtime.indexes.entry_counts().items():
        gauge.labels(bank).set(count)
    for bank, version in runtime.indexes.versions().items():
        runtime.metrics.index_version.labels(bank).set(version)
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
