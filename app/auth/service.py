"""Sign-in, tokens and accounts. Tokens are 256-bit random strings; only their SHA-256 is kept."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth.models import AuthEpoch, AuthSession, LoginAttempt, User
from app.auth.passwords import dummy_hash, hash_password, password_problem, verify_password
from app.auth.policy import require_role
from app.auth.roles import Role
from app.config import AuthSettings
from app.db import UnitOfWork, referenced_row_exists
from app.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_for(user: User) -> Actor:
    return Actor(
        id=user.id,
        name=user.username,
        role=user.role,
        pharmacy_id=user.pharmacy_id,
        contact_id=user.contact_id,
    )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user_id: UUID
    csrf_token: str | None = None


def _login_delay(failures: int, free: int, settings: AuthSettings) -> int:
    """Seconds to wait before the next attempt: none for the first `free`, then doubling."""
    if failures < free:
        return 0
    delay: int = 2 ** (failures - free + 1)
    return min(delay, settings.login_max_delay_seconds)


def _failures(session: Session, since: datetime, *where: Any) -> tuple[int, datetime | None]:
    row = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            *where, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False)
        )
    ).one()
    return int(row[0]), row[1]


def _wait(failures: int, last: datetime | None, free: int, now: datetime, s: AuthSettings) -> None:
    delay = _login_delay(failures, free, s)
    if delay and last is not None:
        wait = (last + timedelta(seconds=delay) - now).total_seconds()
        if wait > 0:
            raise TooManyAttempts(
                f"Too many failed sign-ins; wait {math.ceil(wait)} seconds",
                retry_after=math.ceil(wait),
            )


def _check_rate(
    session: Session, *, username: str, client: str, now: datetime, settings: AuthSettings
) -> None:
    """Throttle guessing without letting anyone lock the owner out (ASVS V2.2.1; docs/security.md).

    - One username from one address: delays double after `login_free_failures` failures in a
      row (a success from that address resets them).
    - One address, any usernames (password spraying): delays double after
      `login_address_free_failures`, and a hard stop at `login_max_failures` in the window.
    - One username from anywhere: at `login_max_failures` in the window, only addresses with no
      failure for it in the window may still try (the owner at their own terminal), so a
      distributed guesser gets one try per fresh address, and the owner is never locked out.
    """
    since = now - timedelta(seconds=settings.login_window_seconds)
    too_many = TooManyAttempts(
        "Too many failed sign-ins; try again later or ask an administrator",
        retry_after=settings.login_window_seconds,
    )
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username,
            LoginAttempt.client == client,
            LoginAttempt.succeeded.is_(True),
            LoginAttempt.at >= since,
        )
    )
    pair, pair_last = _failures(
        session,
        since,
        LoginAttempt.username == username,
        LoginAttempt.client == client,
        *([LoginAttempt.at > last_success] if last_success is not None else []),
    )
    address, address_last = _failures(session, since, LoginAttempt.client == client)
    if address >= settings.login_max_failures:
        raise too_many
    account, _ = _failures(session, since, LoginAttempt.username == username)
    if account >= settings.login_max_failures and pair > 0:
        raise too_many
    _wait(pair, pair_last, settings.login_free_failures, now, settings)
    _wait(address, address_last, settings.login_address_free_failures, now, settings)


def sign_in(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    client: str,
    kind: str,
    now: datetime,
    settings: AuthSettings,
    replaces: str | None = None,
) -> IssuedToken:
    """Check the password (rate-limited) and open a session or API token for the user.

    `replaces` is the session cookie the browser already held, if any: it is never adopted, and
    a successful sign-in revokes it in the same transaction, whoever it belonged to, so a copy
    of the old cookie (or the previous user's session on a shared terminal) dies at once.
    """
    username = username.strip().lower()[:64]  # lower() can lengthen ("İ"): fit the column
    with uow:
        _check_rate(uow.session, username=username, client=client, now=now, settings=settings)
        user = uow.session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user else dummy_hash(settings.password_profile)
        ok = verify_password(password, stored, profile=settings.password_profile)
        if not ok or user is None or not user.active:
            uow.session.add(LoginAttempt(username=username, client=client, at=now, succeeded=False))
            audit_service.record(
                uow.session,
                SYSTEM,
                "auth.sign_in_failed",
                entity="user",
                entity_id=user.id if user else "-",
                at=now,
                facts={"reason": "disabled" if (user and ok) else "bad_credentials"},
            )
            uow.commit()  # the failed attempt is the rate limiter's memory: keep it
            raise NotAuthenticated("Wrong username or password, or the account is disabled")
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32) if kind == "web" else None
        expires_at = now + timedelta(seconds=settings.token_ttl_seconds)
        uow.session.add(LoginAttempt(username=username, client=client, at=now, succeeded=True))
        facts: dict[str, str] = {"kind": kind}
        if replaces:
            replaced = uow.session.scalar(
                update(AuthSession)
                .where(
                    AuthSession.token_hash == token_hash(replaces),
                    AuthSession.kind == "web",
                    AuthSession.revoked_at.is_(None),
                )
                .values(revoked_at=now)
                .returning(AuthSession.id)
            )
            if replaced is not None:
                facts["replaced_session"] = str(replaced)
        uow.session.add(
            AuthSession(
                token_hash=token_hash(token),
                kind=kind,
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )
        audit_service.record(
            uow.session,
            actor_for(user),
            "auth.signed_in",
            entity="user",
            entity_id=user.id,
            at=now,
            pharmacy_id=user.pharmacy_id,
            facts=facts,
        )
        uow.commit()
        return IssuedToken(token=token, expires_at=expires_at, user_id=user.id, csrf_token=csrf)


@dataclass(frozen=True, slots=True)
class Authenticated:
    actor: Actor
    session_id: UUID
    csrf_token: str | None
    display_name: str
    # For the token cache (app/auth/token_cache.py): until when the credential is good, and
    # the auth epoch read in the same statement as the credential itself.
    expires_at: datetime | None = None
    epoch: int | None = None


AUTH_EPOCH = cast(Table, AuthEpoch.__table__)
# Read on every request: built once and reused, so SQLAlchemy keeps its cache key (issue 21).
# The epoch rides in the same statement, so it is from the same snapshot as the credential: a
# revocation is either in both or in neither.
CURRENT_EPOCH = select(AUTH_EPOCH.c.epoch).where(AUTH_EPOCH.c.id == 1)
_BY_TOKEN = (
    select(AuthSession, User, CURRENT_EPOCH.scalar_subquery())
    .join(User, User.id == AuthSession.user_id)
    .where(AuthSession.token_hash == bindparam("token_hash"))
)


def look_up(
    session: Session,
    *,
    token_hash_: str,
    now: datetime,
    kind: str | None = None,
    idle_seconds: int | None = None,
) -> tuple[Authenticated, AuthSession]:
    """The credential whose token hashes to `token_hash_`, checked, in the caller's
    transaction; NotAuthenticated if it is unknown, revoked, expired or idle, of another kind,
    or its account is disabled."""
    row = session.execute(_BY_TOKEN, {"token_hash": token_hash_}).one_or_none()
    if row is None:
        raise NotAuthenticated("Unknown or expired credentials")
    auth_session, user, epoch = row
    if (
        auth_session.revoked_at is not None
        or auth_session.expires_at <= now
        or not user.active
        or (kind is not None and auth_session.kind != kind)
        or (
            idle_seconds is not None
            and auth_session.last_seen_at + timedelta(seconds=idle_seconds) <= now
        )
    ):
        raise NotAuthenticated("Unknown or expired credentials")
    authenticated = Authenticated(
        actor_for(user),
        auth_session.id,
        auth_session.csrf_token,
        user.display_name,
        auth_session.expires_at,
        epoch,
    )
    return authenticated, auth_session


def authenticate(
    uow: UnitOfWork,
    *,
    token: str,
    now: datetime,
    kind: str | None = None,
    idle_seconds: int | None = None,
    touch: bool = True,
) -> Authenticated:
    """Resolve a bearer token or session cookie to the acting user, or refuse.

    `touch=False` checks a web session without counting it as activity: an open event stream
    re-checks every poll, and must not keep an abandoned counter's session alive."""
    with uow:
        authenticated, auth_session = look_up(
            uow.session,
            token_hash_=token_hash(token),
            now=now,
            kind=kind,
            idle_seconds=idle_seconds,
        )
        if kind == "web" and touch:
            auth_session.last_seen_at = now
            uow.commit()
        return authenticated


def sign_out(uow: UnitOfWork, *, session_id: UUID, actor: Actor, now: datetime) -> None:
    with uow:
        uow.session.execute(
            update(AuthSession).where(AuthSession.id == session_id).values(revoked_at=now)
        )
        audit_service.record(
            uow.session,
            actor,
            "auth.signed_out",
            entity="user",
            entity_id=actor.id,
            at=now,
            pharmacy_id=actor.pharmacy_id,
        )
        uow.commit()


def add_user(
    uow: UnitOfWork,
    *,
    actor: Actor,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    pharmacy_id: UUID | None = None,
    contact_id: UUID | None = None,
    registration_number: str | None = None,
    now: datetime,
    settings: AuthSettings,
) -> User:
    """Create an account (administrators only, or the system from the CLI)."""
    if actor is not SYSTEM:
        require_role(actor, {Role.ADMIN}, "create accounts")
    username = username.strip().lower()
    if role not in {r.value for r in Role}:
        raise InvalidInput("role", "one_of", f"must be one of {', '.join(r.value for r in Role)}")
    problem = password_problem(password, username=username)
    if problem is not None:
        raise InvalidInput("password", *problem)
    if role in (Role.PHARMACIST, Role.TECHNICIAN) and pharmacy_id is None:
        raise InvalidInput("pharmacy_id", "required", f"a {role} must belong to a pharmacy")
    if role == Role.CLINICIAN and (pharmacy_id is not None or contact_id is not None):
        # The look-up is its only use; a pharmacy or contact would widen what policy lets it see.
        field = "pharmacy_id" if pharmacy_id is not None else "contact_id"
        raise InvalidInput(field, "not_allowed", "a clinician account belongs to no pharmacy")
    with uow:
        # Checked by the foreign keys users declare: auth sits below pharmacies and contacts.
        users = User.__table__.c
        if pharmacy_id is not None and not referenced_row_exists(
            uow.session, users.pharmacy_id, pharmacy_id
        ):
            raise NotFound("pharmacy", pharmacy_id)
        if contact_id is not None and not referenced_row_exists(
            uow.session, users.contact_id, contact_id
        ):
            raise NotFound("contact", contact_id)
        user = User(
            username=username,
            display_name=display_name or username,
            role=role,
            pharmacy_id=pharmacy_id,
            contact_id=contact_id,
            registration_number=registration_number,
            password_hash=hash_password(password, profile=settings.password_profile),
            active=True,
            created_at=now,
        )
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"The username {username!r} is taken", code="duplicate_username"
            ) from exc
        audit_service.record(
            uow.session,
            actor,
            "user.created",
            entity="user",
            entity_id=user.id,
            at=now,
            pharmacy_id=pharmacy_id,
            facts={"role": role},
        )
        uow.commit()
        return user


def set_active(
    uow: UnitOfWork, *, actor: Actor, user_id: UUID, active: bool, now: datetime
) -> None:
    """Enable or disable an account; disabling revokes every session at once (ASVS 7.4.2)."""
    require_role(actor, {Role.ADMIN}, "disable accounts")
    with uow:
        user = uow.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("user", user_id)
        if not active and user.role == Role.ADMIN and user.active:
            # Locked one after another, so two admins disabling each other cannot both win.
            others = uow.session.scalars(
                select(User.id)
                .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
                .with_for_update()
            ).all()
            if not others:
                raise Conflict(
                    "This is the last active administrator: disabling it would lock everyone "
                    "out of user and pharmacy administration. Make another administrator first.",
                    code="last_admin",
                )
        user.active = active
        if not active:
            uow.session.execute(
                update(AuthSession)
                .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        audit_service.record(
            uow.session,
            actor,
            "user.enabled" if active else "user.disabled",
            entity="user",
            entity_id=user_id,
            at=now,
            pharmacy_id=user.pharmacy_id,
        )
        uow.commit()


def list_users(uow: UnitOfWork, *, actor: Actor) -> list[User]:
    require_role(actor, {Role.ADMIN}, "list accounts")
    with uow:
        return list(uow.session.scalars(select(User).order_by(User.username)))


def get_user(uow: UnitOfWork, *, actor: Actor, user_id: UUID) -> User:
    require_role(actor, {Role.ADMIN}, "see accounts")
    with uow:
        user = uow.session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        return user


def display_names(session: Session, ids: set[UUID | None]) -> dict[UUID, str]:
    """Display names of the users named (who changed or confirmed something)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all()
    )


def confirm_password(
    session: Session,
    username: str,
    password: str,
    *,
    client: str,
    now: datetime,
    settings: AuthSettings,
) -> User:
    """A second person present confirms with their own password (a witness to a balance check),
    in the caller's transaction, without signing in. Rate-limited like a sign-in; a failure is
    recorded as a failed sign-in for that account, so guessing a colleague's password here is
    no easier than at the sign-in page. Refused as `second_person_required`."""
    username = username.strip().lower()[:64]
    since = now - timedelta(seconds=settings.login_window_seconds)
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.at >= since,
            LoginAttempt.succeeded.is_(False),
        )
    )
    if (failures or 0) >= settings.login_free_failures:
        raise TooManyAttempts(
            "Too many failed attempts for this witness; try again later",
            retry_after=settings.login_window_seconds,
        )
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user else dummy_hash(settings.password_profile)
    ok = verify_password(password, stored, profile=settings.password_profile)
    if not ok or user is None or not user.active:
        session.add(LoginAttempt(username=username, client=client, at=now, succeeded=False))
        raise PermissionDenied(
            "The witness's username or password is wrong", code="second_person_required"
        )
    return user
