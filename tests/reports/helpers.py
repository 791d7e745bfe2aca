"""A case with confirmed items, ready to report (benign files, hashes only)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy.orm import Session

from kavach.auth.models import User
from kavach.banks.service import ensure_organisation
from kavach.cases import review, service
from kavach.cases.models import Case, CaseItem
from kavach.demo.scenes import encode, scene
from tests.cases.helpers import make_user

DETAILS = {
    "incident": {
        "at": "2026-03-01T10:00:00+05:30",
        "platform": "ExampleChat",
        "description": "Known images shared in a group.",
        "group": "group-4411",
    },
    "reporter": {"first_name": "Asha", "last_name": "Rao", "email": "safety@example.org"},
    "reported_person": {
        "esp_identifier": "u-991",
        "esp_service": "ExampleChat",
        "screen_name": "someone",
        "group_identifier": "group-4411",
        "email": ["someone@example.net"],
        "ip_events": [
            {"ip": "203.0.113.7", "event": "Upload", "at": "2026-03-01T04:30:00Z", "port": 443}
        ],
        "device_ids": [{"type": "IMEI", "value": "000000000000000"}],
    },
    "india": {
        "device": "Android phone (seized)",
        "source_device": "uploader's phone",
        "platform": "ExampleChat",
        "state": "Karnataka",
        "district": "Bengaluru Urban",
        "suspect": {"name": "unknown", "phone": "+91-00000-00000"},
    },
}


def image(seed: int) -> bytes:
    """A benign generated JPEG."""
    return encode(scene(64, 48, seed=seed), "JPEG")


def confirmed_case(session: Session, *, files: int = 2) -> tuple[Case, list[CaseItem], User]:
    """A case whose items two reviewers graded alike (industry A2), the first one revealed."""
    org = ensure_organisation(session, f"Platform-{secrets.token_hex(3)}", "IN")
    a = make_user(session, org, f"a-{secrets.token_hex(3)}")
    b = make_user(session, org, f"b-{secrets.token_hex(3)}")
    case = service.open_case(
        session,
        organisation_id=org.id,
        source="api",
        title="Upload matched a known image",
        details=DETAILS,
        name="exhibit-1",
    )
    items = []
    for n in range(files):
        data = image(100 + n)
        item = service.add_item(
            session,
            case,
            kind="file",
            hashes={
                "sha256": hashlib.sha256(data).hexdigest(),
                "md5": hashlib.md5(data).hexdigest(),
                "sha1": hashlib.sha1(data).hexdigest(),
            },
            matches=[{"bank": "known", "signal_type": "pdq", "value": "00" * 32, "distance": 4}],
            metadata={
                "file_name": f"IMG_{n}.jpg",
                "uploaded_at": dt.datetime(2026, 3, 1, 4, 30, tzinfo=dt.UTC).isoformat(),
                "uploader_ip": "203.0.113.7",
            },
        )
        items.append(item)
    if items:
        review.reveal(session, items[0], a)
    for item in items:
        review.grade(session, item, a, scheme="industry", value="A2")
        review.grade(session, item, b, scheme="industry", value="A2")
    return case, items, a
