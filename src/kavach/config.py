"""Settings, built by :func:`get_settings` from the environment when asked, never at import.

Environment variables (all optional):

``KAVACH_ENV``
    ``development`` (default), ``test`` or ``production``.
``KAVACH_DATA_DIR``
    Where Kavach keeps its files (the SQLite database, index files). Default: the platform's user
    data folder (``~/.local/share/kavach`` on Linux), from ``platformdirs``.
``KAVACH_DATABASE_URL``
    An SQLAlchemy URL. Default: SQLite ``kavach.db`` in the data directory. ``postgresql://`` and
    ``postgres://`` URLs are taken to mean psycopg 3 (``postgresql+psycopg://``).
``KAVACH_SQL_ECHO``
    ``1`` to log every SQL statement (development only: statements carry hash values).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kavach.errors import ConfigurationError

__all__ = [
    "Environment",
    "Settings",
    "get_settings",
    "interval_seconds",
    "normalise_database_url",
]

Environment = Literal["development", "test", "production"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class Settings(BaseModel):
    """Everything Kavach reads from its environment, typed and immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment = "development"
    data_dir: Path
    database_url: str
    sql_echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        """True when the database is an SQLite file (or in memory)."""
        return self.database_url.startswith("sqlite")


def get_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (default: ``os.environ``), or raise ConfigurationError."""
    env = os.environ if environ is None else environ
    environment = env.get("KAVACH_ENV", "development").strip().lower() or "development"
    data_dir = _data_dir(env)
    url = env.get("KAVACH_DATABASE_URL", "").strip()
    database_url = (
        normalise_database_url(url) if url else f"sqlite:///{(data_dir / 'kavach.db').as_posix()}"
    )
    echo = _flag(env, "KAVACH_SQL_ECHO")
    if echo and environment == "production":
        # Echoed statements carry hash values, and hash lists must never reach logs in bulk.
        raise ConfigurationError("KAVACH_SQL_ECHO must not be set when KAVACH_ENV=production")
    try:
        return Settings(
            environment=environment,  # validated by pydantic
            data_dir=data_dir,
            database_url=database_url,
            sql_echo=echo,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"invalid setting {where}: {first['msg']}") from None


def normalise_database_url(url: str) -> str:
    """Map the plain PostgreSQL URL schemes to psycopg 3, the driver Kavach ships with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite", "postgresql+psycopg")):
        return url
    scheme = url.split(":", 1)[0]
    raise ConfigurationError(
        f"unsupported KAVACH_DATABASE_URL scheme {scheme!r}; use sqlite:/// or postgresql://"
    )


def _data_dir(env: Mapping[str, str]) -> Path:
    explicit = env.get("KAVACH_DATA_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("kavach", appauthor=False))


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be 1 or 0, got {raw!r}")


def interval_seconds(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """A positive number of seconds from the environment variable ``name`` (``default`` unset)."""
    env = os.environ if environ is None else environ
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds") from None
    if not value > 0:
        raise ConfigurationError(f"{name} must be positive")
    return value
