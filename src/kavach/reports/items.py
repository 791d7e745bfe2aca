"""Which items of a case go into its reports."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.cases.models import Case, CaseItem, ItemStatus
from kavach.cases.review import VERDICT

__all__ = ["all_items", "reported_items"]


def reported_items(session: Session, case: Case) -> list[CaseItem]:
    """The items of ``case`` confirmed with a label (decided or inherited), in order."""
    return list(
        session.scalars(
            select(CaseItem)
            .where(
                CaseItem.case_id == case.id,
                CaseItem.status.in_([ItemStatus.DECIDED, ItemStatus.INHERITED]),
                CaseItem.decision_scheme != VERDICT,
            )
            .order_by(CaseItem.id)
        )
    )


def all_items(session: Session, case: Case) -> list[CaseItem]:
    """Every item of ``case``, in order (for exports that carry the undecided too)."""
    return list(
        session.scalars(select(CaseItem).where(CaseItem.case_id == case.id).order_by(CaseItem.id))
    )
