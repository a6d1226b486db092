"""Settings of the back office, read from the environment (and `.env` at the project root)."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlsplit

from dotenv import load_dotenv
from sqlalchemy.engine import URL, make_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    knowledge_dir: Path
    web_dir: Path
    database_url: str
    socket_url: str
    service_token: str
    # The privacy request ledger: the company systems the outbox worker delivers tasks to, and the
    # privacy team's login for the overview (an empty password keeps the overview closed).
    company_systems_url: str = "http://localhost:8100"
    company_systems_token: str = "change-me-systems-token"
    privacy_team_user: str = "privacy"
    privacy_team_password: str = ""
    # Outbox worker: seconds between polls, call timeout, lease on a claimed task, retry schedule.
    worker_poll_seconds: float = 1.0
    worker_timeout_seconds: float = 5.0
    worker_lease_seconds: float = 30.0
    worker_max_attempts: int = 10
    worker_backoff_base_seconds: float = 30.0
    worker_backoff_cap_seconds: float = 3600.0
    # Identity verification. SESSION_TOKEN_SECRET signs the website's session tokens and is shared
    # with the Rasa socket.io channel (at least 32 bytes; unset, website sessions are refused);
    # OTP_SECRET keys the hashes of one-time codes (unset, a random one per process is used).
    session_token_secret: str = ""
    session_token_minutes: int = 30
    otp_secret: str = ""
    identity_minutes: int = 60  # how long a conversation stays verified
    identity_lookup_timeout_seconds: float = 5.0  # the call to the company's CRM to find an e-mail address
    smtp_host: str = "localhost"
    smtp_port: int = 8025
    smtp_from: str = "Voltera privacy <privacy@voltera.example>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # The embedded demo: log in as a seed customer on the website, read the mail sink's inbox.
    # Never on in production (anyone could log in as a demo customer and read every code).
    demo_mode: bool = False
    # Demo mode is refused when the back office is reachable beyond this machine or runs on
    # PostgreSQL (both look like a real deployment), unless DEMO_MODE_ALLOW_PUBLIC says so too.
    demo_mode_allow_public: bool = False
    mail_dir: Path = PROJECT_ROOT / "var" / "mail"
    # The customer's own data (my_data_api): Rasa's tracker store, read for the transcripts and
    # emptied by an erasure (see `tracker_url`); how long a company system may take to answer;
    # download links: EXPORT_LINK_SECRET signs them (at least 32 bytes; unset, a random key of this
    # process is used and links die with it), they live EXPORT_LINK_MINUTES, and start with
    # BACKOFFICE_PUBLIC_URL, the address the customer's browser reaches the back office at.
    tracker_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'rasa-tracker.db'}"
    my_data_timeout_seconds: float = 5.0
    export_link_secret: str = ""
    export_link_minutes: int = 15
    public_url: str = "http://localhost:8000"
    # The largest request body accepted (bytes); a bigger one gets 413 before anything parses it.
    max_body_bytes: int = 64 * 1024

    @classmethod
    def from_env(cls) -> "Settings":
        load_dotenv(PROJECT_ROOT / ".env")
        return cls(
            knowledge_dir=Path(os.getenv("KNOWLEDGE_DIR", PROJECT_ROOT / "knowledge")),
            web_dir=Path(os.getenv("WEB_DIR", PROJECT_ROOT / "web")),
            database_url=os.getenv("BACKOFFICE_DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'backoffice.db'}"),
            socket_url=os.getenv("PUBLIC_SOCKET_URL", "http://localhost:5005"),
            service_token=os.getenv("BACKOFFICE_SERVICE_TOKEN", "change-me-service-token"),
            company_systems_url=os.getenv("COMPANY_SYSTEMS_URL", "http://localhost:8100"),
            company_systems_token=os.getenv("COMPANY_SYSTEMS_TOKEN", "change-me-systems-token"),
            privacy_team_user=os.getenv("PRIVACY_TEAM_USER", "privacy"),
            privacy_team_password=os.getenv("PRIVACY_TEAM_PASSWORD", ""),
            worker_poll_seconds=float(os.getenv("WORKER_POLL_SECONDS", "1.0")),
            worker_timeout_seconds=float(os.getenv("WORKER_TIMEOUT_SECONDS", "5.0")),
            worker_lease_seconds=float(os.getenv("WORKER_LEASE_SECONDS", "30")),
            worker_max_attempts=int(os.getenv("WORKER_MAX_ATTEMPTS", "10")),
            worker_backoff_base_seconds=float(os.getenv("WORKER_BACKOFF_BASE_SECONDS", "30")),
            worker_backoff_cap_seconds=float(os.getenv("WORKER_BACKOFF_CAP_SECONDS", "3600")),
            session_token_secret=os.getenv("SESSION_TOKEN_SECRET", ""),
            session_token_minutes=int(os.getenv("SESSION_TOKEN_MINUTES", "30")),
            otp_secret=os.getenv("OTP_SECRET", ""),
            identity_minutes=int(os.getenv("IDENTITY_MINUTES", "60")),
            identity_lookup_timeout_seconds=float(os.getenv("IDENTITY_LOOKUP_TIMEOUT_SECONDS", "5")),
            smtp_host=os.getenv("SMTP_HOST", "localhost"),
            smtp_port=int(os.getenv("SMTP_PORT", "8025")),
            smtp_from=os.getenv("SMTP_FROM", "Voltera privacy <privacy@voltera.example>"),
            smtp_username=os.getenv("SMTP_USERNAME", ""),
            smtp_password=os.getenv("SMTP_PASSWORD", ""),
            smtp_starttls=_flag(os.getenv("SMTP_STARTTLS", "0")),
            demo_mode=_flag(os.getenv("DEMO_MODE", "0")),
            demo_mode_allow_public=_flag(os.getenv("DEMO_MODE_ALLOW_PUBLIC", "0")),
            mail_dir=Path(os.getenv("MAIL_SINK_DIR", PROJECT_ROOT / "var" / "mail")),
            tracker_url=tracker_url(os.environ),
            my_data_timeout_seconds=float(os.getenv("MY_DATA_TIMEOUT_SECONDS", "5")),
            export_link_secret=os.getenv("EXPORT_LINK_SECRET", ""),
            export_link_minutes=int(os.getenv("EXPORT_LINK_MINUTES", "15")),
            public_url=(os.getenv("BACKOFFICE_PUBLIC_URL") or os.getenv("BACKOFFICE_URL")
                        or f"http://localhost:{os.getenv('BACKOFFICE_PORT') or 8000}").rstrip("/"),
            max_body_bytes=int(os.getenv("MAX_REQUEST_BODY_BYTES", str(64 * 1024))),
        )


def demo_mode_refusal(settings: Settings, host: str) -> Optional[str]:
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


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")
