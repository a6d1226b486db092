"""Fixtures of the request ledger's tests: real databases (SQLite and PostgreSQL) and the real company systems.

- `ledger_url` runs a test twice: on a migrated SQLite file and on a throwaway PostgreSQL database
  (localhost:5432, user postgres). The PostgreSQL databases are cloned from a template migrated once
  per test session, and every database made here is dropped at the end.
- `company` is the demo company systems as a real process (`python -m companysystems serve`) on a
  free port, with its own temporary SQLite database and fault injection on, started once per session.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from backoffice.knowledge.rules import KnowledgeBase, KnowledgeVersion
from backoffice.knowledge.service import load_knowledge
from backoffice.shared.database import open_database
from backoffice.shared.tracker_store import TOMBSTONES
from backoffice.worker import Worker, WorkerConfig

from ..conftest import (  # noqa: F401 (re-exported)
    KNOWLEDGE,
    ROOT,
    SYSTEMS_TOKEN,
    Company,
    Process,
    company_process,
    eventually,
    free_port,
    fresh_secret,
    serving,
    systems_at,
)
from ..my_data.conftest import RASA_EVENTS

BACKEND = ROOT / "backend"
NOW = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE)


@pytest.fixture(scope="session")
def knowledge(kb: KnowledgeBase) -> KnowledgeVersion:
    return kb.current()


# --- databases -----------------------------------------------------------------------------------


@pytest.fixture
def ledger_url(db_url: str) -> str:
    """The shared back-office database fixture (tests/conftest.py), on SQLite and PostgreSQL."""
    return db_url


@pytest.fixture
def Session(ledger_url: str):
    engine, factory = open_database(ledger_url)
    yield factory
    engine.dispose()


# --- the company systems, as a real process ------------------------------------------------------


@pytest.fixture
def systems(company_process: Company) -> Iterator[Company]:
    """The company systems with no faults pending before and after the test."""
    company_process.reset_faults()
    yield company_process
    company_process.reset_faults()


@pytest.fixture
def make_worker(Session, systems: Company, tmp_path: Path):
    """Workers delivering to the real company systems, with a fast retry schedule. The assistant's
    own transcripts live in a tracker store of this test's own, with Rasa's tables and no rows."""
    made: list[Worker] = []
    tracker_url = f"sqlite:///{tmp_path / 'rasa-tracker.db'}"
    tracker = create_engine(tracker_url)
    RASA_EVENTS.metadata.create_all(tracker)
    TOMBSTONES.metadata.create_all(tracker)
    tracker.dispose()

    def make(worker_id: str | None = None, base_url: str | None = None, **options: object) -> Worker:
        values: dict[str, Any] = {
            "variables": systems_at(base_url or systems.url, SYSTEMS_TOKEN), "timeout": 5.0, "lease": 30.0,
            "max_attempts": 5, "backoff_base": 1.0, "backoff_cap": 60.0,
            "tracker_url": tracker_url, **options,
        }
        config = WorkerConfig(**values)
        worker = Worker(Session, config, worker_id=worker_id)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()
