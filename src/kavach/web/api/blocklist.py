"""Blocklists for ISPs over the API (URL list, domain list, RPZ zone).

Served to keys of the roles an ISP or a hotline holds (platform, analyst, admin): a list of
live addresses of abuse material must never be public.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from kavach.auth.models import Role
from kavach.auth.service import Principal
from kavach.errors import PermissionDeniedError
from kavach.takedown import blocklist
from kavach.web.auth import RuntimeDep, current_principal
from kavach.web.runtime import Runtime

__all__ = ["router"]

router = APIRouter(tags=["blocklists"])

_ALLOWED = frozenset({Role.ADMIN, Role.ANALYST, Role.PLATFORM})
_MEDIA = {"url": "text/plain", "domain": "text/plain", "rpz": "text/dns"}


async def _blocklist_reader(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if principal.role not in _ALLOWED:
        raise PermissionDeniedError(f"the {principal.role.value} role may not read blocklists")
    return principal


@router.get(
    "/blocklist/{fmt}",
    response_class=PlainTextResponse,
    summary="The current blocklist: url (one URL a line), domain, or rpz (a DNS zone file)",
    responses={200: {"content": {"text/plain": {}, "text/dns": {}}}},
)
async def get_blocklist(
    runtime: RuntimeDep,
    _principal: Annotated[Principal, Depends(_blocklist_reader)],
    fmt: Annotated[str, Path(pattern="^(url|domain|rpz)$")],
) -> PlainTextResponse:
    """Live confirmed items only; an item leaves the list when its content is gone."""
    text = await run_in_threadpool(_export, runtime, fmt)
    return PlainTextResponse(
        text, media_type=_MEDIA[fmt], headers={"Cache-Control": "private, max-age=60"}
    )


def _export(runtime: Runtime, fmt: str) -> str:
    with runtime.session() as session:
        return blocklist.export(session, fmt)
