"""The exchange protocol endpoints, ``/exchange/v1/...`` (docs/exchange.md).

``/node`` is public; everything else is authenticated by the calling node's request signature
(``kavach.exchange.auth``) and answered only to registered, active peers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from kavach.errors import AuthenticationError, NotFoundError, PayloadTooLargeError
from kavach.exchange import canonical, feeds, log, merkle, referrals
from kavach.exchange.auth import (
    NODE_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    verify_request,
)
from kavach.exchange.identity import NodeIdentity, load_identity
from kavach.exchange.models import Peer
from kavach.web.auth import RuntimeDep
from kavach.web.runtime import Runtime

__all__ = ["router"]

router = APIRouter(prefix="/exchange/v1", tags=["exchange"])

_MAX_MESSAGE = 256 * 1024
_JSON = "application/json"


def _identity(request: Request, runtime: Runtime) -> NodeIdentity:
    cached: NodeIdentity | None = getattr(request.app.state, "exchange_identity", None)
    if cached is None:
        cached = load_identity(runtime.settings.data_dir)
        request.app.state.exchange_identity = cached
    return cached


def _guard(request: Request) -> ReplayGuard:
    guard: ReplayGuard | None = getattr(request.app.state, "exchange_replay", None)
    if guard is None:
        guard = request.app.state.exchange_replay = ReplayGuard()
    return guard


@dataclass(frozen=True)
class Caller:
    """A verified peer making the request, and the body it signed."""

    peer_id: int
    node_id: str
    body: bytes


async def signed_peer(request: Request, runtime: RuntimeDep) -> Caller:
    """The registered peer whose Ed25519 signature authenticates this request, or 401."""
    node_id = (request.headers.get(NODE_HEADER) or "").lower()
    if not node_id:
        raise AuthenticationError(f"exchange requests are signed: send {NODE_HEADER} and friends")
    body = await request.body()
    if len(body) > _MAX_MESSAGE:
        raise PayloadTooLargeError("exchange messages are at most 256 KiB")
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")

    def lookup() -> tuple[int, bytes] | None:
        with runtime.session() as session:
            row = session.execute(
                select(Peer.id, Peer.public_key).where(
                    Peer.node_id == node_id, Peer.active.is_(True)
                )
            ).one_or_none()
            return None if row is None else (row.id, bytes(row.public_key))

    found = await run_in_threadpool(lookup)
    if found is None:
        raise AuthenticationError("this node does not know the calling node as a peer")
    verify_request(
        found[1],
        request.method,
        target,
        body,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(NONCE_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        _guard(request),
    )
    return Caller(found[0], node_id, body)


PeerDep = Annotated[Caller, Depends(signed_peer)]


def _canonical(value: Any, *, validate: bool = True) -> Response:
    return Response(canonical.encode(value, validate=validate), media_type=_JSON)


@router.get("/node", summary="This node's public identity (no authentication)")
async def node(request: Request, runtime: RuntimeDep) -> Response:
    return _canonical(_identity(request, runtime).public())


def _feed_bank(session: Any, identity: NodeIdentity, caller: Caller, name: str) -> Any:
    peer = session.get(Peer, caller.peer_id)
    for bank in feeds.shared_banks(session, identity, peer):
        if bank.name == name:
            return bank
    # The same answer for "absent" and "not shared with you": names are not disclosed.
    raise NotFoundError(f"no feed called {name!r} shared with this peer")


@router.get("/feeds", summary="The feeds shared with the calling peer")
async def list_feeds(request: Request, runtime: RuntimeDep, caller: PeerDep) -> Response:
    identity = _identity(request, runtime)

    def work() -> dict[str, Any]:
        with runtime.session() as session:
            peer = session.get(Peer, caller.peer_id)
            out = []
            for bank in feeds.shared_banks(session, identity, peer):
                state = feeds.publish(session, bank, identity)
                out.append({"bank": bank.name, "size": state.size})
            return {"v": 1, "node": identity.node_id, "feeds": out}

    return _canonical(await run_in_threadpool(work))


@router.get("/feeds/{bank}", summary="A signed page of a feed after a cursor")
async def feed_page(
    request: Request,
    runtime: RuntimeDep,
    caller: PeerDep,
    bank: str,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=feeds.MAX_PAGE)] = 1000,
) -> Response:
    identity = _identity(request, runtime)

    def work() -> bytes:
        with runtime.session() as session:
            found = _feed_bank(session, identity, caller, bank)
            return feeds.page(session, found, identity, after=after, limit=limit)

    # Canonical bytes already: feeds.page splices the stored leaves into the signed page.
    return Response(await run_in_threadpool(work), media_type=_JSON)


@router.get("/feeds/{bank}/head", summary="The feed's latest signed tree head")
async def feed_head(request: Request, runtime: RuntimeDep, caller: PeerDep, bank: str) -> Response:
    identity = _identity(request, runtime)

    def work() -> dict[str, Any]:
        with runtime.session() as session:
            found = _feed_bank(session, identity, caller, bank)
            state = feeds.publish(session, found, identity)
            return log.head_object(state, found.name, identity.node_id)

    return _canonical(await run_in_threadpool(work))


@router.get("/feeds/{bank}/inclusion", summary="Inclusion proof of one leaf")
async def inclusion(
    request: Request,
    runtime: RuntimeDep,
    caller: PeerDep,
    bank: str,
    index: Annotated[int, Query(ge=0, le=2**53)],
    size: Annotated[int, Query(ge=1, le=2**53)],
) -> Response:
    identity = _identity(request, runtime)

    def work() -> dict[str, Any]:
        with runtime.session() as session:
            found = _feed_bank(session, identity, caller, bank)
            state = feeds.publish(session, found, identity)
            proof = log.inclusion(session, state, index, size)
            leaf = log.leaves(session, found.id, index, 1)[0]
            return {
                "v": 1,
                "index": index,
                "size": size,
                "leaf_hash": merkle.leaf_hash(leaf).hex(),
                "proof": [h.hex() for h in proof],
            }

    return _canonical(await run_in_threadpool(work))


@router.get("/feeds/{bank}/consistency", summary="Consistency proof between two sizes")
async def consistency(
    request: Request,
    runtime: RuntimeDep,
    caller: PeerDep,
    bank: str,
    first: Annotated[int, Query(ge=0, le=2**53)],
    second: Annotated[int, Query(ge=0, le=2**53)],
) -> Response:
    identity = _identity(request, runtime)

    def work() -> dict[str, Any]:
        with runtime.session() as session:
            found = _feed_bank(session, identity, caller, bank)
            state = feeds.publish(session, found, identity)
            proof = log.consistency(session, state, first, second)
            return {"v": 1, "first": first, "second": second, "proof": [h.hex() for h in proof]}

    return _canonical(await run_in_threadpool(work))


@router.post("/referrals", summary="Receive a signed referral; answers a signed acknowledgement")
async def receive_referral(request: Request, runtime: RuntimeDep, caller: PeerDep) -> Response:
    identity = _identity(request, runtime)
    message = canonical.decode(caller.body, strict=False)

    def work() -> dict[str, Any]:
        with runtime.session() as session:
            peer = session.get(Peer, caller.peer_id)
            assert peer is not None  # verified just now
            return referrals.receive_referral(session, identity, peer, message)

    return _canonical(await run_in_threadpool(work))


@router.post("/referrals/{uid}/status", summary="Receive a signed status report on a referral")
async def receive_status(
    request: Request, runtime: RuntimeDep, caller: PeerDep, uid: str
) -> Response:
    identity = _identity(request, runtime)
    message = canonical.decode(caller.body, strict=False)

    def work() -> None:
        with runtime.session() as session:
            peer = session.get(Peer, caller.peer_id)
            assert peer is not None
            referrals.receive_status(session, identity, peer, uid, message)

    await run_in_threadpool(work)
    return _canonical({"v": 1, "ok": True})
