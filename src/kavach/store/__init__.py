"""Persistence: SQLAlchemy models, engines and sessions, and Alembic migrations."""

from __future__ import annotations

from kavach.store.base import Base
from kavach.store.db import make_engine, make_session_factory, session_scope
from kavach.store.migrate import current_revision, head_revision, upgrade
from kavach.store.models import Organisation

__all__ = [
    "Base",
    "Organisation",
    "current_revision",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "session_scope",
    "upgrade",
]
