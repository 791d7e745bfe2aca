"""Errors of the takedown area (part of the ``kavach.errors`` tree)."""

from __future__ import annotations

from kavach.errors import InputError

__all__ = ["BlockedAddressError", "ContentTypeError", "FetchError"]


class BlockedAddressError(InputError):
    """A URL check was refused: the host resolves to an address Kavach must not reach
    (loopback, private, link-local, cloud metadata, ...) and the operator has not allowed it."""

    code = "blocked_address"
    http_status = 403


class FetchError(InputError):
    """A reported URL could not be fetched (DNS, connection, timeout, too large, bad type)."""

    code = "fetch_failed"
    http_status = 502


class ContentTypeError(FetchError):
    """The URL answered with something that is neither media nor a page (for a listed URL: the
    material is no longer served there)."""

    code = "content_type_not_checked"
