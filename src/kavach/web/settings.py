"""Settings of ``kavach serve``, read from the environment by a factory (never at import).

``KAVACH_HOST`` / ``KAVACH_PORT``
    Where to listen. Default ``127.0.0.1:8000``: loopback only until told otherwise.
``KAVACH_MAX_BODY_BYTES``
    Largest JSON request body (default 2 MiB).
``KAVACH_MAX_LOOKUP_BYTES``
    Largest JSON body of a lookup or a submission by hashes (default 8 MiB): room for a video's
    frames (36,000 frames take about 4 MB of JSON).
``KAVACH_MAX_UPLOAD_BYTES``
    Largest file upload to hash or submit (default 64 MiB: a minute of phone video at 8 Mbit/s,
    several minutes of messenger-compressed video). Held in memory while it is hashed.
``KAVACH_VIDEO_TIME_LIMIT``
    Seconds an uploaded video may take to decode before the request gives up (default 120).
``KAVACH_MAX_IMPORT_BYTES``
    Largest list file imported through the API (default 256 MiB; bigger lists: ``kavach bank
    import``).
``KAVACH_MAX_BATCH``
    Most hashes in one lookup (default 1000).
``KAVACH_RATE_LIMIT`` / ``KAVACH_RATE_BURST``
    Requests per second allowed per API key, and the burst above it (defaults 200 and 400;
    ``0`` turns the limit off). Counted per serve process.
``KAVACH_RELOAD_INTERVAL``
    Seconds between checks for bank changes made by other processes (default 1).
``KAVACH_KEY_CACHE_SECONDS``
    How long a checked API key is trusted before the database is asked again (default 5): the
    longest a revocation made by another process takes to bite.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kavach.errors import ConfigurationError

__all__ = ["ServiceSettings", "get_service_settings"]

_MIB = 1024 * 1024


class ServiceSettings(BaseModel):
    """Limits and knobs of the HTTP service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=2 * _MIB, ge=1024)
    max_lookup_bytes: int = Field(default=8 * _MIB, ge=1024)
    max_upload_bytes: int = Field(default=64 * _MIB, ge=1024)
    video_time_limit: float = Field(default=120.0, gt=0, le=3600)
    max_import_bytes: int = Field(default=256 * _MIB, ge=1024)
    max_batch: int = Field(default=1000, ge=1, le=100_000)
    rate_limit: float = Field(default=200.0, ge=0)
    rate_burst: float = Field(default=400.0, ge=1)
    reload_interval: float = Field(default=1.0, gt=0, le=3600)
    key_cache_seconds: float = Field(default=5.0, ge=0, le=3600)


_ENV = {
    "host": "KAVACH_HOST",
    "port": "KAVACH_PORT",
    "max_body_bytes": "KAVACH_MAX_BODY_BYTES",
    "max_lookup_bytes": "KAVACH_MAX_LOOKUP_BYTES",
    "max_upload_bytes": "KAVACH_MAX_UPLOAD_BYTES",
    "video_time_limit": "KAVACH_VIDEO_TIME_LIMIT",
    "max_import_bytes": "KAVACH_MAX_IMPORT_BYTES",
    "max_batch": "KAVACH_MAX_BATCH",
    "rate_limit": "KAVACH_RATE_LIMIT",
    "rate_burst": "KAVACH_RATE_BURST",
    "reload_interval": "KAVACH_RELOAD_INTERVAL",
    "key_cache_seconds": "KAVACH_KEY_CACHE_SECONDS",
}


def get_service_settings(
    environ: Mapping[str, str] | None = None, **overrides: object
) -> ServiceSettings:
    """Build service settings from ``environ`` (default ``os.environ``) and explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {
        field: env[name].strip() for field, name in _ENV.items() if env.get(name, "").strip()
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ServiceSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise ConfigurationError(
            f"invalid setting {_ENV.get(field, field)}: {first['msg']}"
        ) from None
