"""A chat handed to a person and back, end to end: the customer on the website's socket.io channel (and
on REST, which cannot push), a real Rasa server with the trained model, the action server, and the
back office's queue and console API used by an agent signed in with a real account."""
from __future__ import annotations

import asyncio
import re
import subprocess
import time
import uuid
from typing import Any

import pytest
import requests
from conftest import claim_customers
from stack import BACKOFFICE_PY, ROOT, Stack, eventually
from test_website_channel import Visitor, joined, mint, tracker

[TICKET_CUSTOMER] = claim_customers(__name__, "C0044")
PASSWORD = "a long enough agent password"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """An agent's console, through the back office's HTTP API: signed in with their own account."""

    def __init__(self, stack: Stack, first_name: str) -> None:
        self.url = stack.env["BACKOFFICE_URL"]
        self.http = requests.Session()
        email = f"{first_name.lower()}.{uuid.uuid4().hex[:8]}@voltera.example"
        command = [str(BACKOFFICE_PY), "-m", "backoffice", "staff", "add", "--email", email, "--first-name", first_name,
                   "--full-name", f"{first_name} Agent", "--role", "agent"]
        added = subprocess.run(command, input=PASSWORD, text=True, capture_output=True, cwd=ROOT / "backend", env=stack.env,
                               timeout=60)
        assert added.returncode == 0, added.stderr
        form = self.http.get(f"{self.url}/console/login", timeout=10)
        token = FORM_TOKEN.search(form.text)
        assert token, form.text
        filled = {"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
        signed = self.http.post(f"{self.url}/console/login", data=filled, allow_redirects=False, timeout=10)
        assert signed.status_code == 303, signed.text
        self.http.headers["X-CSRF-Token"] = self.http.get(f"{self.url}/api/console/me", timeout=10).json()["csrf_token"]

    def sign_out(self) -> None:
        """Signing out ends the agent's availability at once (the next customer is offered a ticket)."""
        self.http.post(f"{self.url}/console/logout", allow_redirects=False, timeout=10).raise_for_status()

    def queue(self) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.url}/api/console/queue", timeout=10)
        answer.raise_for_status()
        return answer.json()["queue"]

    def entry_saying(self, text: str) -> dict[str, Any] | None:
        return next((e for e in self.queue() if text in e["summary"]["last_messages"]), None)

    def conversation(self, entry_id: str) -> dict[str, Any]:
        return self.http.get(f"{self.url}/api/console/conversations/{entry_id}", timeout=10).json()

    def do(self, entry_id: str, step: str, **body: Any) -> requests.Response:
        return self.http.post(f"{self.url}/api/console/conversations/{entry_id}/{step}", json=body or None, timeout=30)


async def silence(visitor: Visitor, seconds: float) -> list[dict[str, Any]]:
    """What the customer's socket receives in `seconds` (nothing, while the bot is paused)."""
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(await asyncio.wait_for(visitor.inbox.get(), left))
        except asyncio.TimeoutError:
            break
    return got


async def next_reply(visitor: Visitor, timeout: float = 30) -> str:
    return (await asyncio.wait_for(visitor.inbox.get(), timeout)).get("text") or ""


@pytest.mark.parametrize("taken_with", ["/leave_ticket", "ok"])  # the button, or an "ok" to the offer
def test_with_nobody_available_a_verified_customer_leaves_a_ticket(assistant: Stack, taken_with: str):
    """First in this file, and this file before the console's browser test: no agent has signed in yet."""
    async def chat() -> None:
        visitor = Visitor(assistant, token=mint(assistant, TICKET_CUSTOMER))  # the website's login of this customer
        await visitor.open()
        await visitor.say("hallo", language="nl")
        offered = await visitor.say("ik wil een medewerker spreken", language="nl")
        text = joined(offered)
        assert "ticket" in text and "per e-mail" in text, text
        buttons = [b for r in offered for b in (r.get("quick_replies") or r.get("buttons") or [])]
        offered_buttons = [{k: b[k] for k in ("title", "payload")} for b in buttons]
        assert {"title": "Laat een ticket achter", "payload": "/leave_ticket"} in offered_buttons
        recorded = joined(await visitor.say(taken_with, language="nl"))
        assert re.search(r"ticket T-[0-9a-f]{12}\. We antwoorden uiterlijk \d\d-\d\d-\d{4} per e-mail", recorded), recorded
        await visitor.close()

    asyncio.run(chat())


@pytest.fixture(params=["sqlite", "postgresql"])
def any_assistant(request: pytest.FixtureRequest) -> Stack:
    """The embedded SQLite stack, and the same on PostgreSQL (the queue, the claims, Rasa's tracker)."""
    return request.getfixturevalue(f"{request.param}_assistant")


def test_a_person_asked_for_in_the_first_message_is_queued(any_assistant: Stack):
    """Rasa stores a turn once it has ended: the first message's turn begins with the session's start,
    and reaches the tracker store after the hand-over. The queue must not take that start for the
    customer leaving. The customer's "stop waiting" then shows the queue still had the chat: the
    back office reads it after the turn's session start, and only an entry still open answers it."""
    assistant = any_assistant
    carla = Console(assistant, "Carla")
    carla.queue()
    asked = "ik wil een medewerker spreken"

    async def chat() -> None:
        visitor = Visitor(assistant)
        conversation_id = await visitor.open()
        handing = joined(await visitor.say(asked, language="nl"))
        assert re.search(r"Je bent nummer \d+ in de rij", handing), handing

        def waiting() -> dict[str, Any] | None:
            found = [e for e in carla.queue() if e["summary"]["last_messages"] == [asked] and e["channel"] == "website"]
            return found[-1] if found else None

        entry = await asyncio.to_thread(eventually, waiting, 20, "the first message's hand-over in the queue")
        assert entry["state"] == "waiting" and entry["language"] == "nl"
        await asyncio.to_thread(eventually, lambda: tracker(assistant, conversation_id)["paused"], 20, "the turn stored")

        # the back office's answer comes from outside the turn: with the turn's replies (none: paused) or after them
        stopped = joined(await visitor.say("/cancel_handoff", language="nl")) or await next_reply(visitor)
        assert stopped == "Je wacht niet meer op een medewerker. Je praat weer met de assistent."
        # the customer is told first, then the entry ends
        await asyncio.to_thread(eventually, lambda: entry["id"] not in [e["id"] for e in carla.queue()], 20, "the entry ended")
        assert tracker(assistant, conversation_id)["paused"] is False
        await visitor.close()

    try:
        asyncio.run(chat())
    finally:
        carla.sign_out()


def test_a_website_chat_goes_to_an_agent_and_back(any_assistant: Stack):
    assistant = any_assistant
    anna = Console(assistant, "Anna")
    anna.queue()  # her console is open: she is available
    opening = f"Hello, my order {uuid.uuid4().hex[:8]} did not arrive"  # never six digits: a code, masked for staff

    async def chat() -> None:
        visitor = Visitor(assistant)
        conversation_id = await visitor.open()
        await visitor.say(opening)
        handing = joined(await visitor.say("I want to talk to a person"))
        assert "handing you over" in handing and re.search(r"You are number \d+ in the queue", handing), handing

        await visitor.client.emit("user_uttered", {"message": "hello? is anyone there?", "session_id": conversation_id,
                                                   "customData": {"language": "en"}})
        assert await silence(visitor, 5) == [], "the bot stays silent while the chat waits for a person"
        assert tracker(assistant, conversation_id)["paused"] is True

        # waited for in a thread: the socket's own work (sending, pings) goes on meanwhile
        entry = await asyncio.to_thread(eventually, lambda: anna.entry_saying(opening), 20, "the conversation in the queue")
        assert entry["reason"] == "asked_for_person" and entry["channel"] == "website" and entry["state"] == "waiting"
        assert entry["summary"]["last_messages"][-1] == "I want to talk to a person"

        assert anna.do(entry["id"], "claim").status_code == 200
        assert await next_reply(visitor) == "You are now talking to Anna from Voltera's team."
        assert anna.do(entry["id"], "reply", text="Hi, I'm looking at your order now.").status_code == 200
        assert await next_reply(visitor) == "Anna: Hi, I'm looking at your order now."

        await visitor.client.emit("user_uttered", {"message": "thanks, it is order 42", "session_id": conversation_id,
                                                   "customData": {"language": "en"}})
        def transcript() -> list[str]:
            return [m["text"] for m in anna.conversation(entry["id"])["transcript"]]

        texts = await asyncio.to_thread(eventually, transcript, 20, "the customer's message in the agent's transcript",
                                        lambda t: "thanks, it is order 42" in t)
        assert "hello? is anyone there?" in texts, "what was typed while waiting reached the agent"
        assert await silence(visitor, 3) == [], "the bot still says nothing: the agent has the chat"

        assert anna.do(entry["id"], "hand-back").status_code == 200
        assert await next_reply(visitor) == "You are talking to Voltera's assistant again. How can I help?"
        assert joined(await visitor.say("How long do you keep my data?")), "the bot answers again"
        resumed = tracker(assistant, conversation_id)
        assert resumed["paused"] is False and resumed["slots"]["answer_topic"] == "retention"
        await visitor.close()

    try:
        asyncio.run(chat())
    finally:
        anna.sign_out()


def test_a_rest_chat_gets_the_agents_replies_by_asking(any_assistant: Stack):
    """The queue, the claim and the agent's sign-in survive a restart of the back office, on SQLite and on PostgreSQL."""
    assistant = any_assistant
    bram = Console(assistant, "Bram")
    bram.queue()
    try:
        webhook = f"http://localhost:{assistant.env['RASA_PORT']}/webhooks/rest/webhook"
        auth = {"Authorization": f"Bearer {assistant.env['REST_CHANNEL_TOKEN']}"}
        sender = f"rest-{uuid.uuid4().hex}"
        opening = f"question about invoice {uuid.uuid4().hex[:8]}"

        def say(text: str) -> list[dict[str, Any]]:
            body = {"sender": sender, "message": text, "metadata": {"language": "en"}}
            answer = requests.post(webhook, json=body, headers=auth, timeout=60)
            answer.raise_for_status()
            return answer.json()

        say(opening)
        asked_at = time.time()
        assert "handing you over" in " ".join(m.get("text", "") for m in say("can I speak to someone"))
        assert say("are you there?") == [], "paused: no answer from the bot"
        entry = eventually(lambda: bram.entry_saying(opening), 20, "the REST conversation in the queue")
        assert entry["channel"] == "rest" and entry["channel_pushes"] is False
        assert bram.do(entry["id"], "claim").status_code == 200

        assistant.stop(["backoffice"])  # the queue, the claim and Bram's sign-in live in the database
        assistant.start(["backoffice"])
        assistant.wait_ready(timeout=60)
        assert bram.conversation(entry["id"])["claimed_by_name"] == "Bram"
        assert bram.do(entry["id"], "reply", text="Hello from Bram").status_code == 200

        asked = {"sender": sender, "after": str(asked_at)}
        later = requests.get(f"{webhook}/messages", params=asked, headers=auth, timeout=30)
        assert later.status_code == 200, later.text
        texts = [m["text"] for m in later.json()]
        assert texts[-2:] == ["You are now talking to Bram from Voltera's team.", "Bram: Hello from Bram"], texts
        assert requests.get(f"{webhook}/messages", params={"sender": sender}, timeout=30).status_code == 401
    finally:
        bram.sign_out()
