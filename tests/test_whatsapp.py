"""The WhatsApp channel (connectors/whatsapp.py) against a local fake of Meta's Graph API: a real HTTP
server on localhost that records what it is sent. Webhooks are in the shape Meta sends, signed with
the test app secret. The channel alone runs in a Sanic process of its own with a stand-in bot that
records what reaches it; the agent's reply goes through the whole stack (Rasa, the back office's console)."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from stack import ROOT, Process, Stack, eventually, free_port, fresh_secret, own_redis, serving
from test_agent_handoff import Console

from connectors.whatsapp import interactive_of, split_text

PHONE_NUMBER_ID = "106540352242922"
PHONE = "31612345678"
BSUID = "NL.13491208655302741918"

# A text message as Meta sends it (Cloud API "messages" webhook), before BSUIDs.
TEXT_WEBHOOK: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [{
        "id": "102290129340398",
        "changes": [{
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Sanne de Vries"}, "wa_id": PHONE}],
                "messages": [{"from": PHONE, "id": "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                              "timestamp": "1764620000", "text": {"body": "Hallo"}, "type": "text"}],
            },
            "field": "messages",
        }],
    }],
}

# What Meta sends about a message the business sent: a status, no customer message.
STATUS_WEBHOOK: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [{
        "id": "102290129340398",
        "changes": [{
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                "statuses": [{"id": "wamid.HBgLMzE2MTIzNDU2NzgVAgARGBI0RkY3QjZEMUFCQzg0QzRCNjcA", "status": "delivered",
                              "timestamp": "1764620010", "recipient_id": PHONE,
                              "pricing": {"billable": False, "pricing_model": "PMP", "category": "service",
                                          "type": "free_customer_service"}}],
            },
            "field": "messages",
        }],
    }],
}

SERVE_THE_CHANNEL_ALONE = """
import json, logging, os, sys
from sanic import Sanic, response
from connectors.whatsapp import WhatsAppInput

seen = []
CHOICES = [{"title": t, "payload": "/" + t.lower()} for t in ("Access", "Erasure", "Correction", "Objection")]

async def stand_in_bot(message):
    seen.append({"sender": message.sender_id, "text": message.text, "channel": message.input_channel})
    out, to = message.output_channel, message.sender_id
    if message.text == "/four_choices":
        await out.send_text_with_buttons(to, "Which right do you want to use?", CHOICES)
    elif message.text == "/long":
        await out.send_text_message(to, " ".join(f"Sentence number {i} of a long answer." for i in range(300)))
    else:
        await out.send_text_message(to, "You said: " + message.text)

logging.basicConfig(level=logging.INFO)
channel = WhatsAppInput.from_credentials(json.loads(os.environ["WHATSAPP_TEST_CREDENTIALS"]))
app = Sanic("whatsapp_channel_alone")
app.blueprint(channel.blueprint(stand_in_bot), url_prefix="/webhooks/whatsapp")
app.add_route(lambda request: response.json(seen), "/seen")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
"""


class FakeGraphApi:
    """Meta's Graph API as far as the channel uses it: `POST /<version>/<phone number id>/messages`,
    recorded. Recipients in `outside_window` get Meta's error 131047 for anything but a template;
    the next `failures` calls get 500, and so does every message to a recipient in `failing`."""

    def __init__(self, port: int) -> None:
        self.received: list[dict[str, Any]] = []
        self.outside_window: set[str] = set()
        self.failing: set[str] = set()
        self.failures = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.received.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body})
                if fake.failures > 0 or (body.get("to") or body.get("recipient")) in fake.failing:
                    fake.failures = max(fake.failures - 1, 0)
                    self.answer(500, {"error": {"message": "temporary", "code": 2}})
                elif (body.get("to") or body.get("recipient")) in fake.outside_window and body.get("type") != "template":
                    self.answer(400, {"error": {"message": "Re-engagement message", "code": 131047}})
                elif body.get("status") == "read":
                    self.answer(200, {"success": True})
                else:
                    self.answer(200, {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.{uuid.uuid4().hex}"}]})

            def answer(self, status: int, body: dict[str, Any]) -> None:
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGraphApi:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sent_to(self, recipient: str) -> list[dict[str, Any]]:
        """The messages (not the read receipts) sent to a recipient, in order."""
        return [r["body"] for r in self.received if recipient in (r["body"].get("to"), r["body"].get("recipient"))]

    def texts_to(self, recipient: str) -> list[str]:
        return [b["text"]["body"] for b in self.sent_to(recipient) if b.get("type") == "text"]

    def said_to(self, recipient: str) -> str:
        """Everything a recipient was sent, as one text: messages and the bodies of those with buttons."""
        return " ".join(b["text"]["body"] if b.get("type") == "text" else b["interactive"]["body"]["text"]
                        for b in self.sent_to(recipient) if b.get("type") in ("text", "interactive"))


def signed(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


def webhook(text: str, sender: str = PHONE, message_id: str | None = None, bsuid: str | None = None,
            kind: str = "text") -> dict[str, Any]:
    """A customer's message as Meta sends it; with a BSUID as Meta adds them from 2026 (the phone number then may be absent)."""
    payload = copy.deepcopy(TEXT_WEBHOOK)
    value = payload["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    message["id"] = message_id or f"wamid.{uuid.uuid4().hex}"
    message["from"] = sender
    value["contacts"][0]["wa_id"] = sender
    if bsuid:
        value["contacts"][0]["user_id"] = bsuid
        message["from_user_id"] = bsuid
    if kind == "text":
        message["text"] = {"body": text}
    elif kind == "button_reply":
        del message["text"]
        message.update(type="interactive", context={"from": "15550783881", "id": "wamid.earlier"},
                       interactive={"type": "button_reply", "button_reply": {"id": text, "title": text.strip("/").title()}})
    elif kind == "list_reply":
        del message["text"]
        reply = {"id": text, "title": text.strip("/").title(), "description": ""}
        message.update(type="interactive", interactive={"type": "list_reply", "list_reply": reply})
    elif kind == "image":
        del message["text"]
        message.update(type="image", image={"mime_type": "image/jpeg", "sha256": "abc", "id": "1003383421387256"})
    return payload


class Channel:
    """The channel alone in a Sanic process, its Graph API the fake."""

    def __init__(self, url: str, secret: str, verify_token: str) -> None:
        self.url, self.secret, self.verify_token = url, secret, verify_token

    def post(self, payload: dict[str, Any], secret: str | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        sent = signed(body, secret or self.secret) if headers is None else headers
        return requests.post(f"{self.url}/webhooks/whatsapp/webhook", data=body, headers=sent, timeout=10)

    def seen(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/seen", timeout=5).json()


def channel_process(tmp_path: Path, graph_port: int, name: str, **settings: str) -> tuple[Process, dict[str, str]]:
    port = free_port()
    credentials = {"app_secret": fresh_secret("whatsapp-app"), "verify_token": fresh_secret("whatsapp-verify"),
                   "access_token": fresh_secret("whatsapp-access"), "phone_number_id": PHONE_NUMBER_ID,
                   "graph_url": f"http://127.0.0.1:{graph_port}/v26.0", **settings}
    env = {**os.environ, "WHATSAPP_TEST_CREDENTIALS": json.dumps(credentials)}
    url = f"http://127.0.0.1:{port}"
    return Process(name, [sys.executable, "-c", SERVE_THE_CHANNEL_ALONE, str(port)], ROOT, env, tmp_path / f"{name}.log", port,
                   f"{url}/webhooks/whatsapp/"), credentials


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraphApi]:
    with FakeGraphApi(free_port()) as fake:
        yield fake


@pytest.fixture(scope="module")
def channel_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("whatsapp") / "whatsapp-channel.log"


@pytest.fixture(scope="module")
def channel(graph: FakeGraphApi, channel_log: Path) -> Iterator[Channel]:
    process, credentials = channel_process(channel_log.parent, graph.server.server_port, "whatsapp-channel",
                                           template_name="voltera_reply_waiting", template_language="nl")
    with serving(process, timeout=120):
        yield Channel(f"http://127.0.0.1:{process.port}", credentials["app_secret"], credentials["verify_token"])


def test_text_with_emoji_and_accents_is_answered_marked_read_with_typing(channel: Channel, graph: FakeGraphApi):
    text = "Hé, ik wil mijn gegevens inzien 🙂 (Zoë, Curaçao)"
    payload = webhook(text)
    assert channel.post(payload).status_code == 200
    answers = eventually(lambda: graph.texts_to(PHONE), 20, "the answer at the fake Graph API",
                         until=lambda t: f"You said: {text}" in t)
    assert answers.count(f"You said: {text}") == 1
    message_id = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    read = [r for r in graph.received if r["body"].get("message_id") == message_id]
    assert read and read[0]["body"] == {"messaging_product": "whatsapp", "status": "read", "message_id": message_id,
                                        "typing_indicator": {"type": "text"}}
    sent = next(r for r in graph.received if r["body"].get("type") == "text" and r["body"]["text"]["body"] == f"You said: {text}")
    assert sent["path"] == f"/v26.0/{PHONE_NUMBER_ID}/messages" and sent["authorization"].startswith("Bearer whatsapp-access-")
    assert {"sender": PHONE, "text": text, "channel": "whatsapp"} in channel.seen()


def test_a_wrong_or_missing_signature_is_refused_and_never_reaches_the_bot(channel: Channel, graph: FakeGraphApi):
    marker = f"forged {uuid.uuid4().hex}"
    body = json.dumps(webhook(marker)).encode()
    forged = [signed(body, "not-the-app-secret"), {"Content-Type": "application/json"}, {"X-Hub-Signature-256": "sha256="},
              {"X-Hub-Signature-256": signed(body, channel.secret)["X-Hub-Signature-256"].replace("sha256=", "sha1=")}]
    for headers in forged:
        answer = requests.post(f"{channel.url}/webhooks/whatsapp/webhook", data=body, headers=headers, timeout=10)
        assert answer.status_code == 403, headers
    tampered = body.replace(b"forged", b"FORGED")
    answer = requests.post(f"{channel.url}/webhooks/whatsapp/webhook", data=tampered, headers=signed(body, channel.secret),
                           timeout=10)
    assert answer.status_code == 403
    # a signed message sent after them is answered; none of the refused ones ever was
    assert channel.post(webhook("after the forgeries")).status_code == 200
    eventually(lambda: graph.texts_to(PHONE), 20, "the signed message's answer",
               until=lambda t: "You said: after the forgeries" in t)
    assert not any(marker.lower() in s["text"].lower() for s in channel.seen())
    assert not any(marker.lower() in t.lower() for t in graph.texts_to(PHONE))


def test_a_repeated_message_id_is_answered_once(channel: Channel, graph: FakeGraphApi):
    sender = "31687654321"
    payload = webhook("Is my data shared?", sender=sender)
    for _ in range(3):  # Meta retries a webhook it thinks failed
        assert channel.post(payload).status_code == 200
    assert channel.post(webhook("and one more", sender=sender)).status_code == 200
    eventually(lambda: graph.texts_to(sender), 20, "both answers", until=lambda t: len(t) >= 2)
    assert graph.texts_to(sender) == ["You said: Is my data shared?", "You said: and one more"]
    assert [s["text"] for s in channel.seen() if s["sender"] == sender] == ["Is my data shared?", "and one more"]


def test_a_status_only_webhook_is_ignored(channel: Channel, graph: FakeGraphApi):
    before = len(channel.seen())
    assert channel.post(STATUS_WEBHOOK).status_code == 200
    sender = "31611112222"
    assert channel.post(webhook("after a status", sender=sender)).status_code == 200
    eventually(lambda: graph.texts_to(sender), 20, "the next message's answer")
    assert [s["text"] for s in channel.seen()[before:]] == ["after a status"]


def test_four_buttons_become_a_list_and_a_tap_comes_back_as_the_payload(channel: Channel, graph: FakeGraphApi):
    sender = "31633334444"
    assert channel.post(webhook("/four_choices", sender=sender)).status_code == 200
    sent = eventually(lambda: [b for b in graph.sent_to(sender) if b.get("type") == "interactive"], 20, "the interactive message")
    interactive = sent[0]["interactive"]
    assert interactive["type"] == "list" and interactive["body"] == {"text": "Which right do you want to use?"}
    assert interactive["action"]["sections"][0]["rows"] == [{"id": f"/{t.lower()}", "title": t} for t in
                                                            ("Access", "Erasure", "Correction", "Objection")]
    assert len(interactive["action"]["button"]) <= 20
    assert channel.post(webhook("/erasure", sender=sender, kind="list_reply")).status_code == 200
    assert channel.post(webhook("/access", sender=sender, kind="button_reply")).status_code == 200
    eventually(lambda: [s["text"] for s in channel.seen() if s["sender"] == sender], 20, "both taps at the bot",
               until=lambda seen: seen == ["/four_choices", "/erasure", "/access"])


def test_the_bsuid_is_the_sender_when_meta_sends_one(channel: Channel, graph: FakeGraphApi):
    assert channel.post(webhook("hello with a BSUID", bsuid=BSUID)).status_code == 200
    sent = eventually(lambda: graph.sent_to(BSUID), 20, "the answer to the BSUID")
    assert sent[0]["recipient"] == BSUID and "to" not in sent[0]
    assert {"sender": BSUID, "text": "hello with a BSUID", "channel": "whatsapp"} in channel.seen()


def test_a_photo_is_answered_that_only_text_is_read(channel: Channel, graph: FakeGraphApi):
    sender = "31655556666"
    assert channel.post(webhook("", sender=sender, kind="image")).status_code == 200
    answer = eventually(lambda: graph.texts_to(sender), 20, "the channel's own answer")
    assert "only read text" in answer[0] and not [s for s in channel.seen() if s["sender"] == sender]


def test_a_long_answer_is_split_at_sentences_and_a_failing_read_mark_is_retried(channel: Channel, graph: FakeGraphApi):
    sender = "31677778888"
    graph.failures = 2
    payload = webhook("/long", sender=sender)
    assert channel.post(payload).status_code == 200
    parts = eventually(lambda: graph.texts_to(sender), 30, "the long answer",
                       until=lambda t: len(t) >= 3 and t[-1].endswith("299 of a long answer."))
    message_id = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert len([r for r in graph.received if r["body"].get("message_id") == message_id]) == 3  # harmless to repeat
    assert all(len(p) <= 4096 and p.endswith(".") for p in parts)
    assert " ".join(parts) == " ".join(f"Sentence number {i} of a long answer." for i in range(300))


def test_a_message_meta_answered_with_a_5xx_is_not_sent_again_and_is_logged(channel: Channel, graph: FakeGraphApi,
                                                                            channel_log: Path):
    sender = "31644445555"
    graph.failing.add(sender)
    assert channel.post(webhook("did it arrive?", sender=sender)).status_code == 200
    failure = re.compile(r"a whatsapp message to conversation [0-9a-f]{16} was not delivered: 500 2")
    log = eventually(channel_log.read_text, 20, "the failure in the channel's log", until=failure.search)
    assert "316444" not in log  # the conversation by its reference (bot/logs.py), no part of the phone number
    # Meta may have delivered it: a repeat could show the customer the message twice
    assert graph.texts_to(sender) == ["You said: did it arrive?"]


def test_outside_the_24_hour_window_the_template_is_sent(channel: Channel, graph: FakeGraphApi):
    sender = "31699990000"
    graph.outside_window.add(sender)
    assert channel.post(webhook("late", sender=sender)).status_code == 200
    templates = eventually(lambda: [b for b in graph.sent_to(sender) if b.get("type") == "template"], 20, "the template")
    template = templates[0]["template"]
    assert template == {"name": "voltera_reply_waiting", "language": {"code": "nl"},
                        "components": [{"type": "body", "parameters": [{"type": "text", "text": "You said: late"}]}]}


def test_the_verify_handshake_echoes_the_challenge_only_for_the_verify_token(channel: Channel):
    url = f"{channel.url}/webhooks/whatsapp/webhook"
    good = {"hub.mode": "subscribe", "hub.verify_token": channel.verify_token, "hub.challenge": "1158201444"}
    answer = requests.get(url, params=good, timeout=5)
    assert answer.status_code == 200 and answer.text == "1158201444"
    for wrong in ({**good, "hub.verify_token": "guessed"}, {**good, "hub.mode": "unsubscribe"}, {"hub.challenge": "1158201444"}):
        refused = requests.get(url, params=wrong, timeout=5)
        assert refused.status_code == 403 and "1158201444" not in refused.text


def test_two_replicas_sharing_redis_answer_a_message_once(graph: FakeGraphApi, tmp_path: Path):
    sender = f"3162{uuid.uuid4().int % 10**7:07d}"
    payload = webhook("asked once, delivered twice", sender=sender)
    with own_redis(tmp_path) as redis_url:
        first, credentials = channel_process(tmp_path, graph.server.server_port, "replica-1", redis_url=redis_url)
        shared = {k: credentials[k] for k in ("app_secret", "verify_token", "access_token")}
        second, _ = channel_process(tmp_path, graph.server.server_port, "replica-2", redis_url=redis_url, **shared)
        with serving(first, timeout=120), serving(second, timeout=120):
            replicas = [Channel(f"http://127.0.0.1:{p.port}", credentials["app_secret"], "") for p in (first, second)]
            assert [r.post(payload).status_code for r in replicas] == [200, 200]
            assert replicas[1].post(webhook("next", sender=sender)).status_code == 200
            eventually(lambda: graph.texts_to(sender), 20, "both answers (each replica answers on its own)",
                       until=lambda t: {"You said: next", "You said: asked once, delivered twice"} <= set(t))
            assert graph.texts_to(sender).count("You said: asked once, delivered twice") == 1
            assert sum(s["sender"] == sender for r in replicas for s in r.seen()) == 2


def test_while_redis_cannot_be_reached_meta_is_asked_to_send_again(graph: FakeGraphApi, tmp_path: Path):
    unreachable = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    process, credentials = channel_process(tmp_path, graph.server.server_port, "no-redis", redis_url=unreachable)
    with serving(process, timeout=120):
        replica = Channel(f"http://127.0.0.1:{process.port}", credentials["app_secret"], "")
        answer = replica.post(webhook("while Redis is down", sender="31622223333"))
        assert answer.status_code == 503 and replica.seen() == []
    assert "whatsapp: incoming ids cannot be claimed in Redis" in process.log_path.read_text()


def test_without_its_settings_the_channel_is_off_and_says_so_only_in_its_log(graph: FakeGraphApi, tmp_path: Path):
    off, _ = channel_process(tmp_path, graph.server.server_port, "whatsapp-off", app_secret="", access_token="")
    with serving(off, timeout=120):
        url = f"http://127.0.0.1:{off.port}/webhooks/whatsapp"
        assert requests.get(f"{url}/", timeout=5).json() == {"status": "off"}
        for answer in (requests.post(f"{url}/webhook", json=webhook("hello"), timeout=5),
                       requests.get(f"{url}/webhook", params={"hub.mode": "subscribe", "hub.challenge": "1"}, timeout=5)):
            assert answer.status_code == 404 and "WHATSAPP" not in answer.text  # as an address that does not exist
    assert "the WhatsApp channel is off: set WHATSAPP_APP_SECRET, WHATSAPP_ACCESS_TOKEN" in off.log_path.read_text()


def test_buttons_within_whatsapps_limits():
    three = [{"title": t, "payload": f"/{t}"} for t in ("Ja", "Nee", "Misschien")]
    assert interactive_of("Zeker?", three, "nl")["type"] == "button"
    long_title = [{"title": "Een titel die langer is dan twintig tekens", "payload": "/long"}]
    listed = interactive_of("Kies", long_title, "nl")
    assert listed["type"] == "list" and listed["action"]["button"] == "Kies"
    row = listed["action"]["sections"][0]["rows"][0]
    assert len(row["title"]) <= 24 and row["description"] == "Een titel die langer is dan twintig tekens"
    eleven = [{"title": f"Keuze {i}", "payload": f"/k{i}"} for i in range(11)]
    assert len(interactive_of("Welke?", eleven)["action"]["sections"][0]["rows"]) == 10
    assert split_text("Kort.") == ["Kort."]
    assert all(len(p) <= 4096 for p in split_text("x" * 10_000))


def test_an_agents_reply_from_the_console_reaches_the_customer_on_whatsapp(assistant: Stack):
    env = assistant.env
    graph_port = int(env["WHATSAPP_GRAPH_URL"].split(":")[-1].split("/")[0])
    rasa = f"http://localhost:{env['RASA_PORT']}/webhooks/whatsapp/webhook"
    sender = f"3161{uuid.uuid4().int % 10**7:07d}"
    anna = Console(assistant, "Anna")
    anna.queue()  # her console is open: she is available

    def say(text: str) -> None:
        body = json.dumps(webhook(text, sender=sender), ensure_ascii=False).encode()
        answer = requests.post(rasa, data=body, headers=signed(body, env["WHATSAPP_APP_SECRET"]), timeout=10)
        assert answer.status_code == 200, answer.text

    with FakeGraphApi(graph_port) as graph:
        forged = json.dumps(webhook("I want to talk to a person", sender=sender)).encode()
        assert requests.post(rasa, data=forged, headers=signed(forged, "guessed"), timeout=10).status_code == 403
        opening = f"Hello 👋 my order {uuid.uuid4().hex[:8]} did not arrive, I'm Zoë from Curaçao"
        say(opening)
        eventually(lambda: graph.sent_to(sender), 60, "the assistant's answer on WhatsApp")
        say("I want to talk to a person")
        handing = eventually(lambda: graph.said_to(sender), 60, "the handover's answer",
                             until=lambda t: "handing you over" in t)
        assert re.search(r"You are number \d+ in the queue", handing), handing  # other modules' chats may wait too
        entry = eventually(lambda: anna.entry_saying(opening), 30, "the WhatsApp conversation in the queue")
        assert entry["channel"] == "whatsapp" and entry["channel_pushes"] is True
        assert anna.do(entry["id"], "claim").status_code == 200
        eventually(lambda: graph.texts_to(sender), 30, "Anna joining, on WhatsApp",
                   until=lambda texts: "You are now talking to Anna from Voltera's team." in texts)
        assert anna.do(entry["id"], "reply", text="Hi, I'm looking at your order now. ✅").status_code == 200
        eventually(lambda: graph.texts_to(sender), 30, "Anna's reply at the fake Graph API",
                   until=lambda texts: "Anna: Hi, I'm looking at your order now. ✅" in texts)
