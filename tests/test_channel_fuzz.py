"""Hostile messages through every chat channel of the running assistant: at least 1,000 through the
REST channel and 1,000 through the website's socket.io channel, 8 at a time, and a bounded number
through WhatsApp, Telegram and Teams (signed as Meta, Telegram and Microsoft sign them, answered to
fakes of their servers) and through the REST channel's later-messages endpoint. Each is answered,
none gets a server error, and Rasa logs no error or traceback.

And none of it reaches a customer's data: no reply on any channel holds anything of a seeded
customer (a name, e-mail address, street address, postcode, phone number, date of birth or customer
id, read from the demo company systems' seed), and nothing is filed for the fuzzed conversations or
for the customer they pose as (no request, no draft, no hand-over or ticket, no code mailed, no
verified conversation), checked in the back office's database.

The messages come from one seeded generator (FUZZ_SEED, default 7: a run is reproducible; set
another seed to explore): long and very long text, control characters and lone surrogates, emoji and
other scripts, markup and script tags, SQL and template syntax, slash commands with JSON
(`/request_access{"customer_id": "C0048"}`, `/affirm{"pending_request": {...}}`, `/restart`),
code-, address- and e-mail-like text (no seeded customer's address: typing one would rightly mail
that customer a code), with odd metadata and odd sender ids. Malformed REST requests are sent too:
each must get a 4xx with its reason, never a 5xx.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import re
import string
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import socketio
from conftest import ROOT, claim_customers
from sqlalchemy import create_engine, text
from stack import BACKOFFICE_PY, eventually
from test_end_to_end import rest_auth
from test_teams import FakeMicrosoft, activity, token
from test_telegram import FakeBotApi, text_update
from test_whatsapp import FakeGraphApi, signed, webhook

from actions.rights import long_date
from connectors.limits import MAX_MESSAGE_CHARS, MAX_METADATA_BYTES
from connectors.telegram import SECRET_HEADER

SEED = int(os.environ.get("FUZZ_SEED", "7"))
MESSAGES_PER_CHANNEL = 1_000
MESSAGES_PER_PUSH_CHANNEL = 120  # WhatsApp, Telegram, Teams: 8 conversations of 15 messages
LATER_MESSAGE_QUERIES = 200
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
# Who a reply is addressed to, as each channel's payload names it: not something the reply says.
ADDRESSING = {"recipient_id", "to", "recipient", "chat_id", "conversation", "from", "serviceUrl", "replyToId", "id",
              "messaging_product", "timestamp"}
SEEDED_CONTACTS = """
import json
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from companysystems.db import Account, Base, Contact
from companysystems.seed import seed
engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
Session = sessionmaker(engine)
seed(Session)
with Session() as s:
    born = {a.customer_id: a.date_of_birth.isoformat() for a in s.scalars(select(Account))}
    print(json.dumps([{"customer_id": c.customer_id, "name": f"{c.first_name} {c.last_name}", "email": c.email,
                       "phone": c.phone, "street": f"{c.street} {c.house_number}", "postcode": c.postcode,
                       "born": born.get(c.customer_id)} for c in s.scalars(select(Contact))]))
"""
# What the back office records when something is filed, verified or handed over, per table:
# (conversation id, customer id) of each row that counts.
FILED = {
    "a privacy request": "SELECT conversation_id, customer_id FROM privacy_requests",
    "a draft request": "SELECT conversation_id, customer_id FROM request_drafts",
    "a hand-over": "SELECT conversation_id, customer_id FROM queue_entries",
    "a ticket": "SELECT conversation_id, customer_id FROM tickets",
    "a code mailed to a customer": "SELECT conversation_id, customer_id FROM verification_attempts WHERE customer_id IS NOT NULL",
    "a verified conversation": "SELECT conversation_id, customer_id FROM conversation_identities",
}


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


@dataclass(frozen=True)
class Seeded:
    """What the demo company systems hold of their seeded customers, as a reply could show it."""

    needles: dict[str, str]  # lower-case text -> whose and what
    target_email: str

    @classmethod
    def read(cls) -> Seeded:
        made = subprocess.run([str(BACKOFFICE_PY), "-c", SEEDED_CONTACTS], cwd=ROOT / "companysystems", check=True,
                              capture_output=True, text=True, timeout=120)
        needles: dict[str, str] = {}
        target_email = ""
        for c in json.loads(made.stdout):
            who = c["customer_id"]
            digits = re.sub(r"\D", "", c["phone"])  # +31 6 1234 5678 -> 31612345678
            forms = {"name": [c["name"]], "e-mail address": [c["email"]], "street address": [c["street"]],
                     "postcode": [c["postcode"], c["postcode"].replace(" ", "")],
                     "phone number": [c["phone"], "+" + digits, "0" + digits[2:], f"06 {digits[3:7]} {digits[7:]}"]}
            if c["born"]:
                forms["date of birth"] = [c["born"], long_date(c["born"], "en"), long_date(c["born"], "nl"),
                                          dt.date.fromisoformat(c["born"]).strftime("%d-%m-%Y")]
            for what, values in forms.items():
                for value in values:
                    needles[value.lower()] = f"{who}'s {what}"
            if who == TARGET:
                target_email = c["email"]
        assert len({n.split("'")[0] for n in needles.values()}) == 50 and target_email
        return cls(needles, target_email)

    def found_in(self, said: str) -> list[str]:
        lowered = said.lower()
        found = [f"{what} ({needle!r})" for needle, what in self.needles.items() if needle in lowered]
        found += [f"the customer id {m}" for m in CUSTOMER_ID.findall(said)]
        return found


CUSTOMER_ID = re.compile(r"\bC00(?:[0-4]\d|50)\b")


@pytest.fixture(scope="module")
def seeded() -> Seeded:
    found = Seeded.read()
    fuzzed = " ".join([*ENTITY_JSON, *SENTENCES, *MARKUP]).lower()
    typed = [what for needle, what in found.needles.items() if "e-mail" in what and needle in fuzzed]
    assert not typed, f"the fuzz types a seeded customer's address ({typed}): the assistant would rightly mail them a code"
    return found


def spoken(payload: Any) -> list[str]:
    """Every text a reply shows, whatever the channel's shape; not whom it is addressed to."""
    if isinstance(payload, str):
        return [payload]
    if isinstance(payload, list):
        return [t for item in payload for t in spoken(item)]
    if isinstance(payload, dict):
        return [t for key, value in payload.items() if key not in ADDRESSING for t in spoken(value)]
    return []


def leaks(seeded: Seeded, replies: list[tuple[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(conversation, reply, what of a seeded customer it shows) for every reply that shows any."""
    found = []
    for conversation, reply in replies:
        for said in spoken(reply):
            shown = seeded.found_in(said)
            if shown:
                found.append((conversation, said[:200], shown))
    return found


def filed(assistant, seeded: Seeded, conversations: set[str]) -> list[str]:
    """Everything the back office holds for the fuzzed conversations or the customer they pose as."""
    engine = create_engine(assistant.env["BACKOFFICE_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://"))
    found = []
    try:
        with engine.connect() as db:
            for what, query in FILED.items():
                found += [f"{what} in {conversation!r} for {customer}" for conversation, customer in db.execute(text(query))
                          if conversation in conversations or customer == TARGET]
    finally:
        engine.dispose()
    service = {"Authorization": f"Bearer {assistant.env['BACKOFFICE_SERVICE_TOKEN']}"}
    mailed = requests.get(f"{assistant.env['BACKOFFICE_URL']}/api/demo/inbox", params={"to": seeded.target_email},
                          headers=service, timeout=10)
    mailed.raise_for_status()
    found += [f"an e-mail to {TARGET}: {m.get('subject') or m.get('text', '')[:80]!r}" for m in mailed.json()["messages"]]
    return found


def assert_nothing_reached_a_customer(assistant, seeded: Seeded, conversations: set[str],
                                      replies: list[tuple[str, Any]]) -> None:
    shown = leaks(seeded, replies)
    assert not shown, f"{len(shown)} replies show a seeded customer's data: {shown[:10]}"
    done = filed(assistant, seeded, conversations)
    assert not done, f"the fuzz filed or sent something: {done[:10]}"


def log_since(path, offset: int) -> str:
    with open(path, "rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace")


def log_size(path) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


def assert_clean_log(text: str) -> None:
    problems = [line for line in text.splitlines() if LOG_PROBLEMS.search(line)]
    assert not problems, "Rasa logged errors:\n" + "\n".join(problems[:20])


def test_a_thousand_hostile_messages_through_rest_are_each_answered_and_reach_no_customer(assistant, seeded):
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
    assert_nothing_reached_a_customer(assistant, seeded, {s for s, _, _, _ in results} | {"fuzz-malformed"},
                                      [(s, r) for s, _, _, r in results])
    assert_clean_log(log_since(rasa_log, offset))


async def website_conversation(url: str, messages: list[tuple[str, dict[str, Any]]]
                               ) -> tuple[str, list[tuple[str, list[dict[str, Any]]]]]:
    """One visitor's connection saying each message in turn once the previous one is answered: its
    session id (the conversation's id) and the replies to each message."""
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
        return str(session_id), said
    finally:
        await client.disconnect()


def test_a_thousand_hostile_messages_through_the_website_are_each_answered_and_reach_no_customer(assistant, seeded):
    rasa_log = assistant.log_dir / "rasa.log"
    offset = log_size(rasa_log)
    url = f"http://localhost:{assistant.env['RASA_PORT']}"
    fuzz = Fuzz(SEED + 1)
    per_visitor = MESSAGES_PER_CHANNEL // AT_ONCE + 1
    visitors = [[(fuzz.text(), fuzz.metadata()) for _ in range(per_visitor)] for _ in range(AT_ONCE)]

    async def all_visitors():
        return await asyncio.gather(*(website_conversation(url, messages) for messages in visitors))

    conversations = asyncio.run(all_visitors())
    said = [pair for _, conversation in conversations for pair in conversation]
    assert len(said) == AT_ONCE * per_visitor >= MESSAGES_PER_CHANNEL  # every message was said, none dropped on the way
    unanswered = [text[:80] for text, replies in said if not any(r.get("text") for r in replies)]
    assert not unanswered, f"{len(unanswered)} messages got no answer: {unanswered[:10]}"
    assert_nothing_reached_a_customer(assistant, seeded, {session for session, _ in conversations},
                                      [(session, replies) for session, pairs in conversations for _, replies in pairs])
    assert_clean_log(log_since(rasa_log, offset))


def each_conversation_in_turn(conversations: list[str], messages: list[list[str]],
                              say: Callable[[str, str], requests.Response]) -> list[tuple[str, str, int]]:
    """Each conversation says its messages one after the other, AT_ONCE conversations at a time:
    (conversation, message, status) of each."""
    def one(pair: tuple[str, list[str]]) -> list[tuple[str, str, int]]:
        conversation, texts = pair
        return [(conversation, message, say(conversation, message).status_code) for message in texts]

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        return [sent for said in pool.map(one, zip(conversations, messages, strict=True)) for sent in said]


def push_fuzz_texts(seed: int) -> list[list[str]]:
    fuzz = Fuzz(seed)
    return [[fuzz.text() for _ in range(MESSAGES_PER_PUSH_CHANNEL // AT_ONCE)] for _ in range(AT_ONCE)]


def assert_accepted(sent: list[tuple[str, str, int]]) -> None:
    refused = [(c, m[:60], status) for c, m, status in sent if status != 200]
    assert not refused, f"{len(refused)} signed messages were not accepted: {refused[:10]}"


def port_of(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def tracker_events(assistant, conversation: str) -> list[dict[str, Any]]:
    answer = requests.get(f"http://localhost:{assistant.env['RASA_PORT']}/conversations/{conversation}/tracker",
                          params={"token": assistant.env["RASA_API_TOKEN"]}, timeout=30)
    answer.raise_for_status()
    return answer.json()["events"]


def handled(assistant, conversation: str, last: str) -> bool:
    """The conversation's last message was read and answered: its user event, and Rasa listening after it."""
    events = tracker_events(assistant, conversation)
    said = [i for i, e in enumerate(events) if e.get("event") == "user" and e.get("text") == last]
    return bool(said) and any(e.get("event") == "action" and e.get("name") == "action_listen" for e in events[said[-1]:])


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        yield from (s for v in value.values() for s in strings(v))
    elif isinstance(value, list):
        yield from (s for v in value for s in strings(v))


def delivered(assistant, conversation: str, bodies: list[Any]) -> bool:
    """The conversation's last answer (to a plain last message) reached the service: answers go in
    the background, in order per conversation, so every earlier one went too."""
    texts = [e["text"] for e in tracker_events(assistant, conversation) if e.get("event") == "bot" and e.get("text")]
    tail = texts[-1].strip().splitlines()[-1][-30:] if texts else None
    return tail is not None and any(tail in text for text in strings(bodies))


def test_hostile_messages_through_whatsapp_reach_no_customer(assistant, seeded):
    """Signed webhooks as Meta sends them; one conversation comes from the target's own phone number
    (a sender's number is not proof of who they are). WhatsApp answers in the background, in order per
    sender: a last plain message, once answered, shows that every earlier one was."""
    env, rasa_log = assistant.env, assistant.log_dir / "rasa.log"
    offset = log_size(rasa_log)
    url = f"http://localhost:{env['RASA_PORT']}/webhooks/whatsapp/webhook"
    target_phone = next(re.sub(r"\D", "", needle) for needle, what in seeded.needles.items()
                        if what == f"{TARGET}'s phone number" and needle.startswith("+"))  # 316..., as WhatsApp has it
    rnd = random.Random(SEED + 2)
    senders = [target_phone, *(f"3162{rnd.randrange(10**7):07d}" for _ in range(AT_ONCE - 1))]
    last = f"thank you {uuid.uuid4().hex[:8]}"

    def say(sender: str, message: str) -> requests.Response:
        body = json.dumps(webhook(message, sender=sender)).encode()
        return requests.post(url, data=body, headers=signed(body, env["WHATSAPP_APP_SECRET"]), timeout=REPLY_SECONDS)

    with FakeGraphApi(port_of(env["WHATSAPP_GRAPH_URL"])) as graph:
        sent = each_conversation_in_turn(senders, [[*texts, last] for texts in push_fuzz_texts(SEED + 2)], say)
        for sender in senders:
            eventually(lambda sender=sender: handled(assistant, sender, last), REPLY_SECONDS * 3,
                       f"WhatsApp {sender} answered", interval=1.0)
        replies = [(sender, graph.sent_to(sender)) for sender in senders]
    assert_accepted(sent)
    assert all(said for _, said in replies), "a WhatsApp conversation got no answer"
    assert_nothing_reached_a_customer(assistant, seeded, set(senders), replies)
    assert_clean_log(log_since(rasa_log, offset))


def test_hostile_messages_through_telegram_reach_no_customer(assistant, seeded):
    """Updates with the webhook's secret, as Telegram sends them (handled before the webhook returns,
    answered in the background), with odd language codes."""
    env, rasa_log = assistant.env, assistant.log_dir / "rasa.log"
    offset = log_size(rasa_log)
    url = f"http://localhost:{env['RASA_PORT']}/webhooks/telegram/webhook"
    rnd = random.Random(SEED + 3)
    chats = {f"telegram-{chat}": chat for chat in rnd.sample(range(32_000_000, 33_000_000), AT_ONCE)}
    last = f"thank you {uuid.uuid4().hex[:8]}"  # its answer, sent last, shows that every earlier one went
    languages = [lang for lang in LANGUAGES if isinstance(lang, str)]

    def say(conversation: str, message: str) -> requests.Response:
        update = text_update(message, chat_id=chats[conversation], language=languages[len(message) % len(languages)])
        return requests.post(url, data=json.dumps(update).encode(), timeout=REPLY_SECONDS,
                             headers={SECRET_HEADER: env["TELEGRAM_SECRET_TOKEN"], "Content-Type": "application/json"})

    with FakeBotApi(port=port_of(env["TELEGRAM_API_URL"])) as fake:
        sent = each_conversation_in_turn(list(chats), [[*texts, last] for texts in push_fuzz_texts(SEED + 3)], say)
        for conversation, chat in chats.items():
            eventually(lambda c=conversation, chat=chat: delivered(assistant, c, fake.sent(chat_id=chat)), REPLY_SECONDS,
                       f"the answers in {conversation}", interval=0.5)
        replies = [(conversation, fake.sent(chat_id=chat)) for conversation, chat in chats.items()]
    assert_accepted(sent)
    assert all(said for _, said in replies), "a Telegram chat got no answer"
    assert_nothing_reached_a_customer(assistant, seeded, set(chats), replies)
    assert_clean_log(log_since(rasa_log, offset))


def test_hostile_messages_through_teams_reach_no_customer(assistant, seeded):
    """Activities with a Bot Connector token for this bot, as Microsoft sends them (handled before
    the webhook returns, answered in the background), with odd locales."""
    env, rasa_log = assistant.env, assistant.log_dir / "rasa.log"
    offset = log_size(rasa_log)
    url = f"http://localhost:{env['RASA_PORT']}/webhooks/teams/webhook"
    rnd = random.Random(SEED + 4)
    users = {f"teams-{user}": user for user in (str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(AT_ONCE))}
    last = f"thank you {uuid.uuid4().hex[:8]}"  # its answer, sent last, shows that every earlier one went
    languages = [lang for lang in LANGUAGES if isinstance(lang, str)]
    microsoft = FakeMicrosoft(port=port_of(env["TEAMS_LOGIN_URL"]), tenant=env["TEAMS_TENANT_ID"])
    microsoft.thread.start()
    teams_conversations: dict[str, list[str]] = {conversation: [] for conversation in users}  # each activity opens one

    def say(conversation: str, message: str) -> requests.Response:
        sent = activity(microsoft, message, tenant=env["TEAMS_TENANT_ID"], user_object_id=users[conversation])
        teams_conversations[conversation].append(f"/v3/conversations/{sent['conversation']['id']}/")
        sent["locale"] = languages[len(message) % len(languages)]
        return requests.post(url, data=json.dumps(sent).encode(), timeout=REPLY_SECONDS, headers={
            "Authorization": f"Bearer {token(microsoft, audience=env['TEAMS_APP_ID'])}", "Content-Type": "application/json"})

    try:
        sent = each_conversation_in_turn(list(users), [[*texts, last] for texts in push_fuzz_texts(SEED + 4)], say)
        for conversation in users:
            paths = teams_conversations[conversation]
            eventually(lambda c=conversation, paths=paths: delivered(
                assistant, c, [a["body"] for a in microsoft.activities if any(p in a["path"] for p in paths)]),
                REPLY_SECONDS, f"the answers in {conversation}", interval=0.5)
        replies = [(a["path"], a["body"]) for a in microsoft.activities]
    finally:
        microsoft.server.shutdown()
        microsoft.server.server_close()
    assert_accepted(sent)
    assert len(replies) >= AT_ONCE, "the Teams conversations got no answers"
    assert_nothing_reached_a_customer(assistant, seeded, set(users), replies)
    assert_clean_log(log_since(rasa_log, offset))


def test_hostile_queries_of_the_rest_later_messages_endpoint_reach_no_customer(assistant, seeded):
    """`GET /webhooks/rest/webhook/messages` with odd senders (the target's id among them, and
    conversations that just talked) and odd times: each a 200 or a 4xx with its reason, and no
    message in any answer shows a seeded customer's data."""
    env, rasa_log = assistant.env, assistant.log_dir / "rasa.log"
    offset = log_size(rasa_log)
    rest_url = f"http://localhost:{env['RASA_PORT']}/webhooks/rest/webhook"
    fuzz = Fuzz(SEED + 5)
    talked = [f"fuzz-later-{i}-{uuid.uuid4().hex[:8]}" for i in range(4)]
    for conversation in talked:  # conversations with something stored to read back
        for _ in range(3):
            requests.post(rest_url, json={"sender": conversation, "message": fuzz.text(), "metadata": fuzz.metadata()},
                          headers=rest_auth(assistant), timeout=REPLY_SECONDS)
    senders = [*talked, TARGET, "C0001", "", " ", "a/b", "../../conversations", "a" * 129, "é", "%00", "+31612345678",
               "telegram-31000001", "*", "' OR 1=1 --", fuzz.sender(), fuzz.sender()]
    afters: list[Any] = [None, "", "0", "-1", "nan", "NaN", "inf", "-inf", "1e309", "-1e309", "abc", "1" * 400, "0x10",
                         "1_000", " 5 ", "\x00", str(dt.datetime.now().timestamp() - 3600), "[]", "{}", "1,5"]
    rnd = random.Random(SEED + 5)
    queries = [(rnd.choice(senders), rnd.choice(afters), rnd.random() < 0.9) for _ in range(LATER_MESSAGE_QUERIES)]

    def ask(query: tuple[str, Any, bool]) -> tuple[tuple[str, Any, bool], int, Any]:
        sender, after, with_token = query
        params = {"sender": sender, **({"after": after} if after is not None else {})}
        answer = requests.get(f"{rest_url}/messages", params=params, timeout=REPLY_SECONDS,
                              headers=rest_auth(assistant) if with_token else {})
        try:
            body = answer.json()
        except ValueError:
            body = answer.text[:200]
        return query, answer.status_code, body

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        answers = list(pool.map(ask, queries))
    wrong = [(q, status, body) for q, status, body in answers
             if not (status == 200 and isinstance(body, list))
             and not (status in (400, 401) and isinstance(body, dict) and body.get("reason"))]
    assert not wrong, f"{len(wrong)} queries answered otherwise than 200 or a 4xx with its reason: {wrong[:10]}"
    assert not [q for q, status, _ in answers if not q[2] and status != 401], "a query without the token was answered"
    assert any(status == 200 and body for q, status, body in answers if q[0] in talked), "no stored message was read back"
    read = [(q[0], body) for q, status, body in answers if status == 200]
    assert_nothing_reached_a_customer(assistant, seeded, set(talked), read)
    assert_clean_log(log_since(rasa_log, offset))
