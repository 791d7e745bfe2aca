"""The public reporting portal at ``/report``: no login, English and Hindi, works without
JavaScript, no third-party assets. :func:`install` adds it to an app."""

from __future__ import annotations

from fastapi import FastAPI

from kavach.takedown.settings import TakedownSettings
from kavach.web.portal.routes import PortalState, router

__all__ = ["install"]


def install(app: FastAPI, settings: TakedownSettings) -> None:
    """Add the portal's routes to ``app`` with its own rate limiter."""
    app.state.portal = PortalState.from_settings(settings)
    app.include_router(router)
