"""Tables shared by every area: organisations (who owns banks, vouches, receives reports)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kavach.store.base import Base, IdMixin, TimestampMixin

__all__ = ["Organisation"]


class Organisation(IdMixin, TimestampMixin, Base):
    """A member of the alliance: a platform, a hotline, a police unit, or this node itself."""

    __tablename__ = "organisation"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    # ISO 3166-1 alpha-2; vouching rules count distinct countries.
    country: Mapped[str | None] = mapped_column(String(2))
