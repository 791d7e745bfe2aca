"""``kavach stats``: takedown statistics, their plots, and the yearly transparency report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from kavach.cli.db import database_session

stats_app = typer.Typer(
    help="Statistics of reports and takedowns: figures, plots, transparency report.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``kavach stats`` to the main app."""
    app.add_typer(stats_app, name="stats")


@stats_app.command("show")
def show_command(
    year: Annotated[int | None, typer.Option(min=2000, max=2100, help="Only this year.")] = None,
    plots: Annotated[
        Path | None, typer.Option(help="Also write the plots into this folder.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Plot format: svg or png.")] = "svg",
) -> None:
    """Print the figures (and write the plots: country, network, removal, notices, reappearance)."""
    from kavach.errors import InputError
    from kavach.takedown.stats import PLOTS, compute, plot
    from kavach.takedown.transparency import year_bounds

    if fmt not in ("svg", "png"):
        raise InputError("plots are svg or png")
    with database_session() as session:
        if year is None:
            stats = compute(session)
        else:
            start, end = year_bounds(year)
            stats = compute(session, start=start, end=end)
    median = stats.median_removal_hours
    within = stats.removed_within_3_days
    typer.echo(f"reports\t{stats.reports}")
    typer.echo(f"urls reported\t{stats.urls_reported}")
    typer.echo(f"confirmed\t{stats.confirmed}")
    typer.echo(f"removed\t{stats.removed}")
    typer.echo(f"still live\t{stats.still_live}")
    typer.echo(f"median hours to removal\t{'-' if median is None else f'{median:.1f}'}")
    typer.echo(f"removed within 3 days\t{'-' if within is None else f'{100 * within:.0f}%'}")
    typer.echo(f"escalated\t{stats.escalated}")
    typer.echo(f"referred\t{stats.referred}")
    typer.echo(f"re-appeared\t{stats.reappeared}")
    for country, count, share in stats.country_shares():
        typer.echo(f"country {country}\t{count}\t{100 * share:.0f}%")
    if plots is not None:
        try:
            plots.mkdir(parents=True, exist_ok=True)
            for name in PLOTS:
                (plots / f"{name}.{fmt}").write_bytes(plot(stats, name, fmt))
        except OSError as exc:
            raise InputError(f"cannot write the plots to {plots}: {exc.strerror or exc}") from None
        typer.echo(f"kavach: wrote {len(PLOTS)} plots to {plots}", err=True)


@stats_app.command("report")
def report_command(
    out: Annotated[Path, typer.Option(help="The HTML file to write.")],
    year: Annotated[
        int | None, typer.Option(min=2000, max=2100, help="Default: last year.")
    ] = None,
) -> None:
    """Write the yearly transparency report (self-contained HTML, counts only)."""
    from kavach.errors import InputError
    from kavach.takedown.settings import get_takedown_settings
    from kavach.takedown.transparency import transparency_report

    chosen = year if year is not None else dt.datetime.now(dt.UTC).year - 1
    with database_session() as session:
        html = transparency_report(session, chosen, get_takedown_settings())
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(f"kavach: wrote the {chosen} transparency report to {out}", err=True)
