"""Analyst pages of the takedown area in the review console: the takedown board and the
statistics dashboard (with its plots and the yearly transparency report)."""

from __future__ import annotations

from kavach.web.takedown.pages import router

__all__ = ["router"]
