"""India export: POCSO Rules 2020 rule 11 and National Cyber Crime Reporting Portal fields.

Rule 11 asks whoever receives such material to report it with the details of the device on which
it was noticed, the suspected device it came from, and the platform it was displayed on. The
portal (cybercrime.gov.in) asks for the incident date and time, the platform, the URL or group,
suspect details and a description. Kavach cannot file on the portal (it has no API); this export
carries everything a person filing needs, as JSON or as CSV (one row per item).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from kavach.cases.models import Case, CaseItem
from kavach.reports.details import CaseDetails, case_details
from kavach.reports.items import reported_items
from kavach.store.base import utcnow
from kavach.store.models import Organisation

__all__ = ["CSV_COLUMNS", "FORMAT", "india_csv", "india_json", "india_report"]

FORMAT = "kavach-india-report/1"
CATEGORY = "Child Pornography (CP) / Child Sexual Abuse Material (CSAM)"
"""The portal's complaint category for this material."""

CSV_COLUMNS = (
    "case",
    "item",
    "incident_datetime",
    "platform",
    "url_or_group",
    "device",
    "source_device",
    "sha256",
    "md5",
    "classification",
    "viewed_by_person",
    "file_name",
    "uploaded_at",
    "uploader_ip",
    "suspect",
    "description",
)


def india_report(session: Session, case: Case) -> dict[str, Any]:
    """The export as a dict; ``missing`` lists the rule 11 and portal fields still empty."""
    details = case_details(case)
    items = reported_items(session, case)
    org = session.get(Organisation, case.organisation_id)
    india, incident = details.india, details.incident
    platform = india.platform or incident.platform
    where = [*incident.urls, *(i.url for i in items if i.url)]
    group = incident.group or (
        details.reported_person.group_identifier if details.reported_person else None
    )
    suspect = dict(india.suspect) or _suspect(details)
    rule_11 = {
        "device": india.device,
        "source_device": india.source_device,
        "platform": platform,
    }
    portal = {
        "category": CATEGORY,
        "incident_datetime": _when(details, items),
        "platform": platform,
        "urls": list(dict.fromkeys(where)),
        "group": group,
        "suspect": suspect,
        "description": incident.description,
        "state": india.state,
        "district": india.district,
        "police_station": india.police_station,
        "complainant": dict(india.complainant),
    }
    missing = [f"pocso_rule_11.{k}" for k, v in rule_11.items() if not v]
    missing += [
        f"ncrp.{k}"
        for k in ("incident_datetime", "platform", "description", "state")
        if not portal[k]
    ]
    if not portal["urls"] and not group:
        missing.append("ncrp.urls_or_group")
    return {
        "format": FORMAT,
        "generated_at": utcnow().isoformat(),
        "case": {
            "id": case.id,
            "name": case.name,
            "title": case.title,
            "source": case.source.value,
            "opened_at": case.created_at.isoformat(),
        },
        "reporting_organisation": {
            "name": org.name if org else None,
            "country": org.country if org else None,
        },
        "pocso_rule_11": rule_11,
        "ncrp": portal,
        "items": [_item(i) for i in items],
        "missing": missing,
    }


def _when(details: CaseDetails, items: Sequence[CaseItem]) -> str | None:
    if details.incident.at is not None:
        return details.incident.at.isoformat()
    times = [str(i.attributes["uploaded_at"]) for i in items if i.attributes.get("uploaded_at")]
    return min(times) if times else None


def _suspect(details: CaseDetails) -> dict[str, Any]:
    who = details.reported_person
    if who is None:
        return {}
    found = {
        "name": " ".join(p for p in (who.first_name, who.last_name) if p) or None,
        "account": who.esp_identifier,
        "screen_name": who.screen_name,
        "profile_url": who.profile_url,
        "email": who.email or None,
        "phone": who.phone or None,
        "ip_addresses": [e.ip for e in who.ip_events] or None,
    }
    return {k: v for k, v in found.items() if v}


def _item(item: CaseItem) -> dict[str, Any]:
    attrs = item.attributes
    return {
        "item": item.id,
        "kind": item.kind.value,
        "hashes": dict(item.hashes),
        "url": item.url,
        "classification": {"scheme": item.decision_scheme, "value": item.decision_value},
        "viewed_by_person": item.viewed_by_person,
        "file_name": attrs.get("file_name"),
        "uploaded_at": attrs.get("uploaded_at"),
        "uploader_ip": attrs.get("uploader_ip"),
        "matched_lists": sorted({str(m.get("bank")) for m in item.matches if m.get("bank")}),
    }


def india_json(report: dict[str, Any]) -> bytes:
    """The export as indented UTF-8 JSON."""
    return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()


def india_csv(report: dict[str, Any]) -> bytes:
    """The export as CSV, one row per item, the case's fields repeated on each row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    portal, rule = report["ncrp"], report["pocso_rule_11"]
    for item in report["items"]:
        writer.writerow(
            {
                "case": report["case"]["name"],
                "item": item["item"],
                "incident_datetime": portal["incident_datetime"] or "",
                "platform": rule["platform"] or "",
                "url_or_group": " ".join([*portal["urls"], portal["group"] or ""]).strip(),
                "device": rule["device"] or "",
                "source_device": rule["source_device"] or "",
                "sha256": item["hashes"].get("sha256", ""),
                "md5": item["hashes"].get("md5", ""),
                "classification": f"{item['classification']['scheme']}:"
                f"{item['classification']['value']}",
                "viewed_by_person": "yes" if item["viewed_by_person"] else "no",
                "file_name": item["file_name"] or "",
                "uploaded_at": item["uploaded_at"] or "",
                "uploader_ip": item["uploader_ip"] or "",
                "suspect": json.dumps(portal["suspect"], ensure_ascii=False, sort_keys=True),
                "description": portal["description"] or "",
            }
        )
    return out.getvalue().encode()
