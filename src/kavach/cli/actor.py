"""Who a command acts as, for provenance and the audit log."""

from __future__ import annotations

import getpass

__all__ = ["cli_actor"]


def cli_actor(by: str | None) -> str:
    """``by`` when given (``--by``), else ``cli:<login name>``, else ``cli``."""
    if by:
        return by
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container's bare uid)
        return "cli"
