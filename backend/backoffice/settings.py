"""Settings of the back office: every one typed and read here, from the environment (and `.env` at the
project root), with its default stated once. A secret that is unset or still a placeholder of
`.env.example` stops start-up with the variable's name (`Settings.problems`)."""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import load_dotenv
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "change-me"
DEFAULT_COMPANY_NAME = "Voltera"  # the demo company


def _env(name: str, default: Any, field_name: str | None = None, **extra: Any) -> Any:
    """A setting read from the variable `name` (a test may also pass it by its field name)."""
    choices = AliasChoices(field_name, name) if field_name else name
    return Field(default, validation_alias=choices, **extra)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="ignore", case_sensitive=True)

    # The company's name as customers know it, in every text of the catalogue (text-catalogue/texts/<language>.yml) that
    # says `{company}`: the assistant's, the channels', the e-mails', the console's and the widget's. Its
    # legal name is the knowledge base's (company.yml). No { or }.
    company_name: str = _env("COMPANY_NAME", DEFAULT_COMPANY_NAME, "company_name", min_length=1, pattern=r"^[^{}]*\S[^{}]*$")
    knowledge_dir: Path = _env("KNOWLEDGE_DIR", PROJECT_ROOT / "knowledge", "knowledge_dir")
    web_dir: Path = _env("WEB_DIR", PROJECT_ROOT / "web", "web_dir")
    catalogue_file: Path = _env("COMPANY_SYSTEMS_CATALOGUE", PROJECT_ROOT / "company-systems.yml", "catalogue_file")
    database_url: str = _env("BACKOFFICE_DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'backoffice.db'}", "database_url")
    socket_url: str = _env("PUBLIC_SOCKET_URL", "http://localhost:5005", "socket_url")
    # The token every call of the action server carries; required.
    service_token: str = _env("BACKOFFICE_SERVICE_TOKEN", "", "service_token")
    # The company systems (the system catalogue's ${COMPANY_SYSTEMS_URL} and ${COMPANY_SYSTEMS_TOKEN}).
    company_systems_url: str = _env("COMPANY_SYSTEMS_URL", "http://localhost:8100", "company_systems_url")
    company_systems_token: str = _env("COMPANY_SYSTEMS_TOKEN", "", "company_systems_token")
    # The staff console's cookies are Secure (sent over HTTPS only) unless this says the console is
    # served over plain http on this machine (the demo and the tests on http://127.0.0.1).
    console_insecure_cookies: bool = _env("CONSOLE_INSECURE_COOKIES", False, "console_insecure_cookies")
    # The reverse proxies in front of the back office (addresses or networks, comma-separated, e.g.
    # "10.0.0.5, 10.1.0.0/16"): only a request from one of them is believed when its X-Forwarded-For
    # names the client. Empty (the default): every client is the address it connects from.
    trusted_proxies: str = _env("TRUSTED_PROXIES", "", "trusted_proxies")
    # Seconds a client has to send a request's line and headers (from connecting, or from the end of
    # its previous response); a slower one is disconnected.
    request_header_timeout_seconds: float = _env("REQUEST_HEADER_TIMEOUT_SECONDS", 10.0, "request_header_timeout_seconds", gt=0)
    # Outbox worker: seconds between polls, call timeout, lease on a claimed task, retry schedule.
    worker_poll_seconds: float = _env("WORKER_POLL_SECONDS", 1.0, "worker_poll_seconds", gt=0)
    worker_timeout_seconds: float = _env("WORKER_TIMEOUT_SECONDS", 5.0, "worker_timeout_seconds", gt=0)
    worker_lease_seconds: float = _env("WORKER_LEASE_SECONDS", 30.0, "worker_lease_seconds", gt=0)
    worker_max_attempts: int = _env("WORKER_MAX_ATTEMPTS", 10, "worker_max_attempts", ge=1)
    worker_backoff_base_seconds: float = _env("WORKER_BACKOFF_BASE_SECONDS", 30.0, "worker_backoff_base_seconds", gt=0)
    worker_backoff_cap_seconds: float = _env("WORKER_BACKOFF_CAP_SECONDS", 3600.0, "worker_backoff_cap_seconds", gt=0)
    # Identity verification. SESSION_TOKEN_SECRET signs the website's session tokens (at least 32
    # bytes); OTP_SECRET keys the hashes of one-time codes.
    session_token_secret: str = _env("SESSION_TOKEN_SECRET", "", "session_token_secret")
    session_token_minutes: int = _env("SESSION_TOKEN_MINUTES", 30, "session_token_minutes", ge=1)
    otp_secret: str = _env("OTP_SECRET", "", "otp_secret")
    identity_minutes: int = _env("IDENTITY_MINUTES", 60, "identity_minutes", ge=1)  # how long a conversation stays verified
    # The call to the company's CRM to find an e-mail address.
    identity_lookup_timeout_seconds: float = _env("IDENTITY_LOOKUP_TIMEOUT_SECONDS", 5.0, "identity_lookup_timeout_seconds", gt=0)
    smtp_host: str = _env("SMTP_HOST", "localhost", "smtp_host")
    smtp_port: int = _env("SMTP_PORT", 8025, "smtp_port")
    # Unset: "<COMPANY_NAME> privacy <privacy@voltera.example>".
    smtp_from: str = _env("SMTP_FROM", "", "smtp_from")
    smtp_username: str = _env("SMTP_USERNAME", "", "smtp_username")
    smtp_password: str = _env("SMTP_PASSWORD", "", "smtp_password")
    smtp_starttls: bool = _env("SMTP_STARTTLS", False, "smtp_starttls")
    # The embedded demo: log in as a seed customer on the website, read the mail sink's inbox.
    # Never on in production (anyone could log in as a demo customer and read every code). Refused
    # when the back office is reachable beyond this machine or runs on PostgreSQL (both look like a
    # real deployment), unless DEMO_MODE_ALLOW_PUBLIC says so too.
    demo_mode: bool = _env("DEMO_MODE", False, "demo_mode")
    demo_mode_allow_public: bool = _env("DEMO_MODE_ALLOW_PUBLIC", False, "demo_mode_allow_public")
    mail_dir: Path = _env("MAIL_SINK_DIR", PROJECT_ROOT / "var" / "mail", "mail_dir")
    # The demo's staff accounts (two agents, one privacy officer), made or brought up to date at start
    # in demo mode; an account whose password is unset or a placeholder is not made.
    demo_agent_1_email: str = _env("DEMO_AGENT_1_EMAIL", "anna@voltera.example", "demo_agent_1_email")
    demo_agent_1_password: str = _env("DEMO_AGENT_1_PASSWORD", "", "demo_agent_1_password")
    demo_agent_2_email: str = _env("DEMO_AGENT_2_EMAIL", "bram@voltera.example", "demo_agent_2_email")
    demo_agent_2_password: str = _env("DEMO_AGENT_2_PASSWORD", "", "demo_agent_2_password")
    demo_privacy_officer_email: str = _env("DEMO_PRIVACY_OFFICER_EMAIL", "sanne@voltera.example", "demo_privacy_officer_email")
    demo_privacy_officer_password: str = _env("DEMO_PRIVACY_OFFICER_PASSWORD", "", "demo_privacy_officer_password")
    # A customer's own data: Rasa's tracker store, read for the transcripts and emptied by an erasure
    # (`tracker_url`, from TRACKER_DB_URL or TRACKER_DB_*); how long a company system may take to
    # answer; download links: EXPORT_LINK_SECRET signs them (at least 32 bytes), they live
    # EXPORT_LINK_MINUTES, and start with BACKOFFICE_PUBLIC_URL, the address the customer's browser
    # reaches the back office at (else BACKOFFICE_URL, else localhost and BACKOFFICE_PORT).
    tracker_url: str = _env("TRACKER_DB_URL", "", "tracker_url")
    tracker_db_dialect: str = _env("TRACKER_DB_DIALECT", "sqlite")
    tracker_db_host: str = _env("TRACKER_DB_HOST", "")
    tracker_db: str = _env("TRACKER_DB", "var/rasa-tracker.db")
    tracker_db_port: str = _env("TRACKER_DB_PORT", "")
    tracker_db_username: str = _env("TRACKER_DB_USERNAME", "")
    tracker_db_password: str = _env("TRACKER_DB_PASSWORD", "")
    my_data_timeout_seconds: float = _env("MY_DATA_TIMEOUT_SECONDS", 5.0, "my_data_timeout_seconds", gt=0)
    export_link_secret: str = _env("EXPORT_LINK_SECRET", "", "export_link_secret")
    export_link_minutes: int = _env("EXPORT_LINK_MINUTES", 15, "export_link_minutes", ge=1)
    public_url: str = _env("BACKOFFICE_PUBLIC_URL", "", "public_url")
    backoffice_url: str = _env("BACKOFFICE_URL", "")
    backoffice_port: int = _env("BACKOFFICE_PORT", 8000)
    # The largest request body accepted (bytes); a bigger one gets 413 before anything parses it.
    max_body_bytes: int = _env("MAX_REQUEST_BODY_BYTES", 64 * 1024, "max_body_bytes", gt=0)
    # Handing chats to a person. Agents answer within HANDOFF_OFFICE_HOURS (Amsterdam time, e.g.
    # "mon-fri 09:00-17:00, sat 10:00-14:00"), except on the public holidays of HANDOFF_HOLIDAYS_COUNTRY
    # (an ISO country code; empty for none) and HANDOFF_CLOSED_DATES (YYYY-MM-DD, space-separated).
    # The expected wait counts HANDOFF_MINUTES_PER_CONVERSATION per agent; a ticket is answered within
    # HANDOFF_TICKET_WORKING_DAYS; a claim lapses when its agent's console has been away for
    # HANDOFF_CLAIM_TIMEOUT_SECONDS, and an agent counts as available for HANDOFF_AGENT_PRESENCE_SECONDS
    # after their console last asked.
    handoff_office_hours: str = _env("HANDOFF_OFFICE_HOURS", "mon-fri 09:00-17:00", "handoff_office_hours")
    handoff_holidays_country: str = _env("HANDOFF_HOLIDAYS_COUNTRY", "NL", "handoff_holidays_country")
    handoff_closed_dates: str = _env("HANDOFF_CLOSED_DATES", "", "handoff_closed_dates")
    handoff_minutes_per_conversation: float = _env("HANDOFF_MINUTES_PER_CONVERSATION", 6.0, "handoff_minutes_per_conversation", gt=0)
    handoff_ticket_working_days: int = _env("HANDOFF_TICKET_WORKING_DAYS", 2, "handoff_ticket_working_days", ge=1)
    handoff_claim_timeout_seconds: float = _env("HANDOFF_CLAIM_TIMEOUT_SECONDS", 120.0, "handoff_claim_timeout_seconds", gt=0)
    handoff_agent_presence_seconds: float = _env("HANDOFF_AGENT_PRESENCE_SECONDS", 60.0, "handoff_agent_presence_seconds", gt=0)
    # chats that may wait from one client address, and of one verified customer; beyond, a ticket is offered
    handoff_waiting_per_source: int = _env("HANDOFF_WAITING_PER_SOURCE", 2, "handoff_waiting_per_source", ge=1)
    handoff_waiting_per_customer: int = _env("HANDOFF_WAITING_PER_CUSTOMER", 1, "handoff_waiting_per_customer", ge=1)
    # Rasa's HTTP API, where an agent's replies enter the conversation: its address (else localhost
    # and RASA_PORT) and the token `rasa run --auth-token` was given.
    rasa_url: str = _env("RASA_URL", "", "rasa_url")
    rasa_port: int = _env("RASA_PORT", 5005)
    rasa_api_token: str = _env("RASA_API_TOKEN", "", "rasa_api_token")
    # What an operator watches (docs/operations.md). LOG_FORMAT: "text" (one readable line, for a
    # terminal) or "json" (one JSON object per line, for a log collector). METRICS_TOKEN: empty, /metrics
    # answers anyone who reaches it (an internal network); set, only `Authorization: Bearer <token>`.
    # READINESS_TIMEOUT_SECONDS: how long /health/ready (and /metrics' database figures) wait for the database.
    log_format: Literal["text", "json"] = _env("LOG_FORMAT", "text", "log_format")
    metrics_token: str = _env("METRICS_TOKEN", "", "metrics_token")
    readiness_timeout_seconds: float = _env("READINESS_TIMEOUT_SECONDS", 2.0, "readiness_timeout_seconds", gt=0, le=30)

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if not self.tracker_url:
            object.__setattr__(self, "tracker_url", tracker_url({
                "TRACKER_DB_DIALECT": self.tracker_db_dialect, "TRACKER_DB_HOST": self.tracker_db_host, "TRACKER_DB": self.tracker_db,
                "TRACKER_DB_PORT": self.tracker_db_port, "TRACKER_DB_USERNAME": self.tracker_db_username,
                "TRACKER_DB_PASSWORD": self.tracker_db_password}))
        else:
            object.__setattr__(self, "tracker_url", tracker_url({"TRACKER_DB_URL": self.tracker_url}))
        public = self.public_url or self.backoffice_url or f"http://localhost:{self.backoffice_port}"
        object.__setattr__(self, "public_url", public.rstrip("/"))
        object.__setattr__(self, "rasa_url", (self.rasa_url or f"http://localhost:{self.rasa_port}").rstrip("/"))
        object.__setattr__(self, "company_name", self.company_name.strip())
        if not self.smtp_from:
            object.__setattr__(self, "smtp_from", f"{self.company_name} privacy <privacy@voltera.example>")
        return self

    @classmethod
    def from_env(cls) -> Settings:
        load_dotenv(PROJECT_ROOT / ".env")
        return cls()

    @classmethod
    def variable_of(cls, field: str) -> str:
        """The environment variable a setting is read from."""
        alias = cls.model_fields[field].validation_alias if field in cls.model_fields else None
        if isinstance(alias, AliasChoices):
            return str(alias.choices[-1])
        return str(alias or field)

    def catalogue_variables(self) -> dict[str, str]:
        """What the system catalogue's ${...} read: the environment, with the company systems' address
        and token as set here."""
        return {**os.environ, "COMPANY_SYSTEMS_URL": self.company_systems_url, "COMPANY_SYSTEMS_TOKEN": self.company_systems_token}

    def trusted_proxy_list(self) -> list[str]:
        """TRUSTED_PROXIES as networks ("10.1.0.7/16" is 10.1.0.0/16, as the Rasa side reads it; `problems` names a wrong entry)."""
        return [_network(item.strip()) or item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

    def problems(self) -> list[str]:
        """Why the back office must not start with these settings: each names the variable to set.
        (The variables the system catalogue reads are checked when it connects: `Catalogue.connect`;
        the handoff's hours and closed days by the handoff, which reads them: `DeskConfig.problems`.)"""
        problems = []
        for name, value in (("BACKOFFICE_SERVICE_TOKEN", self.service_token), ("COMPANY_SYSTEMS_TOKEN", self.company_systems_token),
                            ("SESSION_TOKEN_SECRET", self.session_token_secret), ("OTP_SECRET", self.otp_secret),
                            ("EXPORT_LINK_SECRET", self.export_link_secret), ("RASA_API_TOKEN", self.rasa_api_token)):
            if not value:
                problems.append(f"{name} is not set")
            elif is_placeholder(value):
                problems.append(f"{name} is still the placeholder '{value}' of .env.example")
        if is_placeholder(self.metrics_token):
            problems.append(f"METRICS_TOKEN is still the placeholder '{self.metrics_token}' of .env.example (empty: /metrics is open)")
        for proxy in self.trusted_proxy_list():
            if _network(proxy) is None:
                problems.append(f"TRUSTED_PROXIES: '{proxy[:50]}' is not an IP address or network (such as 10.0.0.5 or 10.1.0.0/16)")
        return problems


def _network(text: str) -> str | None:
    """An address or a network, written as a network; None for anything else (a name, or "*", which
    would let every client choose its own address)."""
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


def is_placeholder(value: str) -> bool:
    return value.startswith(PLACEHOLDER)


def demo_mode_refusal(settings: Settings, host: str) -> str | None:
    """Why the back office must not serve demo mode here, or None. Demo mode publishes every one-time
    code and lets anyone log in as a customer, so it is for one machine and a throwaway database:
    a bind host that is not a loopback address, or a PostgreSQL database, needs DEMO_MODE_ALLOW_PUBLIC=1."""
    if not settings.demo_mode or settings.demo_mode_allow_public:
        return None
    problems = []
    if not _is_loopback(host):
        problems.append(f"it listens on {host}, which is reachable beyond this machine")
    if make_url(settings.database_url).get_backend_name() == "postgresql":
        problems.append("its database is PostgreSQL, as in a real deployment")
    if not problems:
        return None
    return (f"demo mode (DEMO_MODE=1) is refused: {' and '.join(problems)}. Demo mode shows every one-time code at "
            "/demo/inbox and lets anyone log in as a customer. Set DEMO_MODE=0, or DEMO_MODE_ALLOW_PUBLIC=1 if this "
            "really is a demo")


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tracker_url(env: Mapping[str, str]) -> str:
    """The SQLAlchemy URL of Rasa's tracker store, from the variables the Rasa server reads too
    (bot/endpoints.yml): TRACKER_DB_DIALECT, TRACKER_DB_HOST, TRACKER_DB, and the optional
    TRACKER_DB_USERNAME, TRACKER_DB_PASSWORD, TRACKER_DB_PORT; or TRACKER_DB_URL for all of them.

    Built the way Rasa builds it, so both read the same database: a host with "://" is a whole URL,
    and a SQLite file is relative to the project root (where Rasa runs; the back office runs in
    backend/). PostgreSQL is reached with psycopg 3, the back office's driver.
    """
    if env.get("TRACKER_DB_URL"):
        return _with_our_driver(make_url(env["TRACKER_DB_URL"])).render_as_string(hide_password=False)
    dialect = env.get("TRACKER_DB_DIALECT") or "sqlite"
    host = env.get("TRACKER_DB_HOST") or None
    db = env.get("TRACKER_DB") or "var/rasa-tracker.db"
    if host and "://" in host:
        return _with_our_driver(make_url(host)).render_as_string(hide_password=False)
    if dialect.startswith("sqlite"):
        path = Path(db)
        return f"sqlite:///{path if path.is_absolute() else PROJECT_ROOT / path}"
    port = int(env["TRACKER_DB_PORT"]) if env.get("TRACKER_DB_PORT") else None
    if host:  # "db.internal:5433" carries its port, as Rasa reads it
        parsed = urlsplit(f"scheme://{host}")
        host, port = parsed.hostname or host, parsed.port or port
    url = URL.create(dialect, username=env.get("TRACKER_DB_USERNAME") or None, password=env.get("TRACKER_DB_PASSWORD") or None,
                     host=host, port=port, database=db)
    return _with_our_driver(url).render_as_string(hide_password=False)


def _with_our_driver(url: URL) -> URL:
    """postgresql:// (Rasa's psycopg2) becomes postgresql+psycopg://, the driver installed here."""
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        return url.set(drivername="postgresql+psycopg")
    return url
