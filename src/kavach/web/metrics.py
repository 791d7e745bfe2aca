"""Prometheus metrics of one serve process, in a registry of its own (no global state)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_PREFIX", "Metrics", "MetricsMiddleware"]

API_PREFIX = "/api/v1"


class Metrics:
    """Requests, latencies, matches, index size and queue depth."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kavach_http_requests",
            "HTTP requests answered, by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kavach_http_request_seconds",
            "Time to answer HTTP requests, by route.",
            ["method", "route"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.lookups = Counter(
            "kavach_hashes_looked_up",
            "Hashes looked up (lookups and submissions).",
            registry=self.registry,
        )
        self.matches = Counter(
            "kavach_matches", "Bank entries matched, by bank.", ["bank"], registry=self.registry
        )
        self.index_entries = Gauge(
            "kavach_index_entries",
            "Live entries indexed in memory, by bank.",
            ["bank"],
            registry=self.registry,
        )
        self.index_version = Gauge(
            "kavach_index_bank_version",
            "The bank version the in-memory indexes reflect, by bank.",
            ["bank"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "kavach_job_queue_depth",
            "Jobs pending or running (webhook deliveries and others).",
            registry=self.registry,
        )


class MetricsMiddleware:
    """Counts every HTTP request and times it, labelled by route template (not raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            route = scope.get("route")
            # Raw paths would make one series per bank name or id; templates keep it bounded.
            name = getattr(route, "path", None) or scope.get("kavach.route") or "unmatched"
            path = scope["path"]
            if (
                name.startswith("/")
                and path.startswith(API_PREFIX)
                and not name.startswith(API_PREFIX)
            ):
                # Routes of included routers carry their path without the prefix they are
                # mounted under; the API's routers are all mounted under API_PREFIX.
                name = API_PREFIX + name
            method = scope["method"]
            self.metrics.requests.labels(method, name, str(status)).inc()
            self.metrics.latency.labels(method, name).observe(time.perf_counter() - start)
