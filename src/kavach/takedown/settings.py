"""Settings of the takedown area, read from the environment by a factory (never at import).

``KAVACH_PORTAL_ORGANISATION``
    The organisation (hotline) that owns reports from the public portal (default
    ``Kavach hotline``; created on first use).
``KAVACH_PORTAL_RATE_PER_HOUR`` / ``KAVACH_PORTAL_BURST``
    Reports accepted per client address per hour, and the burst above it (defaults 20 and 5).
``KAVACH_FETCH_PROXY``
    An HTTP(S) proxy every URL check goes through (default: none).
``KAVACH_FETCH_TIMEOUT``
    Seconds a URL check may take per fetch, all redirects included (default 15).
``KAVACH_FETCH_MAX_BYTES``
    Largest response read per fetch (default 16 MiB); larger ones are cut off and not hashed.
``KAVACH_FETCH_MAX_MEDIA``
    Most media links on one page that are checked (default 20).
``KAVACH_FETCH_ALLOW_NETWORKS``
    Comma-separated networks (CIDR) the URL check may reach although they are loopback,
    private, link-local or otherwise special (default: none; e.g. ``127.0.0.0/8,::1/128`` in
    tests). Cloud metadata addresses are refused unless named exactly.
``KAVACH_GEOIP_COUNTRY_DB`` / ``KAVACH_GEOIP_ASN_DB``
    MaxMind-format databases (``.mmdb``) for country and AS number (GeoLite2-Country and
    GeoLite2-ASN, or one file holding both). Unset: no country or network attribution.
``KAVACH_RDAP_URL``
    RDAP service asked for abuse contacts not configured locally, e.g. ``https://rdap.org``
    (default: none; no RDAP lookups).
``KAVACH_SMTP_HOST`` / ``KAVACH_SMTP_PORT`` / ``KAVACH_SMTP_USER`` / ``KAVACH_SMTP_PASSWORD`` /
``KAVACH_SMTP_STARTTLS``
    Where notices are sent by e-mail (defaults ``localhost``, 25, none, none, 0).
``KAVACH_NOTICE_FROM``
    The From address of notices (default ``takedown@localhost``).
``KAVACH_RECHECK_HOURS``
    Hours between re-checks (and re-notices) of confirmed items (default 24).
``KAVACH_ESCALATE_AFTER``
    Notices without removal before the item is escalated and referred (default 3).
``KAVACH_REAPPEAR_CHECKS`` / ``KAVACH_REAPPEAR_HOURS``
    After removal, how many more checks look for the content coming back, and how far apart
    (defaults 4 and 168: weekly for a month).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kavach.errors import ConfigurationError

__all__ = ["TakedownSettings", "get_takedown_settings"]

_MIB = 1024 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TakedownSettings(BaseModel):
    """Everything the portal, the URL check and the notices are told by the operator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    portal_organisation: str = Field(default="Kavach hotline", min_length=1, max_length=200)
    portal_rate_per_hour: float = Field(default=20.0, ge=0)
    portal_burst: float = Field(default=5.0, ge=1)
    fetch_proxy: str | None = None
    fetch_timeout: float = Field(default=15.0, gt=0, le=600)
    fetch_max_bytes: int = Field(default=16 * _MIB, ge=1024)
    fetch_max_media: int = Field(default=20, ge=0, le=500)
    fetch_allow_networks: tuple[Network, ...] = ()
    geoip_country_db: Path | None = None
    geoip_asn_db: Path | None = None
    rdap_url: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    notice_from: str = "takedown@localhost"
    recheck_hours: float = Field(default=24.0, gt=0)
    escalate_after: int = Field(default=3, ge=1)
    reappear_checks: int = Field(default=4, ge=0)
    reappear_hours: float = Field(default=168.0, gt=0)

    @field_validator("fetch_allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return tuple(ipaddress.ip_network(str(v), strict=False) for v in value)
        return value


_ENV = {
    "portal_organisation": "KAVACH_PORTAL_ORGANISATION",
    "portal_rate_per_hour": "KAVACH_PORTAL_RATE_PER_HOUR",
    "portal_burst": "KAVACH_PORTAL_BURST",
    "fetch_proxy": "KAVACH_FETCH_PROXY",
    "fetch_timeout": "KAVACH_FETCH_TIMEOUT",
    "fetch_max_bytes": "KAVACH_FETCH_MAX_BYTES",
    "fetch_max_media": "KAVACH_FETCH_MAX_MEDIA",
    "fetch_allow_networks": "KAVACH_FETCH_ALLOW_NETWORKS",
    "geoip_country_db": "KAVACH_GEOIP_COUNTRY_DB",
    "geoip_asn_db": "KAVACH_GEOIP_ASN_DB",
    "rdap_url": "KAVACH_RDAP_URL",
    "smtp_host": "KAVACH_SMTP_HOST",
    "smtp_port": "KAVACH_SMTP_PORT",
    "smtp_user": "KAVACH_SMTP_USER",
    "smtp_password": "KAVACH_SMTP_PASSWORD",
    "smtp_starttls": "KAVACH_SMTP_STARTTLS",
    "notice_from": "KAVACH_NOTICE_FROM",
    "recheck_hours": "KAVACH_RECHECK_HOURS",
    "escalate_after": "KAVACH_ESCALATE_AFTER",
    "reappear_checks": "KAVACH_REAPPEAR_CHECKS",
    "reappear_hours": "KAVACH_REAPPEAR_HOURS",
}


def get_takedown_settings(
    environ: Mapping[str, str] | None = None, **overrides: object
) -> TakedownSettings:
    """Build takedown settings from ``environ`` (default ``os.environ``) and explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {
        field: env[name].strip() for field, name in _ENV.items() if env.get(name, "").strip()
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TakedownSettings.model_validate(values)
    except (ValidationError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            message = str(first["msg"])
        else:
            field, message = "fetch_allow_networks", str(exc)
        raise ConfigurationError(f"invalid setting {_ENV.get(field, field)}: {message}") from None
