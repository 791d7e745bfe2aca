"""The yearly transparency report: one self-contained HTML file (figures, tables, SVG plots),
after the shape of the IWF annual report. Counts only: no URLs, hashes or reporters."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files

import jinja2
from markupsafe import Markup
from sqlalchemy.orm import Session

from kavach.store.base import utcnow
from kavach.takedown.settings import TakedownSettings
from kavach.takedown.stats import PLOTS, compute, plot

__all__ = ["transparency_report", "year_bounds"]

_env = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: (files("kavach.takedown") / "templates" / name).read_text("utf-8")
    ),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """1 January of ``year`` to 1 January of the next, in UTC."""
    return dt.datetime(year, 1, 1, tzinfo=dt.UTC), dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)


def _hours(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 48:
        return f"{value:.1f} h"
    return f"{value / 24:.1f} days"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def transparency_report(
    session: Session, year: int, settings: TakedownSettings, *, now: dt.datetime | None = None
) -> str:
    """The report for ``year`` as HTML."""
    start, end = year_bounds(year)
    stats = compute(session, start=start, end=end)
    svgs = {}
    for name in PLOTS:
        text = plot(stats, name, "svg").decode("utf-8")
        # Drop the XML prolog and DOCTYPE so the SVG can sit inline in HTML.
        svgs[name] = Markup(text[text.index("<svg") :])  # noqa: S704 (our own matplotlib output)
    return _env.get_template("transparency.html").render(
        organisation=settings.portal_organisation,
        year=year,
        start=start.date().isoformat(),
        end=(end - dt.timedelta(days=1)).date().isoformat(),
        s=stats,
        median=_hours(stats.median_removal_hours),
        within3=_percent(stats.removed_within_3_days),
        over42=_percent(stats.over_42_days),
        recheck_hours=f"{settings.recheck_hours:g}",
        plots=svgs,
        generated=(now or utcnow()).strftime("%Y-%m-%d %H:%M"),
    )
