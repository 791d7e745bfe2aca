"""Hash an upload; look hashes up in banks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from kavach.auth.service import Permission, Principal
from kavach.errors import InputError, MediaError, PermissionDeniedError
from kavach.hashing import HashOptions, HashRecord, VpdqFrame, hash_bytes
from kavach.match.models import Match
from kavach.media.video import VideoLimits
from kavach.signals.pdq import PDQ_MATCH_THRESHOLD
from kavach.signals.variants import DEFAULT_VARIANTS
from kavach.web.api.schemas import HashIn, parse_queries
from kavach.web.auth import RuntimeDep, require
from kavach.web.multipart import multipart_openapi, parse_form, read_body
from kavach.web.runtime import Runtime

__all__ = [
    "LookupRequest",
    "LookupResponse",
    "has_video",
    "hash_upload",
    "router",
    "run_lookup",
]

router = APIRouter(tags=["lookup"])

UPLOAD_SCHEMA: dict[str, object] = {
    "type": "string",
    "format": "binary",
    "description": "The file's bytes.",
}


class HashResponse(BaseModel):
    """The signals of an uploaded file (``error`` set when it could not be fully hashed)."""

    size: int | None
    media_type: str | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None
    pdq_quality: int | None
    error: dict[str, str] | None = None
    vpdq: list[VpdqFrame] | None = Field(
        default=None,
        description="Video only: PDQ of one frame a second, to send as a vpdq hash's frames.",
    )
    duration: float | None = Field(default=None, description="Video only: seconds.")
    frame_count: int | None = Field(default=None, description="Video only: frames decoded.")
    frame_rate: float | None = Field(default=None, description="Video only: frames a second.")
    rotation: int | None = Field(
        default=None, description="Video only: degrees a player turns the frames (not applied)."
    )


class LookupRequest(BaseModel):
    hashes: list[HashIn] = Field(
        min_length=1, description="Hashes to look up, any signal type (vpdq: with its frames)."
    )
    banks: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Banks to search (default: every bank this organisation may use).",
    )
    threshold: int = Field(
        default=PDQ_MATCH_THRESHOLD,
        ge=0,
        le=PDQ_MATCH_THRESHOLD,
        description="Largest PDQ distance that counts as a match (video frames: always 31).",
    )


class LookupResult(BaseModel):
    index: int
    matches: list[Match]


class LookupResponse(BaseModel):
    banks: list[str]
    results: list[LookupResult]


async def hash_upload(
    request: Request, runtime: Runtime, *, variants: bool = False
) -> tuple[HashRecord, dict[str, str]]:
    """Read a multipart upload (field ``file``) in memory, hash it; other text fields returned.

    With ``variants`` an image's query-side PDQ variants are computed too (for its lookups).

    The bytes are never written anywhere: they live in this request's memory only (a video is
    decoded by FFmpeg from an in-memory file object).
    """
    record, fields, _data = await read_upload(request, runtime, variants=variants)
    return record, fields


async def read_upload(
    request: Request, runtime: Runtime, *, variants: bool = False
) -> tuple[HashRecord, dict[str, str], bytes]:
    """As :func:`hash_upload`, also returning the file's bytes (held in memory only; a matching
    upload may be kept as encrypted evidence)."""
    body = await read_body(request, runtime.service.max_upload_bytes)
    form = parse_form(request.headers.get("content-type", ""), body)
    del body
    part = form.pop("file", None)
    if part is None or part.filename is None:
        raise InputError("the form needs a file part called 'file'")
    if not part.data:
        raise MediaError("the uploaded file is empty")
    fields = {name: p.text() for name, p in form.items() if p.filename is None}
    # A request holds a worker thread while it decodes: a shorter time limit than a scan's.
    options = HashOptions(
        video_limits=VideoLimits(time_limit=runtime.service.video_time_limit),
        variants=DEFAULT_VARIANTS if variants else frozenset(),
    )
    record = await run_in_threadpool(hash_bytes, part.data, options)
    return record, fields, part.data


@router.post(
    "/hash",
    response_model=HashResponse,
    summary="Hash an uploaded file (kept in memory only, never stored)",
    openapi_extra=multipart_openapi({"file": UPLOAD_SCHEMA}, ["file"]),
)
async def hash_file(
    request: Request,
    runtime: RuntimeDep,
    _principal: Annotated[Principal, Depends(require(Permission.HASH))],
) -> HashResponse:
    """MD5, SHA-1, SHA-256; for images PDQ with its quality, for videos the vpdq frames."""
    record, _fields = await hash_upload(request, runtime)
    return HashResponse(
        size=record.size,
        media_type=record.media_type,
        md5=record.md5,
        sha1=record.sha1,
        sha256=record.sha256,
        pdq=record.pdq,
        pdq_quality=record.pdq_quality,
        error=record.error.model_dump() if record.error else None,
        vpdq=record.vpdq,
        duration=record.duration,
        frame_count=record.frame_count,
        frame_rate=record.frame_rate,
        rotation=record.rotation,
    )


@router.post("/lookup", response_model=LookupResponse, summary="Look a batch of hashes up in banks")
async def lookup(
    body: LookupRequest,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.LOOKUP))],
) -> LookupResponse:
    """For each hash, the live bank entries it matches (exact digests; PDQ within threshold;
    videos by the share of their frames that match, with both percentages).

    JSON requests are answered by ``kavach.web.fastpath`` with this same function, without
    FastAPI's routing and dependency machinery (the hottest endpoint); this route declares the
    operation and serves whatever the fast path passes on.
    """
    if has_video(body):
        return await run_in_threadpool(run_lookup, runtime, principal, body)
    return run_lookup(runtime, principal, body)


def has_video(body: LookupRequest) -> bool:
    """Whether a lookup carries video frames (matched in a thread: it can take a while)."""
    return any(h.frames is not None for h in body.hashes)


def run_lookup(runtime: Runtime, principal: Principal, body: LookupRequest) -> LookupResponse:
    """The lookup itself (index search in memory; entry details read only for matches)."""
    if not principal.can(Permission.LOOKUP):  # both callers check; this keeps it true here too
        raise PermissionDeniedError("this role may not look hashes up")
    if len(body.hashes) > runtime.service.max_batch:
        raise InputError(
            f"at most {runtime.service.max_batch} hashes per lookup, got {len(body.hashes)}"
        )
    queries = parse_queries(body.hashes)
    banks = runtime.indexes.resolve(principal, body.banks)
    found = runtime.indexes.match([[q] for q in queries], banks, threshold=body.threshold)
    runtime.metrics.lookups.inc(len(queries))
    results = []
    for i, matches in enumerate(found):
        for m in matches:
            runtime.metrics.matches.labels(m.bank).inc()
        results.append(LookupResult(index=i, matches=matches))
    return LookupResponse(banks=banks, results=results)
