"""The platform service: FastAPI app, auth, REST API under ``/api/v1``, health and metrics."""

from __future__ import annotations

from kavach.web.app import app_from_env, create_app
from kavach.web.metrics import API_PREFIX
from kavach.web.settings import ServiceSettings, get_service_settings

__all__ = ["API_PREFIX", "ServiceSettings", "app_from_env", "create_app", "get_service_settings"]
