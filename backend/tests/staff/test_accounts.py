"""Making staff accounts: `python -m backoffice staff add` (the password from standard input), and the
demo's three accounts at start in demo mode, made once and kept as `.env` says."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backoffice.app import create_app
from backoffice.knowledge.service import load_knowledge
from backoffice.shared.dependencies import utcnow
from backoffice.staff.tables import StaffMember

from ..conftest import ROOT
from .conftest import PASSWORD, console_settings, log_in
from .test_sign_in import HTTPS

DEMO: dict[str, Any] = {"demo_mode": True, "demo_agent_1_password": "anna-demo-password-1", "demo_agent_2_password": "bram-demo-password-2",
        "demo_privacy_officer_password": "sanne-demo-password-3"}


def add(database_url: str, password: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "backoffice", "staff", "add", *args]
    return subprocess.run(command, cwd=ROOT / "backend", env={**os.environ, "BACKOFFICE_DATABASE_URL": database_url},
                          input=password + "\n", capture_output=True, text=True, timeout=60)


def test_an_account_added_on_the_command_line_signs_in(db_url):
    made = add(db_url, PASSWORD, "--email", "Piet@Voltera.example", "--first-name", "Piet", "--full-name", "Piet Smit",
               "--role", "privacy_officer")
    assert made.returncode == 0 and "piet@voltera.example (privacy_officer)" in made.stdout, made.stderr
    assert PASSWORD not in made.stdout + made.stderr
    again = add(db_url, PASSWORD, "--email", "piet@voltera.example", "--first-name", "P", "--full-name", "P S", "--role", "agent")
    assert again.returncode == 1 and "already" in again.stderr
    short = add(db_url, "short", "--email", "kees@voltera.example", "--first-name", "Kees", "--full-name", "Kees B", "--role", "agent")
    assert short.returncode == 1 and "12 to 1024 characters" in short.stderr
    with TestClient(create_app(console_settings(db_url)), base_url=HTTPS) as client:
        assert log_in(client, "piet@voltera.example", PASSWORD).status_code == 303
        assert client.get("/api/console/me").json()["full_name"] == "Piet Smit"
        assert log_in(client, "kees@voltera.example", "short").status_code == 401


@pytest.mark.parametrize("role", ["admin", ""])
def test_the_command_line_knows_only_the_two_roles(db_url, role):
    made = add(db_url, PASSWORD, "--email", "x@voltera.example", "--first-name", "X", "--full-name", "X Y", "--role", role)
    assert made.returncode == 2 and "invalid choice" in made.stderr


def test_demo_mode_makes_two_agents_and_a_privacy_officer_once_as_env_says(db_url):
    settings = console_settings(db_url, **DEMO)
    first = create_app(settings)
    create_app(settings)  # a restart changes nothing
    with first.state.process.sessions() as s:
        accounts = {m.email: (m.first_name, m.role) for m in s.scalars(select(StaffMember))}
    assert accounts == {"anna@voltera.example": ("Anna", "agent"), "bram@voltera.example": ("Bram", "agent"),
                        "sanne@voltera.example": ("Sanne", "privacy_officer")}
    with TestClient(first, base_url=HTTPS) as client:
        assert log_in(client, "sanne@voltera.example", DEMO["demo_privacy_officer_password"]).status_code == 303
        assert client.get("/console/privacy/requests").status_code == 200
    # A new password in .env takes over at the next start, and ends the sessions of the old one.
    changed = create_app(console_settings(db_url, **{**DEMO, "demo_privacy_officer_password": "a-new-demo-password-4"}))
    with TestClient(changed, base_url=HTTPS) as client:
        assert log_in(client, "sanne@voltera.example", DEMO["demo_privacy_officer_password"]).status_code == 401
        assert log_in(client, "sanne@voltera.example", "a-new-demo-password-4").status_code == 303
    with changed.state.process.sessions() as s:
        assert s.scalar(select(func.count()).select_from(StaffMember)) == 3


def test_no_demo_account_without_demo_mode_or_with_a_placeholder_password(db_url):
    plain = create_app(console_settings(db_url, **{**DEMO, "demo_mode": False}))
    with plain.state.process.sessions() as s:
        assert list(s.scalars(select(StaffMember.email))) == []
    placeholder = create_app(console_settings(db_url, **{**DEMO, "demo_agent_1_password": "change-me", "demo_agent_2_password": ""}))
    with placeholder.state.process.sessions() as s:
        assert list(s.scalars(select(StaffMember.email))) == ["sanne@voltera.example"]


def test_the_demo_privacy_officer_is_the_one_the_register_names(db_url):
    """The console and the assistant name one data protection officer: the register's."""
    settings = console_settings(db_url, **DEMO)
    app = create_app(settings)
    named = load_knowledge(settings.knowledge_dir).current_at(utcnow()).company.dpo.name
    with TestClient(app, base_url=HTTPS) as client:
        assert log_in(client, "sanne@voltera.example", DEMO["demo_privacy_officer_password"]).status_code == 303
        me = client.get("/api/console/me").json()
    assert (me["full_name"], me["first_name"]) == (named, named.split()[0])
