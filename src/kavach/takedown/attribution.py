"""Hosting attribution: URL → DNS → IP → AS number, network and country, and an abuse contact.

Country and AS come from MaxMind-format databases the operator supplies (GeoLite2-Country and
GeoLite2-ASN, or one file with both record shapes); the abuse contact from the operator's
configured contacts (by domain, then by AS number) or, failing those, RDAP.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.errors import ConfigurationError, KavachError
from kavach.takedown.guard import GuardedFetcher
from kavach.takedown.models import Contact, ContactScope
from kavach.takedown.rdap import RdapClient

__all__ = ["Attribution", "Attributor", "GeoDatabase", "configured_contact"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attribution:
    """Where a URL is hosted, as far as could be found."""

    host: str
    ip: str | None = None
    asn: int | None = None
    network: str | None = None
    prefix: str | None = None
    country: str | None = None
    abuse_contact: str | None = None
    abuse_source: str | None = None


class GeoDatabase:
    """Country and AS lookups in one or two MaxMind-format files (opened once, read-only)."""

    def __init__(self, country_db: Path | None = None, asn_db: Path | None = None) -> None:
        self._readers: list[maxminddb.Reader] = []
        for path in dict.fromkeys(p for p in (country_db, asn_db) if p is not None):
            try:
                self._readers.append(maxminddb.open_database(str(path)))
            except (OSError, maxminddb.InvalidDatabaseError) as exc:
                raise ConfigurationError(f"cannot open the GeoIP database {path}: {exc}") from None

    def lookup(self, ip: str) -> dict[str, Any]:
        """``asn``, ``network``, ``prefix`` and ``country`` of ``ip`` (the keys found)."""
        out: dict[str, Any] = {}
        for reader in self._readers:
            record, prefix_len = reader.get_with_prefix_len(ip)
            if not isinstance(record, dict):
                continue
            asn = record.get("autonomous_system_number")
            if isinstance(asn, int):
                out.setdefault("asn", asn)
                out.setdefault("network", record.get("autonomous_system_organization"))
                net = ipaddress.ip_network(f"{ip}/{prefix_len}", strict=False)
                out.setdefault("prefix", str(net))
            country = record.get("country") or record.get("registered_country")
            if isinstance(country, dict) and country.get("iso_code"):
                out.setdefault("country", str(country["iso_code"]).upper())
        return out

    def close(self) -> None:
        for reader in self._readers:
            reader.close()


def configured_contact(session: Session, host: str, asn: int | None) -> str | None:
    """The operator's abuse contact for ``host`` (or a parent domain), else for ``asn``."""
    labels = host.lower().split(".")
    domains = [".".join(labels[i:]) for i in range(len(labels) - 1)] or [host.lower()]
    rows = {
        c.key: c.address
        for c in session.scalars(
            select(Contact).where(Contact.scope == ContactScope.DOMAIN, Contact.key.in_(domains))
        )
    }
    for domain in domains:  # most specific first
        if domain in rows:
            return rows[domain]
    if asn is not None:
        address = session.scalar(
            select(Contact.address).where(
                Contact.scope == ContactScope.ASN, Contact.key == str(asn)
            )
        )
        if address:
            return address
    return None


class Attributor:
    """Attributes hosts with ``fetcher``'s resolver and policy, ``geo`` and optionally RDAP."""

    def __init__(
        self, fetcher: GuardedFetcher, geo: GeoDatabase | None, rdap: RdapClient | None = None
    ) -> None:
        self.fetcher = fetcher
        self.geo = geo
        self.rdap = rdap

    def attribute(self, session: Session, host: str, ip: str | None = None) -> Attribution:
        """Attribute ``host`` (``ip``: the address a check connected to, if known)."""
        if ip is None:
            try:
                ip = self.fetcher.resolve(host, 443)
            except KavachError as exc:
                log.info("attribution of %s: %s", host, exc.message)
                return Attribution(
                    host=host,
                    abuse_contact=configured_contact(session, host, None),
                    abuse_source="config",
                )
        found = self.geo.lookup(ip) if self.geo is not None else {}
        contact = configured_contact(session, host, found.get("asn"))
        source = "config" if contact else None
        if contact is None and self.rdap is not None:
            contact = self.rdap.abuse_contact(ip)
            source = "rdap" if contact else None
        return Attribution(
            host=host,
            ip=ip,
            asn=found.get("asn"),
            network=found.get("network"),
            prefix=found.get("prefix"),
            country=found.get("country"),
            abuse_contact=contact,
            abuse_source=source,
        )
