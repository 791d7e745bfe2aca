"""Starlette's in-process TestClient, which shows tests each page's template and context."""

from __future__ import annotations

import warnings

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette now prefers the httpx2 package (not in our environment); its client still runs
    # on httpx, which the rest of the suite uses, so only this import warning is silenced.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

__all__ = ["TestClient"]
