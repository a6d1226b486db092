"""OpenAPI fuzz (schemathesis): every operation of the back office and of the company systems, with
generated valid and invalid input, never answers with a server error.

Against the real processes (`python -m backoffice serve` on a migrated SQLite database, demo mode on,
the company systems and the mail sink running), with the service token, a privacy officer's console session (the demo's
account, with its CSRF token) and the company systems' token, so the authenticated operations are
exercised past their login. Bounded:
a few examples per operation and a time limit per call.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err

from backoffice.identity.rules import SessionTokens

from .conftest import back_office_process, company_systems
from .identity.conftest import (  # noqa: F401  (sink_process is a fixture)
    OTP_SECRET,
    PRESENCE,
    SERVICE,
    SERVICE_TOKEN,
    SESSION_SECRET,
    SYSTEMS_TOKEN,
    sink_process,
)

VERIFIED = "fuzz-verified-conversation"
OFFICER = ("sanne@voltera.example", "fuzz-privacy-officer-password")
SYSTEMS = {"Authorization": f"Bearer {SYSTEMS_TOKEN}"}
EXAMPLES_PER_OPERATION = 12
CALL_TIMEOUT_SECONDS = 20
FUZZ = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def company_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Company systems of this module's own: the fuzz erases and changes their customers."""
    with company_systems(tmp_path_factory.mktemp("fuzz-company"), SYSTEMS_TOKEN) as company:
        yield company.url


@pytest.fixture(scope="module")
def backoffice_url(company_url: str, sink_process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("fuzz-backoffice")
    values = {"BACKOFFICE_DATABASE_URL": f"sqlite:///{folder / 'backoffice.db'}", "BACKOFFICE_SERVICE_TOKEN": SERVICE_TOKEN,
                "COMPANY_SYSTEMS_URL": company_url, "COMPANY_SYSTEMS_TOKEN": SYSTEMS_TOKEN, "SESSION_TOKEN_SECRET": SESSION_SECRET,
                "OTP_SECRET": OTP_SECRET, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink_process.port),
                "MAIL_SINK_DIR": str(sink_process.folder), "DEMO_MODE": "1", "DEMO_MODE_ALLOW_PUBLIC": "0",
                "DEMO_PRIVACY_OFFICER_EMAIL": OFFICER[0], "DEMO_PRIVACY_OFFICER_PASSWORD": OFFICER[1],
                "CONSOLE_INSECURE_COOKIES": "true",
                "EXPORT_LINK_SECRET": "fuzz-export-link-secret-0123456789abcdef",
                "TRACKER_DB_DIALECT": "sqlite", "TRACKER_DB": str(folder / "rasa-tracker.db")}
    with back_office_process(folder, values) as url:
        yield url


def server_errors(schema_url: str, headers_for, known: Callable[[], dict[str, str]] | None = None,
                  known_headers: dict[str, str] | None = None) -> list[str]:
    """Every operation of the schema, with positive (valid) and negative (invalid) generated input,
    and once more with path parameters and headers that lead past "not found" (`known()`, made
    afresh for each such operation: a verified conversation where it was verified, a real download
    link; an earlier operation may have logged it out): the calls that got a server error, each
    with a curl line."""
    schema = schemathesis.openapi.from_url(schema_url)
    found: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # a part of the schema cannot be read: it says which
        operations.append(result.ok())
    assert len(operations) >= 10, [o.label for o in operations]
    for operation in operations:
        fixed = {name: value for name, value in known().items() if f"{{{name}}}" in operation.path} if known else {}
        rounds: list[tuple[GenerationMode, dict[str, str], dict[str, str]]] = [
            (GenerationMode.POSITIVE, {}, {}), (GenerationMode.NEGATIVE, {}, {})]
        if fixed:
            rounds.append((GenerationMode.POSITIVE, fixed, known_headers or {}))
        for mode, path_parameters, headers in rounds:
            fuzz_round(operation, mode, path_parameters, headers, headers_for(operation), found)
    return found


def fuzz_round(operation: APIOperation, mode: GenerationMode, path_parameters: dict[str, str], headers: dict[str, str],
               login: dict[str, str], found: list[str]) -> None:
    """One round of generated calls to one operation, logged in with `login`; each server error is added to `found`."""
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters, headers=headers))
    def call(case) -> None:
        try:
            case.call_and_validate(headers=login, checks=[not_a_server_error], timeout=CALL_TIMEOUT_SECONDS)
        except (Failure, FailureGroup) as failure:  # a failed check, with the call to reproduce it
            found.append(f"{operation.label} ({mode}): {str(failure)[:800]}")

    try:
        call()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.label  # nothing in it can be invalid (no input)


def verified_conversation(backoffice_url: str) -> dict[str, str]:
    """A conversation verified as a seed customer, as the website does it, and a download link of its data."""
    token, _ = SessionTokens(SESSION_SECRET).issue("C0001", dt.datetime.now(dt.UTC))
    bound = httpx2.post(f"{backoffice_url}/api/identity/session", json={"conversation_id": VERIFIED, "token": token},
                        headers=SERVICE, timeout=10)
    assert bound.status_code == 200, bound.text
    link = httpx2.post(f"{backoffice_url}/api/conversations/{VERIFIED}/exports", headers=SERVICE, timeout=10)
    assert link.status_code == 201, link.text
    download = link.json()["json_url"].rsplit("/exports/", 1)[1].removesuffix(".json")
    return {"conversation_id": VERIFIED, "token": download}


def officer_session(backoffice_url: str) -> dict[str, str]:
    """The headers of a privacy officer's console session: its cookie and its CSRF token."""
    with httpx2.Client(base_url=backoffice_url, timeout=10) as browser:
        form = browser.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        signed_in = browser.post("/console/login", data={"email": OFFICER[0], "password": OFFICER[1], "csrf_token": token.group(1)})
        assert signed_in.status_code == 303, signed_in.text
        me = browser.get("/api/console/me").json()
        return {"Cookie": f"console_session={browser.cookies['console_session']}", "X-CSRF-Token": me["csrf_token"]}


def test_no_back_office_operation_answers_with_a_server_error(backoffice_url):
    officer = officer_session(backoffice_url)

    def login(operation) -> dict:
        return officer if {"privacy team", "console"} & set(operation.tags or []) else SERVICE

    assert server_errors(f"{backoffice_url}/openapi.json", login, lambda: verified_conversation(backoffice_url), PRESENCE) == []


def test_no_company_systems_operation_answers_with_a_server_error(company_url):
    assert server_errors(f"{company_url}/openapi.json", lambda _operation: SYSTEMS) == []
