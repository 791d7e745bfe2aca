"""Sending a case to the NCMEC CyberTipline, from the outbox, with retract on failure.

:func:`queue_ncmec` checks the case can be reported (the report validates) and writes a
``report.ncmec`` job in the caller's transaction. The worker runs :func:`submit_ncmec` through
:func:`ncmec_handler`: submit the report, upload each retained file and describe it (fileinfo),
finish. If any step after submit fails, the half-made report is retracted, the failure is
recorded and audited, and the job is retried with backoff; a retry starts a fresh report. A
report that cannot validate fails for good (retrying cannot fix it).

Configuration for the worker: ``KAVACH_NCMEC_URL`` (``https://report.cybertip.org/ispws``, or
the test environment ``https://exttest.cybertip.org/ispws``), ``KAVACH_NCMEC_USERNAME`` and
``KAVACH_NCMEC_PASSWORD`` (HTTP Basic).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session, sessionmaker

from kavach import audit
from kavach.cases.models import Case, CaseStatus
from kavach.errors import ConfigurationError, InputError, NotFoundError
from kavach.evidence import Vault, for_item, read_for_report
from kavach.jobs import queue
from kavach.jobs.webhooks import PermanentDeliveryError
from kavach.reports.details import Reporter, case_details
from kavach.reports.items import reported_items
from kavach.reports.models import CaseReport, ReportKind, ReportStatus
from kavach.reports.ncmec import (
    NcmecClient,
    NcmecError,
    build_file_details,
    build_report,
    report_for_case,
)
from kavach.store.base import utcnow
from kavach.store.db import session_scope

__all__ = [
    "NCMEC_JOB",
    "NcmecSettings",
    "handlers",
    "ncmec_client",
    "ncmec_handler",
    "ncmec_settings",
    "queue_ncmec",
    "record_report",
    "submit_ncmec",
]

NCMEC_JOB = "report.ncmec"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NcmecSettings:
    """Where the worker sends reports and with which credentials."""

    url: str
    username: str
    password: str


def ncmec_settings(environ: Mapping[str, str] | None = None) -> NcmecSettings | None:
    """The CyberTipline settings from the environment; None when ``KAVACH_NCMEC_URL`` is unset."""
    env = os.environ if environ is None else environ
    url = env.get("KAVACH_NCMEC_URL", "").strip()
    if not url:
        return None
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ConfigurationError("KAVACH_NCMEC_URL must be https (plain http only on loopback)")
    username = env.get("KAVACH_NCMEC_USERNAME", "").strip()
    password = env.get("KAVACH_NCMEC_PASSWORD", "")
    if not username or not password:
        raise ConfigurationError(
            "KAVACH_NCMEC_URL needs KAVACH_NCMEC_USERNAME and KAVACH_NCMEC_PASSWORD"
        )
    return NcmecSettings(url, username, password)


def record_report(
    session: Session,
    case: Case,
    kind: ReportKind,
    document: bytes,
    *,
    actor: str,
    status: ReportStatus = ReportStatus.GENERATED,
    keep_document: bool = False,
) -> CaseReport:
    """Record that a report of ``kind`` was made from ``case`` (its SHA-256; audited)."""
    report = CaseReport(
        case_id=case.id,
        organisation_id=case.organisation_id,
        kind=kind,
        status=status,
        created_by=actor,
        document_sha256=hashlib.sha256(document).hexdigest(),
        document=document.decode() if keep_document else None,
        progress={},
    )
    session.add(report)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"report.{status.value}",
        subject=f"report:{report.id}",
        organisation_id=case.organisation_id,
        details={"case": case.id, "kind": kind.value, "sha256": report.document_sha256},
    )
    return report


def queue_ncmec(
    session: Session, case: Case, *, actor: str, reporter: Reporter | None = None
) -> CaseReport:
    """Check ``case`` makes a valid CyberTipline report and queue its submission."""
    details = case_details(case)
    if reporter is not None:
        details = details.model_copy(update={"reporter": reporter})
    document = report_for_case(session, case, details)
    report = record_report(
        session,
        case,
        ReportKind.NCMEC,
        document,
        actor=actor,
        status=ReportStatus.QUEUED,
        keep_document=True,
    )
    if reporter is not None:
        report.progress = {"reporter": reporter.model_dump()}
    queue.enqueue(
        session, NCMEC_JOB, {"report_id": report.id}, organisation_id=case.organisation_id
    )
    return report


def submit_ncmec(
    session: Session,
    client: NcmecClient,
    report: CaseReport,
    *,
    vault: Vault | None = None,
    actor: str = "system",
) -> CaseReport:
    """Run submit → upload → fileinfo → finish for ``report``; retract and raise on failure.

    Files are uploaded for items whose evidence is retained (``vault`` given); the others are
    reported by hash. The report is rebuilt from the case as it is now, validated, and the
    document sent is the one stored.
    """
    case = session.get(Case, report.case_id)
    if case is None:
        raise NotFoundError(f"report {report.id}: its case is gone")
    details = case_details(case)
    saved = report.progress.get("reporter") if report.progress else None
    if saved:
        details = details.model_copy(update={"reporter": Reporter.model_validate(saved)})
    items = reported_items(session, case)
    if not items:
        raise InputError(f"case {case.name} has no confirmed item to report")
    blobs = {i.id: b for i in items if vault is not None and (b := for_item(session, i))}
    document = build_report(case, items, details, uploaded=list(blobs))
    report_id = client.submit(document)
    audit.record(
        session,
        actor=actor,
        action="report.ncmec_open",
        subject=f"report:{report.id}",
        organisation_id=report.organisation_id,
        details={"ncmec_report_id": report_id},
    )
    files: list[str] = []
    try:
        for item in items:
            blob = blobs.get(item.id)
            if blob is None or vault is None:
                continue
            data = read_for_report(session, vault, blob, actor=actor)
            name = str(item.attributes.get("file_name") or f"item-{item.id}")
            file_id = client.upload(report_id, name, data)
            client.fileinfo(build_file_details(item, report_id=report_id, file_id=file_id))
            files.append(file_id)
        client.finish(report_id)
    except Exception as exc:
        _retract(session, client, report, report_id, actor, exc)
        raise
    report.status = ReportStatus.SUBMITTED
    report.remote_id = str(report_id)
    report.submitted_at = utcnow()
    report.last_error = None
    report.document = document.decode()
    report.document_sha256 = hashlib.sha256(document).hexdigest()
    report.progress = {**(report.progress or {}), "files": files}
    case.status = CaseStatus.REPORTED
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="report.submitted",
        subject=f"report:{report.id}",
        organisation_id=report.organisation_id,
        details={"ncmec_report_id": report_id, "files": len(files), "case": case.id},
    )
    return report


def _retract(
    session: Session,
    client: NcmecClient,
    report: CaseReport,
    report_id: int,
    actor: str,
    cause: Exception,
) -> None:
    retracted = True
    try:
        client.retract(report_id)
    except NcmecError as exc:
        # NCMEC drops unfinished reports itself after a while; the failure is recorded.
        retracted = False
        log.warning("retracting CyberTipline report %s failed: %s", report_id, exc)
    audit.record(
        session,
        actor=actor,
        action="report.retract",
        subject=f"report:{report.id}",
        organisation_id=report.organisation_id,
        details={"ncmec_report_id": report_id, "retracted": retracted, "cause": str(cause)[:500]},
    )


def ncmec_handler(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    settings: NcmecSettings,
    *,
    vault: Vault | None = None,
) -> Callable[[queue.ClaimedJob], None]:
    """The worker's handler for ``report.ncmec`` jobs (register it under :data:`NCMEC_JOB`).

    ``client`` should carry HTTP Basic auth for ``settings`` (:func:`ncmec_client` does).
    """
    api = NcmecClient(client, settings.url)

    def handle(job: queue.ClaimedJob) -> None:
        report_id = int(job.payload.get("report_id", 0))
        failure: Exception | None = None
        permanent = False
        with session_scope(session_factory) as session:
            report = session.get(CaseReport, report_id)
            if report is None:
                raise PermanentDeliveryError(f"report {report_id} does not exist")
            if report.status is ReportStatus.SUBMITTED:
                return  # done by an earlier attempt whose job update was lost
            try:
                # A failed attempt changes nothing but the audit log (the report opened at
                # NCMEC, files read, the retraction), which this transaction then commits.
                submit_ncmec(session, api, report, vault=vault)
            except NcmecError as exc:
                failure = exc
            except (InputError, NotFoundError) as exc:
                failure, permanent = exc, True
            if failure is not None:
                last = permanent or job.attempts >= job.max_attempts
                report.last_error = str(failure)[:2000]
                if last:
                    report.status = ReportStatus.FAILED
                audit.record(
                    session,
                    actor="system",
                    action="report.failed" if last else "report.retry",
                    subject=f"report:{report.id}",
                    organisation_id=report.organisation_id,
                    details={"error": str(failure)[:500], "attempt": job.attempts},
                )
        if failure is not None:
            if permanent:
                raise PermanentDeliveryError(str(failure)) from failure
            raise failure

    return handle


def ncmec_client(settings: NcmecSettings, *, timeout: float = 60.0) -> httpx.Client:
    """An ``httpx.Client`` with the CyberTipline credentials (the caller closes it)."""
    return httpx.Client(
        auth=(settings.username, settings.password), timeout=timeout, follow_redirects=False
    )


def handlers(
    session_factory: sessionmaker[Session], environ: Mapping[str, str] | None = None
) -> dict[str, Callable[[queue.ClaimedJob], None]]:
    """The worker's report handlers: ``report.ncmec`` when ``KAVACH_NCMEC_URL`` is set, else
    none (such jobs then wait until a worker with the settings runs). The HTTP client and the
    evidence vault are made on the first job."""
    settings = ncmec_settings(environ)
    if settings is None:
        return {}
    made: list[Callable[[queue.ClaimedJob], None]] = []

    def handle(job: queue.ClaimedJob) -> None:
        if not made:
            from kavach.config import get_settings
            from kavach.evidence import evidence_enabled, vault_from_env

            env = os.environ if environ is None else environ
            vault = (
                vault_from_env(get_settings(env).data_dir, env) if evidence_enabled(env) else None
            )
            made.append(
                ncmec_handler(session_factory, ncmec_client(settings), settings, vault=vault)
            )
        made[0](job)

    return {NCMEC_JOB: handle}
