"""The back office's and the company systems' HTTP edge, through real uvicorn servers as a client
sees them:

- a client's address is the TCP peer's; a forwarding header (X-Forwarded-For) is believed only from
  one of TRUSTED_PROXIES (empty by default: from nobody, not even loopback, uvicorn's default), so a
  client cannot choose the key the sign-in throttle counts it on, and behind a trusted proxy each
  forwarded client has a key of its own;
- a connection that sends its request's head slowly (a header line now and then) is closed after
  the header timeout; whole requests, kept-alive connections that go on promptly and long
  responses (the console's live stream) are not.
"""
from __future__ import annotations

import asyncio
import os
import re
import select
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import uvicorn
from stack import Process, fresh_secret, serving

from backoffice.settings import Settings
from backoffice.shared.http_protocol import with_header_timeout

from .conftest import COMPANY_DIR, back_office_process, free_port

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
HEADER_TIMEOUT = 1.0
# A slow client sends a header line every SLOW_LINE seconds; a server that lets it go on for
# MAX_SLOW_LINES lines (30 s) has no header timeout.
SLOW_LINE, MAX_SLOW_LINES = 0.25, 120


# --- the client's address ------------------------------------------------------------------------


def back_office_settings(folder: Path, **extra: str) -> dict[str, str]:
    return {"BACKOFFICE_DATABASE_URL": f"sqlite:///{folder / 'backoffice.db'}", "BACKOFFICE_SERVICE_TOKEN": fresh_secret("service"),
            "COMPANY_SYSTEMS_URL": f"http://127.0.0.1:{free_port()}", "COMPANY_SYSTEMS_TOKEN": fresh_secret("systems"),
            "SESSION_TOKEN_SECRET": fresh_secret("session"), "OTP_SECRET": fresh_secret("otp"),
            "EXPORT_LINK_SECRET": fresh_secret("export"), "RASA_API_TOKEN": fresh_secret("rasa"), "DEMO_MODE": "0",
            "CONSOLE_INSECURE_COOKIES": "1", "TRUSTED_PROXIES": "", "REQUEST_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT), **extra}


def wrong_sign_in(url: str, forwarded_for: str) -> int:
    """A wrong password from a fresh browser that says it is `forwarded_for`, each for another login
    name (so only the source's count can hold it); the answer's status."""
    with httpx2.Client(base_url=url, headers={"X-Forwarded-For": forwarded_for}, timeout=30) as browser:
        form = browser.get("/console/login")
        token = FORM_TOKEN.search(form.text)
        assert token, form.text
        return browser.post("/console/login", data={"email": f"{uuid.uuid4().hex}@voltera.example", "password": "not the password",
                                                    "csrf_token": token.group(1)}).status_code


def test_without_trusted_proxies_a_client_cannot_choose_its_throttle_key(tmp_path):
    """Six wrong passwords from loopback, each claiming another address: all counted on the peer's."""
    with back_office_process(tmp_path, back_office_settings(tmp_path)) as url:
        answers = [wrong_sign_in(url, f"198.51.100.{n}") for n in range(6)]
    assert answers == [401] * 5 + [429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_key(tmp_path):
    with back_office_process(tmp_path, back_office_settings(tmp_path, TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")) as url:
        held = [wrong_sign_in(url, "203.0.113.5") for _ in range(6)]
        others = [wrong_sign_in(url, f"198.51.100.{n}") for n in range(6)]
        # The nearest address the proxies did not add is the client: one put in front is no escape.
        prefixed = wrong_sign_in(url, "192.0.2.77, 203.0.113.5")
        through_two = [wrong_sign_in(url, f"198.51.100.{n}, 10.1.2.3") for n in range(2)]
    assert held == [401] * 5 + [429]
    assert others == [401] * 6
    assert prefixed == 429
    assert through_two == [401, 401]


# --- the header timeout --------------------------------------------------------------------------


def _closed(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (what it sent before closing is read and dropped)."""
    readable, _, _ = select.select([sock], [], [], SLOW_LINE)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def slow_head_is_closed(address: tuple[str, int], first: bytes = b"") -> bool:
    """Send `first`, then a request line and a header line every SLOW_LINE seconds: whether the
    server closes the connection before MAX_SLOW_LINES lines."""
    with socket.create_connection(address, timeout=10) as sock:
        if first:
            sock.sendall(first)
            response = sock.recv(65536)
            assert response.startswith(b"HTTP/1.1 200"), response
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for n in range(MAX_SLOW_LINES):
            try:
                sock.sendall(f"X-Slow-{n}: still coming\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                return True
            if _closed(sock):
                return True
    return False


async def _app(scope: dict, receive: object, send: object) -> None:
    """A small ASGI app: `/slow` answers in parts over 3 header timeouts, anything else at once."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})  # type: ignore[operator]
    if scope["path"] == "/slow":
        for _ in range(6):
            await send({"type": "http.response.body", "body": b"part\n", "more_body": True})  # type: ignore[operator]
            await asyncio.sleep(HEADER_TIMEOUT / 2)
    await send({"type": "http.response.body", "body": b"done\n"})  # type: ignore[operator]


@contextmanager
def server_with_header_timeout() -> Iterator[tuple[str, int]]:
    config = uvicorn.Config(_app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off",
                            http=with_header_timeout(HEADER_TIMEOUT), timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        started_by = time.monotonic() + 60  # a server that never starts fails the test instead of hanging it
        while not server.started:
            thread.join(0.05)
            assert thread.is_alive() and time.monotonic() < started_by, "the test server did not start"
        yield "127.0.0.1", config.port
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_slow_request_head_is_closed_a_prompt_one_answered():
    with server_with_header_timeout() as address:
        assert slow_head_is_closed(address)
        # a kept-alive connection: the first request answered, the slow second one closed
        assert slow_head_is_closed(address, first=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with httpx2.Client(base_url=f"http://{address[0]}:{address[1]}", timeout=30) as client:
            assert client.get("/").text == "done\n"
            assert client.get("/slow").text == "part\n" * 6 + "done\n"  # a long response is not cut
            assert client.get("/").text == "done\n"  # nor the connection it kept alive


def test_a_connection_that_sends_nothing_is_closed():
    with server_with_header_timeout() as address, socket.create_connection(address, timeout=10) as sock:
        assert any(_closed(sock) for _ in range(MAX_SLOW_LINES))


def test_the_back_office_closes_a_slow_request_head(tmp_path):
    with back_office_process(tmp_path, back_office_settings(tmp_path)) as url:
        host, port = url.removeprefix("http://").split(":")
        assert slow_head_is_closed((host, int(port)))


def test_the_company_systems_close_a_slow_request_head(tmp_path):
    port = free_port()
    env = {**os.environ, "COMPANY_DATABASE_URL": f"sqlite:///{tmp_path / 'company.db'}", "COMPANY_SYSTEMS_TOKEN": fresh_secret("systems"),
           "COMPANY_SEED_ON_START": "1"}
    process = Process("companysystems", [sys.executable, "-m", "companysystems", "serve", "--port", str(port), "--header-timeout",
                                         str(HEADER_TIMEOUT)], COMPANY_DIR, env, tmp_path / "serve.log", port,
                      f"http://127.0.0.1:{port}/healthz")
    with serving(process):
        assert slow_head_is_closed(("127.0.0.1", port))


def test_trusted_proxies_are_addresses_or_networks_and_nothing_else():
    settings = Settings(trusted_proxies=" 10.0.0.5, 10.1.0.7/16,,::1 ")
    assert settings.trusted_proxy_list() == ["10.0.0.5/32", "10.1.0.0/16", "::1/128"]
    assert not [p for p in settings.problems() if "TRUSTED_PROXIES" in p]
    for wrong in ("*", "proxy.internal", "10.0.0.0/33"):
        assert [p for p in Settings(trusted_proxies=wrong).problems() if "TRUSTED_PROXIES" in p], wrong
