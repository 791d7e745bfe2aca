"""Report table: each report made from a case, and where its submission stands."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kavach.store.base import Base, BigIntId, IdMixin, StrEnumType, TimestampMixin

__all__ = ["CaseReport", "ReportKind", "ReportStatus"]


class ReportKind(enum.StrEnum):
    """The report formats Kavach writes."""

    NCMEC = "ncmec"
    INDIA = "india"
    VICS = "vics"
    HTML = "html"


class ReportStatus(enum.StrEnum):
    """``generated`` (written, not sent), ``queued`` (waiting for the worker), ``submitted``
    (accepted and finished), ``failed`` (gave up; any partial report was retracted)."""

    GENERATED = "generated"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    FAILED = "failed"


class CaseReport(IdMixin, TimestampMixin, Base):
    """One report built from a case; the document's SHA-256 proves what was sent."""

    __tablename__ = "case_report"

    case_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("review_case.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ReportKind] = mapped_column(StrEnumType(ReportKind))
    status: Mapped[ReportStatus] = mapped_column(
        StrEnumType(ReportStatus), default=ReportStatus.GENERATED
    )
    created_by: Mapped[str] = mapped_column(String(200))
    document_sha256: Mapped[str] = mapped_column(String(64))
    # The receiving service's id for the report (NCMEC reportId), once it gave one.
    remote_id: Mapped[str | None] = mapped_column(String(100))
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    # Submission progress (file ids uploaded) so a retry knows what was done.
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The document as built and validated: what is submitted is exactly what was checked.
    document: Mapped[str | None] = mapped_column(Text)
