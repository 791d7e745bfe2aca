"""The caller (``/me``), this organisation's users and API keys."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kavach.auth import service as auth
from kavach.auth.models import Role, User
from kavach.auth.service import Permission, Principal
from kavach.errors import NotFoundError
from kavach.store.models import Organisation
from kavach.web.auth import RuntimeDep, current_principal, require

__all__ = ["router"]

router = APIRouter(tags=["accounts"])

KeysAdmin = Annotated[Principal, Depends(require(Permission.KEYS_MANAGE))]
UsersAdmin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]


class Me(BaseModel):
    organisation: str
    role: Role
    permissions: list[str]
    key_prefix: str
    session: bool


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=100)
    role: Role = Role.PLATFORM


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=12, max_length=1000)
    role: Role


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    created_at: dt.datetime
    disabled: bool


@router.get("/me", response_model=Me, summary="Who am I")
async def me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    """The caller's organisation, role and what it may do."""
    return Me(
        organisation=principal.organisation,
        role=principal.role,
        permissions=sorted(p.value for p in auth.permissions_for(principal.role)),
        key_prefix=principal.key_prefix,
        session=principal.session,
    )


def _organisation(session: Session, principal: Principal) -> Organisation:
    org = session.get(Organisation, principal.organisation_id)
    if org is None:
        raise NotFoundError("the caller's organisation no longer exists")
    return org


@router.get("/apikeys", response_model=list[auth.ApiKeyInfo], summary="This org's API keys")
def list_keys(runtime: RuntimeDep, principal: KeysAdmin) -> list[auth.ApiKeyInfo]:
    """Keys with their prefix and role; never the secret."""
    with runtime.session() as session:
        return auth.list_api_keys(session, _organisation(session, principal))


@router.post("/apikeys", response_model=auth.IssuedKey, status_code=201, summary="Make an API key")
def create_key(body: ApiKeyCreate, runtime: RuntimeDep, principal: KeysAdmin) -> auth.IssuedKey:
    """A key for this organisation; ``token`` is returned now and never again."""
    with runtime.session() as session:
        return auth.create_api_key(
            session, _organisation(session, principal), body.role, name=body.name
        )


@router.delete("/apikeys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2**62)], runtime: RuntimeDep, principal: KeysAdmin
) -> Response:
    """Revoke at once in this process; other serve processes within the key cache time."""
    with runtime.session() as session:
        auth.revoke_api_key(session, key_id, principal.organisation_id)
    runtime.keys.clear()
    return Response(status_code=204)


@router.get("/users", response_model=list[UserOut], summary="This org's users")
def list_users(runtime: RuntimeDep, principal: UsersAdmin) -> list[UserOut]:
    with runtime.session() as session:
        rows = session.scalars(
            select(User).where(User.organisation_id == principal.organisation_id).order_by(User.id)
        )
        return [
            UserOut(
                id=u.id,
                username=u.username,
                role=u.role,
                created_at=u.created_at,
                disabled=u.disabled_at is not None,
            )
            for u in rows
        ]


@router.post("/users", response_model=UserOut, status_code=201, summary="Add a user")
def create_user(body: UserCreate, runtime: RuntimeDep, principal: UsersAdmin) -> UserOut:
    """A user of this organisation (password hashed with argon2id)."""
    with runtime.session() as session:
        user = auth.create_user(
            session, _organisation(session, principal), body.username, body.password, body.role
        )
        return UserOut(
            id=user.id,
            username=user.username,
            role=user.role,
            created_at=user.created_at,
            disabled=False,
        )
