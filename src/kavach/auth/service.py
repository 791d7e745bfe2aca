"""Users, API keys, session tokens and the role → permission table.

Functions take the caller's session and never commit (one unit of work per request or command).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.auth.models import ApiKey, KeyKind, Role, User
from kavach.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from kavach.store.base import utcnow
from kavach.store.models import Organisation

__all__ = [
    "ISSUED_KEY_PREFIX",
    "ApiKeyInfo",
    "IssuedKey",
    "Permission",
    "Principal",
    "authenticate_password",
    "authenticate_token",
    "create_api_key",
    "create_session_token",
    "create_user",
    "list_api_keys",
    "permissions_for",
    "revoke_api_key",
    "token_digest",
]

ISSUED_KEY_PREFIX = "kv_"
"""Every token starts with this, so secret scanners can recognise a leaked one."""

_TOKEN_RE = re.compile(r"^kv_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
_MIN_PASSWORD = 12
_SESSION_LIFETIME = dt.timedelta(hours=12)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when a username is unknown, so a wrong name costs the same time as a wrong
    # password and does not reveal which names exist. Made on first use, not at import.
    return _hasher.hash(secrets.token_urlsafe(16))


class Permission(enum.StrEnum):
    """One kind of action an endpoint needs."""

    HASH = "hash"
    LOOKUP = "lookup"
    SUBMIT = "submit"
    MATCHES_READ = "matches:read"
    BANKS_READ = "banks:read"
    ENTRIES_READ = "entries:read"
    BANKS_WRITE = "banks:write"
    WEBHOOKS_MANAGE = "webhooks:manage"
    KEYS_MANAGE = "keys:manage"
    USERS_MANAGE = "users:manage"


_ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ANALYST: frozenset(
        {
            Permission.HASH,
            Permission.LOOKUP,
            Permission.MATCHES_READ,
            Permission.BANKS_READ,
            Permission.ENTRIES_READ,
            Permission.BANKS_WRITE,
        }
    ),
    # Reviewers look and read; they change nothing through the platform API.
    Role.REVIEWER: frozenset(
        {Permission.HASH, Permission.LOOKUP, Permission.MATCHES_READ, Permission.BANKS_READ}
    ),
    # A platform integration hashes, looks up and submits; it never reads list contents in bulk.
    Role.PLATFORM: frozenset(
        {
            Permission.HASH,
            Permission.LOOKUP,
            Permission.SUBMIT,
            Permission.MATCHES_READ,
            Permission.BANKS_READ,
        }
    ),
}


def permissions_for(role: Role) -> frozenset[Permission]:
    """What ``role`` may do."""
    return _ROLE_PERMISSIONS[role]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an organisation, a role, and the key (and user) that proved it."""

    organisation_id: int
    organisation: str
    role: Role
    key_id: int
    key_prefix: str
    user_id: int | None = None
    session: bool = False
    """True for a login session token, False for an API key."""

    def can(self, permission: Permission) -> bool:
        return permission in _ROLE_PERMISSIONS[self.role]


class IssuedKey(BaseModel):
    """A new key or session token; ``token`` exists only here, never in the database."""

    model_config = ConfigDict(frozen=True)

    id: int
    prefix: str
    token: str
    role: Role
    organisation: str
    expires_at: dt.datetime | None = None


class ApiKeyInfo(BaseModel):
    """An API key as listed: never the secret."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    prefix: str
    role: Role
    organisation: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def token_digest(token: str) -> str:
    """SHA-256 of a token, hex. Tokens carry 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_user(
    session: Session, organisation: Organisation, username: str, password: str, role: Role | str
) -> User:
    """Create a user with an argon2id-hashed password."""
    if not _USERNAME_RE.match(username):
        raise InputError("a username is 1-100 letters, digits or . _ @ -")
    if len(password) < _MIN_PASSWORD:
        raise InputError(f"a password needs at least {_MIN_PASSWORD} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"a user called {username!r} already exists")
    user = User(
        organisation_id=organisation.id,
        username=username,
        password_hash=_hasher.hash(password),
        role=_role(role),
    )
    session.add(user)
    session.flush()
    return user


def authenticate_password(session: Session, username: str, password: str) -> User:
    """The user whose name and password these are, or AuthenticationError (same for both)."""
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    encoded = user.password_hash if user is not None else _dummy_hash()
    try:
        _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        raise AuthenticationError("wrong username or password") from None
    if user is None or user.disabled_at is not None:
        raise AuthenticationError("wrong username or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def create_api_key(
    session: Session,
    organisation: Organisation,
    role: Role | str,
    *,
    name: str = "",
    user: User | None = None,
) -> IssuedKey:
    """Make an API key for ``organisation`` acting as ``role``; the token is returned only now."""
    return _issue(session, organisation, _role(role), KeyKind.API_KEY, name[:100], user, None)


def create_session_token(session: Session, user: User) -> IssuedKey:
    """A login token for ``user`` with the user's role, valid for 12 hours."""
    org = session.get(Organisation, user.organisation_id)
    if org is None:  # the foreign key makes this unreachable short of a race with a delete
        raise NotFoundError("the user's organisation no longer exists")
    return _issue(
        session, org, user.role, KeyKind.SESSION, "login", user, utcnow() + _SESSION_LIFETIME
    )


def _issue(
    session: Session,
    organisation: Organisation,
    role: Role,
    kind: KeyKind,
    name: str,
    user: User | None,
    expires_at: dt.datetime | None,
) -> IssuedKey:
    prefix = secrets.token_hex(6)
    token = f"{ISSUED_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        organisation_id=organisation.id,
        user_id=user.id if user else None,
        kind=kind,
        name=name,
        prefix=prefix,
        token_sha256=token_digest(token),
        role=role,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return IssuedKey(
        id=key.id,
        prefix=prefix,
        token=token,
        role=role,
        organisation=organisation.name,
        expires_at=expires_at,
    )


def authenticate_token(session: Session, token: str) -> Principal:
    """The principal a token stands for, or AuthenticationError (malformed, unknown, revoked,
    expired, or its user disabled)."""
    found = _TOKEN_RE.match(token)
    if found is None:
        raise AuthenticationError("malformed API key")
    row = session.execute(
        select(ApiKey, Organisation.name)
        .join(Organisation, Organisation.id == ApiKey.organisation_id)
        .where(ApiKey.prefix == found.group(1))
    ).one_or_none()
    if row is None:
        raise AuthenticationError("unknown API key")
    key, org_name = row
    if not hmac.compare_digest(key.token_sha256, token_digest(token)):
        raise AuthenticationError("unknown API key")
    if key.revoked_at is not None:
        raise AuthenticationError("this API key was revoked")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise AuthenticationError("this session has expired; log in again")
    if key.user_id is not None:
        disabled = session.scalar(select(User.disabled_at).where(User.id == key.user_id))
        if disabled is not None:
            raise AuthenticationError("this user is disabled")
    return Principal(
        organisation_id=key.organisation_id,
        organisation=org_name,
        role=key.role,
        key_id=key.id,
        key_prefix=key.prefix,
        user_id=key.user_id,
        session=key.kind is KeyKind.SESSION,
    )


def list_api_keys(session: Session, organisation: Organisation | None = None) -> list[ApiKeyInfo]:
    """API keys (not session tokens), of one organisation or all, oldest first."""
    stmt = (
        select(ApiKey, Organisation.name)
        .join(Organisation, Organisation.id == ApiKey.organisation_id)
        .where(ApiKey.kind == KeyKind.API_KEY)
        .order_by(ApiKey.id)
    )
    if organisation is not None:
        stmt = stmt.where(ApiKey.organisation_id == organisation.id)
    return [
        ApiKeyInfo(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            role=key.role,
            organisation=org_name,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )
        for key, org_name in session.execute(stmt)
    ]


def revoke_api_key(
    session: Session, key_ref: str | int, organisation_id: int | None = None
) -> ApiKey:
    """Revoke a key (or session) by id or prefix; with ``organisation_id``, only that org's."""
    stmt = select(ApiKey)
    if isinstance(key_ref, int) or key_ref.isdigit():
        stmt = stmt.where(ApiKey.id == int(key_ref))
    else:
        stmt = stmt.where(ApiKey.prefix == key_ref)
    if organisation_id is not None:
        stmt = stmt.where(ApiKey.organisation_id == organisation_id)
    key = session.scalars(stmt).one_or_none()
    if key is None:
        raise NotFoundError(f"no API key {key_ref!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InputError(f"unknown role {role!r}; expected one of: {known}") from None
