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

    @classmethod
    def from_env(cls) -> "Settings":
        load_dotenv(PROJECT_ROOT / ".env")
        return cls(
            knowledge_dir=Path(os.getenv("KNOWLEDGE_DIR", PROJECT_ROOT / "knowledge")),
            web_dir=Path(os.getenv("WEB_DIR", PROJECT_ROOT / "web")),
            database_url=os.getenv("BACKOFFICE_DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'backoffice.db'}"),
            socket_url=os.getenv("PUBLIC_SOCKET_URL", "http://localhost:5005"),
            service_token=os.getenv("BACKOFFICE_SERVICE_TOKEN", "change-me-service-token"),
        )
