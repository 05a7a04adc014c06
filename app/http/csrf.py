"""CSRF for cookie-authenticated requests (OWASP: synchronizer token plus origin checks).

A bearer token is never sent by a browser on its own, so only the session cookie needs this.
Every state-changing request made with the cookie must carry the session's token (header
`X-CSRF-Token`, or the `csrf` form field) and must not come from another site.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from app.errors import PermissionDenied

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_origin(request: Request) -> None:
    """Refuse requests a browser marks as cross-site, or whose Origin is not ours."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise PermissionDenied("Cross-site request refused", code="csrf_failed")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") != own:
            raise PermissionDenied("Cross-origin request refused", code="csrf_failed")


def check_token(request: Request, expected: str | None, supplied: str | None) -> None:
    check_origin(request)
    if not expected or not supplied or not hmac.compare_digest(expected, supplied):
        raise PermissionDenied("Missing or wrong CSRF token; reload the page", code="csrf_failed")
