"""An httpx transport that corrupts feed pages on their way to the follower, for fault tests."""

from __future__ import annotations

from collections.abc import Callable

import httpx


class Tamper(httpx.BaseTransport):
    """Passes requests to ``inner``; feed page bodies go through ``change`` while it is set."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.change: Callable[[bytes], bytes] | None = None
        self.fail_after: int | None = None
        self.before: Callable[[httpx.Request], None] | None = None
        self.pages = 0

    def close(self) -> None:
        self.inner.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        is_page = "/feeds/" in request.url.path and "after=" in str(request.url.query)
        if is_page:
            if self.fail_after is not None and self.pages >= self.fail_after:
                raise httpx.ConnectError("peer went away (test)", request=request)
            if self.before is not None:
                self.before(request)
            self.pages += 1
        response = self.inner.handle_request(request)
        if not is_page or self.change is None:
            return response
        body = response.read()
        response.close()
        return httpx.Response(
            response.status_code,
            headers={"content-type": "application/json"},
            content=self.change(body),
        )
