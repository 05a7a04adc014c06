"""Sign-in, tokens and accounts. Tokens are 256-bit random strings; only their SHA-256 is kept."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.audit import service as audit_service
from app.audit.service import SYSTEM, Actor
from app.auth.models import AuthSession, LoginAttempt, Role, User
from app.auth.passwords import dummy_hash, hash_password, verify_password
from app.auth.policy import require_role
from app.config import AuthSettings
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from app.pharmacies.models import Pharmacy

MIN_PASSWORD = 8


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


def _login_delay(failures: int, settings: AuthSettings) -> int:
    """Seconds to wait before the next attempt: none for the first few, then doubling."""
    if failures < settings.login_free_failures:
        return 0
    delay: int = 2 ** (failures - settings.login_free_failures + 1)
    return min(delay, settings.login_max_delay_seconds)


def _recent_failures(
    session: Session, column: InstrumentedAttribute[str], value: str, since: datetime
) -> tuple[int, datetime | None]:
    row = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            column == value,
            LoginAttempt.at >= since,
            LoginAttempt.succeeded.is_(False),
        )
    ).one()
    return int(row[0]), row[1]


def _check_rate(
    session: Session, *, username: str, client: str, now: datetime, settings: AuthSettings
) -> None:
    since = now - timedelta(seconds=settings.login_window_seconds)
    for column, value in ((LoginAttempt.username, username), (LoginAttempt.client, client)):
        failures, last = _recent_failures(session, column, value, since)
        if failures >= settings.login_max_failures:
            raise TooManyAttempts(
                "Too many failed sign-ins; try again later or ask an administrator",
                retry_after=settings.login_window_seconds,
            )
        delay = _login_delay(failures, settings)
        if delay and last is not None:
            wait = (last + timedelta(seconds=delay) - now).total_seconds()
            if wait > 0:
                raise TooManyAttempts(
                    f"Too many failed sign-ins; wait {math.ceil(wait)} seconds",
                    retry_after=math.ceil(wait),
                )


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


def authenticate(
    uow: UnitOfWork,
    *,
    token: str,
    now: datetime,
    kind: str | None = None,
    idle_seconds: int | None = None,
) -> Authenticated:
    """Resolve a bearer token or session cookie to the acting user, or refuse."""
    with uow:
        row = uow.session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.token_hash == token_hash(token))
        ).one_or_none()
        if row is None:
            raise NotAuthenticated("Unknown or expired credentials")
        auth_session, user = row
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
        if kind == "web":
            auth_session.last_seen_at = now
            uow.commit()
        return Authenticated(
            actor_for(user), auth_session.id, auth_session.csrf_token, user.display_name
        )


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
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", "min_length", f"must be at least {MIN_PASSWORD} characters")
    if role in (Role.PHARMACIST, Role.TECHNICIAN) and pharmacy_id is None:
        raise InvalidInput("pharmacy_id", "required", f"a {role} must belong to a pharmacy")
    with uow:
        if pharmacy_id is not None and uow.session.get(Pharmacy, pharmacy_id) is None:
            raise NotFound("pharmacy", pharmacy_id)
        if contact_id is not None and uow.session.get(Contact, contact_id) is None:
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
        user = uow.session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
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
