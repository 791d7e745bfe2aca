"""Reported URLs in one canonical form (so duplicates are found), and report references."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit, urlunsplit

from kavach.errors import InputError

__all__ = ["MAX_URL", "new_reference", "normalise_url", "url_digest"]

MAX_URL = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}
# No 0/O or 1/I/L: references are read out on the phone and typed from paper.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def normalise_url(raw: str) -> str:
    """The URL's canonical form: http(s) only, host lowercased and IDNA-encoded, default port and
    fragment dropped, empty path as ``/``. Raises InputError for anything else."""
    text = raw.strip()
    if not text:
        raise InputError("enter the address (URL) of the page or picture")
    if "://" not in text:
        text = "http://" + text
    if len(text) > MAX_URL:
        raise InputError(f"the address is longer than {MAX_URL} characters")
    if any(ord(c) < 0x21 for c in text):
        raise InputError("the address contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InputError("this is not a web address (URL)") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InputError("only http:// and https:// addresses can be reported")
    if parts.username is not None or parts.password is not None:
        raise InputError("leave user names and passwords out of the address")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InputError("the address has no host name")
    try:
        host = host.encode("idna").decode("ascii").lower() if not _is_ip(host) else host.lower()
    except UnicodeError:
        raise InputError("the host name is not valid") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def url_digest(normalised: str) -> str:
    """SHA-256 (hex) of a normalised URL: the key duplicates are found by."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def new_reference() -> str:
    """A fresh report reference like ``KV-7GH2-K9QD``: 40 random bits, hard to guess."""
    chars = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"KV-{chars[:4]}-{chars[4:]}"


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
