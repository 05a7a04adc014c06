"""The application factory: everything the app needs is passed in, so tests inject it all."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from app.admin import pages as admin_pages
from app.audit import keys as audit_keys
from app.auth import api as auth_api
from app.auth import pages as auth_pages
from app.auth.token_cache import TokenCache
from app.clock import Clock, SystemClock
from app.config import Settings, get_settings
from app.contacts import api as contacts_api
from app.counter import api as counter_api
from app.counter import exception_pages as counter_exception_pages
from app.counter import pages as counter_pages
from app.counter import paper_pages as counter_paper_pages
from app.counter import prompts_api as counter_prompts_api
from app.counter.scans import ScanHub
from app.db import engine_for, make_session_factory
from app.dosing import api as dosing_api
from app.dosing import exceptions_api as dosing_exceptions_api
from app.dosing import paper_api as dosing_paper_api
from app.households import api as households_api
from app.households import home_safety_api as households_home_safety_api
from app.http import links, problems
from app.http.gates import ResponseGates
from app.http.headers import ResponseHeaders
from app.injections import api as injections_api
from app.injections import overdue as injections_overdue  # noqa: F401  (answers DayClosed)
from app.injections import pages as injections_pages
from app.intake import api as prescriptions_api
from app.intake import guest_api as intake_guest_api
from app.intake import guest_pages as intake_guest_pages
from app.intake import pages as prescriptions_pages
from app.intake import product_api as intake_product_api
from app.intake import transfer_api as intake_transfer_api
from app.logs import configure_logging, install_access_log_redaction
from app.lookup import api as lookup_api
from app.lookup import pages as lookup_pages
from app.notify import api as notify_api
from app.ops import health
from app.ops import metrics as ops_metrics
from app.patients import api as patients_api
from app.pharmacies import api as pharmacies_api
from app.prescriptions import products
from app.records import household_pages
from app.records import pages as patients_pages
from app.register import api as register_api
from app.register import pack_api as register_pack_api
from app.register import pages as register_pages
from app.reports import api as reports_api
from app.reports import pages as report_pages
from app.safeguarding import api as safeguarding_api
from app.safeguarding import feeds as safeguarding_feeds
from app.safeguarding import pages as safeguarding_pages
from app.safeguarding.delivery import alert_worker
from devices import LabelPrinter, open_printer, open_pump

API = "/api/v1"
STATIC = Path(__file__).resolve().parent / "static"


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[None]:
    """What runs beside the web app when serving: the serial scanner, if configured, and one
    alert-delivery worker unless it runs as its own service.

    `open_scanner` returns a scanner that is already reading: starting it a second time raises
    "scanner already started" and the service would not come up."""
    settings: Settings = app.state.settings
    scanner = None
    if settings.scanner_url:
        from devices import open_scanner

        hub = app.state.scan_hub
        scanner = open_scanner(
            settings.scanner_url, lambda scan: hub.publish(scan.code, scan.symbology)
        )
        app.state.scanner = scanner
    try:
        if settings.notify.embedded_worker:
            async with embedded_worker(app):
                yield
        else:
            yield
    finally:
        if scanner is not None:
            scanner.stop()


@asynccontextmanager
async def embedded_worker(app: FastAPI) -> AsyncIterator[None]:
    """Run one alert-delivery worker beside the web app (the first-run default)."""

    worker = alert_worker(
        app.state.session_factory, app.state.settings, app.state.clock, name="embedded"
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="outbox", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        worker.close()


def create_app(
    settings: Settings,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
    *,
    with_worker: bool = False,
    printer: LabelPrinter | None = None,
) -> FastAPI:
    app = FastAPI(
        lifespan=serving if with_worker else None,
        docs_url=None,
        redoc_url=None,
        title="Dosekeeper",
        version="1",
        description=(
            "Methadone instalment dispensing and supervised consumption, with the household "
            "as the unit of safety. Errors are RFC 9457 problem documents with a stable `code`."
        ),
    )
    unknown = set(settings.policy.missed_threshold_by_drug) - products.drugs()
    if unknown:
        # A misspelt drug would silently fall back to the general threshold: refuse to start.
        raise ValueError(
            f"DOSEKEEPER_POLICY__MISSED_THRESHOLD_BY_DRUG names no known drug: "
            f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(products.drugs()))})"
        )
    if session_factory is None:
        session_factory = make_session_factory(engine_for(settings))
    app.state.settings = settings
    audit_keys.configure(settings)  # the audit chain is sealed with this process's key
    app.state.session_factory = session_factory
    app.state.token_cache = (
        TokenCache(settings.auth.token_cache_seconds)
        if settings.auth.token_cache_seconds > 0
        else None
    )
    app.state.clock = clock or SystemClock()
    # The printer is opened per label; building it here only parses the URL.
    app.state.scan_hub = ScanHub()
    app.state.scanner = None
    # The pump's port is opened per request; None: no pump configured. `pump` serves a server
    # of one pharmacy only; `pumps` each pharmacy's own, by ODS code (app/counter/pump.py).
    app.state.pump = (
        open_pump(settings.pump_url, dispense_timeout=settings.pump_timeout_seconds)
        if settings.pump_url
        else None
    )
    app.state.pumps = {
        ods.upper(): open_pump(url, dispense_timeout=settings.pump_timeout_seconds)
        for ods, url in settings.pump_urls.items()
        if url
    }
    app.state.printer = printer or open_printer(
        settings.printer_url, preview_dir=settings.data_dir / "labels"
    )
    problems.install(app)
    ops_metrics.install(app)
    install_access_log_redaction()  # whoever serves this app, its access log keeps no secrets

    app.add_middleware(ResponseGates)  # a request's last checks, before its response starts
    app.add_middleware(ResponseHeaders)  # outermost: it also marks errors from the rest

    for router in (
        auth_api.router,
        pharmacies_api.router,
        contacts_api.router,
        notify_api.router,
        households_api.router,
        households_home_safety_api.router,
        patients_api.router,
        prescriptions_api.router,
        intake_guest_api.router,
        intake_transfer_api.router,
        intake_product_api.router,
        prescriptions_api.opening_days_router,
        dosing_api.router,
        dosing_paper_api.router,
        dosing_exceptions_api.router,
        safeguarding_api.router,
        safeguarding_api.concern_router,
        counter_api.router,
        counter_prompts_api.router,
        register_api.router,
        register_pack_api.router,
        reports_api.router,
        reports_api.adherence_router,
        reports_api.household_router,
        lookup_api.router,
        injections_api.router,
    ):
        app.include_router(router, prefix=API)
    app.include_router(health.router)
    for pages in (
        auth_pages.router,
        counter_pages.router,
        counter_paper_pages.router,
        counter_exception_pages.router,
        patients_pages.router,
        safeguarding_pages.router,
        report_pages.router,
        household_pages.router,
        admin_pages.router,
        prescriptions_pages.router,
        intake_guest_pages.router,
        register_pages.router,
        lookup_pages.router,
        injections_pages.router,
    ):
        app.include_router(pages)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_docs(app)
    app.include_router(safeguarding_feeds.router)
    links.install(app)
    return app


def install_docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc served from the installed `fastapi-offline` package: no CDN, which
    counters cannot reach anyway. Their start-up scripts are inline, so these two pages alone
    allow inline script (and ReDoc its search worker from a blob)."""
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Dosekeeper API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
        page.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
            "'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'"
        )
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title="Dosekeeper API reference",
            redoc_js_url="/docs-assets/redoc.standalone.js",
            redoc_favicon_url="/static/favicon.svg",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
            "'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'"
        )
        return page


def app_from_env(**overrides: Any) -> FastAPI:
    """Entry point for `uvicorn app.main:app_from_env --factory`."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings, with_worker=True)


logging.getLogger(__name__).addHandler(logging.NullHandler())
