"""Statistics of reports and takedowns, and their plots (matplotlib, Agg, SVG or PNG).

Figures are computed from the timestamped events, so each episode counts: content that came
back after removal is confirmed, noticed and removed again, and both removals are measured.
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kavach.takedown.models import (
    EventKind,
    ItemStatus,
    TakedownEvent,
    TakedownItem,
    TakedownReport,
)

__all__ = ["PLOTS", "REMOVAL_BANDS", "Statistics", "compute", "plot"]

REMOVAL_BANDS: tuple[tuple[str, float], ...] = (
    ("< 1 h", 1.0),
    ("1–24 h", 24.0),
    ("1–3 days", 72.0),
    ("3–7 days", 168.0),
    ("7–42 days", 1008.0),
    ("> 42 days", float("inf")),
)
"""Time-to-removal bands; 3 days and 42 days are where INHOPE's and Project Arachnid's figures
are quoted."""

PLOTS = ("country", "network", "removal", "notices", "reappearance")


@dataclass
class Statistics:
    """Figures for one period (``start`` inclusive, ``end`` exclusive; None: all time)."""

    start: dt.datetime | None
    end: dt.datetime | None
    reports: int = 0
    urls_reported: int = 0
    confirmed: int = 0
    removed: int = 0
    still_live: int = 0
    escalated: int = 0
    referred: int = 0
    reappeared: int = 0
    by_country: list[tuple[str, int]] = field(default_factory=list)
    by_network: list[tuple[str, int]] = field(default_factory=list)
    removal_hours: list[float] = field(default_factory=list)
    notices_per_removal: list[int] = field(default_factory=list)

    @property
    def median_removal_hours(self) -> float | None:
        return statistics.median(self.removal_hours) if self.removal_hours else None

    @property
    def removed_within_3_days(self) -> float | None:
        """Share (0–1) of removals within 72 hours of confirmation."""
        if not self.removal_hours:
            return None
        return sum(1 for h in self.removal_hours if h <= 72) / len(self.removal_hours)

    @property
    def over_42_days(self) -> float | None:
        if not self.removal_hours:
            return None
        return sum(1 for h in self.removal_hours if h > 1008) / len(self.removal_hours)

    def removal_bands(self) -> list[tuple[str, int]]:
        counts = Counter[str]()
        for hours in self.removal_hours:
            for label, upper in REMOVAL_BANDS:
                if hours < upper:
                    counts[label] += 1
                    break
        return [(label, counts[label]) for label, _ in REMOVAL_BANDS]

    def country_shares(self) -> list[tuple[str, int, float]]:
        total = sum(n for _, n in self.by_country) or 1
        return [(c, n, n / total) for c, n in self.by_country]


def _in(column: object, start: dt.datetime | None, end: dt.datetime | None) -> list[object]:
    conditions: list[object] = []
    if start is not None:
        conditions.append(column >= start)  # type: ignore[operator]
    if end is not None:
        conditions.append(column < end)  # type: ignore[operator]
    return conditions


def compute(
    session: Session, *, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> Statistics:
    """The figures of events between ``start`` and ``end``."""
    out = Statistics(start=start, end=end)
    out.reports = int(
        session.scalar(
            select(func.count())
            .select_from(TakedownReport)
            .where(*_in(TakedownReport.created_at, start, end))  # type: ignore[arg-type]
        )
        or 0
    )
    out.urls_reported = int(
        session.scalar(
            select(func.count())
            .select_from(TakedownItem)
            .where(*_in(TakedownItem.first_reported_at, start, end))  # type: ignore[arg-type]
        )
        or 0
    )
    rows = session.execute(
        select(
            TakedownEvent.kind,
            TakedownEvent.item_id,
            TakedownEvent.details,
            TakedownItem.country,
            TakedownItem.asn,
            TakedownItem.network,
        )
        .join(TakedownItem, TakedownItem.id == TakedownEvent.item_id)
        .where(
            TakedownEvent.kind.in_(
                [
                    EventKind.CONFIRMED,
                    EventKind.REMOVED,
                    EventKind.ESCALATED,
                    EventKind.REFERRED,
                    EventKind.REAPPEARED,
                ]
            ),
            *_in(TakedownEvent.at, start, end),  # type: ignore[arg-type]
        )
        .order_by(TakedownEvent.at, TakedownEvent.id)
    ).all()
    countries = Counter[str]()
    networks = Counter[str]()
    confirmed_items: set[int] = set()
    for kind, item_id, details, country, asn, network in rows:
        if kind is EventKind.CONFIRMED:
            out.confirmed += 1
            if item_id not in confirmed_items:
                confirmed_items.add(item_id)
                countries[country or "unknown"] += 1
                label = f"AS{asn} {network or ''}".strip() if asn else (network or "unknown")
                networks[label] += 1
        elif kind is EventKind.REMOVED:
            out.removed += 1
            seconds = details.get("seconds")
            if isinstance(seconds, int | float):
                out.removal_hours.append(seconds / 3600.0)
            notices = details.get("notices")
            if isinstance(notices, int):
                out.notices_per_removal.append(notices)
        elif kind is EventKind.ESCALATED:
            out.escalated += 1
        elif kind is EventKind.REFERRED:
            out.referred += 1
        elif kind is EventKind.REAPPEARED:
            out.reappeared += 1
    out.by_country = countries.most_common()
    out.by_network = networks.most_common()
    out.still_live = int(
        session.scalar(
            select(func.count())
            .select_from(TakedownItem)
            .where(TakedownItem.status == ItemStatus.CONFIRMED)
        )
        or 0
    )
    return out


def plot(stats: Statistics, which: str, fmt: str = "svg") -> bytes:
    """One plot (``country``, ``network``, ``removal``, ``notices``, ``reappearance``) as SVG or
    PNG bytes. Uses matplotlib's object API with the Agg canvas: no global state, thread-safe."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if which not in PLOTS:
        raise ValueError(f"unknown plot {which!r}; choose from {', '.join(PLOTS)}")
    if fmt not in ("svg", "png"):
        raise ValueError("plots are svg or png")
    figure = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colour = "#0b5394"
    if which in ("country", "network"):
        pairs = (stats.by_country if which == "country" else stats.by_network)[:10]
        total = sum(n for _, n in (stats.by_country if which == "country" else stats.by_network))
        labels = [p[0] for p in pairs][::-1]
        shares = [100.0 * p[1] / total for p in pairs][::-1] if total else []
        axes.barh(labels, shares, color=colour)
        axes.set_xlabel("% of confirmed URLs")
        axes.set_title("Hosting country" if which == "country" else "Hosting network")
    elif which == "removal":
        bands = stats.removal_bands()
        axes.bar([b[0] for b in bands], [b[1] for b in bands], color=colour)
        axes.set_ylabel("removals")
        axes.set_title("Time from confirmation to removal")
        axes.tick_params(axis="x", labelsize=8)
    elif which == "notices":
        counts = Counter(stats.notices_per_removal)
        keys = sorted(counts) or [0]
        axes.bar([str(k) for k in keys], [counts.get(k, 0) for k in keys], color=colour)
        axes.set_xlabel("notices sent before removal")
        axes.set_ylabel("removals")
        axes.set_title("Notices per removal")
    else:
        labels = ["removed", "re-appeared", "still live"]
        values = [stats.removed, stats.reappeared, stats.still_live]
        axes.bar(labels, values, color=[colour, "#a01818", "#777777"])
        axes.set_ylabel("URLs")
        axes.set_title("Removal and re-appearance")
    if not any(True for _ in axes.patches):
        axes.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axes.transAxes)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()
