"""Demo mode only where it is meant: off in the template, on for `make run`, and the back office
refuses to serve it beyond localhost or on PostgreSQL unless DEMO_MODE_ALLOW_PUBLIC=1 says so."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx2
import pytest
import stack  # scripts/stack.py: what `make run` and `make shell` start
from dotenv import dotenv_values

from backoffice.settings import demo_mode_refusal

from ..identity.conftest import BACKEND, OTP_SECRET, ROOT, SERVICE_TOKEN, SESSION_SECRET, SYSTEMS_TOKEN, Process, free_port, make_settings

SQLITE_URL = "sqlite:////tmp/never-opened.db"
PG_URL = "postgresql+psycopg://postgres@localhost:5432/never-opened"


def test_the_template_keeps_demo_mode_off():
    template = dotenv_values(ROOT / ".env.example")
    assert template["DEMO_MODE"] == "0" and template["DEMO_MODE_ALLOW_PUBLIC"] == "0"


def test_make_run_and_make_shell_turn_demo_mode_on_and_say_so(monkeypatch):
    monkeypatch.delenv("DEMO_MODE", raising=False)
    env = stack.demo_env()
    assert env["DEMO_MODE"] == "1"
    notice = stack.demo_notice(env)
    assert "Demo mode is on" in notice and "/demo/inbox" in notice
    monkeypatch.setenv("DEMO_MODE", "0")  # `DEMO_MODE=0 make run`
    env = stack.demo_env()
    assert env["DEMO_MODE"] == "0" and "Demo mode is off" in stack.demo_notice(env)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "localhost", "::1", "[::1]"])
def test_demo_mode_on_loopback_with_sqlite_is_allowed(host, company, sink):
    assert demo_mode_refusal(make_settings(SQLITE_URL, company, sink, demo_mode=True), host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "example.org"])
def test_demo_mode_beyond_localhost_is_refused_unless_allowed(host, company, sink):
    refusal = demo_mode_refusal(make_settings(SQLITE_URL, company, sink, demo_mode=True), host)
    assert refusal and host in refusal and "DEMO_MODE_ALLOW_PUBLIC=1" in refusal
    assert demo_mode_refusal(make_settings(SQLITE_URL, company, sink, demo_mode=True, demo_mode_allow_public=True), host) is None
    assert demo_mode_refusal(make_settings(SQLITE_URL, company, sink, demo_mode=False), host) is None


def test_demo_mode_on_postgresql_is_refused_unless_allowed(company, sink):
    refusal = demo_mode_refusal(make_settings(PG_URL, company, sink, demo_mode=True), "127.0.0.1")
    assert refusal and "PostgreSQL" in refusal
    assert demo_mode_refusal(make_settings(PG_URL, company, sink, demo_mode=True, demo_mode_allow_public=True), "127.0.0.1") is None
    assert demo_mode_refusal(make_settings(PG_URL, company, sink, demo_mode=False), "127.0.0.1") is None


# --- the real process ----------------------------------------------------------------------------


def serve(db_url: str, company, sink, tmp_path: Path, host: str, **env: str) -> Process:
    """The back office on `host`, started (ready or refused is for the test to see)."""
    port = free_port()
    environment = {**os.environ, "BACKOFFICE_DATABASE_URL": db_url, "BACKOFFICE_SERVICE_TOKEN": SERVICE_TOKEN,
                   "COMPANY_SYSTEMS_URL": company.url, "COMPANY_SYSTEMS_TOKEN": SYSTEMS_TOKEN,
                   "SESSION_TOKEN_SECRET": SESSION_SECRET, "OTP_SECRET": OTP_SECRET, "SMTP_HOST": "127.0.0.1",
                   "SMTP_PORT": str(sink.port), "MAIL_SINK_DIR": str(sink.folder), "DEMO_MODE_ALLOW_PUBLIC": "0", **env}
    command = [sys.executable, "-m", "backoffice", "serve", "--host", host, "--port", str(port)]
    return Process("backoffice", command, BACKEND, environment, tmp_path / f"backoffice-{port}.log", port,
                   f"http://127.0.0.1:{port}/healthz").start()


def refused(process: Process) -> str:
    assert process.wait(timeout=60) == 1
    return process.log_path.read_text()


def test_the_back_office_refuses_to_start_in_demo_mode_on_all_interfaces(db_url, company, sink, tmp_path):
    output = refused(serve(db_url, company, sink, tmp_path, "0.0.0.0", DEMO_MODE="1"))
    assert "demo mode (DEMO_MODE=1) is refused" in output and "0.0.0.0" in output and "DEMO_MODE_ALLOW_PUBLIC=1" in output


def test_the_back_office_refuses_to_start_in_demo_mode_on_postgresql(company, sink, tmp_path):
    """Refused before any connection is made: the database need not even exist."""
    output = refused(serve(PG_URL, company, sink, tmp_path, "127.0.0.1", DEMO_MODE="1"))
    assert "demo mode (DEMO_MODE=1) is refused" in output and "PostgreSQL" in output


def test_the_explicit_setting_lets_a_public_demo_start(db_url, company, sink, tmp_path):
    process = serve(db_url, company, sink, tmp_path, "0.0.0.0", DEMO_MODE="1", DEMO_MODE_ALLOW_PUBLIC="1")
    try:
        process.wait_ready(90)
        assert httpx2.get(f"http://127.0.0.1:{process.port}/api/demo/customers", timeout=10).status_code == 200
    finally:
        process.stop()


def test_without_demo_mode_the_back_office_starts_on_all_interfaces(db_url, company, sink, tmp_path):
    process = serve(db_url, company, sink, tmp_path, "0.0.0.0", DEMO_MODE="0")
    try:
        process.wait_ready(90)
        assert httpx2.get(f"http://127.0.0.1:{process.port}/api/demo/customers", timeout=10).status_code == 404
    finally:
        process.stop()
