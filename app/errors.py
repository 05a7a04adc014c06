"""Errors the business expects. No HTTP imports here: app/http/problems.py renders them.

* DomainError           400  generic refusal
  x InvalidInput        422  a field breaks a rule (names the field and the rule)
  x NotAuthenticated    401  no or bad credentials
  x PermissionDenied    403  the signed-in person's role may not do this
  x NotFound            404  unknown id, or an id belonging to another pharmacy (never a leak)
  x Conflict            409  the current state does not allow it (duplicate, already recorded)
  x TooManyAttempts     429  login rate limit
  x Refused             422  a rule refused the action; carries blocks and warnings

Every error has a stable `code` (the last segment of the problem `type` URI) and extension
members that machines read (`errors`, `blocks`, `warnings`).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "domain_error"
    title: ClassVar[str] = "Request not completed"

    def __init__(self, detail: str, *, code: str | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance-specific stable code


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"
    title = "The request breaks a rule"

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(
            f"{field}: {message}",
            errors=[{"field": field, "rule": rule, "message": message}],
        )
        self.field = field
        self.rule = rule


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    title = "Sign in required"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
    title = "Not allowed for your role"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"No {what} with id {ident} is available to you")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflicts with the current state"


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"
    title = "Too many attempts"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class Refused(DomainError):
    """A rule refused the action. `blocks` and `warnings` are lists of {code, message}."""

    status = 422
    code = "refused"
    title = "Refused by a rule"
