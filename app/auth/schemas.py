"""Request and response bodies of the auth API (tokens, staff accounts, the signed-in caller)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from app.auth.passwords import MIN_LENGTH
from app.auth.roles import Role
from app.http.schemas import In, Out


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


# pydantic checks the pattern before lower-casing, so the pattern must accept capitals.
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"
    ),
]


class UserCreate(In):
    username: Username
    password: str = Field(
        min_length=MIN_LENGTH,
        max_length=256,
        description="At least 12 characters, not a commonly used password, not the username",
    )
    role: Role
    display_name: str = Field(min_length=1, max_length=200)
    pharmacy_id: UUID | None = None
    contact_id: UUID | None = None
    registration_number: str | None = Field(default=None, max_length=40)


class UserRead(Out):
    id: UUID
    username: str
    display_name: str
    role: str
    pharmacy_id: UUID | None
    contact_id: UUID | None
    active: bool


class Me(BaseModel):
    id: UUID | None
    username: str
    role: str
    pharmacy_id: UUID | None
