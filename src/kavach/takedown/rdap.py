"""A small RDAP client: the abuse contact of the network an IP address belongs to.

RDAP (RFC 9082/9083) answers ``GET {base}/ip/{address}`` with the network object; its entities
carry roles, and the one with role ``abuse`` has the e-mail address in its jCard (``vcardArray``).
Nested entities are searched too (RIPE and APNIC put the abuse contact one level down).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

__all__ = ["RdapClient", "abuse_email"]

log = logging.getLogger(__name__)

_MAX_DEPTH = 4


class RdapClient:
    """Asks the RDAP service at ``base_url`` through ``client`` (which the caller owns)."""

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")

    def abuse_contact(self, address: str) -> str | None:
        """The abuse e-mail address for ``address``, or None when RDAP is unreachable or silent."""
        try:
            response = self.client.get(
                f"{self.base_url}/ip/{address}",
                headers={"Accept": "application/rdap+json, application/json"},
                follow_redirects=True,
            )
        except httpx.HTTPError as exc:
            log.info("RDAP lookup for %s failed: %s", address, exc)
            return None
        if response.status_code != 200:
            return None
        try:
            document = response.json()
        except ValueError:
            return None
        return abuse_email(document) if isinstance(document, dict) else None


def abuse_email(document: dict[str, Any]) -> str | None:
    """The first e-mail of an entity with the ``abuse`` role in an RDAP response."""
    return _search(document.get("entities"), 0)


def _search(entities: Any, depth: int) -> str | None:
    if not isinstance(entities, list) or depth > _MAX_DEPTH:
        return None
    for entity in entities:
        if not isinstance(entity, dict):
            continue
        roles = entity.get("roles") or []
        if isinstance(roles, list) and "abuse" in roles:
            email = _vcard_email(entity.get("vcardArray"))
            if email:
                return email
    for entity in entities:
        if isinstance(entity, dict):
            found = _search(entity.get("entities"), depth + 1)
            if found:
                return found
    return None


def _vcard_email(vcard: Any) -> str | None:
    # jCard: ["vcard", [[name, params, type, value], ...]]
    if not (isinstance(vcard, list) and len(vcard) == 2 and isinstance(vcard[1], list)):
        return None
    for prop in vcard[1]:
        if isinstance(prop, list) and len(prop) >= 4 and prop[0] == "email":
            value = prop[3]
            if isinstance(value, str) and "@" in value:
                return value.strip()
    return None
