"""Prometheus metrics: requests, handovers, decisions by code, alerts by state, delivery
latency, printer faults. Labels carry codes and routes, never ids or names.

One registry per process: run one scrape target per uvicorn process or a single worker per
host (see docs/operations.md); alert counts come from the database, so they agree everywhere.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.notify.models import Delivery, DeliveryState
from app.safeguarding.models import Alert

API_PREFIX = "/api/v1"
REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "dosekeeper_http_requests_total",
    "HTTP requests",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "dosekeeper_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HANDOVERS = Counter(
    "dosekeeper_handovers_total", "Handovers recorded", ["outcome"], registry=REGISTRY
)
DECISIONS = Counter(
    "dosekeeper_decision_reasons_total",
    "Blocks and warnings in counter decisions",
    ["kind", "code"],
    registry=REGISTRY,
)
PRINTER_FAULTS = Counter(
    "dosekeeper_printer_faults_total", "Label print jobs that failed", registry=REGISTRY
)
DELIVERY_SECONDS = Histogram(
    "dosekeeper_delivery_seconds",
    "From alert raised to delivery confirmed",
    ["channel"],
    registry=REGISTRY,
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300),
)
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
