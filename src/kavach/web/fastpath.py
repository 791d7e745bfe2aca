"""A fast path for ``POST /api/v1/lookup`` with a JSON body: the endpoint platforms call on every
upload, thousands of times a second.

FastAPI's routing and dependency resolution cost about as much CPU as the index search itself
(measured: ~0.25 ms of ~0.4 ms per single-hash lookup), so this ASGI middleware answers JSON
lookups directly: same authentication (``current_principal``), same permission, same request and
response models, same function (:func:`kavach.web.api.lookup.run_lookup`), same error renderer.
Everything else (other content types included) goes on to FastAPI, where the route is declared
for the OpenAPI document. Lookups of videos (vpdq frames) are answered here too, their matching
run in a worker thread.
"""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from kavach.auth.service import Permission
from kavach.errors import KavachError, PermissionDeniedError, RateLimitedError
from kavach.web.api.lookup import LookupRequest, has_video, run_lookup
from kavach.web.auth import current_principal
from kavach.web.errors import error_response
from kavach.web.runtime import Runtime

__all__ = ["LOOKUP_PATH", "LookupFastPath"]

LOOKUP_PATH = "/api/v1/lookup"


class LookupFastPath:
    """Answers ``POST /api/v1/lookup`` with ``Content-Type: application/json``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != LOOKUP_PATH
            or scope["method"] != "POST"
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        scope["kavach.route"] = LOOKUP_PATH
        request = Request(scope, receive)
        response: _JSON | JSONResponse
        try:
            response = await self._answer(request)
        except KavachError as exc:
            headers = {}
            if isinstance(exc, RateLimitedError):
                headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.5)))
            if exc.http_status == 401:
                headers["WWW-Authenticate"] = "Bearer"
            response = error_response(exc.http_status, exc.code, exc.message, headers=headers)
        except HTTPException as exc:  # the body limit, raised while the body is read
            response = error_response(exc.status_code, "payload_too_large", str(exc.detail))
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> _JSON:
        runtime: Runtime = request.app.state.runtime
        principal = await current_principal(request)
        if not principal.can(Permission.LOOKUP):
            raise PermissionDeniedError(
                f"the {principal.role.value} role may not do this (needs {Permission.LOOKUP})"
            )
        raw = await request.body()
        try:
            body = LookupRequest.model_validate_json(raw)
        except ValidationError as exc:
            return _validation_error(exc)
        if has_video(body):
            # Matching a video's frames can take milliseconds to seconds: off the event loop.
            result = await run_in_threadpool(run_lookup, runtime, principal, body)
        else:
            result = run_lookup(runtime, principal, body)
        return _JSON(result.model_dump_json().encode())


class _JSON:
    """A pre-serialised JSON response (no re-encoding)."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body = body
        self.status = status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


def _validation_error(exc: ValidationError) -> _JSON:
    # The same shape as kavach.web.errors renders for FastAPI's request validation (422).
    details = []
    for err in exc.errors()[:20]:
        where = ".".join(["body", *(str(p) for p in err.get("loc", ()))])
        details.append({"where": where, "message": str(err.get("msg", ""))})
    first = details[0] if details else {"where": "body", "message": "invalid"}
    body = {
        "error": {
            "code": "invalid_input",
            "message": f"{first['where']}: {first['message']}",
            "details": details,
        }
    }
    return _JSON(json.dumps(body).encode(), status=422)
