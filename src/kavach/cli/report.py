"""``kavach report``: write a case's NCMEC, India, VICS or HTML report; list cases.

CASE is a case id or name (``--org`` picks the organisation when two share a name). Every report
written is recorded against the case (its SHA-256) and audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.cases import service
from kavach.cases.models import Case
from kavach.cli.actor import cli_actor
from kavach.cli.db import database_session
from kavach.errors import InputError
from kavach.reports.models import ReportKind
from kavach.store.models import Organisation

report_app = typer.Typer(
    help="Reports from review cases: NCMEC CyberTipline XML, India (POCSO/NCRP), VICS, HTML.",
    no_args_is_help=True,
)

CaseArg = Annotated[str, typer.Argument(help="Case id or name.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="File to write.", dir_okay=False)]
OrgOpt = Annotated[
    str | None, typer.Option("--org", help="Organisation name, when two have a case so named.")
]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who is acting (for the audit log).")]


def register(app: typer.Typer) -> None:
    """Add ``kavach report`` to the main app."""
    app.add_typer(report_app, name="report")


def _org_id(session: Session, org: str | None) -> int | None:
    if org is None:
        return None
    org_id = session.scalar(select(Organisation.id).where(Organisation.name == org))
    if org_id is None:
        raise InputError(f"no organisation called {org!r}")
    return int(org_id)


def _case(session: Session, ref: str, org: str | None) -> Case:
    return service.find_case(session, ref, organisation_id=_org_id(session, org))


def _write(out: Path, data: bytes) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None


@report_app.command("ncmec")
def ncmec_command(
    case_ref: CaseArg,
    out: OutOpt,
    org: OrgOpt = None,
    reporter_email: Annotated[
        str | None, typer.Option(help="Reporter's email, if the case has none.")
    ] = None,
    submit: Annotated[
        bool, typer.Option("--submit", help="Also queue it for the worker to send to NCMEC.")
    ] = False,
    by: ByOpt = None,
) -> None:
    """Write the CyberTipline report XML (validated against the schema); optionally queue it."""
    from pydantic import ValidationError

    from kavach.reports.details import Reporter, case_details
    from kavach.reports.ncmec import report_for_case
    from kavach.reports.submit import queue_ncmec, record_report

    actor = cli_actor(by)
    reporter = None
    if reporter_email is not None:
        try:
            reporter = Reporter(email=reporter_email)
        except ValidationError as exc:
            raise InputError(f"--reporter-email: {exc.errors()[0]['msg']}") from None
    with database_session() as session:
        case = _case(session, case_ref, org)
        details = case_details(case)
        document = report_for_case(session, case, details, reporter=reporter)
        _write(out, document)
        if submit:
            queued = queue_ncmec(session, case, actor=actor, reporter=reporter)
            typer.echo(f"queued report {queued.id} for submission by `kavach worker`")
        else:
            record_report(session, case, ReportKind.NCMEC, document, actor=actor)
    typer.echo(f"wrote CyberTipline report for case {case.name} to {out} (valid against the XSD)")


@report_app.command("india")
def india_command(
    case_ref: CaseArg,
    out: OutOpt,
    org: OrgOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
    by: ByOpt = None,
) -> None:
    """Write the India export: POCSO Rules 2020 rule 11 and cyber-crime portal fields."""
    from kavach.reports.india import india_csv, india_json, india_report
    from kavach.reports.submit import record_report

    if fmt not in ("json", "csv"):
        raise InputError(f"--format must be json or csv, not {fmt!r}")
    with database_session() as session:
        case = _case(session, case_ref, org)
        report = india_report(session, case)
        data = india_json(report) if fmt == "json" else india_csv(report)
        _write(out, data)
        record_report(session, case, ReportKind.INDIA, data, actor=cli_actor(by))
    typer.echo(f"wrote India export for case {case.name} to {out}")
    if report["missing"]:
        typer.echo("still to fill in: " + ", ".join(report["missing"]), err=True)


@report_app.command("vics")
def vics_command(
    case_ref: CaseArg,
    out: OutOpt,
    org: OrgOpt = None,
    flavour: Annotated[str, typer.Option(help="VICS flavour: Default, US, UK, CUSTOM.")] = "US",
    by: ByOpt = None,
) -> None:
    """Write the VICS 2.0 case file (for Griffeye and other VICS tools)."""
    from kavach.reports.submit import record_report
    from kavach.reports.vics import vics_export

    with database_session() as session:
        case = _case(session, case_ref, org)
        data = vics_export(session, case, flavour=flavour)
        _write(out, data)
        record_report(session, case, ReportKind.VICS, data, actor=cli_actor(by))
    typer.echo(f"wrote VICS case file for case {case.name} to {out}")


@report_app.command("html")
def html_command(
    case_ref: CaseArg,
    out: OutOpt,
    org: OrgOpt = None,
    media: Annotated[
        bool,
        typer.Option(
            "--media", help="Blurred greyscale thumbnails of retained evidence (needs the key)."
        ),
    ] = False,
    by: ByOpt = None,
) -> None:
    """Write the printable HTML case report (print it to PDF from a browser)."""
    from kavach.config import get_settings
    from kavach.evidence import vault_from_env
    from kavach.reports.html import case_context, render_case
    from kavach.reports.submit import record_report

    actor = cli_actor(by)
    vault = vault_from_env(get_settings().data_dir) if media else None
    with database_session() as session:
        case = _case(session, case_ref, org)
        data = render_case(case_context(session, case, actor=actor, vault=vault))
        _write(out, data)
        record_report(session, case, ReportKind.HTML, data, actor=actor)
    typer.echo(f"wrote HTML case report for case {case.name} to {out}")


@report_app.command("cases")
def cases_command(
    org: OrgOpt = None,
    status: Annotated[str | None, typer.Option(help="open, reviewed, reported, closed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List cases, newest first: id, name, source, status, items, title."""
    with database_session() as session:
        org_id = _org_id(session, org)
        for case in service.list_cases(session, organisation_id=org_id, status=status, limit=limit):
            counts = service.item_counts(session, case)
            typer.echo(
                f"{case.id}\t{case.name}\t{case.source.value}\t{case.status.value}\t"
                f"{sum(counts.values())} items\t{case.title}"
            )
