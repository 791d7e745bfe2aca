"""Auth tables: users of an organisation and the API keys / session tokens that act for it."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kavach.store.base import Base, IdMixin, StrEnumType, TimestampMixin

__all__ = ["ApiKey", "KeyKind", "Role", "User"]


class Role(enum.StrEnum):
    """What a user or key may do inside its organisation (see docs/service.md for the matrix)."""

    ADMIN = "admin"
    ANALYST = "analyst"
    REVIEWER = "reviewer"
    PLATFORM = "platform"


class KeyKind(enum.StrEnum):
    """A long-lived API key, or a login session token that expires."""

    API_KEY = "api_key"
    SESSION = "session"


class User(IdMixin, TimestampMixin, Base):
    """A person who logs in; belongs to one organisation with one role."""

    __tablename__ = "app_user"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(100), unique=True)
    # argon2id encoded hash (parameters and salt inside).
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    disabled_at: Mapped[dt.datetime | None] = mapped_column()


class ApiKey(IdMixin, TimestampMixin, Base):
    """A secret that authenticates requests for an organisation with a role.

    Only ``prefix`` (public, for lookup and display) and the SHA-256 of the whole token are kept;
    the token itself is shown once when it is made.
    """

    __tablename__ = "api_key"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[KeyKind] = mapped_column(StrEnumType(KeyKind), default=KeyKind.API_KEY)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
