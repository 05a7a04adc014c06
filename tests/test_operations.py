"""Operations: production refuses unsafe defaults, and /metrics exposes what operators watch."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.factories import World


def test_production_names_every_unsafe_default_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]
    message = str(refused.value)
    for variable in (
        "DOSEKEEPER_SECRET_KEY",
        "DOSEKEEPER_AUDIT_KEY",
        "DOSEKEEPER_DATABASE_URL",
        "DOSEKEEPER_PRINTER_URL",
        "DOSEKEEPER_SMTP_URL",
        "DOSEKEEPER_NOTIFY__PUBLIC_BASE_URL",
    ):
        assert variable in message


def test_production_starts_when_configured_properly() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        secret_key="x" * 40,
        audit_key="y" * 40,
        database_url="postgresql+psycopg://app@db/dosekeeper",
        printer_url="tcp://10.0.0.5:9100",
        smtp_url="smtp://mail.example.org:587",
        notify={"public_base_url": "https://dosekeeper.example.org"},
    )
    assert settings.environment == "production"


def test_metrics_count_requests_and_alerts(world: World) -> None:
    world.get("/api/v1/me")
    body = world.client.get("/metrics").text
    assert "dosekeeper_http_requests_total" in body
    assert 'route="/api/v1/me"' in body
    assert "dosekeeper_alerts" in body


def test_every_response_carries_a_request_id_that_the_logs_share(world: World) -> None:
    import logging

    from app.logs import RequestIdFilter

    kept = world.client.get("/healthz", headers={"X-Request-ID": "proxy-1234567"})
    assert kept.headers["X-Request-ID"] == "proxy-1234567"
    made = world.client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert made.headers["X-Request-ID"] != "bad id\nwith newline"
    assert len(made.headers["X-Request-ID"]) == 32
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", (), None)
    assert RequestIdFilter().filter(record)
    assert hasattr(record, "request_id")


def test_liveness_and_readiness(world: World) -> None:
    assert world.client.get("/livez").json() == {"status": "alive"}
    ready = world.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"]["at_head"] is True


def test_the_container_image_runs_the_same_dosekeeper_command() -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from app.cli import cli

    dockerfile = (Path(__file__).parent.parent / "deploy" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["dosekeeper"]' in dockerfile
    assert 'CMD ["serve"' in dockerfile
    commands = CliRunner().invoke(cli, ["--help"]).output
    for command in ("serve", "migrate", "worker", "close-day", "backup", "restore", "audit"):
        assert command in commands
