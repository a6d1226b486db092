"""A back office and its workers often start at the same moment on a new database: their migrations
take turns, so none of them fails on a column another one just added."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from .conftest import ROOT, new_pg_database

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


def test_processes_that_start_together_on_a_new_database_all_start(empty_database):
    program = "import sys; from backoffice.shared.database import migrate; migrate(sys.argv[1])"
    started = [subprocess.Popen([sys.executable, "-c", program, empty_database], cwd=ROOT / "backend",
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(STARTING_TOGETHER)]
    outcomes = [finished(p) for p in started]
    assert [code for code, _ in outcomes] == [0] * STARTING_TOGETHER, [err[-600:] for _, err in outcomes]
    engine = create_engine(empty_database)
    assert {"privacy_requests", "system_tasks", "conversation_identities"} <= set(inspect(engine).get_table_names())
    engine.dispose()
