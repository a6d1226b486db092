"""Settings of the company systems, read from the environment (and `.env` at the project root)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TOKEN = "change-me-systems-token"


@dataclass(frozen=True)
class Settings:
    database_url: str
    token: str = DEFAULT_TOKEN
    # Fault injection is for the product's reliability tests only: never on unless asked for.
    faults: bool = False
    seed_on_start: bool = True
    # The largest request body accepted (bytes); a bigger one gets 413 before anything parses it.
    max_body_bytes: int = 64 * 1024

    @classmethod
    def from_env(cls) -> Settings:
        load_dotenv(PROJECT_ROOT / ".env")
        return cls(
            database_url=os.getenv("COMPANY_DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'companysystems.db'}"),
            token=os.getenv("COMPANY_SYSTEMS_TOKEN", DEFAULT_TOKEN),
            faults=os.getenv("COMPANY_SYSTEMS_FAULTS", "0") == "1",
            seed_on_start=os.getenv("COMPANY_SEED_ON_START", "1") != "0",
            max_body_bytes=int(os.getenv("MAX_REQUEST_BODY_BYTES", str(64 * 1024))),
        )
