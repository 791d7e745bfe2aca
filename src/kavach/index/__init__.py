"""Hash indexes: exact PDQ radius search and exact-digest lookup (see ``docs/api.md``)."""

from kavach.index._segments import FlatMatches, Matches
from kavach.index.exact import ExactIndex
from kavach.index.pdq import DEFAULT_RADIUS, PDQIndex, ReliableMatches

__all__ = ["DEFAULT_RADIUS", "ExactIndex", "FlatMatches", "Matches", "PDQIndex", "ReliableMatches"]
