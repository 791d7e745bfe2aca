"""Evidence retention (off by default): encrypted files, retention, legal hold, destruction.

See :mod:`kavach.evidence.store` and docs/review.md.
"""

from kavach.evidence.store import (
    Vault,
    destroy,
    evidence_enabled,
    expire,
    for_item,
    open_for_display,
    read_for_report,
    require_permission,
    set_legal_hold,
    store,
    vault_from_env,
)

__all__ = [
    "Vault",
    "destroy",
    "evidence_enabled",
    "expire",
    "for_item",
    "open_for_display",
    "read_for_report",
    "require_permission",
    "set_legal_hold",
    "store",
    "vault_from_env",
]
