from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request

from app.auth import service as auth_service
from app.auth.deps import ActorDep
from app.auth.schemas import Me, TokenRead, UserCreate, UserRead
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import Line

router = APIRouter(tags=["auth"], responses=problems.API_ERRORS)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class TokenForm:
    """The OAuth2 password form (RFC 6749 §4.3), with the username held to the rule of every
    text field: a NUL or a line break is refused (422) before it reaches the database."""

    def __init__(
        self,
        *,
        username: Annotated[Line, Form()],
        password: Annotated[str, Form()],
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        scope: Annotated[Line, Form()] = "",
        client_id: Annotated[Line | None, Form()] = None,
        client_secret: Annotated[Line | None, Form()] = None,
    ) -> None:
        self.username = username
        self.password = password
        self.grant_type = grant_type
        self.scopes = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret


@router.post("/auth/token", response_model=TokenRead, responses=problems.problem_responses(429))
def issue_token(
    form: Annotated[TokenForm, Depends()],
    request: Request,
    uow: UowDep,
    now: NowDep,
    settings: SettingsDep,
) -> TokenRead:
    """Exchange a username and password for a bearer token (OAuth2 password form)."""
    issued = auth_service.sign_in(
        uow,
        username=form.username[:64],
        password=form.password[:1024],
        client=client_address(request),
        kind="api",
        now=now,
        settings=settings.auth,
    )
    return TokenRead(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/users", status_code=201, response_model=UserRead)
def create_user(
    body: UserCreate, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Create a staff account (administrators)."""
    return auth_service.add_user(
        uow,
        actor=actor,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        pharmacy_id=body.pharmacy_id,
        contact_id=body.contact_id,
        registration_number=body.registration_number,
        now=now,
        settings=settings.auth,
    )


@router.get("/me", response_model=Me)
def who_am_i(actor: ActorDep) -> Me:
    return Me(id=actor.id, username=actor.name, role=actor.role, pharmacy_id=actor.pharmacy_id)


@router.get("/users", response_model=list[UserRead])
def list_users(uow: UowDep, actor: ActorDep) -> object:
    """Every account (administrators)."""
    return auth_service.list_users(uow, actor=actor)


@router.post("/users/{user_id}/disable", response_model=UserRead)
def disable_user(user_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    """Disable an account; every session and token it holds stops working at once."""
    auth_service.set_active(uow, actor=actor, user_id=user_id, active=False, now=now)
    return auth_service.get_user(uow, actor=actor, user_id=user_id)


@router.post("/users/{user_id}/enable", response_model=UserRead)
def enable_user(user_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    auth_service.set_active(uow, actor=actor, user_id=user_id, active=True, now=now)
    return auth_service.get_user(uow, actor=actor, user_id=user_id)
