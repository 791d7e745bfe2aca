"""Matching: banks loaded into exact and PDQ indexes, kept in step with bank versions."""

from kavach.match.matcher import Matcher, Query
from kavach.match.models import Match, MatchLabel, MatchPolicy

__all__ = ["Match", "MatchLabel", "MatchPolicy", "Matcher", "Query"]
