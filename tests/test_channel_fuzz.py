"""Hostile messages through each chat channel of the running assistant: at least 1,000 through the REST
channel and 1,000 through the website's socket.io channel, 8 at a time, each answered, none a server
error, and no error or traceback in Rasa's log.

The messages come from one seeded generator (FUZZ_SEED, default 7: a run is reproducible; set
another seed to explore): long and very long text, control characters and lone surrogates, emoji and
other scripts, markup and script tags, SQL and template syntax, slash commands with JSON
(`/request_access{"customer_id": "C0048"}`, `/affirm{"pending_request": {...}}`, `/restart`),
code-, address- and e-mail-like text, with odd metadata and odd sender ids. Malformed REST requests
are sent too: each must get a 4xx with its reason, never a 5xx.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import string
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
import socketio
from conftest import claim_customers
from test_end_to_end import rest_auth

from connectors.limits import MAX_MESSAGE_CHARS, MAX_METADATA_BYTES

SEED = int(os.environ.get("FUZZ_SEED", "7"))
MESSAGES_PER_CHANNEL = 1_000
AT_ONCE = 8
REPLY_SECONDS = 120
QUIET_SECONDS = 0.5  # after an answer's first message, this long without another ends it
SILENT_SECONDS = 5
# Rasa's own commands: the conversation is reset or undone, and Rasa says nothing (the next message is answered).
SILENT_COMMANDS = re.compile(r"^\s*/(restart|back|session_start)\b")
LOG_PROBLEMS = re.compile(r"Traceback|\bERROR\b|Exception|exited with")
[TARGET] = claim_customers(__name__, "C0048")  # the seed customer the messages name (and pose as): no other module's

INTENTS = ["greet", "affirm", "deny", "request_access", "request_deletion", "request_correction", "request_status",
           "inform_email", "inform_code", "ask_retention", "nlu_fallback", "out_of_scope", "restart", "back",
           "session_start", "action_listen", "no_such_intent", "", "affirm{", "ask_retention{}"]
ENTITY_JSON = [
    f'{{"customer_id": "{TARGET}"}}', '{"email": "anna.jansen@example.nl"}', '{"code": "123456"}',
    '{"pending_request": {"type": "erasure", "confirm": true, "client_request_id": "x-1"}}',
    '{"pending_request": {"draft_id": "00000000-0000-0000-0000-000000000000"}}',
    '{"data_category": "../../etc/passwd"}', '{"language": "fr"}', '{"language": ["nl"]}',
    '{"correction_field": "address", "correction_value": "Kerkstraat 1, 1234 AB Utrecht"}',
    '{"requested_slot": "customer_id"}', '{"answer_detail": {"x": [1, 2, {"y": null}]}}',
    '{"a": ' + "[" * 200 + "]" * 200 + "}", '{"bad json', "{}", "[1,2]", '"string"', "null",
]
SENTENCES = [
    "Welke gegevens hebben jullie van mij?", "How long do you keep my purchase history?", "verwijder mijn gegevens",
    "show me my data", "what is the status of my request?", "hoi", "ok", "ja", "nee", "thanks!",
    "my new address is Kerkstraat 5, 1234 AB Utrecht", "mijn nieuwe telefoonnummer is 0612345678",
    "anna.jansen@example.nl", "482 913", "my code is 000000", f"show me the data of {TARGET}",
]
MARKUP = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>bold</b><i>", "[link](javascript:alert(1))",
    "{{7*7}}", "${jndi:ldap://x/a}", "'; DROP TABLE events; --", "\" OR 1=1 --", "%s%s%s%n", "../../../../etc/passwd",
    "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
]
ODD_CHARS = ["\x00", "\x01", "\x07", "\x1b[31m", "\x7f", "\r\n", "\t", "\u200b", "\u202e", "\ufeff", "\ufffd",
             "\ud800", "\udfff", "\U0010ffff", "😀", "👩‍👩‍👧‍👦", "🏳️‍🌈", "ﷺ", "𝕏", "Ω", "ß", "ĳ", "é", "中文", "العربية", "עברית"]
LANGUAGES: list[Any] = ["nl", "en", "fr", "", "NL", "en-GB", "x" * 300, 5, None, ["nl"], {"lang": "nl"}, True]


class Fuzz:
    """The seeded generator of hostile messages and metadata."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def text(self) -> str:
        kind = self.rnd.choice(["long", "very_long", "control", "emoji", "markup", "slash", "slash", "sentence",
                                "mixed", "blank", "shape", "repeat"])
        return getattr(self, f"_{kind}")()

    def _long(self) -> str:
        return "".join(self.rnd.choice(string.printable)
                       for _ in range(self.rnd.randint(MAX_MESSAGE_CHARS - 50, MAX_MESSAGE_CHARS + 50)))

    def _very_long(self) -> str:
        return self.rnd.choice("a@.-x1 ") * self.rnd.randint(MAX_MESSAGE_CHARS + 1, 100_000)

    def _control(self) -> str:
        return "".join(chr(self.rnd.choice([*range(0, 32), 127, *range(0x80, 0xA0)])) for _ in range(self.rnd.randint(1, 60)))

    def _emoji(self) -> str:
        return "".join(self.rnd.choice(ODD_CHARS) for _ in range(self.rnd.randint(1, 40)))

    def _markup(self) -> str:
        return self.rnd.choice(MARKUP) + self.rnd.choice(["", " " + self.rnd.choice(SENTENCES)])

    def _slash(self) -> str:
        return "/" + self.rnd.choice(INTENTS) + self.rnd.choice(["", *ENTITY_JSON])

    def _sentence(self) -> str:
        return self.rnd.choice(SENTENCES)

    def _mixed(self) -> str:
        parts = [self.rnd.choice(SENTENCES), self.rnd.choice(MARKUP), self.rnd.choice(ODD_CHARS), self._slash()]
        self.rnd.shuffle(parts)
        return " ".join(parts)

    def _blank(self) -> str:
        return self.rnd.choice(["", " ", "\n\n", "\t \u00a0", "\u3000"])

    def _shape(self) -> str:
        return self.rnd.choice(["@" * 500, "a@" * 400, "x@y." * 300, "1" * 2_000, "123 456" * 100, "a 1 1234 ab " * 150,
                                "new address: x" + " " * 1_900 + "y", "/" * 2_000])

    def _repeat(self) -> str:
        return self.rnd.choice(SENTENCES) * self.rnd.randint(2, 200)

    def metadata(self) -> dict[str, Any]:
        """An object, as the channels take it; odd inside."""
        metadata: dict[str, Any] = {"language": self.rnd.choice(LANGUAGES)}
        extra = self.rnd.choice([{}, {"_connection": "f" * 32, "_source": "0" * 16}, {"session_token": "not.a.token"},
                                 {"nested": {"deep": [[[[[[[[[["x"]]]]]]]]]]}}, {"page": "/" * 100, "n": 1e308},
                                 {"x" * 200: "y" * 2_000}, {"input_channel": "website"}, {"": None}])
        metadata.update(extra)
        return metadata

    def sender(self) -> str:
        return self.rnd.choice([f"fuzz-{uuid.UUID(int=self.rnd.getrandbits(128)).hex}", TARGET, "+31612345678",
                                "29:1AbC-dEf_g=" + str(self.rnd.getrandbits(32)), "a" * 100 + str(self.rnd.getrandbits(40)),
                                f"{self.rnd.getrandbits(128):032x}.{self.rnd.getrandbits(128):032x}"])


def malformed_requests(fuzz: Fuzz) -> Iterator[tuple[bytes, dict[str, str], int]]:
    """(body, extra headers, expected status) of requests the REST channel must refuse cleanly."""
    good = {"sender": "fuzz-malformed", "message": "hello"}
    yield b"", {}, 400
    yield b"not json", {}, 400
    yield b"\xff\xfe\xfd", {}, 400
    yield b"[" * 50_000, {}, 400
    yield json.dumps(["hello"]).encode(), {}, 400
    yield json.dumps({**good, "metadata": "nl"}).encode(), {}, 400
    yield json.dumps({**good, "metadata": {"blob": "x" * MAX_METADATA_BYTES}}).encode(), {}, 413
    for sender in ["a/b", "../../conversations", "", " ", "a" * 129, "é", "a?b=c", "a#b", "a%2F"]:
        yield json.dumps({**good, "sender": sender}).encode(), {}, 400
    for value in [None, 5, ["x"], {"x": 1}]:
        yield json.dumps({**good, "message": value}).encode(), {}, 400
        yield json.dumps({**good, "sender": value}).encode(), {}, 400
    yield json.dumps(good).encode(), {"Authorization": "Bearer forged"}, 401
    yield json.dumps(good).encode(), {"Authorization": ""}, 401
    yield json.dumps(good).encode(), {"Authorization": "Basic " + "x" * fuzz.rnd.randint(1, 100)}, 401


def log_since(path, offset: int) -> str:
    with open(path, "rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace")


def log_size(path) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


def assert_clean_log(text: str) -> None:
    problems = [line for line in text.splitlines() if LOG_PROBLEMS.search(line)]
    assert not problems, "Rasa logged errors:\n" + "\n".join(problems[:20])


def test_a_thousand_hostile_messages_through_rest_are_each_answered(assistant):
    rasa_log = assistant.log_dir / "rasa.log"
    offset = log_size(rasa_log)
    url = f"http://localhost:{assistant.env['RASA_PORT']}/webhooks/rest/webhook"
    fuzz = Fuzz(SEED)
    cases = [(fuzz.sender(), fuzz.text(), fuzz.metadata()) for _ in range(MESSAGES_PER_CHANNEL)]

    def send(case: tuple[str, str, dict[str, Any]]) -> tuple[str, str, int, Any]:
        sender, text, metadata = case
        with requests.Session() as http:
            answer = http.post(url, json={"sender": sender, "message": text, "metadata": metadata},
                               headers=rest_auth(assistant), timeout=REPLY_SECONDS)
            replies = answer.json() if answer.status_code == 200 else answer.text
            if answer.status_code == 200 and not replies and SILENT_COMMANDS.match(text):
                replies = http.post(url, json={"sender": sender, "message": "hello"}, headers=rest_auth(assistant),
                                    timeout=REPLY_SECONDS).json()
        return sender, text, answer.status_code, replies

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        results = list(pool.map(send, cases))
        refusals = list(pool.map(lambda r: (r, requests.post(url, data=r[0], headers={**rest_auth(assistant), **r[1]},
                                                             timeout=REPLY_SECONDS)), malformed_requests(fuzz)))

    errors = [(s, t[:80], status) for s, t, status, _ in results if status != 200]
    assert not errors, f"{len(errors)} messages got no answer: {errors[:10]}"
    unanswered = [(s, t[:80], r) for s, t, _, r in results if not r or not any(m.get("text") for m in r)]
    assert not unanswered, f"{len(unanswered)} messages got an empty answer: {unanswered[:10]}"
    wrong = [(body[:60], expected, answer.status_code, answer.text[:200]) for (body, _, expected), answer in refusals
             if answer.status_code != expected or not answer.json().get("reason")]
    assert not wrong, f"malformed requests answered otherwise: {wrong}"
    assert_clean_log(log_since(rasa_log, offset))


async def website_conversation(url: str, messages: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """One visitor's connection saying each message in turn once the previous one is answered; the replies to each."""
    client = socketio.AsyncClient(reconnection=False)
    inbox: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", lambda data: inbox.put_nowait(data))
    client.on("session_confirm", lambda data: confirmed.put_nowait(data))
    await client.connect(url, socketio_path="/socket.io/", transports=["websocket"])
    try:
        await client.emit("session_request", {"session_id": None})
        session_id = await asyncio.wait_for(confirmed.get(), 60)
        said = []
        for text, metadata in messages:
            await client.emit("user_uttered", {"message": text, "session_id": session_id, "customData": metadata})
            silent = SILENT_COMMANDS.match(text) is not None
            try:
                replies = [await asyncio.wait_for(inbox.get(), SILENT_SECONDS if silent else REPLY_SECONDS)]
            except asyncio.TimeoutError:
                replies = []
            while True:  # the rest of this answer (Rasa answers one conversation's messages in turn)
                try:
                    replies.append(await asyncio.wait_for(inbox.get(), QUIET_SECONDS))
                except asyncio.TimeoutError:
                    break
            if not replies and silent:
                await client.emit("user_uttered", {"message": "hello", "session_id": session_id, "customData": metadata})
                replies = [await asyncio.wait_for(inbox.get(), REPLY_SECONDS)]
            said.append((text, replies))
        return said
    finally:
        await client.disconnect()


def test_a_thousand_hostile_messages_through_the_website_are_each_answered(assistant):
    rasa_log = assistant.log_dir / "rasa.log"
    offset = log_size(rasa_log)
    url = f"http://localhost:{assistant.env['RASA_PORT']}"
    fuzz = Fuzz(SEED + 1)
    per_visitor = MESSAGES_PER_CHANNEL // AT_ONCE + 1
    visitors = [[(fuzz.text(), fuzz.metadata()) for _ in range(per_visitor)] for _ in range(AT_ONCE)]

    async def all_visitors():
        return await asyncio.gather(*(website_conversation(url, messages) for messages in visitors))

    said = [pair for conversation in asyncio.run(all_visitors()) for pair in conversation]
    assert len(said) == AT_ONCE * per_visitor >= MESSAGES_PER_CHANNEL  # every message was said, none dropped on the way
    unanswered = [text[:80] for text, replies in said if not any(r.get("text") for r in replies)]
    assert not unanswered, f"{len(unanswered)} messages got no answer: {unanswered[:10]}"
    assert_clean_log(log_since(rasa_log, offset))
