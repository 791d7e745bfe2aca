"""Banks and their entries: create, list, add, retract, import and export list files.

Any bank an organisation may use (owner, alliance-shared, or shared with it by name) can be
listed and searched; only the owner changes it. A bank the caller may not use answers 404, the
same as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.auth.service import Permission, Principal
from kavach.banks import service as banks
from kavach.banks.formats import FORMATS, HashRecord, Label, ReadOptions, WriteOptions
from kavach.banks.models import Bank, BankEntry, BankSource, SharingPolicy
from kavach.errors import InputError, NotFoundError, PermissionDeniedError
from kavach.signals.types import SignalType, format_hash
from kavach.store.models import Organisation
from kavach.web.api.lookup import UPLOAD_SCHEMA
from kavach.web.api.schemas import HashIn, parse_hash_in
from kavach.web.auth import RuntimeDep, require
from kavach.web.multipart import multipart_openapi, parse_form, read_body
from kavach.web.runtime import Runtime

__all__ = ["router"]

router = APIRouter(tags=["banks"])

BankName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^\S+$")]
_MAX_ENTRIES = 1000
_FORMAT_PATTERN = "^(" + "|".join(FORMATS) + ")$"
_MEDIA_TYPES = {
    "vics": "application/json",
    "ncmec": "application/xml",
    "icse": "text/csv",
    "hma": "text/csv",
    "text": "text/plain",
    "vpdq": "text/plain",
}


class BankCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^\S+$")
    description: str = Field(default="", max_length=2000)
    source: BankSource = BankSource.LOCAL
    sharing: SharingPolicy = SharingPolicy.PRIVATE
    members: list[str] = Field(default_factory=list, max_length=200)


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheme: str = Field(min_length=1, max_length=32)
    value: str = Field(min_length=1, max_length=64)


class EntryIn(BaseModel):
    """One media item: its hashes, with labels and attributes."""

    model_config = ConfigDict(extra="forbid")

    hashes: list[HashIn] = Field(min_length=1, max_length=10)
    labels: list[LabelIn] = Field(default_factory=list, max_length=20)
    item_id: str | None = Field(default=None, min_length=1, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)


class EntriesAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[EntryIn] = Field(min_length=1, max_length=_MAX_ENTRIES)
    reinstate: bool = Field(default=False, description="Bring retracted hashes back.")


class Retract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashes: list[HashIn] = Field(min_length=1, max_length=_MAX_ENTRIES)
    reason: str = Field(default="", max_length=2000)


class RetractResult(BaseModel):
    retracted: int
    version: int


class EntryOut(BaseModel):
    id: int
    signal_type: str
    value: str
    item_id: str | None
    added_at: dt.datetime
    added_by: str
    retracted: bool


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_after_id: int | None


def _visible_bank(session: Session, principal: Principal, name: str) -> Bank:
    bank = session.scalars(select(Bank).where(Bank.name == name)).one_or_none()
    if bank is not None:
        summary_members = None
        if bank.sharing is SharingPolicy.MEMBERS:
            summary_members = set(banks.bank_summary(session, bank).members)
        if (
            bank.owner_id == principal.organisation_id
            or bank.sharing is SharingPolicy.ALLIANCE
            or (summary_members is not None and principal.organisation in summary_members)
        ):
            return bank
    raise NotFoundError(f"no bank called {name!r} that this organisation may use")


def _owned_bank(session: Session, principal: Principal, name: str) -> Bank:
    bank = _visible_bank(session, principal, name)
    if bank.owner_id != principal.organisation_id:
        raise PermissionDeniedError(f"only the bank's owner may change {name!r}")
    return bank


def _visible(summary: banks.BankSummary, principal: Principal) -> bool:
    return (
        summary.owner == principal.organisation
        or summary.sharing is SharingPolicy.ALLIANCE
        or principal.organisation in summary.members
    )


def _who(principal: Principal) -> str:
    return f"{principal.organisation} (key {principal.key_prefix})"


@router.get("/banks", response_model=list[banks.BankSummary], summary="Banks this org may use")
def list_banks(
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.BANKS_READ))],
) -> list[banks.BankSummary]:
    """Every bank the caller's organisation owns or has been shared, with entry counts."""
    with runtime.session() as session:
        return [s for s in banks.list_banks(session) if _visible(s, principal)]


@router.post("/banks", response_model=banks.BankSummary, status_code=201, summary="Create a bank")
def create_bank(
    body: BankCreate,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.BANKS_WRITE))],
) -> banks.BankSummary:
    """A new, empty bank owned by the caller's organisation."""
    with runtime.session() as session:
        owner = session.get(Organisation, principal.organisation_id)
        if owner is None:
            raise NotFoundError("the caller's organisation no longer exists")
        members = []
        for name in body.members:
            org = session.scalars(
                select(Organisation).where(Organisation.name == name)
            ).one_or_none()
            if org is None:
                raise NotFoundError(f"no organisation called {name!r}")
            members.append(org)
        bank = banks.create_bank(
            session,
            name=body.name,
            owner=owner,
            source=body.source,
            sharing=body.sharing,
            members=members,
            description=body.description,
        )
        return banks.bank_summary(session, bank)


@router.get("/banks/{name}", response_model=banks.BankSummary, summary="One bank")
def get_bank(
    name: BankName,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.BANKS_READ))],
) -> banks.BankSummary:
    """A bank's settings and counts."""
    with runtime.session() as session:
        return banks.bank_summary(session, _visible_bank(session, principal, name))


@router.get("/banks/{name}/entries", response_model=EntryPage, summary="A page of entries")
def list_entries(
    name: BankName,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.ENTRIES_READ))],
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    include_retracted: bool = False,
) -> EntryPage:
    """Entries in id order; page with ``after_id``."""
    with runtime.session() as session:
        bank = _visible_bank(session, principal, name)
        stmt = (
            select(BankEntry)
            .where(BankEntry.bank_id == bank.id, BankEntry.id > after_id)
            .order_by(BankEntry.id)
            .limit(limit + 1)
        )
        if not include_retracted:
            stmt = stmt.where(BankEntry.retracted_at.is_(None))
        rows = list(session.scalars(stmt))
        items = [
            EntryOut(
                id=e.id,
                signal_type=e.signal_type,
                value=format_hash(e.signal_type, e.value),
                item_id=e.item_id,
                added_at=e.added_at,
                added_by=e.added_by,
                retracted=e.retracted_at is not None,
            )
            for e in rows[:limit]
        ]
    return EntryPage(items=items, next_after_id=items[-1].id if len(rows) > limit else None)


@router.post("/banks/{name}/entries", response_model=banks.ChangeStats, summary="Add entries")
def add_entries(
    name: BankName,
    body: EntriesAdd,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.BANKS_WRITE))],
) -> banks.ChangeStats:
    """Add media items (each with one or more hashes; a video as a vpdq hash with its frames) to
    a bank this organisation owns."""
    records = [_entry_record(i, entry) for i, entry in enumerate(body.entries)]
    with runtime.session() as session:
        bank = _owned_bank(session, principal, name)
        return banks.add_entries(
            session, bank, records, added_by=_who(principal), reinstate=body.reinstate
        )


def _entry_record(i: int, entry: EntryIn) -> HashRecord:
    hashes = []
    video = None
    for j, h in enumerate(entry.hashes):
        try:
            parsed = parse_hash_in(h)
            if parsed.signal_type is SignalType.VPDQ:
                if parsed.video is None:
                    raise InputError("a vpdq entry needs the video's frames")
                if video is not None:
                    raise InputError("an entry lists at most one video")
                video = parsed.video
                continue
        except InputError as exc:
            raise InputError(f"entries[{i}].hashes[{j}]: {exc.message}") from None
        hashes.append((parsed.signal_type, parsed.value))
    labels = tuple(Label(scheme=lb.scheme, value=lb.value) for lb in entry.labels)
    if video is not None:
        return HashRecord.with_video(
            video, tuple(hashes), labels, entry.item_id, entry.attributes, f"entries[{i}]"
        )
    return HashRecord(
        hashes=tuple(hashes),
        labels=labels,
        item_id=entry.item_id,
        attributes=entry.attributes,
        where=f"entries[{i}]",
    )


@router.post("/banks/{name}/retract", response_model=RetractResult, summary="Retract entries")
def retract_entries(
    name: BankName,
    body: Retract,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.BANKS_WRITE))],
) -> RetractResult:
    """Tombstone hashes in a bank this organisation owns (they stop matching everywhere)."""
    hashes = []
    for i, h in enumerate(body.hashes):
        try:
            parsed = parse_hash_in(h)  # a video by its key, or by its frames
        except InputError as exc:
            raise InputError(f"hashes[{i}]: {exc.message}") from None
        hashes.append((parsed.signal_type, parsed.value))
    with runtime.session() as session:
        bank = _owned_bank(session, principal, name)
        count = banks.retract_entries(
            session, bank, hashes, retracted_by=_who(principal), reason=body.reason
        )
        return RetractResult(retracted=count, version=bank.version)


@router.post(
    "/banks/{name}/import",
    response_model=banks.ImportReport,
    summary="Import a list file (VICS, NCMEC, ICSE, HMA CSV, text, vpdq) into a bank",
    openapi_extra=multipart_openapi({"file": UPLOAD_SCHEMA}, ["file"]),
)
async def import_list(
    name: BankName,
    request: Request,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.BANKS_WRITE))],
    format: Annotated[str, Query(pattern=_FORMAT_PATTERN)],
    signal_type: Annotated[
        SignalType | None, Query(description="Type of bare hashes (text format).")
    ] = None,
) -> banks.ImportReport:
    """Stream the records of one list file into a bank this organisation owns."""
    body = await read_body(request, runtime.service.max_import_bytes)
    form = parse_form(request.headers.get("content-type", ""), body)
    del body
    part = form.get("file")
    if part is None:
        raise InputError("the form needs a file part called 'file'")
    return await run_in_threadpool(
        _import, runtime, principal, name, format, part.data, part.filename or "", signal_type
    )


def _import(
    runtime: Runtime,
    principal: Principal,
    name: str,
    fmt: str,
    data: bytes,
    filename: str,
    signal_type: SignalType | None,
) -> banks.ImportReport:
    with runtime.session() as session:
        bank = _owned_bank(session, principal, name)
        return banks.import_bank(
            session,
            bank,
            io.BytesIO(data),
            fmt,
            imported_by=_who(principal),
            filename=filename,
            options=ReadOptions(signal_type=signal_type),
        )


@router.get(
    "/banks/{name}/export",
    summary="Export a bank as a list file",
    response_class=Response,
    responses={200: {"content": {t: {} for t in sorted(set(_MEDIA_TYPES.values()))}}},
)
def export_list(
    name: BankName,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require(Permission.ENTRIES_READ))],
    format: Annotated[str, Query(pattern=_FORMAT_PATTERN)] = "text",
    include_retracted: bool = False,
    signal_type: Annotated[SignalType | None, Query(description="Only this type.")] = None,
) -> Response:
    """The bank's live entries (and tombstones, if asked) in one of the list formats."""
    out = io.BytesIO()
    with runtime.session() as session:
        bank = _visible_bank(session, principal, name)
        banks.export_bank(
            session,
            bank,
            out,
            format,
            include_retracted=include_retracted,
            options=WriteOptions(signal_type=signal_type),
        )
    return Response(
        out.getvalue(),
        media_type=_MEDIA_TYPES.get(format, "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="bank-{bank.id}.{format}"'},
    )
