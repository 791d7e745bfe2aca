"""Running database work for a console request: in a worker thread, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from kavach.web.runtime import Runtime

__all__ = ["in_session"]

P = ParamSpec("P")
T = TypeVar("T")


async def in_session(
    request: Request,
    work: Callable[Concatenate[Session, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``work(session, *args, **kwargs)`` in a thread; committed if it returns, rolled back if
    it raises (one unit of work per request, as the API does it)."""
    runtime: Runtime = request.app.state.runtime

    def run() -> T:
        with runtime.session() as session:
            return work(session, *args, **kwargs)

    return await run_in_threadpool(run)
