"""Cases from the sources that find things: an examiner's scan and a platform's verdict.

(Portal reports come from the takedown package, which calls ``service.open_case`` itself.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.cases import service
from kavach.cases.models import Case, CaseItem
from kavach.errors import ConflictError, KavachError
from kavach.match.models import Match
from kavach.scan.results import ScanRecord, ScanSummary, split_path

__all__ = ["case_from_scan", "case_from_verdict", "match_dict"]


def match_dict(match: Match) -> dict[str, Any]:
    """A match as a case item stores it (no entry payloads, labels as scheme/value)."""
    found: dict[str, Any] = {
        "bank": match.bank,
        "entry_id": match.entry_id,
        "signal_type": match.signal_type.value,
        "value": match.value,
        "distance": match.distance,
        "labels": [{"scheme": lb.scheme, "value": lb.value} for lb in match.labels],
    }
    for key in (
        "variant",
        "reliable_distance",
        "item_id",
        "query_match_percent",
        "compared_match_percent",
    ):
        if getattr(match, key) is not None:
            found[key] = getattr(match, key)
    return found


def case_from_scan(
    session: Session,
    summary: ScanSummary,
    *,
    name: str,
    organisation_id: int,
    actor: str,
    title: str | None = None,
) -> tuple[Case, list[CaseItem]]:
    """Open (or add to) the examiner's case ``name`` with every matched file of a scan.

    Items already in the case with the same content and path are not added twice, so scanning
    a device again (or resuming) into the same case is safe.
    """
    case = session.scalars(
        select(Case).where(Case.organisation_id == organisation_id, Case.name == name)
    ).first()
    if case is None:
        case = service.open_case(
            session,
            organisation_id=organisation_id,
            source="scan",
            title=title or f"Scan {name}",
            name=name,
            actor=actor,
        )
    elif case.source.value != "scan":
        raise ConflictError(f"case {name!r} exists and did not come from a scan")
    seen = {
        (item.content_key, item.attributes.get("path"))
        for item in session.scalars(select(CaseItem).where(CaseItem.case_id == case.id))
    }
    added = []
    for record in summary.matched:
        hashes = _hashes(record)
        if not hashes:
            continue
        key = (service.content_key(hashes), record.path)
        if key in seen:
            continue
        seen.add(key)
        folder, file_name = split_path(record.path)
        added.append(
            service.add_item(
                session,
                case,
                kind="file",
                hashes=hashes,
                matches=[match_dict(m) for m in record.matches],
                metadata={
                    "path": record.path,
                    "folder": folder,
                    "file_name": file_name,
                    "size": record.size,
                    "media_type": record.media_type,
                },
                actor=actor,
            )
        )
    return case, added


def _hashes(record: ScanRecord) -> dict[str, str]:
    found = {"md5": record.md5, "sha1": record.sha1, "sha256": record.sha256, "pdq": record.pdq}
    return {k: v for k, v in found.items() if v}


def case_from_verdict(
    session: Session,
    *,
    organisation_id: int,
    submission_id: int,
    content_id: str,
    hashes: dict[str, list[str]],
    matches: list[Match],
    metadata: dict[str, Any],
    actor: str,
) -> Case:
    """Open a case for content a platform submitted that matched, with the content as its item.

    ``metadata`` is the platform's; ``incident`` and ``reported_person`` in it become the case's
    details (what reports need), the rest stays with the item (file name, upload time, IP...).
    """
    own: dict[str, str] = {}
    for name, values in hashes.items():
        for value in values:
            try:
                own.setdefault(name, service.check_hash(name, value))
            except KavachError:
                continue  # a placeholder (PhotoDNA is not computed here) or a bad value
    details: dict[str, Any] = {
        k: metadata[k] for k in ("incident", "reported_person") if k in metadata
    }
    attributes = {k: v for k, v in metadata.items() if k not in details}
    case = service.open_case(
        session,
        organisation_id=organisation_id,
        source="api",
        title=f"Submission {content_id}"[:300],
        details=details,
        actor=actor,
    )
    service.add_item(
        session,
        case,
        kind="file" if own else "hashes",
        hashes=own or None,
        url=None,
        matches=[match_dict(m) for m in matches],
        metadata={**attributes, "content_id": content_id, "submission_id": submission_id},
        actor=actor,
    )
    return case
