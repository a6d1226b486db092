"""The back office's database: the Alembic upgrade (`python -m backoffice migrate`, a step of its own
before any back office or worker starts), one engine per process, and the column type every table
stores its times in."""
from __future__ import annotations

import datetime as dt
import fcntl
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

MIGRATIONS = Path(__file__).parents[1] / "migrations"


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime stored as UTC (naive on SQLite, which has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the back office stores timezone-aware datetimes only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
# Taken by every `migrate`: replicas and workers are often deployed together, each with its migrate
# step, and two upgrades at once would both add the same column (the second fails with "duplicate column").
MIGRATION_LOCK_KEY = 7_301_004_211
MIGRATE_COMMAND = "python -m backoffice migrate"


class SchemaNotCurrent(Exception):
    """The database's schema is not the one this code's migrations end at: a process refuses to start
    on it rather than fail on a missing column in the middle of a customer's request."""


def _alembic(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _make_folder(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def migrate(database_url: str) -> None:
    """Bring the schema to the migrations' head (nothing to do when it is there already)."""
    _make_folder(database_url)
    with _one_migration_at_a_time(database_url):
        command.upgrade(_alembic(database_url), "head")


def check_schema(database_url: str, connect_timeout: float | None = None) -> None:
    """Raise SchemaNotCurrent unless the database is at the migrations' head (and SQLAlchemy's error
    when it does not answer). `connect_timeout`: seconds to wait for a connection to PostgreSQL (libpq
    counts whole seconds, at least 2)."""
    scripts = ScriptDirectory.from_config(_alembic(database_url))
    head = set(scripts.get_heads())
    connect_args = {}
    if connect_timeout and database_url.startswith("postgresql"):
        connect_args["connect_timeout"] = max(2, math.ceil(connect_timeout))
    engine = create_engine(database_url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    if current == head:
        return
    at = ", ".join(sorted(current)) or "none (a new database)"
    if current <= {script.revision for script in scripts.walk_revisions()}:
        raise SchemaNotCurrent(f"the database schema is behind the migrations (at revision {at}, head {', '.join(sorted(head))}): "
                               f"run `{MIGRATE_COMMAND}` first")
    raise SchemaNotCurrent(f"the database schema is at revision {at}, which these migrations do not know: "
                           "a newer back office migrated it, run that version")


@contextmanager
def _one_migration_at_a_time(database_url: str) -> Iterator[None]:
    """PostgreSQL: a session-level advisory lock; SQLite: a lock on a file beside the database."""
    if database_url.startswith("sqlite:///"):
        with open(f"{database_url.removeprefix('sqlite:///')}.migrating", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    if not database_url.startswith("postgresql"):
        yield
        return
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()


def open_database(database_url: str) -> tuple[Engine, sessionmaker]:
    """The engine and session factory, once the schema is found current (SchemaNotCurrent if not). A
    process opens it once (`create_app`, the worker) and every feature shares them."""
    _make_folder(database_url)
    check_schema(database_url)
    engine = _engine(database_url)
    return engine, sessionmaker(engine, expire_on_commit=False)


def _engine(database_url: str) -> Engine:
    """On SQLite every transaction takes the write lock at BEGIN (BEGIN
    IMMEDIATE) and waits up to 30 s for it, so concurrent filings and workers queue up instead of
    failing with 'database is locked'; WAL lets the service read while the worker writes."""
    if not database_url.startswith("sqlite"):
        return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(database_url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
