"""Settings, read once from DOSEKEEPER_* environment variables at the edge of the process.

Everything else receives a `Settings` (or the part it needs) as a parameter or through
`app.state`; no module reads the environment at import time, so tests build `Settings(...)`
directly and a developer's shell cannot leak in.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-only-change-me-dev-only-change-me"
DEFAULT_AUDIT_KEY = "dev-only-audit-key-change-me-dev-only-audit-key"


class PolicySettings(BaseModel):
    """Local clinical thresholds. Guidance turns into warnings at these values; law never moves."""

    # Consecutive missed days before the counter blocks supply until a prescriber's review.
    missed_threshold: int = Field(default=3, ge=1, le=14)
    # The same, per drug ("methadone", "buprenorphine"), for a drug whose local rule differs;
    # a drug not named here uses missed_threshold. Empty by default: methadone and
    # buprenorphine both stop at 3 (docs/decisions.md, "Missed-dose thresholds per drug").
    missed_threshold_by_drug: dict[str, Annotated[int, Field(ge=1, le=14)]] = Field(
        default_factory=dict
    )
    # A child younger than this makes a take-home need a lockable box confirmation.
    child_age_years: int = Field(default=16, ge=1, le=18)
    # Days a lockable-box confirmation stays valid.
    box_validity_days: int = Field(default=90, ge=1, le=365)
    # Days after which the children living in a household must be re-confirmed.
    children_confirmation_days: int = Field(default=28, ge=1, le=365)
    # Take-home methadone (mg) accumulated at home across a household with a child, above which
    # the pharmacist is warned (docs/decisions.md: 300 mg was thirty times what the label says
    # can kill a child).
    household_methadone_mg: int = Field(default=100, ge=1, le=100_000)
    # Any take-home into a household with a child younger than this is a warning, however small.
    young_child_age_years: int = Field(default=5, ge=1, le=18)
    # Intake warnings (mg): QT monitoring, titration step, first dose for a new patient.
    high_dose_mg: int = Field(default=100, ge=1)
    large_increase_mg: int = Field(default=10, ge=1)
    first_dose_mg: int = Field(default=30, ge=1)
    # Days before the end of a prescription at which the counter warns there is no successor.
    prescription_ending_days: int = Field(default=2, ge=0, le=14)
    # CD register: a balance-check variance (% of the book balance, liquids only) within which
    # manufacturer's overage and measuring loss are expected; outside it is a discrepancy.
    register_tolerance_percent: float = Field(default=1.0, ge=0, le=10)
    # Days back a dose given on paper during an outage may be entered (docs/downtime.md): long
    # enough for a long weekend's outage, short enough that the sheet is still at hand.
    paper_entry_days: int = Field(default=7, ge=1, le=31)
    # A liquid dose is handed over only after its stock bottle was scanned (issue 20 §5). Off
    # by default: a pharmacy turns it on once its scanners read the bottles' 2D codes and its
    # pack table knows its stock (docs/decisions.md, "The stock bottle checked").
    bottle_scan_required: bool = False
    # Days past a long-acting buprenorphine injection's due date before it is overdue and close
    # of day alerts the prescriber and key worker (docs/decisions.md): by default the whole
    # window the licence allows (Buvidal SmPC: 2 days for a weekly dose, a week for a monthly
    # one); set lower to be told sooner, never higher than that window.
    injection_overdue_weekly_days: int = Field(default=2, ge=0, le=2)
    injection_overdue_monthly_days: int = Field(default=7, ge=0, le=7)
    # Alert kind -> recipient roles (key_worker, prescriber, social_worker, safeguarding_lead,
    # mash), replacing what the alert rule proposes for that kind (see docs/alerts.md).
    alert_routing: dict[str, list[str]] = Field(default_factory=dict)

    def missed_threshold_for(self, drug: str) -> int:
        """The days without a dose that stop supply of `drug`, before any prescriber wording."""
        return self.missed_threshold_by_drug.get(drug, self.missed_threshold)


class AuthSettings(BaseModel):
    # Bearer tokens and web sessions live this long (seconds) from sign-in, however active: the
    # absolute session timeout (web_idle_seconds ends idle ones sooner). Eight hours covers one
    # counter shift.
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    # Failed logins in a row for one username from one client address before delays start.
    login_free_failures: int = Field(default=5, ge=1)
    # Failed logins from one client address, whatever the usernames, before delays start (one
    # pharmacy's staff share an address: mistypes by several people are not an attack).
    login_address_free_failures: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=3600, ge=60)
    # Hard cap on failures per window (ASVS V2.2.1), per client address; per account, past it
    # only addresses with no failure for that account may still try (never locks the owner out).
    login_max_failures: int = Field(default=100, ge=1)
    # Longest delay imposed between attempts after repeated failures (seconds).
    login_max_delay_seconds: int = Field(default=900, ge=1)
    # argon2id cost: "recommended" in production, "cheapest" only in the test suite.
    password_profile: Literal["recommended", "cheapest"] = "recommended"
    # A bearer token, once resolved, is kept in this process this long (seconds; 0: never).
    # It is never trusted alone: every request re-reads the auth epoch in its own transaction,
    # so a revocation anywhere stops the token within one request (app/auth/token_cache.py).
    token_cache_seconds: float = Field(default=300, ge=0, le=3600)


class NotifySettings(BaseModel):
    # Where people and receivers reach this service (acknowledgement links, feed links).
    public_base_url: str = "http://127.0.0.1:8000"
    mail_from: str = "Dosekeeper alerts <alerts@dosekeeper.invalid>"
    # Delay before each retry (seconds); the last one repeats until `retry_for_seconds` has
    # passed since the first attempt, then the delivery is dead (kept, shown, retryable).
    retry_delays_seconds: tuple[float, ...] = (10, 60, 300, 900, 1800)
    retry_for_seconds: float = 24 * 3600
    # +/- this fraction of each delay, so many failing deliveries do not retry in lock-step.
    retry_jitter: float = Field(default=0.2, ge=0, le=0.5)
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=30)
    # Unacknowledged this long after being raised (or escalated) → escalate to the next level:
    # the pharmacy's safeguarding lead, then the MASH.
    sla_seconds: dict[str, float] = Field(
        default_factory=lambda: {"info": 24 * 3600.0, "warning": 4 * 3600.0, "urgent": 15 * 60.0}
    )
    # The worker wakes this often when idle; an alert waits at most about this long.
    worker_poll_seconds: float = Field(default=0.2, gt=0)
    # A claimed delivery is reclaimable after this long (a worker killed mid-send).
    lease_seconds: float = Field(default=300, gt=0)
    batch_size: int = Field(default=50, ge=1, le=1000)
    # Run one delivery worker inside `dosekeeper serve` (the embedded default).
    embedded_worker: bool = True


class LookupSettings(BaseModel):
    # A look-up link sent to a hospital ward, custody suite or out-of-hours service stays valid
    # this long (hours) from issue: one night, or one shift and a handover.
    link_hours: int = Field(default=12, ge=1, le=7 * 24)
    # Look-ups one clinician account or one link may make in any hour; the next is 429 with
    # Retry-After. Counted in the database, so it holds across processes.
    per_hour: int = Field(default=20, ge=1, le=1000)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOSEKEEPER_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    # Seals the audit chain (an HMAC per event); held here, never in the database. Rotate by
    # moving the old key to audit_previous_keys (JSON list) and anchoring (docs/security.md).
    audit_key: SecretStr = SecretStr(DEFAULT_AUDIT_KEY)
    audit_previous_keys: tuple[SecretStr, ...] = ()
    # Where audit anchors (signed chain heads) are appended; default <data_dir>/anchors. Keep it
    # off the database host. `dosekeeper audit verify` compares with the latest one.
    audit_anchor_dir: Path | None = None
    # Default is a SQLite file under ./var/ so the first run needs nothing installed.
    database_url: str = "sqlite:///./var/dosekeeper.sqlite3"
    # Connections each process may hold (app/db.py, make_engine): db_pool_size kept open, up
    # to db_max_overflow more in a burst. Every process has its own pool, so processes x
    # (pool + overflow) must fit PostgreSQL's max_connections (docs/operations.md, "Database
    # connections"). Python runs one request's code at a time per process, so more
    # transactions in flight add waiting, not throughput.
    db_pool_size: int = Field(default=8, ge=1, le=100)
    db_max_overflow: int = Field(default=4, ge=0, le=100)
    # A request waits this long (seconds) for a free connection, then is answered
    # 503 database_busy with Retry-After, nothing recorded, rather than hanging.
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Stored Idempotency-Key responses are kept at least this long (hours), then the delivery
    # worker deletes them (app/http/idempotency.py). A client retries within seconds or
    # minutes; a week also covers a terminal switched off over a long weekend. A retry after
    # it is answered as a fresh request: a handover already recorded is refused 409
    # already_recorded (or 422 today_only on a later day), never supplied twice.
    idempotency_retention_hours: int = Field(default=7 * 24, ge=24, le=90 * 24)
    data_dir: Path = Path("./var")
    printer_url: str = "preview://"
    # A serial barcode scanner (e.g. serial:///dev/ttyACM0?baudrate=9600); empty: keyboard-wedge
    # scanners typing into the counter page only.
    scanner_url: str = ""
    # A dose-measuring pump on a serial port (docs/pump-protocol.md), e.g.
    # serial:///dev/serial/by-id/usb-…?baudrate=9600; empty: no pump, doses measured by hand.
    pump_url: str = ""
    # Each pharmacy's own pump, by ODS code (JSON: {"FA123": "serial:///dev/…"}). On a server
    # of several pharmacies only these are used: pump_url serves a server of one pharmacy.
    pump_urls: dict[str, str] = Field(default_factory=dict)
    # How long the pump may take to measure one dose after acknowledging it (seconds).
    pump_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    # Empty means "write .eml files under <data_dir>/mail" (the local sink).
    smtp_url: str = ""
    timezone: str = "Europe/London"
    problem_base_uri: str = "https://dosekeeper.invalid/problems/"
    # Largest page a list endpoint returns, whatever the client asks for (API4: resource limits).
    max_page_size: int = Field(default=200, ge=1, le=1000)
    # Counter sessions end after this long without activity (a shared terminal: keep it short).
    web_idle_seconds: int = Field(default=15 * 60, ge=30)
    # Hosts a webhook may point at although they are internal (tests deliver to 127.0.0.1).
    webhook_allowed_hosts: frozenset[str] = frozenset()
    # Plain-http webhook URLs (refused in production unless explicitly allowed).
    allow_http_webhooks: bool = False
    policy: PolicySettings = Field(default_factory=PolicySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    lookup: LookupSettings = Field(default_factory=LookupSettings)

    @model_validator(mode="after")
    def _refuse_unsafe_production_defaults(self) -> Self:
        if self.environment != "production":
            return self
        problems = []
        secret = self.secret_key.get_secret_value()
        if secret == DEFAULT_SECRET or len(secret) < 32:
            problems.append(
                "DOSEKEEPER_SECRET_KEY must be a private random value of 32+ characters"
            )
        audit_key = self.audit_key.get_secret_value()
        if audit_key == DEFAULT_AUDIT_KEY or len(audit_key) < 32:
            problems.append("DOSEKEEPER_AUDIT_KEY must be a private random value of 32+ characters")
        elif audit_key == secret:
            problems.append("DOSEKEEPER_AUDIT_KEY must differ from DOSEKEEPER_SECRET_KEY")
        if self.database_url.startswith("sqlite"):
            problems.append("DOSEKEEPER_DATABASE_URL must name PostgreSQL in production")
        if self.printer_url.startswith("preview:"):
            problems.append("DOSEKEEPER_PRINTER_URL must name a real label printer in production")
        if not self.smtp_url:
            problems.append(
                "DOSEKEEPER_SMTP_URL must name a mail server in production "
                "(the .eml file sink delivers to nobody)"
            )
        if not self.notify.public_base_url.startswith("https://"):
            problems.append("DOSEKEEPER_NOTIFY__PUBLIC_BASE_URL must be https:// in production")
        if problems:
            # One line per problem, so an operator fixes them all in one go.
            raise ValueError("refusing to start in production:\n- " + "\n- ".join(problems))
        return self

    @property
    def anchor_dir(self) -> Path:
        return self.audit_anchor_dir or self.data_dir / "anchors"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process's settings, from the environment (call only at the edges: CLI, app factory)."""
    return Settings()
