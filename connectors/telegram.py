"""The Telegram channel: Telegram's Bot API webhook, written on Rasa's `InputChannel` (Rasa 3.6's
`TelegramInput` checks no secret, calls `getMe` on every update and sets the webhook whenever an
output channel is made, from every replica).

Telegram posts each update to `/webhooks/telegram/webhook`. What this channel does:

- **The secret first.** Every update must carry `X-Telegram-Bot-Api-Secret-Token` equal to
  `TELEGRAM_SECRET_TOKEN` (compared in constant time), the secret given to Telegram when the webhook
  was set; without it: 403, and nothing reaches the bot. With `TELEGRAM_TOKEN` or
  `TELEGRAM_SECRET_TOKEN` empty the channel is off (a plain 404).
- **No Bot API call per update** beyond the answer itself: no `getMe`. The webhook is set once by an
  operator, `python -m connectors.telegram set-webhook https://<host>/webhooks/telegram/webhook`
  (with the secret and only the update types read here), never by a Rasa replica at start.
- **Private chats only.** A message in a group, supergroup or channel never reaches the assistant:
  the channel answers it with a fixed pointer to a private chat (`channels.telegram` in the text catalogue), so no
  answer with personal data can ever be shown to a group. A private chat's conversation (Rasa's
  sender id) is `telegram-<chat id>`, so no other channel's sender id can name it.
- **Button taps** (`callback_query`) are answered with `answerCallbackQuery` (Telegram's client shows
  a spinner until then) and their payload goes to the bot as if typed.
- **Anything else is ignored cleanly** (200): edited messages, membership changes, channel posts,
  polls. A photo, sticker or voice note in a private chat gets "I can only read text".
- **Each update id once**, also when Telegram retries and across replicas, and answers sent per chat in
  order in the background, repeated only where that is harmless (connectors/delivery.py: a 429 with
  a short `retry_after`, a connection that failed; never a 5xx or a timeout to a `sendMessage`).
- **Bounded input** (connectors/limits.py): a body over `MAX_REQUEST_BYTES` gets 413, a message over
  `MAX_MESSAGE_CHARS` the "too long" answer in the user's language (Telegram's `language_code`).
  Only that language reaches the tracker as metadata: no name, no username.
- **An output channel** (`get_output_channel`), so what an agent writes in a chat handed over to
  them reaches the Telegram chat with no update in hand. Texts over Telegram's 4,096 characters are
  split at paragraph or sentence ends; buttons become an inline keyboard, one per row.

A Telegram user id is not proof of identity: verification is the e-mail code, as on every channel.
Settings (bot/credentials.yml, from the environment): `TELEGRAM_TOKEN`, `TELEGRAM_SECRET_TOKEN` (32 to
256 of A-Z a-z 0-9 _ -), `TELEGRAM_BOT_NAME` (the bot's username, for the t.me link),
`TELEGRAM_API_URL` (default https://api.telegram.org; the tests point it at a local fake), and
`CHANNEL_REDIS_URL` (the update ids every replica shares).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hmac
import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import texts
from bot import logs
from chatprotocol import Channel
from connectors import delivery
from connectors.edge import keep_the_version_private, not_found
from connectors.limits import MAX_REQUEST_BYTES, is_sender_id, is_too_long, too_long_answer, well_formed_text

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,256}")
BOT_NAME = re.compile(r"[A-Za-z0-9_]{5,32}")
SENDER_PREFIX = "telegram-"
PRIVATE_CHAT_SENDER = re.compile(r"telegram-(\d{1,20})")
MAX_TEXT_CHARS = 4096  # Telegram's limit on one message's text
MAX_CALLBACK_DATA_BYTES = 64  # Telegram's limit on a button's callback_data
MAX_BUTTON_TITLE_CHARS = 64
MAX_BUTTONS = 20
SEEN_SECONDS = 24 * 3600  # Telegram keeps an update it could not deliver for 24 hours
READ_UPDATES = ["message", "callback_query"]  # the update types the webhook asks for
GROUP_CHATS = frozenset({"group", "supergroup"})


class TelegramApiError(delivery.Undelivered):
    """The Bot API could not be reached or refused the call (the message never names the bot token)."""


def user_language(user: Any) -> str:
    """`nl` for a Telegram user whose app is set to Dutch, else `en`."""
    code = user.get("language_code") if isinstance(user, dict) else None
    return "nl" if isinstance(code, str) and code.lower().startswith("nl") else "en"


def chat_of(recipient_id: str) -> int:
    """The private chat's id in a sender id `telegram-<chat id>`; ValueError for any other id."""
    match = PRIVATE_CHAT_SENDER.fullmatch(recipient_id)
    if not match:
        raise ValueError(f"{recipient_id[:24]!r} is not a Telegram conversation")
    return int(match.group(1))


def text_parts(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at a paragraph, line or sentence end where
    one falls in the second half of a part, else at a space, else anywhere."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), *(window.rfind(end) + 1 for end in (". ", "! ", "? ")))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


def inline_keyboard(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """The bot's buttons as Telegram's inline keyboard, one per row. A payload over Telegram's 64
    bytes of callback data is replaced by the button's title, which the assistant reads as typed."""
    rows = []
    for button in buttons[:MAX_BUTTONS]:
        title = str(button.get("title") or button.get("payload") or "")[:MAX_BUTTON_TITLE_CHARS]
        payload = str(button.get("payload") or title)
        if len(payload.encode()) > MAX_CALLBACK_DATA_BYTES:
            payload = title.encode()[:MAX_CALLBACK_DATA_BYTES].decode("utf-8", "ignore")
        if title:
            rows.append([{"text": title, "callback_data": payload}])
    return {"inline_keyboard": rows}


class BotApi:
    """Calls of Telegram's Bot API (`<api_url>/bot<token>/<method>`), by connectors/delivery.py's rules."""

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL) -> None:
        self.token = token
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")

    async def call(self, method: str, payload: dict[str, Any], idempotent: bool = True) -> Any:
        """The call's result; `TelegramApiError` when Telegram did not take it. Sending a message is
        not idempotent (`idempotent=False`): a repeat after a 5xx or a timeout may show it twice."""
        if not self.token:
            raise TelegramApiError("the Telegram channel is off: TELEGRAM_TOKEN is not set")
        answer = await delivery.call(Channel.TELEGRAM.value, f"{self.api_url}/bot{self.token}/{method}", json=payload,
                                     idempotent=idempotent)
        body = answer.body if isinstance(answer.body, dict) else {}
        if body.get("ok") is True:
            return body.get("result")
        if not answer.status:
            raise TelegramApiError(f"{method}: no answer from the Bot API")
        raise TelegramApiError(f"{method}: the Bot API answered {answer.status} ({str(body.get('description'))[:200]})")

    def call_now(self, method: str, payload: dict[str, Any]) -> Any:
        """`call` outside an event loop (the command line)."""
        return asyncio.run(self.call(method, payload))


class TelegramOutput(OutputChannel):
    """The assistant's and the agent's messages into a private Telegram chat."""

    @classmethod
    def name(cls) -> str:
        return Channel.TELEGRAM.value

    def __init__(self, api: BotApi, outbox: delivery.Outbox) -> None:
        self.api, self.outbox = api, outbox

    def send(self, recipient_id: str, method: str, payload: dict[str, Any]) -> None:
        """In the background, after the chat's earlier messages; sent once (a repeat may show it twice)."""
        self.outbox.send(recipient_id, functools.partial(self.api.call, method, payload, idempotent=False))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        chat_id = chat_of(recipient_id)
        for part in text_parts(text):
            self.send(recipient_id, "sendMessage", {"chat_id": chat_id, "text": part})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        chat_id = chat_of(recipient_id)
        parts = text_parts(text) or [""]
        for part in parts[:-1]:
            self.send(recipient_id, "sendMessage", {"chat_id": chat_id, "text": part})
        last = {"chat_id": chat_id, "text": parts[-1] or "…", "reply_markup": inline_keyboard(buttons)}
        self.send(recipient_id, "sendMessage", last)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        self.send(recipient_id, "sendPhoto", {"chat_id": chat_of(recipient_id), "photo": image})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        text = json_message.get("text")
        if isinstance(text, str) and text.strip():
            await self.send_text_message(recipient_id, text)
        else:
            logger.warning("a custom message without text is not sent to Telegram")


class TelegramInput(InputChannel):
    """Telegram's webhook, behind its secret token, for private chats."""

    @classmethod
    def name(cls) -> str:
        return Channel.TELEGRAM.value

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            access_token=credentials.get("access_token"),
            secret_token=credentials.get("secret_token"),
            bot_name=credentials.get("bot_name"),
            api_url=credentials.get("api_url"),
            redis_url=credentials.get("redis_url"),
        )

    def __init__(
        self,
        access_token: str | None = None,
        secret_token: str | None = None,
        bot_name: str | None = None,
        api_url: str | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.secret_token = (secret_token or "").strip()
        self.bot_name = (bot_name or "").strip().lstrip("@")
        self.api = BotApi((access_token or "").strip(), (api_url or "").strip() or DEFAULT_API_URL)
        if self.secret_token and not SECRET_TOKEN.fullmatch(self.secret_token):
            raise ValueError("TELEGRAM_SECRET_TOKEN must be 32 to 256 of A-Z a-z 0-9 _ - (e.g. `openssl rand -hex 32`)")
        if self.bot_name and not BOT_NAME.fullmatch(self.bot_name):
            raise ValueError("TELEGRAM_BOT_NAME must be the bot's username (5 to 32 of A-Z a-z 0-9 _), as BotFather gave it")
        self.outbox = delivery.Outbox(Channel.TELEGRAM.value)
        self.seen = delivery.SeenIds(Channel.TELEGRAM.value, (redis_url or "").strip(), SEEN_SECONDS) if self.on else None
        if not self.on:
            missing = " and ".join(
                n for n, v in (("TELEGRAM_TOKEN", self.api.token), ("TELEGRAM_SECRET_TOKEN", self.secret_token)) if not v
            )
            logger.info("the Telegram channel is off: set %s to use it (docs/telegram.md)", missing)

    @property
    def on(self) -> bool:
        return bool(self.api.token and self.secret_token)

    async def first_time(self, update_id: int) -> bool:
        """False for an update taken before. Update ids count per bot and one Redis may serve several
        bots, so the key names the bot (the token's part before the colon, which is not secret)."""
        return self.seen is None or await self.seen.first_time(f"{self.api.token.partition(':')[0]}/{update_id}")

    def get_output_channel(self) -> TelegramOutput:
        return TelegramOutput(self.api, self.outbox)

    def authorised(self, request: Request) -> bool:
        offered = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(offered, self.secret_token.encode())

    def group_answer(self, language: str) -> str:
        link = f"https://t.me/{self.bot_name}" if self.bot_name else texts.text(language, "channels.telegram.private_chat_link")
        return texts.text(language, "channels.telegram.group_chat").format(link=link)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram = keep_the_version_private(Blueprint(f"telegram_webhook_{type(self).__name__}"))

        @telegram.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.on else "off"})

        @telegram.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.on:
                not_found(request)
            if not self.authorised(request):
                return response.json(
                    {"error": "forbidden", "reason": f"the update lacks the webhook's secret ({SECRET_HEADER})"}, status=403
                )
            body = request.body or b""
            if len(body) > MAX_REQUEST_BYTES:
                return response.json(
                    {"error": "too_large", "reason": f"an update must be at most {MAX_REQUEST_BYTES} bytes"}, status=413
                )
            try:
                update = json.loads(body)
            except (ValueError, RecursionError):
                update = None
            if not isinstance(update, dict):
                return response.json({"error": "bad_request", "reason": "an update is a JSON object"}, status=400)
            update_id = update.get("update_id")
            try:
                first = not isinstance(update_id, int) or await self.first_time(update_id)
            except delivery.Unavailable:
                return delivery.try_again_later()
            if first:
                try:
                    await self.handle(update, on_new_message)
                except Exception:
                    logger.exception("Telegram update %s could not be handled", update.get("update_id"))
            return response.json({"ok": True})

        return telegram

    async def handle(self, update: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Read one (authorised) update: a private chat's text or button tap reaches the assistant."""
        callback = update.get("callback_query")
        if isinstance(callback, dict):
            if isinstance(callback.get("id"), str):
                try:
                    await self.api.call("answerCallbackQuery", {"callback_query_id": callback["id"]})
                except TelegramApiError as error:
                    logger.warning("a button tap could not be answered: %s", error)
            message, text, user = callback.get("message"), callback.get("data"), callback.get("from")
        else:
            message = update.get("message")
            text = message.get("text") if isinstance(message, dict) else None
            user = message.get("from") if isinstance(message, dict) else None
        chat = message.get("chat") if isinstance(message, dict) else None
        if not isinstance(chat, dict) or not isinstance(chat.get("id"), int) or isinstance(chat.get("id"), bool):
            return  # edited messages, membership changes, channel posts, a tap on an inline-mode message: nothing to answer
        language = user_language(user)
        output = self.get_output_channel()
        chat_id = chat["id"]
        if chat.get("type") != "private":
            if chat.get("type") in GROUP_CHATS and isinstance(text, str):
                output.send(str(chat_id), "sendMessage", {"chat_id": chat_id, "text": self.group_answer(language)})
            return
        sender = f"{SENDER_PREFIX}{chat_id}"
        if not is_sender_id(sender):
            return
        if not isinstance(text, str) or not text.strip():
            await output.send_text_message(sender, texts.text(language, "channels.telegram.text_only"))
            return
        text = well_formed_text(text)
        if is_too_long(text):
            logger.info("Telegram message of %d characters answered as too long", len(text))
            await output.send_text_message(sender, too_long_answer(text, language))
            return
        if text == "/start" or text.startswith("/start "):
            text = "/greet"  # Telegram's first message in a chat (a deep link adds a parameter we do not read)
        logs.about(sender)
        await on_new_message(UserMessage(text, output, sender, input_channel=self.name(), metadata={"language": language}))


def main(argv: list[str] | None = None) -> int:
    """`set-webhook URL`: tell Telegram once where to post updates, with the secret; `webhook-info`:
    what Telegram knows of the webhook (its address, updates waiting, the last error)."""
    parser = argparse.ArgumentParser(
        prog="python -m connectors.telegram", description="The Telegram webhook, set once by an operator."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    set_webhook = commands.add_parser("set-webhook", help="set the webhook to URL, with TELEGRAM_SECRET_TOKEN")
    set_webhook.add_argument("url", help="https://<host>/webhooks/telegram/webhook, as Telegram reaches Rasa")
    commands.add_parser("webhook-info", help="print what Telegram knows of the webhook")
    args = parser.parse_args(argv)
    channel = TelegramInput(
        access_token=os.environ.get("TELEGRAM_TOKEN"),
        secret_token=os.environ.get("TELEGRAM_SECRET_TOKEN"),
        api_url=os.environ.get("TELEGRAM_API_URL"),
    )
    if not channel.on:
        print("set TELEGRAM_TOKEN and TELEGRAM_SECRET_TOKEN first (docs/telegram.md)", file=sys.stderr)
        return 2
    try:
        if args.command == "set-webhook":
            if not args.url.startswith("https://") or not args.url.endswith("/webhooks/telegram/webhook"):
                print("the URL must be https://<host>/webhooks/telegram/webhook", file=sys.stderr)
                return 2
            channel.api.call_now(
                "setWebhook", {"url": args.url, "secret_token": channel.secret_token, "allowed_updates": READ_UPDATES}
            )
            print(f"Telegram now posts {', '.join(READ_UPDATES)} updates to {args.url}")
        else:
            info = channel.api.call_now("getWebhookInfo", {})
            info = info if isinstance(info, dict) else {}
            print(
                json.dumps(
                    {
                        k: info.get(k)
                        for k in ("url", "pending_update_count", "last_error_date", "last_error_message", "allowed_updates")
                    },
                    indent=2,
                )
            )
    except TelegramApiError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
