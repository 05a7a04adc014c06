"""Prometheus counters the use cases and the worker add to: requests, handovers, decisions by
code, delivery latency, printer faults. Labels carry codes and routes, never ids or names.

Plain counters with no dependency on any capability, so anything may count without importing
upward; the scrape endpoint that also reads alert and delivery counts from the database is
`app.ops.metrics`. One registry per process: run one scrape target per uvicorn process or a
single worker per host (see docs/operations.md).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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
