"""Read-only queries behind the console's pages that the case service does not offer; every
one is scoped to one organisation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kavach.cases.models import Case, CaseStatus
from kavach.cases.review import QueueStats, queue_stats
from kavach.reports.models import CaseReport, ReportStatus
from kavach.store.base import utcnow
from kavach.store.submissions import Submission

__all__ = ["Dashboard", "case_reports", "dashboard"]


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What the dashboard shows for one organisation."""

    matches_today: int
    queue: QueueStats
    open_cases: int
    reports_by_status: dict[str, int]

    @property
    def queue_depth(self) -> int:
        """Items waiting for a person: queued, disputed or escalated."""
        return self.queue.queued + self.queue.disputed + self.queue.escalated


def dashboard(session: Session, organisation_id: int, now: dt.datetime | None = None) -> Dashboard:
    """Matches recorded since midnight UTC, the queue, open cases and reports by status."""
    midnight = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    matches_today = session.scalar(
        select(func.count(Submission.id)).where(
            Submission.organisation_id == organisation_id, Submission.created_at >= midnight
        )
    )
    open_cases = session.scalar(
        select(func.count(Case.id)).where(
            Case.organisation_id == organisation_id,
            Case.status.in_((CaseStatus.OPEN, CaseStatus.REVIEWED)),
        )
    )
    reports = dict(
        session.execute(
            select(CaseReport.status, func.count(CaseReport.id))
            .where(CaseReport.organisation_id == organisation_id)
            .group_by(CaseReport.status)
        ).all()
    )
    return Dashboard(
        matches_today=int(matches_today or 0),
        queue=queue_stats(session, organisation_id),
        open_cases=int(open_cases or 0),
        reports_by_status={s.value: int(reports.get(s, 0)) for s in ReportStatus},
    )


def case_reports(session: Session, case_id: int) -> list[CaseReport]:
    """Reports made from a case, newest first."""
    return list(
        session.scalars(
            select(CaseReport).where(CaseReport.case_id == case_id).order_by(CaseReport.id.desc())
        )
    )
