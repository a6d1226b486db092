"""Liveness and readiness of the back office, on a PostgreSQL cluster this test owns: stopped, the back
office stays live and is not ready; hung, readiness says so within its timeout; back, ready again
without a restart."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from fastapi.testclient import TestClient

from backoffice.app import create_app
from backoffice.shared.database import migrate

from ..conftest import eventually, free_port
from .conftest import samples, settings_for

TIMEOUT = 1.0  # READINESS_TIMEOUT_SECONDS here


class Cluster:
    """A PostgreSQL cluster of its own (Debian's binaries): initdb into a temporary folder, on a free port."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("this test needs PostgreSQL's server binaries (Debian: apt-get install postgresql)")
        self.bin = found[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="backoffice-readiness-"))
        self.data, self.port = self.folder / "data", free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(self.bin / tool), *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "postgres.log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def postmaster(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            os.kill(self.postmaster(), signal.SIGCONT)
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.start()
        migrate(made.url)
        yield made
    finally:
        made.remove()


def timed(client: TestClient, path: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    answer = client.get(path)
    return answer.status_code, answer.json(), time.monotonic() - started


def test_readiness_follows_the_database_and_liveness_does_not(cluster: Cluster):
    with TestClient(create_app(settings_for(cluster.url, readiness_timeout_seconds=TIMEOUT))) as client:
        assert timed(client, "/health/ready")[:2] == (200, {"ready": True})
        assert client.get("/health/live").status_code == 200

        cluster.stop()
        status, body, seconds = timed(client, "/health/ready")
        assert (status, body["ready"], body["reason"]) == (503, False, "database_unreachable"), body
        assert seconds < TIMEOUT + 1
        assert client.get("/health/live").status_code == 200
        metrics = client.get("/metrics")  # still answers, saying the database is not there
        assert metrics.status_code == 200 and samples(metrics.text)["backoffice_database_up"] == 0

        cluster.start()  # the same app, not restarted
        eventually(lambda: client.get("/health/ready").status_code, 30, "ready again", until=lambda s: s == 200)
        assert samples(client.get("/metrics").text)["backoffice_database_up"] == 1


def test_a_hung_database_makes_readiness_answer_503_within_its_timeout(cluster: Cluster):
    with TestClient(create_app(settings_for(cluster.url, readiness_timeout_seconds=TIMEOUT))) as client:
        assert client.get("/health/ready").status_code == 200
        os.kill(cluster.postmaster(), signal.SIGSTOP)  # takes connections, answers none
        try:
            for _ in range(3):  # each probe answers in time, however long the one before still hangs
                status, body, seconds = timed(client, "/health/ready")
                assert (status, body["reason"]) == (503, "database_timeout"), body
                assert seconds < TIMEOUT + 1
            assert client.get("/health/live").status_code == 200
        finally:
            os.kill(cluster.postmaster(), signal.SIGCONT)
        eventually(lambda: client.get("/health/ready").status_code, 30, "ready again", until=lambda s: s == 200)


def test_a_database_behind_the_migrations_is_not_ready(sqlite_url: str):
    with TestClient(create_app(settings_for(sqlite_url))) as client:
        assert client.get("/health/ready").status_code == 200
        engine = sqlalchemy.create_engine(sqlite_url)
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = '0001'"))
        engine.dispose()
        status, body, _ = timed(client, "/health/ready")
        assert (status, body["reason"]) == (503, "schema_not_current") and "python -m backoffice migrate" in body["detail"]
        assert client.get("/health/live").status_code == 200
