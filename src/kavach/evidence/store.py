"""Encrypted evidence at rest: AES-256-GCM files under the data directory, with retention.

Off by default. ``KAVACH_EVIDENCE=1`` turns it on and then ``KAVACH_EVIDENCE_KEY`` (base64 of 32
random bytes) is required: :func:`vault_from_env` refuses to start without one. A file is
``KVE1 | nonce (12 bytes) | ciphertext+tag``; the record's storage name and plaintext SHA-256 are
bound in as associated data, so a file swapped for another record's fails to decrypt.

Every use of the key (store, open for display, read for a report, destroy) is audited with the
actor and purpose. Retention comes from the organisation's review policy (365 days by default,
180 selectable); :func:`expire` destroys what is past it unless a legal hold is set.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach import audit
from kavach.auth.models import User
from kavach.cases.models import CaseItem
from kavach.cases.review import get_policy
from kavach.errors import (
    ConfigurationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from kavach.evidence.models import EvidenceBlob
from kavach.store.base import utcnow

__all__ = [
    "MAGIC",
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

MAGIC = b"KVE1"
_NONCE = 12
_MAX_BYTES = 1 << 30


def evidence_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``KAVACH_EVIDENCE`` is 1/true/yes/on (it is off by default)."""
    env = os.environ if environ is None else environ
    return env.get("KAVACH_EVIDENCE", "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Vault:
    """Where evidence files live and the key that seals them; build with :func:`vault_from_env`."""

    directory: Path
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ConfigurationError("the evidence key must be 32 bytes (AES-256)")

    @property
    def key_id(self) -> str:
        """A short fingerprint of the key, stored with each blob (never the key itself)."""
        return hashlib.sha256(b"kavach-evidence-key\0" + self.key).hexdigest()[:16]

    def _path(self, name: str) -> Path:
        return self.directory / name[:2] / name

    def seal(self, name: str, sha256: str, data: bytes) -> None:
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.key).encrypt(nonce, data, _aad(name, sha256))
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + nonce + sealed)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    def unseal(self, name: str, sha256: str) -> bytes:
        try:
            raw = self._path(name).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"evidence file {name} is missing from {self.directory}") from None
        if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + _NONCE + 16:
            raise InputError(f"evidence file {name} is not a Kavach evidence file")
        nonce, sealed = raw[len(MAGIC) : len(MAGIC) + _NONCE], raw[len(MAGIC) + _NONCE :]
        try:
            data = AESGCM(self.key).decrypt(nonce, sealed, _aad(name, sha256))
        except InvalidTag:
            raise InputError(
                f"evidence file {name} failed its integrity check (altered, or another key)"
            ) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise InputError(f"evidence file {name} does not match its recorded SHA-256")
        return data

    def shred(self, name: str) -> None:
        path = self._path(name)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        # Overwrite before unlinking; on copy-on-write or flash storage this is best effort, and
        # the encryption is what really protects a destroyed file (without the key it is noise).
        with open(path, "r+b") as fh:
            fh.write(secrets.token_bytes(size))
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()


def _aad(name: str, sha256: str) -> bytes:
    return f"kavach-evidence:v1:{name}:{sha256}".encode()


def vault_from_env(data_dir: Path, environ: Mapping[str, str] | None = None) -> Vault:
    """The vault under ``data_dir/evidence`` with the key from ``KAVACH_EVIDENCE_KEY``.

    Raises ConfigurationError when evidence is off, or on without a valid key.
    """
    env = os.environ if environ is None else environ
    if not evidence_enabled(env):
        raise ConfigurationError("evidence retention is off; set KAVACH_EVIDENCE=1 to turn it on")
    raw = env.get("KAVACH_EVIDENCE_KEY", "").strip()
    if not raw:
        raise ConfigurationError(
            "KAVACH_EVIDENCE=1 needs KAVACH_EVIDENCE_KEY (base64 of 32 random bytes, e.g. "
            '`python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"`)'
        )
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("KAVACH_EVIDENCE_KEY is not valid base64") from None
    if len(key) != 32:
        raise ConfigurationError(f"KAVACH_EVIDENCE_KEY must decode to 32 bytes, not {len(key)}")
    return Vault(data_dir / "evidence", key)


def _use(session: Session, blob: EvidenceBlob, actor: str, action: str, **details: object) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=f"evidence:{blob.id}",
        organisation_id=blob.organisation_id,
        details={"item": blob.item_id, "key_id": blob.key_id, **details},
    )


def store(
    session: Session,
    vault: Vault,
    item: CaseItem,
    data: bytes,
    *,
    actor: str,
    media_type: str = "application/octet-stream",
) -> EvidenceBlob:
    """Encrypt ``data`` as evidence for ``item``, kept for the organisation's retention period."""
    if not data:
        raise InputError("evidence cannot be empty")
    if len(data) > _MAX_BYTES:
        raise InputError("evidence files are limited to 1 GiB")
    digest = hashlib.sha256(data).hexdigest()
    expected = item.hashes.get("sha256")
    if expected is not None and expected != digest:
        raise InputError("the file's SHA-256 is not the item's; refusing to keep it as evidence")
    policy = get_policy(session, item.organisation_id)
    name = secrets.token_hex(16)
    blob = EvidenceBlob(
        organisation_id=item.organisation_id,
        item_id=item.id,
        sha256=digest,
        size=len(data),
        media_type=media_type[:100],
        storage_name=name,
        key_id=vault.key_id,
        retain_until=utcnow() + dt.timedelta(days=policy.retention_days),
        legal_hold=False,
    )
    session.add(blob)
    session.flush()
    # Written before the commit: a rollback leaves an orphan file (noise without its record),
    # never a record without its file.
    vault.seal(name, digest, data)
    _use(session, blob, actor, "evidence.store", size=len(data))
    return blob


def for_item(session: Session, item: CaseItem) -> EvidenceBlob | None:
    """The live (not destroyed) evidence kept for ``item``, if any."""
    return session.scalars(
        select(EvidenceBlob)
        .where(EvidenceBlob.item_id == item.id, EvidenceBlob.destroyed_at.is_(None))
        .order_by(EvidenceBlob.id.desc())
        .limit(1)
    ).first()


def _live(blob: EvidenceBlob, vault: Vault) -> None:
    if blob.destroyed_at is not None:
        raise NotFoundError(f"evidence {blob.id} was destroyed")
    if blob.key_id != vault.key_id:
        raise ConfigurationError(
            f"evidence {blob.id} was sealed with key {blob.key_id}, not the configured one"
        )


def open_for_display(
    session: Session, vault: Vault, blob: EvidenceBlob, user: User
) -> tuple[bytes, str]:
    """The plaintext and media type of ``blob`` for the console (which shows it blurred).

    Audited as a key use by ``user``; call ``kavach.cases.review.reveal`` too when the user
    unblurs it.
    """
    if user.organisation_id != blob.organisation_id or user.disabled_at is not None:
        raise NotFoundError(f"no evidence with id {blob.id}")
    _live(blob, vault)
    data = vault.unseal(blob.storage_name, blob.sha256)
    _use(session, blob, f"user:{user.username}", "evidence.open", purpose="display")
    return data, blob.media_type


def read_for_report(session: Session, vault: Vault, blob: EvidenceBlob, *, actor: str) -> bytes:
    """The plaintext of ``blob`` for a report upload (audited as a key use)."""
    _live(blob, vault)
    data = vault.unseal(blob.storage_name, blob.sha256)
    _use(session, blob, actor, "evidence.open", purpose="report")
    return data


def set_legal_hold(
    session: Session, blob: EvidenceBlob, *, actor: str, hold: bool, reason: str = ""
) -> EvidenceBlob:
    """Set or lift a legal hold: held evidence is never destroyed, by expiry or on request."""
    if blob.destroyed_at is not None:
        raise ConflictError(f"evidence {blob.id} was already destroyed")
    if hold and not reason.strip():
        raise InputError("a legal hold needs a reason (an order, a case number)")
    blob.legal_hold = hold
    blob.hold_reason = reason.strip()[:2000] if hold else None
    session.flush()
    _use(session, blob, actor, "evidence.hold" if hold else "evidence.release", reason=reason)
    return blob


def destroy(
    session: Session, vault: Vault, blob: EvidenceBlob, *, actor: str, reason: str
) -> EvidenceBlob:
    """Destroy ``blob`` on request (not while on legal hold): the file is overwritten and removed,
    the record stays with who destroyed it, when and why."""
    if blob.legal_hold:
        raise ConflictError(f"evidence {blob.id} is under legal hold: {blob.hold_reason}")
    if blob.destroyed_at is not None:
        return blob
    vault.shred(blob.storage_name)
    blob.destroyed_at = utcnow()
    blob.destroyed_by = actor
    blob.destroy_reason = reason.strip()[:2000] or "on request"
    session.flush()
    _use(session, blob, actor, "evidence.destroy", reason=blob.destroy_reason)
    return blob


def expire(session: Session, vault: Vault, *, now: dt.datetime | None = None) -> int:
    """Destroy every blob past its retention date and not on hold; return how many (for the
    worker or a daily timer)."""
    moment = now or utcnow()
    due = session.scalars(
        select(EvidenceBlob).where(
            EvidenceBlob.destroyed_at.is_(None),
            EvidenceBlob.legal_hold.is_(False),
            EvidenceBlob.retain_until <= moment,
        )
    ).all()
    for blob in due:
        destroy(session, vault, blob, actor="system", reason="retention period ended")
    return len(due)


def require_permission(user: User) -> None:
    """Refuse users who may not manage evidence (holds, destruction): admins and analysts may."""
    if user.role.value not in ("admin", "analyst"):
        raise PermissionDeniedError("only analysts and admins manage evidence")
