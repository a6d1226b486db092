"""The website chat channel (connectors/website.py) against real processes: the company systems, the
back office, the action server and the Rasa server with a trained model, driven through socket.io the
way the widget (web/static/chat.js) drives it.

Its own stack on its own ports (back office 19000, company systems 19100, actions 16055, Rasa 16005)
and databases (var/test-channel), so it runs beside the other end-to-end tests. The tests of the
channel and the server's edge that need no model run on Rasa's server with a stand-in for it
(tests/website_channel_alone.py), whose proxy is 127.0.0.2 (TRUSTED_PROXIES): a test connecting from
there plays the proxy, from any other loopback address a client that is not one.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import importlib.metadata
import json
import os
import pickle
import re
import select
import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import jwt
import pytest
import redis
import requests
import socketio
from stack import Process, Stack, eventually, free_port, isolated_env, load_env, own_redis

ROOT = Path(__file__).resolve().parents[1]

CHANNEL_VAR = ROOT / "var" / f"test-channel-{os.getpid()}"
CHANNEL_ENV = isolated_env(CHANNEL_VAR)
PROXY, NOT_A_PROXY = "127.0.0.2", "127.0.0.3"  # loopback addresses a test connects from
SERVER_ISSUED = re.compile(r"[0-9a-f]{32}\.[0-9a-f]{32}")
REFUSED_EN = "I could not confirm your login"
REFUSED_NL = "Ik kon je inlog niet bevestigen"
TURN_SECONDS = 120  # a whole turn on a busy machine; ended by its acknowledgement, not by this


@pytest.fixture(scope="session")
def website() -> Iterator[Stack]:
    """Company systems, back office, action server and Rasa (with the website channel), all answering."""
    shutil.rmtree(CHANNEL_VAR, ignore_errors=True)
    CHANNEL_VAR.mkdir(parents=True)
    stack = Stack(load_env(CHANNEL_ENV), log_dir=CHANNEL_VAR / "log")
    try:
        stack.start(["companysystems", "backoffice", "actions", "rasa"])
        stack.wait_ready(timeout=600)
        yield stack
    finally:
        stack.stop()


# --- helpers ---------------------------------------------------------------------------------------


def service_headers(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.env['BACKOFFICE_SERVICE_TOKEN']}"}


def identity(stack: Stack, conversation_id: str) -> dict[str, Any]:
    """The conversation's identity as the back office tells it to the conversation's own website
    connection (the `_connection` of its latest website message): a binding holds only there."""
    events = tracker(stack, conversation_id)["events"]
    latest = next((e for e in reversed(events) if e["event"] == "user" and e.get("input_channel") == "website"), {})
    presence = {"X-Chat-Channel": "website", "X-Chat-Connection": (latest.get("metadata") or {}).get("_connection", "")}
    url = f"{stack.env['BACKOFFICE_URL']}/api/identity/conversations/{conversation_id}"
    response = requests.get(url, headers={**service_headers(stack), **presence}, timeout=10)
    response.raise_for_status()
    return response.json()


def tracker(stack: Stack, conversation_id: str) -> dict[str, Any]:
    url = f"http://localhost:{stack.env['RASA_PORT']}/conversations/{conversation_id}/tracker"
    response = requests.get(url, params={"token": stack.env["RASA_API_TOKEN"]}, timeout=30)
    response.raise_for_status()
    return response.json()


def user_texts(conversation: dict[str, Any]) -> list[str]:
    return [e.get("text") for e in conversation["events"] if e["event"] == "user"]


def demo_login(stack: Stack, customer_id: str) -> str:
    """The token the demo website's login gives (what the widget sends when logged in)."""
    response = requests.post(f"{stack.env['BACKOFFICE_URL']}/demo/login", json={"customer_id": customer_id}, timeout=30)
    response.raise_for_status()
    return response.json()["token"]


def mint(stack: Stack, customer_id: str = "C0003", *, key: str | None = None, audience: str = "chat",
         issuer: str = "voltera-website", age: dt.timedelta = dt.timedelta(0),
         ttl: dt.timedelta = dt.timedelta(minutes=30)) -> str:
    """A session token as the website signs it (backoffice/identity/rules.py), with one thing changed if asked."""
    issued = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - age
    claims = {"sub": customer_id, "iat": int(issued.timestamp()), "exp": int((issued + ttl).timestamp()), "aud": audience,
              "iss": issuer}
    return jwt.encode(claims, key or stack.env["SESSION_TOKEN_SECRET"], algorithm="HS256")


class Visitor:
    """One browser tab with the chat widget: a socket.io connection, logged in or not; from
    `local_address` (a loopback address) when given."""

    def __init__(self, stack: Stack, token: str | None = None, auth_at_connect: bool = True,
                 local_address: str | None = None) -> None:
        self.url = f"http://{'127.0.0.1' if local_address else 'localhost'}:{stack.env['RASA_PORT']}"
        self.token = token
        self.auth_at_connect = auth_at_connect
        self.http = None if local_address is None else aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(local_address, 0)))
        self.client = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.confirms: asyncio.Queue = asyncio.Queue()
        self.client.on("bot_uttered", lambda data: self.inbox.put_nowait(data))
        self.client.on("session_confirm", lambda data: self.confirms.put_nowait(data))
        self.client.on("session_secret", self.keep_secret)
        self.session_id: str | None = None
        self.resume_secret: str | None = None  # what the widget keeps in sessionStorage beside the id

    def keep_secret(self, data: dict[str, str]) -> None:
        self.resume_secret = data["resume_secret"]

    async def open(self, proposed: Any = None, secret: Any = None, **connect: Any) -> str:
        """Connect and ask for a session: a fresh one, or `proposed` (shown with its resume `secret`, as a
        reload does)."""
        auth = {"token": self.token} if self.token and self.auth_at_connect else None
        await self.client.connect(self.url, socketio_path="/socket.io/", transports=["websocket"], auth=auth, **connect)
        await self.client.emit("session_request", {"session_id": proposed, "resume_secret": secret})
        self.session_id = await self.confirmed()
        return self.session_id

    async def confirmed(self, timeout: float = 30) -> str:
        data = await asyncio.wait_for(self.confirms.get(), timeout)
        return data if isinstance(data, str) else data["session_id"]

    async def say(self, text: str, language: str = "en", session_id: str | None = None, **extra: Any) -> list[dict[str, Any]]:
        """Send like the widget does and return the turn's replies.

        The turn ends on a signal, not on silence: the message is sent with a socket.io
        acknowledgement, which the server sends once the channel's handler has returned, that is once
        Rasa has run the whole turn. Every reply of the turn was emitted before it on the same
        connection, so it has arrived by then."""
        custom: dict[str, Any] = {"language": language, **extra}
        if self.token:
            custom["session_token"] = self.token
        await self.client.call("user_uttered", {"message": text, "session_id": session_id or self.session_id,
                                                "customData": custom}, timeout=TURN_SECONDS)
        await asyncio.sleep(0)  # let the client hand over what it received before the acknowledgement
        replies = []
        while not self.inbox.empty():
            replies.append(self.inbox.get_nowait())
        return replies

    async def close(self) -> None:
        await self.client.disconnect()
        if self.http is not None:
            await self.http.close()


def joined(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


# --- tests -----------------------------------------------------------------------------------------


def test_login_binds_the_conversation_and_no_token_reaches_the_tracker(website, published):
    token = demo_login(website, "C0001")

    async def chat():
        visitor = Visitor(website, token)
        try:
            session_id = await visitor.open()
            replies = await visitor.say("Which data do you collect about me?",
                                        access_token="other-secret-value", extra={"password": "hunter2", "page": "home"})
            return session_id, replies
        finally:
            await visitor.close()

    session_id, replies = asyncio.run(chat())
    assert SERVER_ISSUED.fullmatch(session_id)
    assert REFUSED_EN not in joined(replies)
    assert f"version {published[-1]['version']['id']}" in joined(replies)
    bound = identity(website, session_id)
    assert bound["verified"] is True and bound["customer_id"] == "C0001" and bound["method"] == "session"

    conversation = tracker(website, session_id)
    stored = json.dumps(conversation)
    for secret in (token, "session_token", "other-secret-value", "access_token", "hunter2", "password"):
        assert secret not in stored
    metadata = next(e["metadata"] for e in conversation["events"] if e["event"] == "user")
    assert metadata["language"] == "en" and metadata["extra"] == {"page": "home"}  # the rest of customData arrives
    assert conversation["latest_input_channel"] == "website"


REFUSALS = [
    # (how the token is wrong, page language, what the customer must read)
    ("forged", "en", [REFUSED_EN, "is not valid", "Log in again on the website", "code by e-mail"]),
    ("expired", "nl", [REFUSED_NL, "verlopen", "Log opnieuw in op de website", "code per e-mail"]),
    ("expired", "en", ["I could not confirm your login: it has expired. Log in again on the website, "
                       "or I can verify you with a code by e-mail."]),
    ("wrong_audience", "en", [REFUSED_EN, "is not valid"]),
    ("garbage", "en", [REFUSED_EN, "is not valid"]),
]


def bad_token(stack: Stack, kind: str) -> str:
    if kind == "forged":
        return mint(stack, "C0004", key="an-attacker-key-that-is-32-characters-long")
    if kind == "expired":
        return mint(stack, "C0004", age=dt.timedelta(hours=2))
    if kind == "wrong_audience":
        return mint(stack, "C0004", audience="backoffice")
    return "not.a.token"


@pytest.mark.parametrize("kind, language, expected", REFUSALS, ids=[f"{k}-{lang}" for k, lang, _ in REFUSALS])
def test_refused_login_is_told_and_the_conversation_stays_unverified(website, kind, language, expected):
    token = bad_token(website, kind)

    async def chat():
        visitor = Visitor(website, token)
        try:
            session_id = await visitor.open()
            first = await visitor.say("hello" if language == "en" else "hoi", language)
            second = await visitor.say("how long do you keep my invoices?" if language == "en"
                                       else "hoe lang bewaren jullie mijn facturen?", language)
            return session_id, first, second
        finally:
            await visitor.close()

    session_id, first, second = asyncio.run(chat())
    notice = first[0]["text"]
    for part in expected:
        assert part in notice
    assert len(first) > 1, "the message itself got no answer after the notice"
    assert REFUSED_EN not in joined(second) and REFUSED_NL not in joined(second), "told twice"
    assert identity(website, session_id)["verified"] is False
    assert token not in json.dumps(tracker(website, session_id))


def test_login_of_another_customer_gets_a_new_conversation_and_leaves_the_first_alone(website):
    token_a, token_b = demo_login(website, "C0001"), demo_login(website, "C0002")

    async def first_customer():
        a = Visitor(website, token_a)
        try:
            session_id = await a.open()
            await a.say("which data do you collect about me?")
            return session_id, a.resume_secret
        finally:
            await a.close()

    session_a, secret_a = asyncio.run(first_customer())
    before = tracker(website, session_a)["events"]
    assert identity(website, session_a)["customer_id"] == "C0001"

    async def second_customer(auth_at_connect: bool):
        b = Visitor(website, token_b, auth_at_connect=auth_at_connect)
        try:
            offered = await b.open(proposed=session_a, secret=secret_a)  # the same tab, another customer's login
            replies = await b.say("how long do you keep my purchase history?")
            if not auth_at_connect:  # the login arrives with the message: the session changes then
                offered = await b.confirmed(timeout=1)
            return offered, replies
        finally:
            await b.close()

    for auth_at_connect in (True, False):
        session_b, replies = asyncio.run(second_customer(auth_at_connect))
        assert session_b != session_a and SERVER_ISSUED.fullmatch(session_b)
        assert replies[0]["text"].startswith("You are logged in as a different customer")
        assert "purchase history" in joined(replies[1:]).lower()
        assert identity(website, session_b)["customer_id"] == "C0002"
        assert identity(website, session_a)["customer_id"] == "C0001"
        assert tracker(website, session_a)["events"] == before
        assert "how long do you keep my purchase history?" in user_texts(tracker(website, session_b))


@pytest.mark.parametrize("proposed", [
    uuid.uuid4().hex,
    "C0001",
    "0" * 32 + "." + "0" * 32,
    "x" * 10_000,
    12345,
    {"session_id": "nested"},
], ids=["uuid", "customer-id", "unsigned-shape", "10k", "number", "object"])
def test_a_session_id_the_server_did_not_issue_is_replaced(website, proposed):
    async def chat():
        visitor = Visitor(website)
        try:
            return await visitor.open(proposed=proposed)
        finally:
            await visitor.close()

    session_id = asyncio.run(chat())
    assert session_id != proposed and SERVER_ISSUED.fullmatch(session_id)


def test_only_the_server_issued_session_can_be_resumed_and_spoken_in(website):
    async def chat():
        owner = Visitor(website)
        intruder = Visitor(website)
        try:
            own = await owner.open()
            greeted = await owner.say("hello")
            tampered = own[:-1] + ("0" if own[-1] != "0" else "1")
            other = await intruder.open(proposed=tampered)
            # The intruder names the owner's session in its message: it still speaks in its own.
            await intruder.say("what is my loyalty data used for?", session_id=own)
            # Anything sent to the owner's connection before its next turn ends arrives before that turn's end.
            assert await owner.say("hello") == greeted, "the intruder's replies reached the owner"
            secret = owner.resume_secret
            await owner.close()
            returning = Visitor(website)
            resumed = await returning.open(proposed=own, secret=secret)
            await returning.say("how long do you keep my invoices?")
            await returning.close()
            return own, tampered, other, resumed
        finally:
            for v in (owner, intruder):
                if v.client.connected:
                    await v.close()

    own, tampered, other, resumed = asyncio.run(chat())
    assert other not in (own, tampered) and SERVER_ISSUED.fullmatch(other)
    assert resumed == own, "a server-issued session id is taken back with its resume secret (what the widget stores)"
    assert user_texts(tracker(website, own)) == ["hello", "hello", "how long do you keep my invoices?"]
    assert user_texts(tracker(website, other)) == ["what is my loyalty data used for?"]


def test_anonymous_visitor_is_answered_as_before(website, published):
    async def chat():
        visitor = Visitor(website)
        try:
            session_id = await visitor.open()
            return session_id, await visitor.say("Welke gegevens hebben jullie van mij?", "nl")
        finally:
            await visitor.close()

    session_id, replies = asyncio.run(chat())
    text = joined(replies)
    assert f"versie {published[-1]['version']['id']}" in text
    assert REFUSED_NL not in text and REFUSED_EN not in text
    assert identity(website, session_id)["verified"] is False
    assert tracker(website, session_id)["slots"]["language"] == "nl"


def test_unreachable_back_office_is_told_and_the_login_is_checked_again_later(website):
    token = demo_login(website, "C0005")

    async def chat():
        visitor = Visitor(website, token)
        await asyncio.to_thread(website.stop, ["backoffice"])
        try:
            session_id = await visitor.open()
            down = await visitor.say("hoi", "nl")
        finally:
            await asyncio.to_thread(website.start, ["backoffice"])
            await asyncio.to_thread(website.wait_ready, 120)
        try:
            # The same connection: the next message checks the login again, and now it binds.
            up = await visitor.say("hoe lang bewaren jullie mijn facturen?", "nl")
        finally:
            await visitor.close()
        return session_id, down, up

    session_id, down, up = asyncio.run(chat())
    assert down[0]["text"].startswith("Ik kon je inlog nu niet bevestigen: onze verificatiedienst is niet bereikbaar.")
    assert len(down) > 1, "the chat goes on while the back office is down"
    assert "niet bevestigen" not in joined(up)
    bound = identity(website, session_id)
    assert bound["verified"] is True and bound["customer_id"] == "C0005"


# --- the binding holds only on the connection that verified it ----------------------------------------


def demo_customer(stack: Stack, customer_id: str) -> dict[str, Any]:
    url = f"{stack.env['BACKOFFICE_URL']}/api/demo/customers"
    found = requests.get(url, headers=service_headers(stack), timeout=30).json()["customers"]
    return next(c for c in found if c["customer_id"] == customer_id)


def requests_of(stack: Stack, customer_id: str) -> list[dict[str, Any]]:
    url = f"{stack.env['BACKOFFICE_URL']}/api/customers/{customer_id}/requests"
    return requests.get(url, headers=service_headers(stack), timeout=10).json()["requests"]


def test_rest_naming_a_logged_in_website_session_gets_nothing_personal_and_files_nothing(website):
    from test_end_to_end import rest

    customer = demo_customer(website, "C0002")
    token = demo_login(website, "C0002")
    visitor = Visitor(website, token)

    def through_rest(*texts: str) -> None:
        """Someone who knows the session id, through the REST channel: nothing personal, nothing filed."""
        for text in texts:
            words = joined(rest(website, text, session_id)[1])
            assert customer["email"] not in words and customer["name"] not in words and "C0002" not in words, text
            assert "Filed" not in words and "REQ-" not in words, text

    loop = asyncio.new_event_loop()
    try:
        session_id = loop.run_until_complete(visitor.open())
        shown = joined(loop.run_until_complete(visitor.say("show me my data", _connection="f" * 32, _source="0" * 16)))
        assert customer["email"] in shown  # the logged-in customer sees their own data
        assert "Shall I file it?" in joined(loop.run_until_complete(visitor.say("delete my data")))
        assert list(tracker(website, session_id)["slots"]["pending_request"]) == ["draft_id"]

        through_rest("yes", "/affirm")  # the draft the customer was shown waits in the slot: not filed from here
        assert requests_of(website, "C0002") == []
        receipt = joined(loop.run_until_complete(visitor.say("yes")))  # the customer, on their own connection
        through_rest("show me my data", "what is the status of my request?", "delete my data", "yes")
        loop.run_until_complete(visitor.close())
    finally:
        loop.close()
    assert "Filed" in receipt
    [filed] = requests_of(website, "C0002")
    assert filed["type"] == "erasure" and filed["channel"] == "assistant:website"

    metadata = [e["metadata"] for e in tracker(website, session_id)["events"]
                if e["event"] == "user" and e.get("input_channel") == "website"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", m["_connection"]) and re.fullmatch(r"[0-9a-f]{16}", m["_source"]) for m in metadata)
    assert all(m["_connection"] != "f" * 32 and m["_source"] != "0" * 16 for m in metadata)  # the client's keys are dropped
    assert len({m["_connection"] for m in metadata}) == 1


def test_a_page_reload_with_the_login_stays_verified_and_without_it_does_not(website):
    customer = demo_customer(website, "C0006")
    token = demo_login(website, "C0006")

    async def visit(login: str | None, proposed: str | None = None, secret: str | None = None):
        visitor = Visitor(website, login)
        try:
            session_id = await visitor.open(proposed=proposed, secret=secret)
            return session_id, visitor.resume_secret, joined(await visitor.say("show me my data"))
        finally:
            await visitor.close()

    first, secret, shown = asyncio.run(visit(token))
    assert customer["email"] in shown
    reloaded, _, again = asyncio.run(visit(token, first, secret))  # a page reload: a new connection, the same login
    assert reloaded == first and customer["email"] in again
    anonymous, _, refused = asyncio.run(visit(None, first, secret))  # the session (and its secret) without the login
    assert anonymous == first
    assert customer["email"] not in refused and customer["name"] not in refused and "e-mail address" in refused


# --- bounded input (connectors/limits.py) ----------------------------------------------------------

TOO_LONG_NL = "Je bericht is te lang voor mij: maximaal 2.000 tekens."
TOO_LONG_EN = "Your message is too long for me: at most 2,000 characters."


def test_a_100000_character_message_is_told_too_long_in_the_page_language_and_freezes_no_one(website):
    async def chat():
        long_visitors, other = [Visitor(website) for _ in range(3)], Visitor(website)
        try:
            for visitor in (*long_visitors, other):
                await visitor.open()
            # Before the fix each such message held the Rasa server for every conversation (60,000
            # characters: about 9 s); now the channel answers it without the NLU.
            longs = [asyncio.ensure_future(v.say("x" * 100_000, "nl")) for v in long_visitors]
            hello = await other.say("hello")
            return [v.session_id for v in long_visitors], await asyncio.gather(*longs), hello
        finally:
            for visitor in (*long_visitors, other):
                await visitor.close()

    sessions, too_long, hello = asyncio.run(chat())
    assert hello[0]["text"].startswith("Hi!")
    for session_id, replies in zip(sessions, too_long, strict=False):
        assert [r["text"] for r in replies] == [replies[0]["text"]] and TOO_LONG_NL in replies[0]["text"]
        assert TOO_LONG_EN not in replies[0]["text"]
        assert user_texts(tracker(website, session_id)) == [], "it reached the NLU"


def test_a_packet_over_the_request_limit_closes_only_its_connection(website):
    async def chat():
        flooding, other = Visitor(website), Visitor(website)
        try:
            await flooding.open()
            await other.open()
            await flooding.client.emit("user_uttered", {"message": "x" * 2_000_000, "customData": {"language": "en"}})
            await asyncio.to_thread(eventually, lambda: not flooding.client.connected, 30, "the flooding connection closed")
            return flooding.client.connected, await other.say("hello")
        finally:
            for visitor in (flooding, other):
                if visitor.client.connected:
                    await visitor.close()

    still_connected, hello = asyncio.run(chat())
    assert not still_connected
    assert hello[0]["text"].startswith("Hi!")


def test_oversized_or_reserved_metadata_does_not_reach_the_tracker(website):
    async def chat():
        visitor = Visitor(website)
        try:
            session_id = await visitor.open()
            first = await visitor.say("hello", blob="x" * 9_000)
            second = await visitor.say("hello", _connection="f" * 32, _source="0" * 16)
            return session_id, first, second
        finally:
            await visitor.close()

    session_id, first, second = asyncio.run(chat())
    assert first[0]["text"].startswith("Hi!") and second[0]["text"].startswith("Hi!")
    metadata = [e["metadata"] for e in tracker(website, session_id)["events"] if e["event"] == "user"]
    assert "blob" not in metadata[0] and "language" not in metadata[0]  # dropped whole: it was over 8 KiB
    assert metadata[1]["language"] == "en"
    assert metadata[1].get("_connection") != "f" * 32 and metadata[1].get("_source") != "0" * 16


def test_a_page_of_another_origin_cannot_connect(website):
    url = f"http://localhost:{website.env['RASA_PORT']}"

    async def connect(origin: str) -> bool:
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(url, socketio_path="/socket.io/", transports=["websocket"], headers={"Origin": origin})
        except socketio.exceptions.ConnectionError:
            return False
        await client.disconnect()
        return True

    assert website.env["BACKOFFICE_URL"] in website.env["CORS_ORIGINS"].split()
    assert asyncio.run(connect(website.env["BACKOFFICE_URL"])) is True
    assert asyncio.run(connect("http://evil.example")) is False
    assert asyncio.run(connect("null")) is False


# --- the channel and the server's public edge, with a stand-in for the model ---------------------------
# Rasa's own web app with this channel, run with the environment scripts/stack.py gives Rasa, the real
# back office behind it, and in place of the trained assistant a stand-in (tests/website_channel_alone.py).

ALONE_VAR = ROOT / "var" / f"test-channel-alone-{os.getpid()}"
ALONE_ENV = {**isolated_env(ALONE_VAR), "TRUSTED_PROXIES": PROXY}
AGENT_REPLY = "Anna here, from Voltera's privacy desk: I have your chat."


@pytest.fixture(scope="module")
def alone() -> Iterator[Stack]:
    """The company systems, the mail sink, the back office, and Rasa's server with the stand-in."""
    shutil.rmtree(ALONE_VAR, ignore_errors=True)
    ALONE_VAR.mkdir(parents=True)
    stack = Stack(load_env(ALONE_ENV), log_dir=ALONE_VAR / "log")
    port = int(stack.env["RASA_PORT"])
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    server = Process("rasa with a stand-in", [sys.executable, "tests/website_channel_alone.py", str(port)], ROOT,
                     {**stack.process("rasa").env, "PYTHONPATH": python_path}, ALONE_VAR / "log" / "rasa.log", port,
                     f"http://127.0.0.1:{port}/")
    try:
        stack.start(["companysystems", "mailsink", "backoffice"])
        server.start()
        stack.wait_ready(timeout=300)
        server.wait_ready(300)
        yield stack
    finally:
        server.stop()
        stack.stop()


def agent_says(stack: Stack, session_id: str, text: str) -> None:
    """What Rasa's API does with an agent's reply (backend/backoffice/handoff): a bot message out through
    the website channel, to the session's room."""
    url = f"http://127.0.0.1:{stack.env['RASA_PORT']}/stand-in/agent-says"
    requests.post(url, json={"session_id": session_id, "text": text}, timeout=30).raise_for_status()


def heard(stack: Stack) -> list[dict[str, Any]]:
    """What reached the assistant: [{sender, text, metadata}]."""
    return requests.get(f"http://127.0.0.1:{stack.env['RASA_PORT']}/stand-in/heard", timeout=30).json()


def test_a_session_id_without_its_resume_secret_gets_a_new_session_and_nothing_of_the_chat(alone):
    """Whoever learns a chat's session id (the console, an export, a log, a screenshot) and proposes it
    from another connection gets a session of its own: not the agent's replies, not the customer's
    place in the conversation. Only the id with its resume secret (the widget's reload) rejoins."""
    async def chat():
        owner, other = Visitor(alone), Visitor(alone)
        intruders = [Visitor(alone) for _ in range(3)]
        returning = Visitor(alone)
        try:
            own = await owner.open()
            await owner.say("hello")
            await other.open()
            # The id alone; a made-up secret; a real secret, of another session.
            for intruder, secret in zip(intruders, (None, "0" * 64, other.resume_secret), strict=True):
                await intruder.open(proposed=own, secret=secret)
            await asyncio.to_thread(agent_says, alone, own, AGENT_REPLY)
            to_owner = await asyncio.wait_for(owner.inbox.get(), 30)
            # An intruder's own turn ends after anything sent to its room before it: the agent's reply included.
            told = [await intruder.say(f"I am intruder {n}") for n, intruder in enumerate(intruders)]
            resumed = await returning.open(proposed=own, secret=owner.resume_secret)  # the customer's reload
            await asyncio.to_thread(agent_says, alone, own, AGENT_REPLY + " (again)")
            to_returning = await asyncio.wait_for(returning.inbox.get(), 30)
            return own, [i.session_id for i in intruders], to_owner, told, resumed, to_returning
        finally:
            for visitor in (owner, other, *intruders, returning):
                if visitor.client.connected:
                    await visitor.close()

    own, offered, to_owner, told, resumed, to_returning = asyncio.run(chat())
    assert to_owner["text"] == AGENT_REPLY
    said = {(m["sender"], m["text"]) for m in heard(alone)}
    for n, (session_id, replies) in enumerate(zip(offered, told, strict=True)):
        assert session_id != own and SERVER_ISSUED.fullmatch(session_id)
        assert [r["text"] for r in replies] == [f"echo: I am intruder {n}"], "the agent's reply reached an intruder"
        assert (session_id, f"I am intruder {n}") in said and (own, f"I am intruder {n}") not in said
    assert resumed == own and to_returning["text"] == AGENT_REPLY + " (again)"


def email_of(stack: Stack, customer_id: str) -> str:
    url = f"{stack.env['COMPANY_SYSTEMS_URL']}/systems/crm/customers/{customer_id}/export"
    answer = requests.get(url, headers={"Authorization": f"Bearer {stack.env['COMPANY_SYSTEMS_TOKEN']}"}, timeout=30)
    answer.raise_for_status()
    return answer.json()["categories"]["contact_details"][0]["email"]


def mails_to(stack: Stack, email: str) -> list[dict[str, Any]]:
    url = f"{stack.env['BACKOFFICE_URL']}/api/demo/inbox"
    return requests.get(url, params={"to": email}, headers=service_headers(stack), timeout=10).json()["messages"]


def ask_codes(stack: Stack, local_address: str, customer_ids: list[str]) -> list[tuple[str, str]]:
    """One new chat per customer, each from its own client (203.0.113.n in X-Forwarded-For), connected
    from `local_address`; each asks for a code for its customer's address. (session id, the answer) per chat."""
    async def one(n: int, customer_id: str) -> tuple[str, str]:
        visitor = Visitor(stack, local_address=local_address)
        try:
            session_id = await visitor.open(headers={"X-Forwarded-For": f"203.0.113.{n + 1}"})
            return session_id, joined(await visitor.say(f"email: {email_of(stack, customer_id)}"))
        finally:
            await visitor.close()

    async def all_of_them() -> list[tuple[str, str]]:
        return [await one(n, customer_id) for n, customer_id in enumerate(customer_ids)]

    return asyncio.run(all_of_them())


def sources(stack: Stack, session_ids: list[str]) -> set[str]:
    return {m["metadata"]["_source"] for m in heard(stack) if m["sender"] in session_ids}


def test_eleven_clients_behind_the_trusted_proxy_each_get_their_code_and_a_forged_header_counts_for_nothing(alone):
    """The back office allows 10 code requests an hour per source. Behind the proxy each client is its
    own source, so the 11th client still gets its code; a client that is not the proxy, writing the same
    X-Forwarded-For values, is one source, its own, and its 11th request is refused."""
    behind = [f"C{n:04d}" for n in range(11, 22)]
    chats = ask_codes(alone, PROXY, behind)
    assert [answer for _, answer in chats] == ["code: 202"] * 11
    for customer_id in behind:
        eventually(lambda customer_id=customer_id: mails_to(alone, email_of(alone, customer_id)), 30,
                   f"the code mailed to {customer_id}")
    assert len(sources(alone, [session_id for session_id, _ in chats])) == 11

    forging = ask_codes(alone, NOT_A_PROXY, [f"C{n:04d}" for n in range(22, 33)])
    assert [answer for _, answer in forging] == ["code: 202"] * 10 + ["code: 429 too_many_codes"]
    assert len(sources(alone, [session_id for session_id, _ in forging])) == 1


def test_without_a_token_rasa_does_not_tell_its_version(alone):
    """Rasa 3.6 answered `/` and `/version` with its exact version, and put it in every API error
    (connectors/edge.py)."""
    base = f"http://127.0.0.1:{alone.env['RASA_PORT']}"
    version = importlib.metadata.version("rasa")
    root, numbered = requests.get(f"{base}/", timeout=10), requests.get(f"{base}/version", timeout=10)
    assert root.status_code == 200 and root.text == "ok"
    assert numbered.status_code == 404
    refused = requests.get(f"{base}/status", timeout=10)
    assert refused.status_code == 401 and refused.json()["reason"] == "NotAuthenticated" and "version" not in refused.json()
    for answer in (root, numbered, refused):
        assert version not in answer.text, answer.url


def test_a_connection_sending_its_header_slowly_is_closed(alone):
    """One header line every 10 s kept a connection to Rasa open for good (Sanic's REQUEST_TIMEOUT, 60 s
    by default, counts the silence between two reads); Rasa runs with 5 s (scripts/stack.py)."""
    with socket.create_connection(("127.0.0.1", int(alone.env["RASA_PORT"])), timeout=30) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        for line in range(8):  # 80 s of header: past Sanic's default too
            if select.select([conn], [], [], 10)[0]:
                answer = conn.recv(4096)
                assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
                break
            try:
                conn.sendall(f"X-Slow-{line}: still coming\r\n".encode())
            except OSError:  # closed between two lines
                break
        else:
            pytest.fail("the connection stayed open through 8 header lines 10 s apart")


# --- the channel's parts on their own (no processes) -----------------------------------------------


def test_session_ids_verify_only_their_own_tag():
    from connectors.website import SessionIds

    ours, theirs = SessionIds("a" * 32), SessionIds("b" * 32)
    issued = ours.issue()
    assert SERVER_ISSUED.fullmatch(issued) and ours.issued_here(issued)
    assert not theirs.issued_here(issued), "an id signed with another key is refused"
    nonce, tag = issued.split(".")
    assert not ours.issued_here(f"{nonce}.{tag[::-1]}") and not ours.issued_here(nonce) and not ours.issued_here(issued.upper())
    with pytest.raises(ValueError):
        SessionIds("too-short")


def test_a_session_resumes_only_with_its_own_resume_secret():
    from connectors.website import SessionIds

    ours = SessionIds("a" * 32)
    issued, other = ours.issue(), ours.issue()
    secret = ours.resume_secret(issued)
    assert re.fullmatch(r"[0-9a-f]{64}", secret) and secret not in issued
    assert ours.may_resume(issued, secret)
    for proposed, offered in [(issued, None), (issued, ""), (issued, ours.resume_secret(other)), (issued, secret.upper()),
                              (issued, secret[:-1]), (issued, {"secret": secret}), (other, secret),
                              (issued, SessionIds("b" * 32).resume_secret(issued))]:
        assert not ours.may_resume(proposed, offered), (proposed, offered)


def test_the_presence_keys_are_the_servers_own():
    from connectors.website import _Connection, presence_metadata

    conn = _Connection(source="ab" * 8)
    sent = {"language": "nl", "_connection": "f" * 32, "_source": "0" * 16, "_anything": 1, "page": "home"}
    assert presence_metadata(sent, conn) == {"language": "nl", "page": "home", "_connection": conn.reference, "_source": "ab" * 8}
    assert SERVER_ISSUED.fullmatch(f"{conn.reference}.{_Connection().reference}") and conn.reference != _Connection().reference


class AwaitingServer:
    """python-socketio >= 5.10's AsyncServer, where enter_room and leave_room are coroutines."""

    def __init__(self) -> None:
        self.rooms: set = set()
        self.emitted: list = []

    async def enter_room(self, sid, room, namespace=None):
        self.rooms.add((sid, room))

    async def leave_room(self, sid, room, namespace=None):
        self.rooms.discard((sid, room))

    async def emit(self, event, data=None, room=None, **kwargs):
        self.emitted.append((event, data, room))


def test_rooms_are_entered_with_a_python_socketio_that_awaits():
    from connectors.website import WebsiteInput, _Connection

    channel = WebsiteInput(session_id_secret="c" * 32, backoffice_url="http://localhost:9", backoffice_service_token="s" * 32)
    channel.sio = AwaitingServer()
    conn = _Connection()

    async def join_twice():
        await channel._join("sid1", conn, "first")
        await channel._join("sid1", conn, "second")

    asyncio.run(join_twice())
    assert channel.sio.rooms == {("sid1", "second")}
    def confirmed(session_id):
        secret = {"session_id": session_id, "resume_secret": channel.session_ids.resume_secret(session_id)}
        return [("session_secret", secret, "sid1"), ("session_confirm", session_id, "sid1")]

    assert channel.sio.emitted == confirmed("first") + confirmed("second")


# --- two Rasa replicas sharing the website's sockets through Redis (WEBSITE_REDIS_URL) ------------------


REPLICAS_VAR = ROOT / "var" / f"test-channel-replicas-{os.getpid()}"


@pytest.fixture(scope="module")
def replicas() -> Iterator[tuple[Stack, Stack, str]]:
    """Two Rasa servers with the stand-in, one back office behind both, and a Redis of their own: the
    views of replica A and of replica B (each a stack whose RASA_PORT is that replica's), and Redis's URL.
    Replica A's log is REPLICAS_VAR/log/rasa-A.log, B's rasa-B.log."""
    var = REPLICAS_VAR
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    with own_redis(var / "log") as redis_url:
        stack = Stack(load_env({**isolated_env(var), "WEBSITE_REDIS_URL": redis_url}), log_dir=var / "log")
        python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        ports = [int(stack.env["RASA_PORT"]), free_port()]
        servers = [Process(f"rasa replica {name}", [sys.executable, "tests/website_channel_alone.py", str(port)], ROOT,
                           {**stack.process("rasa").env, "PYTHONPATH": python_path}, var / "log" / f"rasa-{name}.log", port,
                           f"http://127.0.0.1:{port}/") for name, port in zip("AB", ports, strict=True)]
        try:
            stack.start(["companysystems", "mailsink", "backoffice"])
            for server in servers:
                server.start()
            stack.wait_ready(timeout=300)
            for server in servers:
                server.wait_ready(300)
            views = [SimpleNamespace(env={**stack.env, "RASA_PORT": str(port)}) for port in ports]
            yield views[0], views[1], redis_url  # type: ignore[misc]
        finally:
            for server in servers:
                server.stop()
            stack.stop()


def test_an_agents_reply_through_one_replica_reaches_the_socket_on_the_other(replicas):
    replica_a, replica_b, _ = replicas

    async def chat():
        customer = Visitor(replica_b)
        try:
            session = await customer.open()
            # its own replica's answer once, before the turn's acknowledgement
            assert [reply.get("text") for reply in await customer.say("hello")] == ["echo: hello"]
            await asyncio.to_thread(agent_says, replica_a, session, AGENT_REPLY)
            reply = await asyncio.wait_for(customer.inbox.get(), TURN_SECONDS)
            assert reply["text"] == AGENT_REPLY
            assert [reply.get("text") for reply in await customer.say("thanks")] == ["echo: thanks"]  # and nothing twice
        finally:
            await customer.close()
    asyncio.run(chat())


class Unpickled:
    """What a stranger able to publish to the Redis would send: a pickle that, once loaded, creates a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_a_pickle_published_to_the_socket_channel_is_never_loaded(replicas, tmp_path: Path):
    """python-socketio 5.9.0's own Redis manager unpickles what arrives (CVE-2025-61765); the channel's
    manager reads JSON only. The agent's reply published after the pickle shows the pickle was handled."""
    replica_a, replica_b, redis_url = replicas
    marker = tmp_path / "unpickled"

    async def chat():
        customer = Visitor(replica_b)
        try:
            session = await customer.open()
            redis.Redis.from_url(redis_url).publish("socketio", pickle.dumps(Unpickled(marker)))
            await asyncio.to_thread(agent_says, replica_a, session, AGENT_REPLY)
            assert (await asyncio.wait_for(customer.inbox.get(), TURN_SECONDS))["text"] == AGENT_REPLY
        finally:
            await customer.close()
    asyncio.run(chat())
    assert not marker.exists(), "a replica loaded a pickle from Redis"


def test_a_message_on_the_socket_channel_over_the_size_cap_is_dropped_unread(replicas):
    """Whoever can publish to that Redis cannot make every replica parse megabytes: a message longer than
    MAX_SHARED_MESSAGE_BYTES (here one that would otherwise reach the customer's socket) is dropped before
    it is parsed, and logged; the agent's reply published after it reaches the customer first."""
    from connectors.website import MAX_SHARED_MESSAGE_BYTES

    replica_a, replica_b, redis_url = replicas

    async def chat():
        customer = Visitor(replica_b)
        try:
            session = await customer.open()
            oversized = {"method": "emit", "event": "bot_uttered", "data": {"text": "x" * MAX_SHARED_MESSAGE_BYTES},
                         "namespace": "/", "room": session, "skip_sid": None, "callback": None, "host_id": "a stranger"}
            redis.Redis.from_url(redis_url).publish("socketio", json.dumps(oversized))
            await asyncio.to_thread(agent_says, replica_a, session, AGENT_REPLY)
            assert (await asyncio.wait_for(customer.inbox.get(), TURN_SECONDS))["text"] == AGENT_REPLY
        finally:
            await customer.close()
    asyncio.run(chat())
    # B listens on the channel (a replica's manager starts listening at its first socket; A has had none)
    log = REPLICAS_VAR / "log" / "rasa-B.log"
    eventually(log.read_text, 10, "replica B's log of the drop", until=lambda text: "was dropped unread: more than" in text)
