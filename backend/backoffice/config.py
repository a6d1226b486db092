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
        )
