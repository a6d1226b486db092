"""Fixtures of the request ledger's tests: real databases (SQLite and PostgreSQL) and the real company systems.

- `ledger_url` runs a test twice: on a migrated SQLite file and on a throwaway PostgreSQL database
  (localhost:5432, user postgres). The PostgreSQL databases are cloned from a template migrated once
  per test session, and every database made here is dropped at the end.
- `company` is the demo company systems as a real process (`python -m companysystems serve`) on a
  free port, with its own temporary SQLite database and fault injection on, started once per session.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator, Optional

import httpx2
import pytest
from sqlalchemy import create_engine, text

from backoffice.db import migrate
from backoffice.knowledge import KnowledgeBase, KnowledgeVersion
from backoffice.ledger_db import open_ledger
from backoffice.worker import Worker, WorkerConfig

ROOT = Path(__file__).resolve().parents[3]
BACKEND = ROOT / "backend"
COMPANY_DIR = ROOT / "companysystems"
KNOWLEDGE = ROOT / "knowledge"
PG_ADMIN = "postgresql+psycopg://postgres@localhost:5432/postgres"
SYSTEMS_TOKEN = "ledger-test-systems-token"
SYSTEMS = ("crm", "orders", "loyalty", "marketing", "wifi", "service")
NOW = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load(KNOWLEDGE)


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
    engine, factory = open_ledger(ledger_url, run_migrations=False)
    yield factory
    engine.dispose()


# --- the company systems, as a real process ------------------------------------------------------


class Company:
    """The running demo company systems: its address, fault injection, and its own record of actions."""

    def __init__(self, url: str, db_path: Path) -> None:
        self.url = url
        self.db_path = db_path
        self.http = httpx2.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {SYSTEMS_TOKEN}"})

    def fault(self, system: str, mode: str, **options: object) -> None:
        response = self.http.post(f"/_faults/{system}", json={"mode": mode, **options})
        assert response.status_code == 200, response.text

    def reset_faults(self) -> None:
        for system in SYSTEMS:
            self.fault(system, "ok")

    def export(self, system: str, customer_id: str) -> dict:
        response = self.http.get(f"/systems/{system}/customers/{customer_id}/export")
        assert response.status_code == 200, response.text
        return response.json()

    def actions(self, keys: list[str]) -> dict[str, int]:
        """How often the company systems carried out each idempotency key (from their actions_log)."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True) as db:
            marks = ",".join("?" * len(keys))
            rows = db.execute(
                f"SELECT idempotency_key, COUNT(*) FROM actions_log WHERE idempotency_key IN ({marks}) GROUP BY idempotency_key",
                keys,
            ).fetchall()
        counts = {key: 0 for key in keys}
        counts.update(dict(rows))
        return counts


@pytest.fixture(scope="session")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Company]:
    folder = tmp_path_factory.mktemp("company")
    db_path = folder / "company.db"
    port = free_port()
    env = {**os.environ, "COMPANY_DATABASE_URL": f"sqlite:///{db_path}", "COMPANY_SYSTEMS_TOKEN": SYSTEMS_TOKEN,
           "COMPANY_SYSTEMS_FAULTS": "1", "COMPANY_SEED_ON_START": "1"}
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "companysystems", "serve", "--port", str(port)],
                            cwd=COMPANY_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx2.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("company systems did not start:\n" + (folder / "serve.log").read_text())
        time.sleep(0.2)
    company = Company(url, db_path)
    yield company
    company.http.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def systems(company: Company) -> Iterator[Company]:
    """The company systems with no faults pending before and after the test."""
    company.reset_faults()
    yield company
    company.reset_faults()


@pytest.fixture
def make_worker(Session, systems: Company, tmp_path: Path):
    """Workers delivering to the real company systems, with a fast retry schedule. The assistant's
    own transcripts live in a tracker store of this test's own, empty until a test writes to it."""
    made: list[Worker] = []

    def make(worker_id: Optional[str] = None, base_url: Optional[str] = None, **options: object) -> Worker:
        config = WorkerConfig(**{
            "base_url": base_url or systems.url, "token": SYSTEMS_TOKEN, "timeout": 5.0, "lease": 30.0,
            "max_attempts": 5, "backoff_base": 1.0, "backoff_cap": 60.0,
            "tracker_url": f"sqlite:///{tmp_path / 'rasa-tracker.db'}", **options,
        })
        worker = Worker(Session, config, worker_id=worker_id)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()
