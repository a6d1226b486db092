"""Signing in to the staff console in a test, for every suite that needs a member of staff.

`signed_in(client, role="agent", first_name="Anna")` makes an account in the client's back office
(its own database, through `app.state.process`), signs the TestClient in through the real form
(login CSRF token, password check, session cookie) and sets its `X-CSRF-Token` header, so every
later call of that client is that person's. The client's app must send its cookies over the
client's scheme: `console_insecure_cookies=True` for `http://testserver`, or a client with
`base_url="https://testserver"`.

    from ..staff.conftest import signed_in  # noqa: F401  (a fixture)
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from backoffice.settings import Settings
from backoffice.staff.rules import Staff
from backoffice.staff.service import NewAccount, add_account

from ..conftest import KNOWLEDGE, ROOT, SYSTEMS_TOKEN

PASSWORD = "correct horse battery staple"
SERVICE = {"Authorization": "Bearer staff-service-token"}
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

SignIn = Callable[..., Staff]


def console_settings(database_url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = dict(knowledge_dir=KNOWLEDGE, web_dir=ROOT / "web", database_url=database_url,
                                     service_token="staff-service-token", company_systems_token=SYSTEMS_TOKEN)
    values.update(changes)
    return Settings(**values)


def make_account(client: TestClient, role: str = "agent", first_name: str = "Anna", email: str | None = None,
                 password: str = PASSWORD) -> str:
    """A new account in the client's back office; its login name."""
    email = email or f"{first_name.lower()}.{uuid.uuid4().hex[:10]}@voltera.example"
    with client.app.state.process.sessions() as session:  # type: ignore[attr-defined]
        add_account(session, NewAccount(email, first_name, f"{first_name} Tester", role, password), dt.datetime.now(dt.UTC))
        session.commit()
    return email


def log_in(client: TestClient, email: str, password: str, next_path: str = "") -> httpx2.Response:
    """What the browser does: fetch the form (its pre-session cookie and token), then send it back filled in."""
    form = client.get("/console/login")
    assert form.status_code == 200, form.text
    found = FORM_TOKEN.search(form.text)
    assert found, form.text
    return client.post("/console/login", data={"email": email, "password": password, "csrf_token": found.group(1), "next": next_path},
                       follow_redirects=False)


def sign_in(client: TestClient, role: str = "agent", first_name: str = "Anna", email: str | None = None) -> Staff:
    email = make_account(client, role, first_name, email)
    answer = log_in(client, email, PASSWORD)
    assert answer.status_code == 303, answer.text
    me = client.get("/api/console/me")
    assert me.status_code == 200, f"signed in, but the session cookie did not come back ({client.base_url}): {me.text}"
    seen = me.json()
    client.headers["X-CSRF-Token"] = seen["csrf_token"]
    return Staff(seen["id"], seen["email"], seen["first_name"], seen["full_name"], seen["role"], seen["csrf_token"])


@pytest.fixture
def signed_in() -> SignIn:
    return sign_in
