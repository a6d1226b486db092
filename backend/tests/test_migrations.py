"""Migrating is a step of its own (`python -m backoffice migrate`), run before any back office or worker
starts: several run at the same moment on a new database (each replica's deployment runs it) take turns,
so none fails on a column another one just added; and a back office or worker refuses to start on a
database behind its migrations, naming the step to run."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from backoffice.shared.database import MIGRATIONS

from .conftest import ROOT, Process, free_port, fresh_secret, new_pg_database, serving

STARTING_TOGETHER = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    with new_pg_database("backoffice_new") as url:
        yield url


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    """How a process ended: its exit code and what it wrote to stderr."""
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def settings_on(database_url: str) -> dict[str, str]:
    """A complete set of settings for a back office on this database (no company system is called)."""
    return {**os.environ, "BACKOFFICE_DATABASE_URL": database_url, "DEMO_MODE": "0",
            "COMPANY_SYSTEMS_URL": f"http://127.0.0.1:{free_port()}",
            **{name: fresh_secret(name.lower()) for name in ("BACKOFFICE_SERVICE_TOKEN", "COMPANY_SYSTEMS_TOKEN", "SESSION_TOKEN_SECRET",
                                                            "OTP_SECRET", "EXPORT_LINK_SECRET", "RASA_API_TOKEN")}}


def backoffice(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m backoffice <args>`, which must end by itself."""
    return subprocess.run([sys.executable, "-m", "backoffice", *args], cwd=ROOT / "backend", env=env, capture_output=True,
                          text=True, timeout=120)


def test_migrations_started_together_on_a_new_database_all_succeed(empty_database):
    env = settings_on(empty_database)
    started = [subprocess.Popen([sys.executable, "-m", "backoffice", "migrate"], cwd=ROOT / "backend", env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(STARTING_TOGETHER)]
    outcomes = [finished(p) for p in started]
    assert [code for code, _ in outcomes] == [0] * STARTING_TOGETHER, [err[-600:] for _, err in outcomes]
    engine = create_engine(empty_database)
    assert {"privacy_requests", "system_tasks", "conversation_identities"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_back_office_and_a_worker_refuse_a_database_behind_the_migrations_and_start_once_it_is_migrated(empty_database, tmp_path):
    env = settings_on(empty_database)
    for args in (["serve", "--port", str(free_port())], ["worker", "--once"]):
        refused = backoffice(env, *args)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "does not start" in refused.stderr and "run `python -m backoffice migrate` first" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", empty_database)
    command.upgrade(config, "0011")  # an older release's schema: one migration behind
    refused = backoffice(env, "serve", "--port", str(free_port()))
    assert refused.returncode == 1 and "at revision 0011" in refused.stderr and "backoffice migrate" in refused.stderr, refused.stderr

    migrated = backoffice(env, "migrate")
    assert migrated.returncode == 0 and "Running upgrade 0011 -> 0012" in migrated.stderr, migrated.stdout + migrated.stderr
    assert backoffice(env, "worker", "--once").returncode == 0
    port = free_port()
    process = Process("backoffice", [sys.executable, "-m", "backoffice", "serve", "--port", str(port)], ROOT / "backend", env,
                      tmp_path / "backoffice.log", port, f"http://127.0.0.1:{port}/healthz")
    with serving(process):
        assert process.poll() is None
