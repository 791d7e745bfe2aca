"""What a match is, as the scan output, ``kavach match`` and the API present it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kavach.signals.pdq import (
    PDQ_MATCH_THRESHOLD,
    PDQ_MIN_QUALITY,
    PDQ_RELIABLE_BITS,
    PDQ_RELIABLE_GUESS_THRESHOLD,
    PDQ_RELIABLE_THRESHOLD,
)
from kavach.signals.types import SignalType
from kavach.signals.variants import ALL_VARIANTS, DEFAULT_VARIANTS, GUESS_THRESHOLD

__all__ = ["Match", "MatchLabel", "MatchPolicy"]


class MatchPolicy(BaseModel):
    """When a PDQ hash matches: distance at most ``threshold``, query quality at least
    ``min_quality``. Exact signals match by equality; retracted entries never match.

    A video (vpdq) matches a listed one when at least ``video_query_percent`` of its distinct
    frames of quality ≥ 50 are within ``threshold`` of a listed frame, and at least
    ``video_compared_percent`` of the listed video's frames are within it of a query frame.

    ``variants`` names the query-side PDQ variant families looked up besides a file's own hash
    (``dihedral``, ``trim``, ``crop``, ``rotate``; see docs/robustness.md); a record only has the
    variants its hashing computed, and a bank may accept fewer. Guessed variants (crop, rotate)
    match at ``guess_threshold`` (never looser than ``threshold``). With ``reliable``, a hash
    computed from the media also matches when its reliable bits (the 192 whose DCT coefficients
    lie farthest from the median) are within ``reliable_threshold`` of the listed hash's
    (``reliable_guess_threshold`` for guessed variants), and never looser than the whole-hash
    threshold scaled to 192 bits (31 → 23).
    """

    model_config = ConfigDict(frozen=True)

    threshold: int = Field(default=PDQ_MATCH_THRESHOLD, ge=0, le=256)
    min_quality: int = Field(default=PDQ_MIN_QUALITY, ge=0, le=100)
    video_query_percent: float = Field(default=80.0, ge=0, le=100)
    video_compared_percent: float = Field(default=0.0, ge=0, le=100)
    variants: tuple[str, ...] = tuple(sorted(DEFAULT_VARIANTS))
    guess_threshold: int = Field(default=GUESS_THRESHOLD, ge=0, le=256)
    reliable_threshold: int = Field(default=PDQ_RELIABLE_THRESHOLD, ge=0, le=PDQ_RELIABLE_BITS)
    reliable_guess_threshold: int = Field(
        default=PDQ_RELIABLE_GUESS_THRESHOLD, ge=0, le=PDQ_RELIABLE_BITS
    )

    @field_validator("variants")
    @classmethod
    def _known_variants(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(ALL_VARIANTS)
        if unknown:
            raise ValueError(f"unknown variant family {sorted(unknown)[0]!r}")
        return tuple(sorted(set(value)))


class MatchLabel(BaseModel):
    """A classification of the matched entry (see docs/banks.md for the schemes)."""

    model_config = ConfigDict(frozen=True)

    scheme: str
    value: str
    assessor: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


class Match(BaseModel):
    """One bank entry that a file's hash matched."""

    model_config = ConfigDict(frozen=True)

    bank: str
    entry_id: int
    signal_type: SignalType
    value: str
    """The listed hash (hex; base64 for PhotoDNA; for vpdq the entry's key, not its frames)."""
    distance: int
    """Hamming distance for PDQ; 0 for exact signals and vpdq (see the percentages)."""
    variant: str | None = None
    """PDQ only: which query hash matched: ``original`` (the file's own hash), or the variant
    (``dihedral:rot90``, ``trimmed``, ``crop:c8``, ``rotate:+3``; docs/robustness.md)."""
    query_value: str | None = None
    """PDQ only: that query hash (hex); ``distance`` is between it and ``value``."""
    reliable_distance: int | None = None
    """PDQ only: set when the match was found on the query hash's reliable bits alone: their
    distance (of 192) to the listed hash, at most the policy's ``reliable_threshold``;
    ``distance`` is then above the threshold (docs/robustness.md, *Reliable bits*)."""
    item_id: str | None = None
    """The media item's id in its source list (VICS MediaID, NCMEC id), when the list had one."""
    labels: list[MatchLabel] = []
    query_match_percent: float | None = None
    """vpdq only: percent of the scanned video's distinct frames that matched the listed one."""
    compared_match_percent: float | None = None
    """vpdq only: percent of the listed video's distinct frames that matched the scanned one."""

    def found_by(self) -> str | None:
        """How a PDQ match was found, for people (``crop:l5``, ``original, reliable bits
        19/192``); None when the file's own hash matched as it is."""
        parts = [self.variant] if self.variant and self.variant != "original" else []
        if self.reliable_distance is not None:
            parts = [self.variant or "original", f"reliable bits {self.reliable_distance}/192"]
        return ", ".join(parts) or None
