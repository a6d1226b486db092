import os
import shutil
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import create_engine, text
from stack import Process, eventually, free_port, fresh_secret, migrate_back_office, serving  # noqa: F401 (re-exported)

from backoffice import catalogue
from backoffice.shared.database import migrate

# the markers unit, stack and browser (scripts/kinds.py): `-m unit` runs the pure tests alone
pytest_plugins = ["kinds"]

ROOT = Path(__file__).resolve().parents[2]

KNOWLEDGE = ROOT / "knowledge"
COMPANY_DIR = ROOT / "companysystems"
SYSTEMS = catalogue.load().company_systems
# The token of the company systems the back-office tests share (one process for the whole run).
SYSTEMS_TOKEN = fresh_secret("systems")


# --- processes -----------------------------------------------------------------------------------
# Started with scripts/stack.py's `Process`, as every test of the project starts its processes: a log
# per process, a free port, and ready only when the process answering is the one started.


@contextmanager
def back_office_process(folder: Path, settings: dict) -> Iterator[str]:
    """`python -m backoffice serve` on a free port with these settings (over this environment's), after
    `python -m backoffice migrate` as every deployment runs it; yields its address once it answers, and
    stops it afterwards. Its log is `folder/backoffice.log`."""
    port, env = free_port(), {**os.environ, **settings}
    migrate_back_office(sys.executable, env, folder / "backoffice.log")
    process = Process("backoffice", [sys.executable, "-m", "backoffice", "serve", "--port", str(port)], ROOT / "backend",
                      env, folder / "backoffice.log", port, f"http://127.0.0.1:{port}/healthz")
    with serving(process):
        yield f"http://127.0.0.1:{port}"


class Company:
    """The demo company systems running as a real process: address, fault injection, data, and its own
    record of actions (how often each idempotency key was carried out)."""

    def __init__(self, url: str, db_path: Path, token: str) -> None:
        self.url = url
        self.db_path = db_path
        self.http = httpx2.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"})

    def fault(self, system: str, mode: str, **options: object) -> None:
        response = self.http.post(f"/_faults/{system}", json={"mode": mode, **options})
        assert response.status_code == 200, response.text

    def faults(self) -> dict:
        """The faults still pending, per system (with how many calls each has left)."""
        response = self.http.get("/_faults")
        assert response.status_code == 200, response.text
        return response.json()

    def reset_faults(self) -> None:
        for system in SYSTEMS:
            self.fault(system, "ok")

    def export(self, system: str, customer_id: str) -> dict:
        response = self.http.get(f"/systems/{system}/customers/{customer_id}/export")
        assert response.status_code == 200, response.text
        return response.json()

    def contact(self, customer_id: str) -> dict:
        return self.export("crm", customer_id)["categories"]["contact_details"][0]

    def email_of(self, customer_id: str) -> str:
        return self.contact(customer_id)["email"]

    def actions(self, keys: list[str]) -> dict[str, int]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True) as db:
            marks = ",".join("?" * len(keys))
            rows = db.execute(
                f"SELECT idempotency_key, COUNT(*) FROM actions_log WHERE idempotency_key IN ({marks}) GROUP BY idempotency_key",
                keys,
            ).fetchall()
        counts = {key: 0 for key in keys}
        counts.update(dict(rows))
        return counts


@contextmanager
def company_systems(folder: Path, token: str) -> Iterator[Company]:
    """`python -m companysystems serve` on a free port, with its own seeded SQLite database and faults on."""
    db_path = folder / "company.db"
    env = {**os.environ, "COMPANY_DATABASE_URL": f"sqlite:///{db_path}", "COMPANY_SYSTEMS_TOKEN": token,
           "COMPANY_SYSTEMS_FAULTS": "1", "COMPANY_SEED_ON_START": "1"}
    port = free_port()
    process = Process("companysystems", [sys.executable, "-m", "companysystems", "serve", "--port", str(port)], COMPANY_DIR,
                      env, folder / "serve.log", port, f"http://127.0.0.1:{port}/healthz")
    with serving(process):
        company = Company(f"http://127.0.0.1:{port}", db_path, token)
        try:
            yield company
        finally:
            company.http.close()


@pytest.fixture(scope="session")
def company_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Company]:
    with company_systems(tmp_path_factory.mktemp("company"), SYSTEMS_TOKEN) as company:
        yield company


@contextmanager
def new_pg_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A PostgreSQL database of its own (a copy of `template`, or empty), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A writable copy of the real knowledge base, to break on purpose."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


PG_ADMIN = "postgresql+psycopg://postgres@localhost:5432/postgres"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backoffice-template") / "backoffice.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; no skip: the back office must work on PostgreSQL, so a missing server fails."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"backoffice_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    migrate(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    yield name
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A freshly migrated, empty back-office database of this test's own, on SQLite (a copy of the template)."""
    target = tmp_path / "backoffice.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A freshly migrated, empty back-office database of this test's own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    with new_pg_database("backoffice_test", request.getfixturevalue("pg_template")) as url:
        yield url


def systems_at(url: str, token: str) -> dict[str, str]:
    """What the system catalogue's ${...} read, for company systems running at `url`."""
    return {"COMPANY_SYSTEMS_URL": url, "COMPANY_SYSTEMS_TOKEN": token}
