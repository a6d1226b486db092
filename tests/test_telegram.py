"""The Telegram channel (connectors/telegram.py) against a local fake of Telegram's Bot API (a real
HTTP server on localhost that records every call), with updates in the shape Telegram posts them
(https://core.telegram.org/bots/api#update): first the channel alone in a Sanic process of its own
with a stand-in assistant that records what reaches it and answers through the channel, then through
the real assistant on the shared test stack (its Rasa has the channel on, with the fake's port)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from stack import ROOT, Process, eventually, free_port, serving

from connectors.telegram import SECRET_HEADER, TelegramInput, inline_keyboard, text_parts

TOKEN = "123456:TEST-token-of-the-fake-bot"
SECRET = "s" * 40
BOT_NAME = "VolteraPrivacyBot"
CHAT_ID = 424242


class FakeBotApi:
    """Telegram's Bot API as far as the channel uses it: records each call (method, token, JSON body,
    when it was answered) and answers `{"ok": true, ...}` as Telegram does. A chat in `rate_limited`
    gets Telegram's 429 with `retry_after` for its next messages, as many as the number says; a text
    ending in "(slow)" is answered (and recorded) a second late."""

    def __init__(self, port: int = 0) -> None:
        self.calls: list[dict[str, Any]] = []
        self.rate_limited: dict[int, int] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                body = json.loads(self.rfile.read(length) or b"{}")
                token, _, method = self.path.removeprefix("/bot").partition("/")
                if str(body.get("text")).endswith("(slow)"):
                    time.sleep(1)
                call = {"method": method, "token": token, "body": body, "at": time.monotonic()}
                if fake.rate_limited.get(body.get("chat_id"), 0) > 0:
                    fake.rate_limited[body["chat_id"]] -= 1
                    fake.calls.append({**call, "refused": True})
                    self.answer(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                      "parameters": {"retry_after": 1}})
                    return
                fake.calls.append(call)
                result: Any = True
                if method == "sendMessage":
                    result = {"message_id": len(fake.calls), "chat": {"id": body.get("chat_id")}, "text": body.get("text")}
                elif method == "getWebhookInfo":
                    result = {"url": "https://bot.voltera.example/webhooks/telegram/webhook", "pending_update_count": 0}
                self.answer(200, {"ok": True, "result": result})

            def answer(self, status: int, body: dict[str, Any]) -> None:
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeBotApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[dict[str, Any]]:
        """The calls Telegram took, in the order it answered them."""
        return [
            c["body"]
            for c in self.calls
            if c["method"] == method and (chat_id is None or c["body"].get("chat_id") == chat_id) and not c.get("refused")
        ]


SERVE_THE_CHANNEL_ALONE = """
import json, logging, sys
from sanic import Sanic
from connectors.telegram import TelegramInput

logging.basicConfig(level=logging.INFO)
port, api_url, secret, received = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

async def stand_in_assistant(message):
    with open(received, "a") as log:
        log.write(json.dumps({"sender": message.sender_id, "text": message.text, "channel": message.input_channel,
                              "metadata": message.metadata}) + "\\n")
    if message.text == "buttons":
        await message.output_channel.send_text_with_buttons(message.sender_id, "Pick one", [
            {"title": "My data", "payload": "/request_access"}, {"title": "A person", "payload": "/ask_human"}])
    else:
        await message.output_channel.send_text_message(message.sender_id, "echo: " + message.text)

channel = TelegramInput(access_token="TOKEN", secret_token=secret, bot_name="BOT_NAME", api_url=api_url)
app = Sanic("telegram_channel_alone")
app.blueprint(channel.blueprint(stand_in_assistant), url_prefix="/webhooks/telegram")
app.run(host="127.0.0.1", port=port, access_log=False)
""".replace('"TOKEN"', repr(TOKEN)).replace('"BOT_NAME"', repr(BOT_NAME))


class Channel:
    def __init__(self, url: str, received: Path) -> None:
        self.url, self.received = url, received

    def post(self, update: dict[str, Any], secret: str | None = SECRET) -> requests.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return requests.post(f"{self.url}/webhook", json=update, headers=headers, timeout=15)

    def reached_the_assistant(self) -> list[dict[str, Any]]:
        if not self.received.exists():
            return []
        return [json.loads(line) for line in self.received.read_text().splitlines()]


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as fake:
        yield fake


def serve_channel(tmp: Path, api_url: str, secret: str) -> Process:
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/telegram"
    return Process(
        "telegram channel",
        [sys.executable, "-c", SERVE_THE_CHANNEL_ALONE, str(port), api_url, secret, str(tmp / "received.jsonl")],
        ROOT,
        dict(os.environ),
        tmp / "telegram.log",
        port,
        f"{url}/",
    )


@pytest.fixture(scope="module")
def channel(fake_api: FakeBotApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Channel]:
    tmp = tmp_path_factory.mktemp("telegram")
    with serving(serve_channel(tmp, fake_api.url, SECRET), timeout=120) as process:
        yield Channel(f"http://127.0.0.1:{process.port}/webhooks/telegram", tmp / "received.jsonl")


# Update ids of this run only: the stack's Redis remembers those of earlier runs.
_first_update_id = secrets.randbelow(2**40)
_update_ids = iter(range(_first_update_id, _first_update_id + 100_000_000))


def user(language: str = "en") -> dict[str, Any]:
    return {
        "id": CHAT_ID,
        "is_bot": False,
        "first_name": "Eva",
        "last_name": "de Vries",
        "username": "eva_dv",
        "language_code": language,
    }


def text_update(text: str, chat_id: int = CHAT_ID, chat_type: str = "private", language: str = "en") -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    chat.update({"first_name": "Eva", "username": "eva_dv"} if chat_type == "private" else {"title": "Buren van de Dorpsstraat"})
    return {
        "update_id": next(_update_ids),
        "message": {"message_id": 17, "from": user(language), "chat": chat, "date": 1_780_000_000, "text": text},
    }


def texts_to(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [body["text"] for body in fake.sent(chat_id=chat_id)]


def told(fake: FakeBotApi, chat_id: int, count: int) -> list[str]:
    """The chat's texts once `count` have arrived (the channel sends in the background)."""
    return eventually(lambda: texts_to(fake, chat_id), 15, f"{count} messages in chat {chat_id}", until=lambda t: len(t) >= count)


# --- the channel alone -------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "s" * 39, "S" * 40, SECRET + "x"])
def test_an_update_without_the_secret_is_refused_and_never_reaches_the_bot(channel, fake_api, secret):
    before = len(fake_api.calls)
    answer = channel.post(text_update("hello, is anyone there?"), secret=secret)
    assert answer.status_code == 403 and SECRET_HEADER in answer.json()["reason"]
    assert all(m["text"] != "hello, is anyone there?" for m in channel.reached_the_assistant())
    assert len(fake_api.calls) == before


def test_an_update_with_the_secret_is_answered_in_the_chat(channel, fake_api):
    chat = CHAT_ID + 1
    answer = channel.post(text_update("Welke gegevens hebben jullie van mij? 😀 ë", chat_id=chat, language="nl"))
    assert answer.status_code == 200
    assert told(fake_api, chat, 1) == ["echo: Welke gegevens hebben jullie van mij? 😀 ë"]
    assert all(c["token"] == TOKEN for c in fake_api.calls)
    reached = [m for m in channel.reached_the_assistant() if m["sender"] == f"telegram-{chat}"]
    # only the language reaches the tracker: not the name or username Telegram sends
    assert reached == [
        {
            "sender": f"telegram-{chat}",
            "text": "Welke gegevens hebben jullie van mij? 😀 ë",
            "channel": "telegram",
            "metadata": {"language": "nl"},
        }
    ]
    assert not any(c["method"] in ("getMe", "setWebhook") for c in fake_api.calls)


def test_the_first_message_of_a_chat_greets(channel, fake_api):
    chat = CHAT_ID + 2
    channel.post(text_update("/start", chat_id=chat))
    assert [m["text"] for m in channel.reached_the_assistant() if m["sender"] == f"telegram-{chat}"] == ["/greet"]


def test_a_button_tap_is_answered_and_its_payload_reaches_the_bot(channel, fake_api):
    chat = CHAT_ID + 3
    channel.post(text_update("buttons", chat_id=chat))
    told(fake_api, chat, 1)
    keyboard = fake_api.sent(chat_id=chat)[-1]["reply_markup"]
    assert keyboard == {
        "inline_keyboard": [
            [{"text": "My data", "callback_data": "/request_access"}],
            [{"text": "A person", "callback_data": "/ask_human"}],
        ]
    }
    tap = {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": user(),
            "chat_instance": "-8844",
            "data": "/ask_human",
            "message": {
                "message_id": 18,
                "from": {"id": 1, "is_bot": True, "first_name": "Voltera"},
                "chat": {"id": chat, "type": "private"},
                "date": 1_780_000_001,
                "text": "Pick one",
            },
        },
    }
    assert channel.post(tap).status_code == 200
    assert fake_api.sent("answerCallbackQuery")[-1] == {"callback_query_id": "4382bfdwdsb323b2d9"}
    assert [m["text"] for m in channel.reached_the_assistant() if m["sender"] == f"telegram-{chat}"] == ["buttons", "/ask_human"]
    assert told(fake_api, chat, 2)[-1] == "echo: /ask_human"


@pytest.mark.parametrize(
    "update",
    [
        {
            "edited_message": {
                "message_id": 17,
                "from": user(),
                "chat": {"id": CHAT_ID + 4, "type": "private"},
                "date": 1,
                "edit_date": 2,
                "text": "edited",
            }
        },
        {
            "my_chat_member": {
                "chat": {"id": CHAT_ID + 4, "type": "private"},
                "from": user(),
                "date": 1,
                "old_chat_member": {"status": "member", "user": user()},
                "new_chat_member": {"status": "kicked", "user": user()},
            }
        },
        {
            "channel_post": {
                "message_id": 3,
                "chat": {"id": -100123, "type": "channel", "title": "News"},
                "date": 1,
                "text": "post",
            }
        },
        {
            "message": {
                "message_id": 19,
                "from": user(),
                "chat": {"id": "not a number", "type": "private"},
                "date": 1,
                "text": "x",
            }
        },
        {"callback_query": {"id": "77", "from": user(), "chat_instance": "1", "inline_message_id": "AAA", "data": "/greet"}},
        {},
    ],
)
def test_an_update_without_a_message_is_ignored_cleanly(channel, fake_api, update):
    update = {"update_id": next(_update_ids), **update}
    before = len(channel.reached_the_assistant())
    answer = channel.post(update)
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert len(channel.reached_the_assistant()) == before
    assert texts_to(fake_api, CHAT_ID + 4) == []


@pytest.mark.parametrize("body, status", [(b"not json", 400), (b"[1, 2]", 400), (b"x" * 2_000_000, 413)])
def test_a_malformed_update_gets_a_clean_refusal(channel, body, status):
    answer = requests.post(f"{channel.url}/webhook", data=body, headers={SECRET_HEADER: SECRET}, timeout=15)
    assert answer.status_code == status


def test_a_photo_in_a_private_chat_is_told_text_only(channel, fake_api):
    chat = CHAT_ID + 5
    update = text_update("", chat_id=chat, language="nl")
    del update["message"]["text"]
    update["message"]["photo"] = [{"file_id": "AgAD", "file_unique_id": "u", "width": 90, "height": 90}]
    channel.post(update)
    assert told(fake_api, chat, 1) == ["Ik kan alleen tekstberichten lezen. Typ je vraag, dan help ik je verder."]
    assert all(m["sender"] != f"telegram-{chat}" for m in channel.reached_the_assistant())


def test_a_group_chat_gets_a_pointer_to_a_private_chat_and_nothing_reaches_the_bot(channel, fake_api):
    before = len(channel.reached_the_assistant())
    for chat, kind, language in ((-100_555, "supergroup", "en"), (-556, "group", "nl")):
        channel.post(
            text_update("@VolteraPrivacyBot what data do you have on me?", chat_id=chat, chat_type=kind, language=language)
        )
        tap = {
            "update_id": next(_update_ids),
            "callback_query": {
                "id": f"cb{chat}",
                "from": user(language),
                "chat_instance": "2",
                "data": "/request_access",
                "message": {"message_id": 1, "chat": {"id": chat, "type": kind}, "date": 1, "text": "?"},
            },
        }
        channel.post(tap)
        pointers = told(fake_api, chat, 2)
        assert len(pointers) == 2 and all(f"https://t.me/{BOT_NAME}" in t for t in pointers)
        assert ("privé" if language == "nl" else "privately") in pointers[0]
    assert len(channel.reached_the_assistant()) == before


def test_a_retried_update_is_handled_once(channel, fake_api):
    chat = CHAT_ID + 6
    update = text_update("once please", chat_id=chat)
    assert channel.post(update).status_code == 200
    assert channel.post(update).status_code == 200
    assert channel.post(text_update("and then", chat_id=chat)).status_code == 200
    assert told(fake_api, chat, 2) == ["echo: once please", "echo: and then"]


def test_a_rate_limited_answer_is_sent_again_after_telegrams_wait(channel, fake_api):
    chat = CHAT_ID + 8
    fake_api.rate_limited[chat] = 1
    assert channel.post(text_update("busy hour", chat_id=chat)).status_code == 200
    assert told(fake_api, chat, 1) == ["echo: busy hour"]
    refused, taken = [c for c in fake_api.calls if c["method"] == "sendMessage" and c["body"]["chat_id"] == chat]
    assert refused.get("refused") and taken["at"] - refused["at"] >= 1  # Telegram's retry_after: 1


def test_a_chats_answers_keep_their_order_when_the_first_is_slow(channel, fake_api):
    chat = CHAT_ID + 9
    assert channel.post(text_update("first (slow)", chat_id=chat)).status_code == 200
    assert channel.post(text_update("second", chat_id=chat)).status_code == 200
    assert told(fake_api, chat, 2) == ["echo: first (slow)", "echo: second"]


def test_a_message_over_the_limit_never_reaches_the_bot(channel, fake_api):
    chat = CHAT_ID + 7
    channel.post(text_update("x" * 5_000, chat_id=chat, language="en"))
    answers = told(fake_api, chat, 1)
    assert len(answers) == 1 and answers[0].startswith("Your message is too long for me")
    assert all(m["sender"] != f"telegram-{chat}" for m in channel.reached_the_assistant())


def test_the_channel_is_off_without_its_secret(fake_api, tmp_path):
    with serving(serve_channel(tmp_path, fake_api.url, ""), timeout=120) as process:
        url = f"http://127.0.0.1:{process.port}/webhooks/telegram"
        assert requests.get(f"{url}/", timeout=5).json() == {"status": "off"}
        answer = requests.post(f"{url}/webhook", json=text_update("hi"), headers={SECRET_HEADER: ""}, timeout=5)
        assert answer.status_code == 404 and "TELEGRAM" not in answer.text  # a plain 404: the log names the settings
    assert "the Telegram channel is off: set TELEGRAM_SECRET_TOKEN" in (tmp_path / "telegram.log").read_text()


def test_settings_in_the_wrong_shape_stop_the_channel():
    for bad in ({"secret_token": "short"}, {"secret_token": "s" * 31 + "!"}, {"bot_name": "a b"}):
        with pytest.raises(ValueError):
            TelegramInput.from_credentials({"access_token": TOKEN, "secret_token": SECRET, **bad})
    assert not TelegramInput.from_credentials(None).on


def test_long_texts_are_cut_at_sentence_ends_under_telegrams_limit():
    sentence = "Wij bewaren je gegevens zo kort als de wet toestaat. "
    parts = text_parts(sentence * 200)
    assert len(parts) == 3 and all(len(p) <= 4096 and p.endswith(".") for p in parts)
    assert " ".join(parts) == (sentence * 200).strip()
    assert text_parts("x" * 5000) == ["x" * 4096, "x" * 904]


def test_a_payload_over_telegrams_64_bytes_becomes_the_title():
    keyboard = inline_keyboard(
        [{"title": "Correct my address", "payload": '/request_correction{"correction_field": "' + "a" * 60 + '"}'}]
    )
    assert keyboard == {"inline_keyboard": [[{"text": "Correct my address", "callback_data": "Correct my address"}]]}


def test_the_webhook_is_set_once_by_the_operators_command(fake_api):
    env = {**os.environ, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": SECRET, "TELEGRAM_API_URL": fake_api.url}
    url = "https://bot.voltera.example/webhooks/telegram/webhook"
    done = subprocess.run(
        [sys.executable, "-m", "connectors.telegram", "set-webhook", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert fake_api.sent("setWebhook")[-1] == {
        "url": url,
        "secret_token": SECRET,
        "allowed_updates": ["message", "callback_query"],
    }
    refused = subprocess.run(
        [sys.executable, "-m", "connectors.telegram", "set-webhook", "http://bot.voltera.example/hook"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and len(fake_api.sent("setWebhook")) == 1


# --- through the real assistant ------------------------------------------------------------------------


def test_the_assistant_answers_on_telegram_and_an_agents_reply_reaches_the_chat(assistant):
    env = assistant.env
    rasa = f"http://localhost:{env['RASA_PORT']}"
    chat = 31_000_001
    with FakeBotApi(port=int(env["TELEGRAM_API_URL"].rsplit(":", 1)[1])) as fake:
        update = text_update("hello", chat_id=chat)
        headers = {SECRET_HEADER: env["TELEGRAM_SECRET_TOKEN"]}
        assert (
            requests.post(
                f"{rasa}/webhooks/telegram/webhook", json=update, headers={SECRET_HEADER: "wrong"}, timeout=10
            ).status_code
            == 403
        )
        answer = requests.post(f"{rasa}/webhooks/telegram/webhook", json=update, headers=headers, timeout=60)
        assert answer.status_code == 200
        greeted = eventually(lambda: texts_to(fake, chat), 30, "the assistant's answer on Telegram")
        assert greeted and not any(c["method"] == "getMe" for c in fake.calls)
        tracker = requests.get(
            f"{rasa}/conversations/telegram-{chat}/tracker", params={"token": env["RASA_API_TOKEN"]}, timeout=10
        ).json()
        assert [e.get("input_channel") for e in tracker["events"] if e["event"] == "user"] == ["telegram"]
        # an agent's reply, as the back office sends it (RasaConversations in handoff/service.py): no update in hand
        said = requests.post(
            f"{rasa}/conversations/telegram-{chat}/tracker/events",
            params={
                "token": env["RASA_API_TOKEN"],
                "output_channel": "telegram",
                "execute_side_effects": "true",
                "include_events": "NONE",
            },
            json=[{"event": "bot", "text": "Anna here: I will look into it."}],
            timeout=10,
        )
        assert said.status_code == 200
        eventually(
            lambda: texts_to(fake, chat),
            30,
            "the agent's reply on Telegram",
            until=lambda t: "Anna here: I will look into it." in t,
        )
