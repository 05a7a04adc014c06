"""The Prometheus scrape endpoint and the request-measuring middleware. Alert and delivery
counts are read from the database at each scrape, so they agree across processes; the counters
the use cases add to live in `app.metrics`."""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import LATENCY, REGISTRY, REQUESTS
from app.notify.models import Delivery, DeliveryState
from app.safeguarding.models import Alert

API_PREFIX = "/api/v1"
ALERTS = Gauge("dosekeeper_alerts", "Alerts by state", ["state"], registry=REGISTRY)
DELIVERIES = Gauge("dosekeeper_deliveries", "Deliveries by state", ["state"], registry=REGISTRY)

router = APIRouter(include_in_schema=False)


class Measure:
    """Count and time every HTTP request by method, route template and status (plain ASGI,
    for the reason given in `app.http.headers`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it starts a response

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The router records the matched route in the shared scope.
            path = getattr(scope.get("route"), "path", "unmatched")
            # Routers included with a prefix report their path without it; put it back.
            if scope["path"].startswith(API_PREFIX) and not path.startswith(API_PREFIX):
                path = API_PREFIX + path
            REQUESTS.labels(scope["method"], path, str(status)).inc()
            LATENCY.labels(scope["method"], path).observe(time.perf_counter() - started)


def install(app: FastAPI) -> None:
    app.add_middleware(Measure)
    app.include_router(router)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus exposition; alert and delivery counts are read from the database."""
    with request.app.state.session_factory() as session:
        alert_counts: dict[str, int] = dict(
            session.execute(  # type: ignore[arg-type]
                select(Alert.state, func.count()).group_by(Alert.state)
            ).all()
        )
        delivery_counts: dict[str, int] = dict(
            session.execute(  # type: ignore[arg-type]
                select(Delivery.state, func.count()).group_by(Delivery.state)
            ).all()
        )
    for state in ("open", "acknowledged", "escalated", "resolved"):
        ALERTS.labels(state).set(alert_counts.get(state, 0))
    for state in DeliveryState:
        DELIVERIES.labels(state.value).set(delivery_counts.get(state.value, 0))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
