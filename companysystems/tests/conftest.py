"""Fixtures: each test gets its own freshly seeded database, on SQLite and (when a driver is installed) PostgreSQL.

Seeding takes a few seconds, so it runs once per test run into a template; each test then gets a
copy (SQLite's backup API, PostgreSQL's CREATE DATABASE ... TEMPLATE), and every database made
here is dropped at the end.
"""

import importlib.util
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from companysystems.app import create_app
from companysystems.config import Settings
from companysystems.data_operations import CompanySystems
from companysystems.db import connect
from companysystems.seed import seed

# the markers unit, stack and browser (scripts/kinds.py): `-m unit` runs the pure tests alone
pytest_plugins = ["kinds"]

TOKEN = "test-systems-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PG_ADMIN = "postgresql+{driver}://postgres@localhost:5432/postgres"


def pg_driver() -> str | None:
    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module):
            return driver
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    engine, Session = connect(f"sqlite:///{path}")
    seed(Session)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[tuple[str, str]]:
    """(admin URL, template database name); fails when there is no driver or no server."""
    driver = pg_driver()
    if driver is None:
        pytest.fail("no PostgreSQL driver (psycopg or psycopg2): install requirements/backoffice.txt")
    admin_url = PG_ADMIN.format(driver=driver)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except Exception as exc:
        pytest.fail(f"PostgreSQL not reachable at localhost:5432: {exc}")
    name = f"companysystems_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine, Session = connect(admin_url.rsplit("/", 1)[0] + f"/{name}")
    seed(Session)
    engine.dispose()
    yield admin_url, name
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly seeded database of its own for this test."""
    if request.param == "sqlite":
        target = tmp_path / "company.db"
        with sqlite3.connect(request.getfixturevalue("sqlite_template")) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        yield f"sqlite:///{target}"
        return
    admin_url, template = request.getfixturevalue("pg_template")
    name = f"companysystems_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=database_url, token=TOKEN))) as c:
        yield c


@pytest.fixture
def faulty_client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=database_url, token=TOKEN, faults=True))) as c:
        yield c


@pytest.fixture
def Session(database_url: str) -> Iterator[sessionmaker]:
    """Direct access to the same database, to check what the service did."""
    engine = create_engine(database_url)
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def systems(database_url: str) -> Iterator[CompanySystems]:
    engine, Session = connect(database_url)
    yield CompanySystems(Session)
    engine.dispose()
