"""What a case knows for its reports, read from ``Case.details`` and checked.

The keys (all optional until a report needs them) are documented in docs/reports.md::

    {"incident": {"type", "at", "description", "platform", "urls": [...], "group"},
     "reporter": {"first_name", "last_name", "email", "phone", "legal_url"},
     "reported_person": {"first_name", "last_name", "email": [...], "phone": [...],
                         "esp_identifier", "esp_service", "screen_name", "display_name",
                         "profile_url", "group_identifier", "ip_events": [...],
                         "device_ids": [...], "additional_info"},
     "india": {"device", "source_device", "platform", "state", "district", "police_station",
               "suspect": {...}, "complainant": {...}}}
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kavach.cases.models import Case
from kavach.errors import InputError

__all__ = [
    "INCIDENT_TYPES",
    "CaseDetails",
    "DeviceId",
    "Incident",
    "IndiaDetails",
    "IpEvent",
    "Person",
    "ReportedPerson",
    "Reporter",
    "case_details",
    "ncmec_missing",
]

INCIDENT_TYPES = (
    "Child Pornography (possession, manufacture, and distribution)",
    "Child Sex Trafficking",
    "Child Sex Tourism",
    "Child Sexual Molestation",
    "Misleading Domain Name",
    "Misleading Words or Digital Images on the Internet",
    "Online Enticement of Children for Sexual Acts",
    "Unsolicited Obscene Material Sent to a Child",
)
"""The CyberTipline incident types (the schema's wording, which NCMEC requires verbatim)."""

IpEventName = Literal["Login", "Registration", "Purchase", "Upload", "Other", "Unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class IpEvent(_Model):
    """An IP address seen for an account, with what happened and when."""

    ip: str = Field(min_length=2, max_length=64)
    event: IpEventName = "Unknown"
    at: dt.datetime | None = None
    port: int | None = Field(default=None, ge=0, le=65535)
    possible_proxy: bool | None = None


class DeviceId(_Model):
    """A device identifier (IMEI, advertising id, ...)."""

    type: str = Field(min_length=1, max_length=100)
    value: str = Field(min_length=1, max_length=200)
    event: IpEventName | None = None
    at: dt.datetime | None = None


class Person(_Model):
    """A person's name and contacts."""

    first_name: str | None = None
    last_name: str | None = None
    email: list[str] = []
    phone: list[str] = []


class Reporter(_Model):
    """Who files the report for the organisation (NCMEC needs at least an email)."""

    first_name: str | None = None
    last_name: str | None = None
    email: str = Field(min_length=3, max_length=200)
    phone: str | None = None
    legal_url: str | None = None

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str) -> str:
        # NCMEC answers to this address: catch a slip here, not in a rejected report.
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class ReportedPerson(Person):
    """The account or person reported; ``group_identifier`` names a group or channel."""

    esp_identifier: str | None = None
    esp_service: str | None = None
    screen_name: str | None = None
    display_name: str | None = None
    profile_url: str | None = None
    group_identifier: str | None = None
    ip_events: list[IpEvent] = []
    device_ids: list[DeviceId] = []
    additional_info: str | None = None


class Incident(_Model):
    """The incident: type, when, where, and a short description."""

    type: str = INCIDENT_TYPES[0]
    at: dt.datetime | None = None
    description: str | None = None
    platform: str | None = None
    urls: list[str] = []
    group: str | None = None


class IndiaDetails(_Model):
    """POCSO Rules 2020 rule 11 and National Cyber Crime Reporting Portal fields."""

    device: str | None = None
    source_device: str | None = None
    platform: str | None = None
    state: str | None = None
    district: str | None = None
    police_station: str | None = None
    suspect: dict[str, Any] = {}
    complainant: dict[str, Any] = {}


class CaseDetails(_Model):
    """Everything a report reads from a case."""

    incident: Incident = Incident()
    reporter: Reporter | None = None
    reported_person: ReportedPerson | None = None
    india: IndiaDetails = IndiaDetails()


def case_details(case: Case) -> CaseDetails:
    """The case's details, checked; a clear error names the first bad field."""
    try:
        details = CaseDetails.model_validate(case.details or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"case {case.name}: details.{where}: {first['msg']}") from None
    if details.incident.type not in INCIDENT_TYPES:
        raise InputError(
            f"case {case.name}: details.incident.type must be one of the CyberTipline types: "
            + "; ".join(INCIDENT_TYPES)
        )
    for when in (details.incident.at,):
        if when is not None and when.tzinfo is None:
            raise InputError(f"case {case.name}: details.incident.at needs a time zone")
    return details


def ncmec_missing(details: CaseDetails) -> list[str]:
    """The fields a CyberTipline report needs that ``details`` lacks (``reporter.email``)."""
    return [] if details.reporter is not None else ["reporter.email"]
