"""Domain events, dispatched in the publisher's own transaction.

A lower capability that must let a higher one react (a household changed, so the household
rules must run again and may raise alerts) publishes an event here instead of importing the
higher capability: data and imports flow one way (docs/architecture.md). Handlers run
synchronously, in order of subscription, with the publisher's session, so whatever they write
(an alert, its deliveries) commits or rolls back with the change that caused it.

An event nobody handles is a wiring fault, not a quiet no-op: a safety rule that silently
stopped running is the failure this system exists to prevent, so `publish` raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

__all__ = ["Unhandled", "handlers_for", "publish", "subscribe"]

E = TypeVar("E")
Handler = Callable[[Session, Any], None]

_HANDLERS: dict[type, list[Handler]] = {}


class Unhandled(RuntimeError):
    """An event was published with no handler subscribed: the application is mis-wired."""


def subscribe(kind: type[E], handler: Callable[[Session, E], None]) -> None:
    """Run `handler` for every `kind` event published from now on (once per handler)."""
    handlers = _HANDLERS.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)


def handlers_for(kind: type) -> tuple[Handler, ...]:
    return tuple(_HANDLERS.get(kind, ()))


def publish(session: Session, event: object) -> None:
    """Dispatch `event` to its handlers in the caller's transaction (never commits)."""
    handlers = _HANDLERS.get(type(event))
    if not handlers:
        raise Unhandled(f"no handler is subscribed to {type(event).__name__}")
    for handler in handlers:
        handler(session, event)
