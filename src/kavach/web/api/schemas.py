"""Request and response models shared by several API areas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kavach.errors import InvalidHashError
from kavach.match.matcher import Query
from kavach.signals.types import SignalType, parse_hash

__all__ = ["HashIn", "parse_queries"]


class HashIn(BaseModel):
    """One hash: its signal type and its text form (hex; base64 for PhotoDNA)."""

    model_config = ConfigDict(extra="forbid")

    signal_type: SignalType
    value: str = Field(min_length=1, max_length=600)
    quality: int | None = Field(
        default=None, ge=0, le=100, description="PDQ quality, when the caller computed it."
    )


def parse_queries(hashes: list[HashIn], where: str = "hashes") -> list[Query]:
    """Turn hashes from a request into matcher queries; a bad one is a 400 naming its position."""
    queries = []
    for i, item in enumerate(hashes):
        try:
            raw = parse_hash(item.signal_type, item.value)
        except InvalidHashError as exc:
            raise InvalidHashError(f"{where}[{i}]: {exc.message}") from None
        queries.append(Query(item.signal_type, raw, item.quality))
    return queries
