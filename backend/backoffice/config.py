"""Settings of the back office, read from the environment (and `.env` at the project root)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

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
    mail_dir: Path = PROJECT_ROOT / "var" / "mail"

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
            mail_dir=Path(os.getenv("MAIL_SINK_DIR", PROJECT_ROOT / "var" / "mail")),
        )


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")
