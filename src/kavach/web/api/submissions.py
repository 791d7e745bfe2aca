"""Submit content for a verdict (hashes, or the file itself); the matches recorded so far.

A verdict with matches is recorded (the submission, what it matched) and its webhook deliveries
are queued in the same transaction: either all of it is committed or none.

An uploaded file is hashed in memory and dropped, except where the operator turned evidence
retention on (``KAVACH_EVIDENCE=1`` and a key): then a file that *matched* is kept, encrypted,
with its review case's item (docs/review.md, "Evidence"); a file that did not match never is.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kavach.auth.service import Permission, Principal
from kavach.cases.intake import case_from_verdict
from kavach.cases.models import CaseItem
from kavach.errors import InputError, KavachError, NotFoundError
from kavach.evidence import Vault
from kavach.evidence import store as store_evidence
from kavach.jobs.webhooks import enqueue_event
from kavach.match.matcher import Query as MatchQuery
from kavach.match.matcher import record_queries
from kavach.match.models import Match
from kavach.signals.pdq import PDQ_MATCH_THRESHOLD
from kavach.signals.types import SignalType
from kavach.signals.variants import DEFAULT_VARIANTS
from kavach.store.submissions import Submission, SubmissionMatch
from kavach.web.api.lookup import UPLOAD_SCHEMA, read_upload
from kavach.web.api.schemas import HashIn, parse_queries
from kavach.web.auth import RuntimeDep, require
from kavach.web.multipart import multipart_openapi
from kavach.web.runtime import Runtime
from kavach.web.ui.media import vault_of

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["submissions"])

_MAX_SUBMITTED_HASHES = 64
_MAX_METADATA_BYTES = 16 * 1024


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_id: str = Field(
        min_length=1, max_length=200, description="The platform's own id for the content."
    )
    hashes: list[HashIn] = Field(min_length=1, max_length=_MAX_SUBMITTED_HASHES)
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Anything the platform wants kept with a match and sent back in webhooks.",
    )
    banks: list[str] | None = Field(default=None, max_length=100)


class MatchOut(BaseModel):
    bank: str
    entry_id: int
    signal_type: str
    value: str
    distance: int
    item_id: str | None
    labels: list[dict[str, Any]]
    variant: str | None = Field(
        default=None, description="PDQ: the query-side variant that matched (`original`, …)."
    )
    query_value: str | None = Field(default=None, description="PDQ: that query hash.")
    reliable_distance: int | None = Field(
        default=None,
        description="PDQ: set when only the query hash's 192 reliable bits matched: their "
        "distance to the listed hash (`distance` is then above the threshold).",
    )
    query_match_percent: float | None = Field(
        default=None, description="vpdq: percent of the submitted video's frames that matched."
    )
    compared_match_percent: float | None = Field(
        default=None, description="vpdq: percent of the listed video's frames that matched."
    )


class Verdict(BaseModel):
    matched: bool
    submission_id: int | None = Field(description="The recorded match, when there was one.")
    content_id: str
    matches: list[Match]
    hashes: dict[str, list[str]] = Field(
        description="The hashes that were looked up (a video by its vpdq key, not its frames)."
    )


class SubmissionOut(BaseModel):
    id: int
    content_id: str
    metadata: dict[str, Any]
    hashes: dict[str, Any]
    created_at: dt.datetime
    matches: list[MatchOut]


class SubmissionList(BaseModel):
    items: list[SubmissionOut]
    next_before_id: int | None


def _check_metadata(metadata: dict[str, Any]) -> None:
    if len(json.dumps(metadata)) > _MAX_METADATA_BYTES:
        raise InputError(f"metadata is limited to {_MAX_METADATA_BYTES:,} bytes of JSON")


@dataclass(frozen=True, slots=True)
class _Evidence:
    """An uploaded file to keep if it matches: the vault, the bytes and their media type."""

    vault: Vault
    data: bytes
    media_type: str


def _decide(
    runtime: Runtime,
    principal: Principal,
    content_id: str,
    metadata: dict[str, Any],
    queries: list[MatchQuery],
    banks: list[str] | None,
    evidence: _Evidence | None = None,
) -> Verdict:
    chosen = runtime.indexes.resolve(principal, banks)
    [matches] = runtime.indexes.match([queries], chosen, threshold=PDQ_MATCH_THRESHOLD)
    runtime.metrics.lookups.inc(len(queries))
    hashes: dict[str, list[str]] = {}
    for q in queries:
        if q.variant not in (None, "original"):
            continue  # a lookup-only variant, not a hash of the content
        hashes.setdefault(q.signal_type.value, []).append(
            q.value.hex() if q.signal_type is not SignalType.PHOTODNA else "photodna"
        )
    if not matches:
        return Verdict(
            matched=False, submission_id=None, content_id=content_id, matches=[], hashes=hashes
        )
    with runtime.session() as session:
        submission = Submission(
            organisation_id=principal.organisation_id,
            content_id=content_id,
            attributes=metadata,
            hashes=hashes,
            api_key_id=principal.key_id,
        )
        session.add(submission)
        session.flush()
        for m in matches:
            session.add(_match_row(submission.id, m))
        enqueue_event(
            session,
            principal.organisation_id,
            "match",
            {
                "submission_id": submission.id,
                "content_id": content_id,
                "metadata": metadata,
                "matches": [m.model_dump(mode="json") for m in matches],
            },
        )
        submission_id = submission.id
        _open_case(
            session, principal, submission_id, content_id, hashes, matches, metadata, evidence
        )
    for m in matches:
        runtime.metrics.matches.labels(m.bank).inc()
    return Verdict(
        matched=True,
        submission_id=submission_id,
        content_id=content_id,
        matches=matches,
        hashes=hashes,
    )


def _open_case(
    session: Session,
    principal: Principal,
    submission_id: int,
    content_id: str,
    hashes: dict[str, list[str]],
    matches: list[Match],
    metadata: dict[str, Any],
    evidence: _Evidence | None,
) -> None:
    # A match waits for a person in the review queue (docs/review.md). In a savepoint: a case
    # that cannot be opened is logged, and the verdict and its webhook still go out.
    actor = f"key:{principal.key_id}"
    try:
        with session.begin_nested():
            case = case_from_verdict(
                session,
                organisation_id=principal.organisation_id,
                submission_id=submission_id,
                content_id=content_id,
                hashes=hashes,
                matches=matches,
                metadata=metadata,
                actor=actor,
            )
    except KavachError as exc:
        log.warning("no review case for submission %s: %s", submission_id, exc)
        return
    if evidence is None:
        return
    # The matched file itself, encrypted, for the reviewers (blurred) and the NCMEC upload. Its
    # own savepoint: evidence that cannot be kept is logged; the case and verdict stand.
    try:
        with session.begin_nested():
            item = session.scalars(select(CaseItem).where(CaseItem.case_id == case.id)).one()
            store_evidence(
                session,
                evidence.vault,
                item,
                evidence.data,
                actor=actor,
                media_type=evidence.media_type,
            )
    except KavachError as exc:
        log.warning("evidence for submission %s not kept: %s", submission_id, exc)


def _match_row(submission_id: int, m: Match) -> SubmissionMatch:
    return SubmissionMatch(
        submission_id=submission_id,
        bank=m.bank,
        entry_id=m.entry_id,
        signal_type=m.signal_type.value,
        value=m.value,
        distance=m.distance,
        item_id=m.item_id,
        labels=[label.model_dump() for label in m.labels],
        variant=m.variant,
        query_value=m.query_value,
        reliable_distance=m.reliable_distance,
        query_match_percent=m.query_match_percent,
        compared_match_percent=m.compared_match_percent,
    )


@router.post(
    "/submissions", response_model=Verdict, summary="Submit hashes of content for a verdict"
)
def submit(
    body: SubmitRequest,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.SUBMIT))],
) -> Verdict:
    """Look the content's hashes up (a video as vpdq frames); on a match record it and queue the
    webhooks."""
    _check_metadata(body.metadata)
    queries = parse_queries(body.hashes)
    return _decide(runtime, principal, body.content_id, body.metadata, queries, body.banks)


@router.post(
    "/submissions/upload",
    response_model=Verdict,
    summary="Submit a file for a verdict (hashed in memory, never stored)",
    openapi_extra=multipart_openapi(
        {
            "file": UPLOAD_SCHEMA,
            "content_id": {"type": "string", "minLength": 1, "maxLength": 200},
            "metadata": {"type": "string", "description": "A JSON object."},
            "banks": {"type": "string", "description": "Bank names, comma-separated."},
        },
        ["file", "content_id"],
    ),
)
async def submit_upload(
    request: Request,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.SUBMIT))],
) -> Verdict:
    """Hash the file (a video: its vpdq frames too), then decide as for submitted hashes; with
    evidence retention on, a file that matched is kept encrypted with its case."""
    # Resolved first: with retention on but its key missing or bad, say so before any work.
    vault = vault_of(request)
    record, fields, data = await read_upload(request, runtime, variants=True)
    content_id = fields.get("content_id", "").strip()
    if not content_id or len(content_id) > 200:
        raise InputError("content_id is required (1-200 characters)")
    metadata = _parse_metadata(fields.get("metadata", ""))
    banks_text = fields.get("banks", "").strip()
    banks = [b.strip() for b in banks_text.split(",") if b.strip()] if banks_text else None
    # The image's query-side variants too: an upload is where a flipped, framed or screenshotted
    # copy shows up (docs/robustness.md). Hash lists hold one hash per item; the record keeps only
    # the file's own hashes.
    queries = record_queries(record, DEFAULT_VARIANTS)
    evidence = None
    if vault is not None:
        evidence = _Evidence(vault, data, record.media_type or "application/octet-stream")
    del data
    return await run_in_threadpool(
        _decide, runtime, principal, content_id, metadata, queries, banks, evidence
    )


def _parse_metadata(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise InputError("metadata must be a JSON object") from None
    if not isinstance(value, dict):
        raise InputError("metadata must be a JSON object")
    _check_metadata(value)
    return value


def _out(submission: Submission) -> SubmissionOut:
    return SubmissionOut(
        id=submission.id,
        content_id=submission.content_id,
        metadata=submission.attributes,
        hashes=submission.hashes,
        created_at=submission.created_at,
        matches=[
            MatchOut(
                bank=m.bank,
                entry_id=m.entry_id,
                signal_type=m.signal_type,
                value=m.value,
                distance=m.distance,
                item_id=m.item_id,
                labels=m.labels,
                variant=m.variant,
                query_value=m.query_value,
                reliable_distance=m.reliable_distance,
                query_match_percent=m.query_match_percent,
                compared_match_percent=m.compared_match_percent,
            )
            for m in sorted(submission.matches, key=lambda m: m.id)
        ],
    )


@router.get("/matches", response_model=SubmissionList, summary="Recorded matches, newest first")
def list_matches(
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.MATCHES_READ))],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    content_id: Annotated[str | None, Query(max_length=200)] = None,
) -> SubmissionList:
    """This organisation's matched submissions; page with ``before_id``."""
    stmt = (
        select(Submission)
        .where(Submission.organisation_id == principal.organisation_id)
        .options(selectinload(Submission.matches))
        .order_by(Submission.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        stmt = stmt.where(Submission.id < before_id)
    if content_id is not None:
        stmt = stmt.where(Submission.content_id == content_id)
    with runtime.session() as session:
        rows = list(session.scalars(stmt))
        items = [_out(s) for s in rows[:limit]]
    return SubmissionList(
        items=items, next_before_id=items[-1].id if len(rows) > limit and items else None
    )


@router.get("/matches/{submission_id}", response_model=SubmissionOut, summary="One match")
def get_match(
    submission_id: Annotated[int, Path(ge=1, le=2**62)],
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.MATCHES_READ))],
) -> SubmissionOut:
    """A recorded match of this organisation (404 for another organisation's)."""
    with runtime.session() as session:
        submission = session.scalars(
            select(Submission)
            .where(
                Submission.id == submission_id,
                Submission.organisation_id == principal.organisation_id,
            )
            .options(selectinload(Submission.matches))
        ).one_or_none()
        if submission is None:
            raise NotFoundError(f"no match {submission_id}")
        return _out(submission)
