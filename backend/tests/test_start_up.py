"""Configuration that fails safe: the back office and its worker do not start with a secret that is
unset or still the placeholder of .env.example, and say which variable to set."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT, fresh_secret

BACKEND = ROOT / "backend"

GOOD = {name: fresh_secret(name.lower()) for name in (
    "BACKOFFICE_SERVICE_TOKEN", "COMPANY_SYSTEMS_TOKEN", "SESSION_TOKEN_SECRET", "OTP_SECRET", "EXPORT_LINK_SECRET", "RASA_API_TOKEN")}


def start(command: str, **env: str) -> subprocess.CompletedProcess:
    """Start `python -m backoffice <command>` with these variables over a complete set; it must stop by itself."""
    values = {**os.environ, **GOOD, "BACKOFFICE_DATABASE_URL": "sqlite:////nonexistent/never.db", **env}
    args = [sys.executable, "-m", "backoffice", command] + (["--port", "1"] if command == "serve" else ["--once"])
    return subprocess.run(args, cwd=BACKEND, env=values, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize("variable", sorted(GOOD))
@pytest.mark.parametrize("value", ["", "change-me", "change-me-service-token"])
def test_an_unset_or_placeholder_secret_stops_start_up_naming_it(command, variable, value):
    ran = start(command, **{variable: value})
    assert ran.returncode == 1 and variable in ran.stderr and "does not start" in ran.stderr, ran.stderr


def test_a_variable_the_catalogue_reads_must_be_set():
    ran = start("worker", COMPANY_SYSTEMS_URL="")
    assert ran.returncode == 1 and "COMPANY_SYSTEMS_URL" in ran.stderr and "catalogue" in ran.stderr


def test_a_setting_of_the_wrong_type_is_named():
    ran = start("serve", SMTP_PORT="eight")
    assert ran.returncode == 1 and "SMTP_PORT" in ran.stderr


def test_office_hours_that_cannot_be_read_stop_start_up():
    ran = start("serve", HANDOFF_OFFICE_HOURS="weekdays 9 to 5")
    assert ran.returncode == 1 and "HANDOFF_OFFICE_HOURS" in ran.stderr and "mon-fri 09:00-17:00" in ran.stderr


@pytest.mark.parametrize("variable, value", [("HANDOFF_HOLIDAYS_COUNTRY", "XX"), ("HANDOFF_CLOSED_DATES", "25-12-2026")])
def test_closed_days_that_cannot_be_read_stop_start_up(variable, value):
    ran = start("serve", **{variable: value})
    assert ran.returncode == 1 and variable in ran.stderr, ran.stderr
