"""Blocklists for ISPs: URLs, domains and a DNS RPZ zone, of live confirmed items only.

The URL list is URL-level, as the IWF's is: a page or picture is listed, not the site it is on.
A domain is listed only when an analyst marked it dedicated to this material. An item leaves
every list the moment a check finds its content gone.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.store.base import utcnow
from kavach.takedown.models import ItemStatus, TakedownItem

__all__ = ["FORMATS", "domains", "export", "rpz_zone", "urls"]

FORMATS = ("url", "domain", "rpz")


def urls(session: Session) -> list[str]:
    """Listed URLs: each confirmed item's URL and the matching media URLs on the same host."""
    out: set[str] = set()
    for item in session.scalars(
        select(TakedownItem).where(TakedownItem.status == ItemStatus.CONFIRMED)
    ):
        out.add(item.url)
        for match in item.matches or []:
            media = str(match.get("url", ""))
            if media and urlsplit(media).hostname == item.host:
                out.add(media)
    return sorted(out)


def _dedicated_hosts(session: Session) -> set[str]:
    return set(
        session.scalars(
            select(TakedownItem.host)
            .where(TakedownItem.status == ItemStatus.CONFIRMED, TakedownItem.dedicated_domain)
            .distinct()
        )
    )


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def domains(session: Session) -> list[str]:
    """Domains dedicated to the material (analyst-marked), with confirmed content live.

    A URL whose host is an IP address has no domain; a dedicated one is in the RPZ zone as an
    address trigger instead."""
    return sorted(h for h in _dedicated_hosts(session) if _address(h) is None)


def _rpz_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    # RPZ writes an address trigger as prefix length, then the address backwards.
    if isinstance(address, ipaddress.IPv4Address):
        return "32." + ".".join(reversed(str(address).split("."))) + ".rpz-ip"
    groups = [g.lstrip("0") or "0" for g in address.exploded.split(":")]
    return "128." + ".".join(reversed(groups)) + ".rpz-ip"


def rpz_zone(
    session: Session,
    *,
    origin: str = "rpz.kavach.invalid",
    now: dt.datetime | None = None,
) -> str:
    """A DNS Response Policy Zone answering NXDOMAIN for the listed domains (and subdomains).

    RPZ acts on names (and answer addresses), so only the domain list and dedicated IP hosts
    can be expressed in it; URL-level blocking needs the URL list at a proxy.
    """
    serial = int((now or utcnow()).timestamp())
    lines = [
        f"$ORIGIN {origin}.",
        "$TTL 300",
        f"@ IN SOA localhost. hostmaster.localhost. ( {serial} 3600 600 86400 300 )",
        "@ IN NS localhost.",
    ]
    for domain in domains(session):
        lines.append(f"{domain} CNAME .")
        lines.append(f"*.{domain} CNAME .")
    found = (_address(h) for h in _dedicated_hosts(session))
    for address in sorted((a for a in found if a is not None), key=str):
        lines.append(f"{_rpz_ip(address)} CNAME .")
    return "\n".join(lines) + "\n"


def export(session: Session, fmt: str, *, now: dt.datetime | None = None) -> str:
    """One list as text: ``url`` and ``domain`` one entry a line; ``rpz`` a zone file."""
    if fmt == "url":
        return "".join(f"{u}\n" for u in urls(session))
    if fmt == "domain":
        return "".join(f"{d}\n" for d in domains(session))
    if fmt == "rpz":
        return rpz_zone(session, now=now)
    raise ValueError(f"unknown blocklist format {fmt!r}; choose url, domain or rpz")
