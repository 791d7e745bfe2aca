"""What a running app holds: engine, sessions, indexes, metrics, key cache, rate limiter.

Built in the app's lifespan and reached by endpoints through ``request.app.state.runtime``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kavach.auth.service import Principal
from kavach.config import Settings
from kavach.store.db import session_scope
from kavach.web.indexes import IndexHolder
from kavach.web.limits import RateLimiter
from kavach.web.metrics import Metrics
from kavach.web.settings import ServiceSettings

__all__ = ["KeyCache", "Runtime"]


class KeyCache:
    """Principals of recently checked tokens (by token digest), trusted for ``ttl`` seconds.

    Saves a database round trip on every request; a revocation made in this process clears the
    cache at once, one made elsewhere bites within ``ttl``.
    """

    _MAX = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        item = self._items.get(digest)
        if item is None or item[1] < time.monotonic():
            return None
        return item[0]

    def put(self, digest: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._items) >= self._MAX:
                self._items.clear()
            self._items[digest] = (principal, time.monotonic() + self.ttl)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class Runtime:
    """The live parts of one app instance."""

    settings: Settings
    service: ServiceSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    indexes: IndexHolder
    metrics: Metrics
    keys: KeyCache
    limiter: RateLimiter
    login_limiter: RateLimiter
    auth_failure_limiter: RateLimiter
    started: float = field(default_factory=time.time)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with session_scope(self.session_factory) as session:
            yield session
