"""The FastAPI application: built by :func:`create_app`, its parts made in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy import make_url

from kavach.config import Settings, get_settings
from kavach.errors import ConfigurationError
from kavach.evidence import evidence_enabled, vault_from_env
from kavach.store.db import make_engine, make_session_factory
from kavach.store.migrate import current_revision, head_revision
from kavach.takedown.settings import TakedownSettings, get_takedown_settings
from kavach.web import auth
from kavach.web.api import accounts, banks, blocklist, health, lookup, submissions, webhooks
from kavach.web.errors import install_error_handlers
from kavach.web.fastpath import LookupFastPath
from kavach.web.indexes import IndexHolder
from kavach.web.limits import BodyLimitMiddleware, RateLimiter
from kavach.web.metrics import API_PREFIX, Metrics, MetricsMiddleware
from kavach.web.runtime import KeyCache, Runtime
from kavach.web.settings import ServiceSettings, get_service_settings
from kavach.web.ui import install as install_console

__all__ = ["app_from_env", "create_app"]


_DESCRIPTION = """\
The platform API of Kavach: hash uploads, look hashes up in banks of known material, submit
content for a verdict (matches are recorded and signed webhooks sent), manage banks.

Authenticate with an API key: `Authorization: Bearer kv_…` (or `X-API-Key`). Use **Authorize**
above, or log in at [/login](/login) for a session cookie.
"""


def create_app(
    settings: Settings,
    service: ServiceSettings | None = None,
    takedown: TakedownSettings | None = None,
) -> FastAPI:
    """A Kavach service app on ``settings``' database; nothing connects until it starts."""
    service = service or ServiceSettings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(_start, settings, service, metrics)
        app.state.runtime = runtime
        if not hasattr(app.state, "evidence_vault") and evidence_enabled():
            # Retention on without a usable key: refuse to start rather than fail the first
            # matching upload.
            try:
                app.state.evidence_vault = vault_from_env(settings.data_dir)
            except BaseException:
                await run_in_threadpool(runtime.indexes.stop)
                runtime.engine.dispose()
                raise
        try:
            yield
        finally:
            await run_in_threadpool(runtime.indexes.stop)
            runtime.engine.dispose()

    app = FastAPI(
        title="Kavach",
        version=version("kavach"),
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    # Routes are matched in order: the hot paths (lookups, verdicts) go first.
    for module in (lookup, submissions, banks, webhooks, accounts, blocklist):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(auth.router)
    # Node-to-node exchange: signed requests from peers, its own prefix (docs/exchange.md).
    from kavach.web.api import exchange as exchange_api

    app.include_router(exchange_api.router)
    # The review console: pages under /console, its files under /static.
    install_console(app)
    # Takedown: the public portal at /report, the analysts' board and statistics in the console.
    from kavach.web import portal
    from kavach.web import takedown as takedown_pages

    portal.install(app, takedown or get_takedown_settings())
    app.include_router(takedown_pages.router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        # People land in the review console (it asks them to log in); programs use /api/v1.
        return RedirectResponse("/console")

    _declare_security(app)

    def limit_for(path: str) -> int:
        if path.endswith("/import"):
            return service.max_import_bytes
        if path.endswith(("/hash", "/submissions/upload")):
            return service.max_upload_bytes
        if path in (f"{API_PREFIX}/lookup", f"{API_PREFIX}/submissions"):
            # These may carry a video's frames; single hashes stay far below either limit.
            return max(service.max_body_bytes, service.max_lookup_bytes)
        return service.max_body_bytes

    # Inside the body limit (which therefore also guards it), outside FastAPI's routing.
    app.add_middleware(LookupFastPath)
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    # Added last, so outermost: it also counts the requests the body limit turns away.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _declare_security(app: FastAPI) -> None:
    # Authentication is one light dependency reading the headers itself, so the schemes are
    # added to the document here rather than through FastAPI's security dependencies.
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = auth.SECURITY_SCHEMES
        security: list[dict[str, list[str]]] = [{name: []} for name in auth.SECURITY_SCHEMES]
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(API_PREFIX) or path == "/logout":
                for operation in operations.values():
                    operation["security"] = security
                    operation.setdefault("responses", {}).setdefault(
                        "401", {"description": "No or bad credentials"}
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _start(settings: Settings, service: ServiceSettings, metrics: Metrics) -> Runtime:
    engine = make_engine(settings)
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
        if current != head_revision():
            raise ConfigurationError(
                f"the database {where} is at revision {current or 'none'}, not "
                f"{head_revision()}; run `kavach db upgrade`"
            )
        factory = make_session_factory(engine)
        indexes = IndexHolder(factory, interval=service.reload_interval, database_key=where)
        indexes.start()
    except BaseException:
        engine.dispose()
        raise
    return Runtime(
        settings=settings,
        service=service,
        engine=engine,
        session_factory=factory,
        indexes=indexes,
        metrics=metrics,
        keys=KeyCache(service.key_cache_seconds),
        limiter=RateLimiter(service.rate_limit, service.rate_burst),
        # Password guessing: a few tries per second per client address, whatever the key limit.
        login_limiter=RateLimiter(2.0, 10.0),
        auth_failure_limiter=RateLimiter(20.0, 100.0),
    )


def app_from_env() -> FastAPI:
    """The app configured from the environment (what ``kavach serve`` runs, per worker)."""
    return create_app(get_settings(), get_service_settings(), get_takedown_settings())
