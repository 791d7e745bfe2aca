"""Retained media for the console: the evidence vault of the running app, and the file of an
item as the browser may receive it."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from kavach.auth.models import User
from kavach.cases import service as case_service
from kavach.errors import NotFoundError
from kavach.evidence import evidence_enabled, for_item, open_for_display, vault_from_env
from kavach.evidence.store import Vault
from kavach.web.runtime import Runtime

__all__ = ["open_media", "vault_of"]

# Only these are sent for display; anything else retained (archives, documents) is not shown.
_SHOWN = ("image/", "video/")


def vault_of(request: Request) -> Vault | None:
    """The app's evidence vault: ``app.state.evidence_vault`` if one was given, else built once
    from the environment (``KAVACH_EVIDENCE``, ``KAVACH_EVIDENCE_KEY``); None while evidence
    retention is off, its default."""
    state = request.app.state
    if hasattr(state, "evidence_vault"):
        found: Vault | None = state.evidence_vault
        return found
    vault = None
    if evidence_enabled():
        runtime: Runtime = state.runtime
        vault = vault_from_env(runtime.settings.data_dir)
    state.evidence_vault = vault
    return vault


def open_media(session: Session, vault: Vault, user: User, item_id: int) -> tuple[bytes, str]:
    """The decrypted file kept for an item of ``user``'s organisation, and its media type
    (the key use is audited by the evidence store)."""
    item = case_service.get_item(session, item_id, organisation_id=user.organisation_id)
    blob = for_item(session, item)
    if blob is None or not blob.media_type.startswith(_SHOWN):
        raise NotFoundError(f"no retained media for item {item_id}")
    return open_for_display(session, vault, blob, user)
