"""``kavach serve``: the platform API (FastAPI on Uvicorn), loopback-only unless told otherwise."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

import typer

from kavach.config import Settings, get_settings
from kavach.errors import ConfigurationError
from kavach.web.settings import get_service_settings


def register(app: typer.Typer) -> None:
    """Add ``kavach serve`` to the main app."""
    app.command("serve")(serve_command)


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1: loopback only).")
    ] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default 8000).")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes (each holds the indexes).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="Uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP API: /api/v1, /docs, /login, /healthz, /readyz, /metrics."""
    import uvicorn

    settings = get_settings()
    service = get_service_settings(host=host, port=port)
    check_schema(settings)
    if not _is_loopback(service.host):
        typer.echo(
            f"kavach: listening on {service.host}: reachable from other machines; "
            "put TLS in front of it",
            err=True,
        )
    # Worker processes rebuild the app from the environment: pass the resolved address on.
    os.environ["KAVACH_HOST"] = service.host
    os.environ["KAVACH_PORT"] = str(service.port)
    shown = f"[{service.host}]" if ":" in service.host else service.host
    typer.echo(
        f"kavach: serving on http://{shown}:{service.port}  "
        f"(docs /docs, login /login, health /healthz)",
        err=True,
    )
    uvicorn.run(
        "kavach.web.app:app_from_env",
        factory=True,
        host=service.host,
        port=service.port,
        workers=workers,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        ws="none",
        lifespan="on",
    )


def check_schema(settings: Settings) -> None:
    """Refuse to start on a database that is not at the newest schema (say how to fix it)."""
    from sqlalchemy import make_url

    from kavach.store.db import make_engine
    from kavach.store.migrate import current_revision, head_revision

    engine = make_engine(settings)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    if current != head_revision():
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise ConfigurationError(
            f"the database {where} is at revision {current or 'none'}, not {head_revision()}; "
            "run `kavach db upgrade`"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
