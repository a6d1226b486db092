"""Request bodies are bounded at the back office and the company systems (MAX_REQUEST_BODY_BYTES,
64 KiB): a bigger body gets 413 before it is read, whether it says its size or streams it; a
malformed body gets a 4xx, never a 500. Through the real processes, over raw sockets, as an attacker sends them."""
from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx2
import pytest

from .conftest import back_office_process
from .identity.conftest import (  # noqa: F401  (company_process, company, sink_process, sink are fixtures)
    OTP_SECRET,
    SERVICE,
    SERVICE_TOKEN,
    SESSION_SECRET,
    SYSTEMS_TOKEN,
    Company,
    company,
    company_process,
    sink,
    sink_process,
)

THIRTY_MB = 30 * 1024 * 1024
LIMIT = 64 * 1024
SYSTEMS = {"Authorization": f"Bearer {SYSTEMS_TOKEN}"}


@pytest.fixture(scope="module")
def backoffice_url(company_process: Company, sink_process, tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("body-limits")
    values = {"BACKOFFICE_DATABASE_URL": f"sqlite:///{folder / 'backoffice.db'}", "BACKOFFICE_SERVICE_TOKEN": SERVICE_TOKEN,
                "COMPANY_SYSTEMS_URL": company_process.url, "COMPANY_SYSTEMS_TOKEN": SYSTEMS_TOKEN,
                "SESSION_TOKEN_SECRET": SESSION_SECRET, "OTP_SECRET": OTP_SECRET, "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(sink_process.port), "MAIL_SINK_DIR": str(sink_process.folder), "DEMO_MODE": "1",
                "DEMO_MODE_ALLOW_PUBLIC": "0", "MAX_REQUEST_BODY_BYTES": str(LIMIT)}
    with back_office_process(folder, values) as url:
        yield url


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _status(sock: socket.socket) -> int:
    """The status code of the answer on this connection."""
    received = b""
    while b"\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return int(received.split(b" ", 2)[1])


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def declared_too_big(url: str, method: str, path: str, headers: dict[str, str]) -> int:
    """Announce 30 MB, send 1 KB of it, and read the answer: it comes without waiting for the rest."""
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(_head(method, path, {**headers, "Content-Length": str(THIRTY_MB)}) + b"{" + b" " * 1023)
        return _status(sock)


def streamed_too_big(url: str, method: str, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Stream 30 MB in chunks without saying the size; (status, bytes sent before the server stopped taking them)."""
    sent = 0
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(_head(method, path, {**headers, "Transfer-Encoding": "chunked"}))
        chunk = b'{"a": "' + b"x" * (16 * 1024) + b'"}'
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        try:
            while sent < THIRTY_MB:
                sock.sendall(frame)
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: it will not read 30 MB
        return _status(sock), sent


def backoffice_targets() -> list[tuple[str, str, dict[str, str]]]:
    return [("POST", "/api/identity/email-code", SERVICE), ("POST", "/api/identity/session", SERVICE),
            ("POST", "/api/requests", SERVICE), ("POST", "/demo/login", {}),
            ("POST", "/api/conversations/c-1/answers", SERVICE), ("POST", "/api/requests/REQ-1/extend", {}),
            ("POST", "/console/login", {}), ("GET", "/healthz", {})]


def systems_targets() -> list[tuple[str, str, dict[str, str]]]:
    change = {**SYSTEMS, "Idempotency-Key": "body-limit"}
    return [("POST", "/systems/crm/customers/C0001/rectify", change), ("POST", "/systems/orders/customers/C0001/erase", change),
            ("PUT", "/systems/marketing/customers/C0001/preferences", change), ("GET", "/systems", SYSTEMS)]


def test_a_30_mb_body_gets_413_at_once_from_the_back_office(backoffice_url):
    for method, path, headers in backoffice_targets():
        assert declared_too_big(backoffice_url, method, path, headers) == 413, path
    status, sent = streamed_too_big(backoffice_url, "POST", "/api/identity/email-code", SERVICE)
    assert status == 413 and sent < THIRTY_MB
    # Still serving everyone else.
    assert httpx2.get(f"{backoffice_url}/healthz", timeout=5).status_code == 200


def test_a_30_mb_body_gets_413_at_once_from_the_company_systems(company):
    for method, path, headers in systems_targets():
        assert declared_too_big(company.url, method, path, headers) == 413, path
    status, sent = streamed_too_big(company.url, "POST", "/systems/crm/customers/C0001/rectify",
                                    {**SYSTEMS, "Idempotency-Key": "body-limit-stream"})
    assert status == 413 and sent < THIRTY_MB
    assert company.http.get("/systems").status_code == 200


def test_a_body_just_under_the_limit_is_still_read(backoffice_url):
    body = json.dumps({"conversation_id": "c-limit", "email": "x" * (LIMIT - 100)}).encode()
    assert len(body) < LIMIT
    answer = httpx2.post(f"{backoffice_url}/api/identity/email-code", content=body,
                         headers={**SERVICE, "Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 422  # read, and refused for what it says: the address is too long


MALFORMED = [b"", b"{", b"null", b"[]", b'"text"', b"\xff\xfe\x00", b'{"conversation_id": 1e999}', b"[" * 60000,
             b'{"conversation_id": "c", "email": "a@b.nl", "language": {"$ne": 1}}', b'{"conversation_id": "\\ud800"}',
             json.dumps({"conversation_id": "c", "extra": ["x"] * 5000}).encode(), b'{"conversation_id": ' + b"9" * 4000 + b"}",
             b'{"conversation_id": ' + b"9" * 5000 + b"}", b'{"conversation_id": NaN, "email": -Infinity}']


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_a_malformed_body_gets_a_4xx_never_a_500(backoffice_url, company, body):
    for url, path, headers in [(backoffice_url, "/api/identity/email-code", SERVICE), (backoffice_url, "/api/requests", SERVICE),
                               (backoffice_url, "/demo/login", {}), (backoffice_url, "/api/identity/email-code/verify", SERVICE),
                               (company.url, "/systems/crm/customers/C0001/rectify", {**SYSTEMS, "Idempotency-Key": "malformed"})]:
        answer = httpx2.post(f"{url}{path}", content=body, headers={**headers, "Content-Type": "application/json"}, timeout=10)
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])


def test_ids_in_the_address_are_bounded_and_not_echoed(backoffice_url):
    long_id = "v" * 5000
    for path, headers in [(f"/api/knowledge/versions/{long_id}", {}), (f"/api/knowledge/versions/current/topics/{long_id}", {}),
                          (f"/api/knowledge/diff?from_version={long_id}", {}), (f"/api/conversations/{long_id}/answers", SERVICE)]:
        answer = httpx2.get(f"{backoffice_url}{path}", headers=headers, timeout=10)
        assert answer.status_code == 422, path
        assert long_id not in answer.text


# A NUL character in text: PostgreSQL refuses to store it (a 500 there that SQLite hides), and nobody
# types one. Refused with 422 before any handler, in a JSON body at any depth, a path, a query or
# the sign-in form.
NUL_REFUSED = "text may not contain a NUL character"


@pytest.mark.parametrize("path,body", [
    ("/api/identity/email-code/verify", {"conversation_id": "c-\u0000", "code": "123456"}),
    ("/api/identity/session", {"conversation_id": "c-1", "token": "t\u0000"}),
    ("/api/requests", {"customer_id": "C0001", "type": "access", "client_request_id": "x", "details": {"note": ["a\u0000"]}}),
])
def test_a_nul_character_in_a_body_is_refused_before_the_handler(backoffice_url, path, body):
    answer = httpx2.post(f"{backoffice_url}{path}", json=body, headers=SERVICE, timeout=10)
    assert answer.status_code == 422, answer.text
    assert NUL_REFUSED in answer.text


def test_a_nul_character_in_a_path_a_query_or_the_sign_in_form_is_refused(backoffice_url):
    for path in ("/api/knowledge/versions/v%00", "/api/knowledge/diff?from_version=v%00"):
        answer = httpx2.get(f"{backoffice_url}{path}", timeout=10)
        assert (answer.status_code, answer.json()["detail"]) == (422, NUL_REFUSED), path
    signing_in = httpx2.post(f"{backoffice_url}/console/login", content=b"email=a%00%40b.nl&password=x&csrf_token=t",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert signing_in.status_code == 422, signing_in.text
