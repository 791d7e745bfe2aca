"""A local webhook receiver on loopback that checks signatures and records what it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kavach.errors import AuthenticationError
from kavach.jobs.webhooks import EVENT_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Receiver:
    url: str
    secret: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    requests: int = 0
    # Status codes to answer with, in order, before answering 200.
    failures: list[int] = field(default_factory=list)
    # Seconds to stall on the first request (to be killed mid-delivery).
    stall_first: float = 0.0
    first_seen: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event_ids(self) -> list[str]:
        with self.lock:
            return [e["id"] for e in self.events]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.requests += 1
                first = state.requests == 1
            if first and state.stall_first:
                state.first_seen.set()
                state.release.wait(state.stall_first)  # the worker is killed meanwhile
                return
            try:
                verify(state.secret, body, self.headers.get(SIGNATURE_HEADER, ""))
            except AuthenticationError:
                with state.lock:
                    state.bad_signatures += 1
                self.send_response(401)
                self.end_headers()
                return
            with state.lock:
                status = state.failures.pop(0) if state.failures else 200
                if status == 200:
                    event = json.loads(body)
                    assert event["id"] == self.headers[EVENT_HEADER]
                    state.events.append(event)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
