"""Declarative base, naming convention, column types and mixins shared by every model."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = ["NAMING_CONVENTION", "Base", "IdMixin", "StrEnumType", "TimestampMixin", "UTCDateTime"]

# Named constraints make migrations reproducible: batch mode on SQLite recreates tables and must be
# able to find each constraint by name, and PostgreSQL would otherwise invent the names itself.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        value = value.astimezone(dt.UTC)
        # SQLite stores text; keep it naive-UTC there so ordering by the column stays correct.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


E = TypeVar("E", bound=enum.StrEnum)


class StrEnumType(TypeDecorator[E], Generic[E]):
    """A string enum stored as its value in a plain VARCHAR.

    No database CHECK constraint on purpose: adding a member (a new list source) must not need a
    table rebuild on SQLite. Python validates on the way in and out.
    """

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_cls: type[E], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enum_cls = enum_cls

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum_cls(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_cls(value)


class Base(DeclarativeBase):
    """Base of every Kavach table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime(), int: BigIntId}


class IdMixin:
    """A 64-bit integer primary key (INTEGER on SQLite, where only that auto-increments)."""

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)


class TimestampMixin:
    """When the row was created and last modified, in UTC."""

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)
