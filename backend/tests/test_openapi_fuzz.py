"""OpenAPI fuzz (schemathesis): every operation of the back office and of the company systems, with
generated valid and invalid input, never answers with a server error.

Against the real processes (`python -m backoffice serve` on a migrated SQLite database and on a
PostgreSQL one, demo mode on, the company systems, the mail sink and a stand-in for Rasa's HTTP API
running), each operation with the login it is for: the service token, an agent's console session for
the handoff console (`/api/console/...`), a privacy officer's for the privacy team's pages (each a
real sign-in, with its CSRF token), the company systems' token. Every call that got past routing,
login, CSRF and input validation is counted per operation, and each console operation must have been
reached at least REACHED_AT_LEAST times: a fuzz that only collects 401s fails. Bounded: a few
examples per operation and a time limit per call.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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

from .conftest import back_office_process, company_systems, new_pg_database
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
AGENT = ("anna@voltera.example", "fuzz-agent-password-0123456789")
RASA_TOKEN = "fuzz-rasa-api-token"
# Calls per console operation that reached its handler (of up to 36 made); an operation without
# input is called once per round (nothing to vary), and every one of those calls must reach it.
REACHED_AT_LEAST = 5
# The console's live stream is left out: it is held open for minutes by design (a call would only time out).
NOT_FUZZED = {"GET /api/console/stream"}
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


class RasaApi(BaseHTTPRequestHandler):
    """Rasa's HTTP API as the console's moves use it (appending events to a conversation): takes every
    append with the token, so the back office's handlers run to their end."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(min(int(self.headers.get("Content-Length") or 0), 1_000_000))
        allowed = f"token={RASA_TOKEN}" in self.path
        body = json.dumps({} if allowed else {"message": "no token"}).encode()
        self.send_response(200 if allowed else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def rasa_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RasaApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="rasa-api")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backoffice_url(request: pytest.FixtureRequest, company_url: str, rasa_url: str, sink_process,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The back office on a database of its own, on SQLite and on PostgreSQL (as backend/tests' `db_url`)."""
    folder: Path = tmp_path_factory.mktemp(f"fuzz-backoffice-{request.param}")
    values = {"BACKOFFICE_SERVICE_TOKEN": SERVICE_TOKEN,
                "COMPANY_SYSTEMS_URL": company_url, "COMPANY_SYSTEMS_TOKEN": SYSTEMS_TOKEN, "SESSION_TOKEN_SECRET": SESSION_SECRET,
                "OTP_SECRET": OTP_SECRET, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink_process.port),
                "MAIL_SINK_DIR": str(sink_process.folder), "DEMO_MODE": "1", "DEMO_MODE_ALLOW_PUBLIC": "0",
                "DEMO_PRIVACY_OFFICER_EMAIL": OFFICER[0], "DEMO_PRIVACY_OFFICER_PASSWORD": OFFICER[1],
                "DEMO_AGENT_1_EMAIL": AGENT[0], "DEMO_AGENT_1_PASSWORD": AGENT[1],
                "HANDOFF_OFFICE_HOURS": "mon-sun 00:00-24:00", "HANDOFF_HOLIDAYS_COUNTRY": "",
                "RASA_URL": rasa_url, "RASA_API_TOKEN": RASA_TOKEN,
                "CONSOLE_INSECURE_COOKIES": "true",
                "EXPORT_LINK_SECRET": "fuzz-export-link-secret-0123456789abcdef",
                "TRACKER_DB_DIALECT": "sqlite", "TRACKER_DB": str(folder / "rasa-tracker.db")}
    if request.param == "sqlite":
        with back_office_process(folder, {**values, "BACKOFFICE_DATABASE_URL": f"sqlite:///{folder / 'backoffice.db'}"}) as url:
            yield url
        return
    # Demo mode on PostgreSQL has to be said explicitly (it looks like a deployment otherwise).
    with new_pg_database("backoffice_fuzz", request.getfixturevalue("pg_template")) as database, \
            back_office_process(folder, {**values, "BACKOFFICE_DATABASE_URL": database, "DEMO_MODE_ALLOW_PUBLIC": "1"}) as url:
        yield url


def reached_the_handler(status: int, body: bytes) -> bool:
    """The call got past routing, login, CSRF, the presence headers and input validation, so the
    operation's own code ran: any answer but a 4xx, or a 404/409/422/429 the operation's code gives
    itself (404 "no such conversation", 422 "no such colleague" carry their reason as text; FastAPI's
    own 404 for a path no route has says "Not Found", its 422 for invalid input lists the errors)."""
    if status < 400 or status >= 500 or status in (409, 429):
        return True
    if status not in (404, 422):
        return False  # 400, 401, 403, 405, 413, 415: refused before the operation's code
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return False
    return isinstance(detail, str) and detail != "Not Found"


@dataclass
class Fuzzed:
    """What a fuzz found: the calls that got a server error (each with a curl line), and per
    operation how many calls it made, how many reached its handler and how many were answered 2xx."""

    errors: list[str] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    reached: Counter = field(default_factory=Counter)
    succeeded: Counter = field(default_factory=Counter)


def fuzz(schema_url: str, headers_for: Callable[[APIOperation], dict[str, str]],
         known: Callable[[APIOperation], dict[str, str]] | None = None, known_headers: dict[str, str] | None = None) -> Fuzzed:
    """Every operation of the schema (but NOT_FUZZED), with positive (valid) and negative (invalid)
    generated input, and once more with path parameters and headers that lead past "not found"
    (`known(operation)`, made afresh for each such operation: a verified conversation, a real
    download link, a queue entry the agent holds; an earlier operation may have used them up)."""
    schema = schemathesis.openapi.from_url(schema_url)
    found = Fuzzed()
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # a part of the schema cannot be read: it says which
        operations.append(result.ok())
    assert len(operations) >= 10, [o.label for o in operations]
    for operation in operations:
        if operation.label in NOT_FUZZED:
            continue
        fixed = known(operation) if known else {}
        rounds: list[tuple[GenerationMode, dict[str, str], dict[str, str]]] = [
            (GenerationMode.POSITIVE, {}, {}), (GenerationMode.NEGATIVE, {}, {})]
        if fixed:
            rounds.append((GenerationMode.POSITIVE, fixed, known_headers or {}))
        for mode, path_parameters, headers in rounds:
            fuzz_round(operation, mode, path_parameters, headers, headers_for(operation), found)
    return found


def fuzz_round(operation: APIOperation, mode: GenerationMode, path_parameters: dict[str, str], headers: dict[str, str],
               login: dict[str, str], found: Fuzzed) -> None:
    """One round of generated calls to one operation, logged in with `login`; each server error is
    added to `found`, and each call that reached the handler counted."""
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters, headers=headers))
    def call(case) -> None:
        response = case.call(headers=login, timeout=CALL_TIMEOUT_SECONDS)
        found.calls[operation.label] += 1
        if reached_the_handler(response.status_code, response.content):
            found.reached[operation.label] += 1
        if 200 <= response.status_code < 300:
            found.succeeded[operation.label] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (Failure, FailureGroup) as failure:  # a failed check, with the call to reproduce it
            found.errors.append(f"{operation.label} ({mode}): {str(failure)[:800]}")

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


def console_session(backoffice_url: str, account: tuple[str, str]) -> dict[str, str]:
    """The headers of a member of staff's console session, signed in through the login form: its
    cookie and its CSRF token."""
    email, password = account
    with httpx2.Client(base_url=backoffice_url, timeout=10) as browser:
        form = browser.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        signed_in = browser.post("/console/login", data={"email": email, "password": password, "csrf_token": token.group(1)})
        assert signed_in.status_code == 303, signed_in.text
        me = browser.get("/api/console/me").json()
        return {"Cookie": f"console_session={browser.cookies['console_session']}", "X-CSRF-Token": me["csrf_token"]}


def is_console_handoff(operation: APIOperation) -> bool:
    return operation.path.startswith("/api/console/") and "handoff" in (operation.tags or [])


def entry_held_by(backoffice_url: str, agent: dict[str, str], claim: bool) -> str:
    """A conversation the assistant has just handed over (the agent's console open, so it is queued),
    taken by the agent when `claim`: the id of its queue entry. Each from a source of its own (the
    queue takes only a few waiting chats per source, and the fuzz fills it from PRESENCE's)."""
    with httpx2.Client(base_url=backoffice_url, timeout=10) as http:
        assert http.get("/api/console/queue", headers=agent).status_code == 200  # the agent is available
        conversation = f"fuzz-handoff-{uuid.uuid4().hex[:12]}"
        handed = http.post(f"/api/conversations/{conversation}/handoff", headers={**SERVICE, "X-Chat-Source": uuid.uuid4().hex[:16]},
                           json={"reason": "asked_for_person", "language": "en", "summary": {"last_messages": ["a person please"]}})
        assert handed.status_code == 200 and handed.json()["queued"], handed.text
        entry = handed.json()["entry"]
        if claim:
            taken = http.post(f"/api/console/conversations/{entry}/claim", headers=agent)
            assert taken.status_code == 200, taken.text
        return entry


def test_no_back_office_operation_answers_with_a_server_error_and_the_console_is_reached(backoffice_url):
    officer = console_session(backoffice_url, OFFICER)
    agent = console_session(backoffice_url, AGENT)

    def login(operation: APIOperation) -> dict[str, str]:
        if is_console_handoff(operation):
            return agent
        return officer if {"privacy team", "console"} & set(operation.tags or []) else SERVICE

    def known(operation: APIOperation) -> dict[str, str]:
        names = set(re.findall(r"{(\w+)}", operation.path))
        values: dict[str, str] = {}
        if names & {"conversation_id", "token"}:
            values.update(verified_conversation(backoffice_url))
        if "entry_id" in names:
            values["entry_id"] = entry_held_by(backoffice_url, agent, claim=not operation.path.endswith("/claim"))
        return {name: value for name, value in values.items() if name in names}

    found = fuzz(f"{backoffice_url}/openapi.json", login, known, PRESENCE)
    assert found.errors == [], "\n\n".join(found.errors)
    console = console_labels(backoffice_url)
    assert len(console) >= 10, console
    short = {label: f"{found.reached[label]} of {found.calls[label]}" for label in console
             if found.reached[label] < min(REACHED_AT_LEAST, found.calls[label]) or not found.calls[label]}
    assert short == {}, f"console operations reached less than {REACHED_AT_LEAST} times: {short}"


def console_labels(backoffice_url: str) -> list[str]:
    """The console's handoff operations the schema lists (but NOT_FUZZED)."""
    schema = schemathesis.openapi.from_url(f"{backoffice_url}/openapi.json")
    labels = [result.ok().label for result in schema.get_all_operations()
              if not isinstance(result, Err) and is_console_handoff(result.ok())]
    return [label for label in labels if label not in NOT_FUZZED]


def test_no_company_systems_operation_answers_with_a_server_error(company_url):
    errors = fuzz(f"{company_url}/openapi.json", lambda _operation: SYSTEMS).errors
    assert errors == [], "\n\n".join(errors)
