"""The WhatsApp Business Cloud API channel: Meta calls `/webhooks/whatsapp/webhook` (Rasa 3.6 has no
WhatsApp Cloud channel of its own).

- **Meta's handshake.** `GET /webhook?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`
  echoes the challenge when the verify token (WHATSAPP_VERIFY_TOKEN) matches, compared in constant
  time; 403 otherwise.
- **Signed posts only.** Every `POST /webhook` must carry `X-Hub-Signature-256: sha256=<HMAC-SHA256
  of the raw body under WHATSAPP_APP_SECRET>`; it is checked, in constant time, before the body is
  read as JSON. Anything else gets 403 and nothing reaches the assistant.
- **What goes in.** Text messages, reply-button and list taps (their id: the button's payload) and
  template quick-reply taps; status webhooks (sent, delivered, read, failed) and other numbers'
  messages are ignored; media and other kinds are answered that only text is read. Every message
  goes through connectors/limits.py (length, well-formed text, sender id).
- **Each message id once**, also when Meta retries and across replicas: claimed before Meta gets its
  200, in Redis when CHANNEL_REDIS_URL is set, else in this process (connectors/delivery.py). Redis
  unreachable: 503, so Meta tries again later.
- **The sender** is the business-scoped user id (BSUID, `CC.digits`) when the payload has one,
  else the phone number; replies go to a BSUID as `recipient` and to a phone number as `to`.
  A WhatsApp number proves nothing: customers verify with the e-mail code, as on the website.
- **Answers come later.** Meta gets 200 at once; the message is marked read with the typing
  indicator and handed to the assistant in the background. What the assistant (or an agent, through
  `get_output_channel`) says is sent per recipient in order, by connectors/delivery.py's rules: a
  message is repeated after a 429 or a failed connection, never after a 5xx or a timeout (it may
  have arrived); the read mark, harmless to repeat, is. Buttons become up to 3 reply buttons
  (20-character titles), else a list of up to 10 rows (24-character titles); text is split at
  sentence boundaries under 4,096 characters. Outside the 24-hour customer service window (known from the customer's last message,
  or Meta's error 131047) the template WHATSAPP_TEMPLATE_NAME is sent instead, with the text as its
  one body parameter.

Registered in bot/credentials.yml as `connectors.whatsapp.WhatsAppInput`; off (a plain 404)
while any of WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN, WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID
is empty. See docs/whatsapp.md.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from connectors.limits import MAX_REQUEST_BYTES, is_sender_id, is_too_long, message_language, too_long_answer, well_formed_text

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v26.0"
SIGNATURE_PREFIX = "sha256="
MAX_TEXT_CHARS = 4096  # WhatsApp's limit for a text message
MAX_INTERACTIVE_BODY_CHARS = 1024  # the body of a message with buttons or a list
MAX_REPLY_BUTTONS, MAX_BUTTON_TITLE_CHARS, MAX_BUTTON_ID_CHARS = 3, 20, 256
MAX_LIST_ROWS, MAX_ROW_TITLE_CHARS, MAX_ROW_DESCRIPTION_CHARS, MAX_ROW_ID_CHARS = 10, 24, 72, 200
MAX_TEMPLATE_PARAMETER_CHARS = 1000
MAX_MESSAGES_PER_WEBHOOK = 100  # Meta batches at most a few; more is not Meta
SERVICE_WINDOW_SECONDS = 24 * 3600
DEDUP_SECONDS = 7 * 24 * 3600  # Meta retries a failed webhook for up to 7 days
OUTSIDE_WINDOW_ERROR = 131047  # Meta: more than 24 hours since the customer last wrote
BSUID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9.]{1,120}")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
PLAIN_SPACE = re.compile(r"\s+")
TEXT_TYPES = {"text", "interactive", "button"}
IGNORED_TYPES = {"reaction", "system", "request_welcome", "ephemeral", "unsupported"}
SETTINGS = {"app_secret": "WHATSAPP_APP_SECRET", "verify_token": "WHATSAPP_VERIFY_TOKEN",
            "access_token": "WHATSAPP_ACCESS_TOKEN", "phone_number_id": "WHATSAPP_PHONE_NUMBER_ID"}


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    """The text in parts of at most `limit` characters, cut between sentences (else between words,
    else anywhere)."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for sentence in (s for s in SENTENCE_END.split(text) if s.strip()):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > 0 else limit
            if current:
                parts.append(current)
                current = ""
            parts.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        joined = f"{current} {sentence}" if current else sentence
        if len(joined) <= limit:
            current = joined
        else:
            parts.append(current)
            current = sentence
    if current:
        parts.append(current)
    return parts


def choice_label(language: str | None) -> str:
    if language in texts.LANGUAGES:
        return texts.text(language, "channels.whatsapp.choose")
    return texts.in_every_language("channels.whatsapp.choose", " / ")


def interactive_of(text: str, buttons: list[dict[str, Any]], language: str | None = None) -> dict[str, Any] | None:
    """The bot's buttons as WhatsApp allows them: up to 3 reply buttons with titles of at most 20
    characters, else a list of at most 10 rows (24-character titles, the whole title as the row's
    description when cut). None when no button has a usable payload."""
    usable = [(str(b.get("title") or b.get("payload")), str(b.get("payload") or b.get("title")))
              for b in buttons if isinstance(b, dict) and (b.get("payload") or b.get("title"))]
    usable = [(title.strip(), payload) for title, payload in usable if payload and len(payload) <= MAX_ROW_ID_CHARS]
    if not usable:
        return None
    body = {"text": text or choice_label(language)}
    titles = [title for title, _ in usable]
    fits = all(len(t) <= MAX_BUTTON_TITLE_CHARS for t in titles) and len(set(titles)) == len(titles)
    if len(usable) <= MAX_REPLY_BUTTONS and fits:
        return {"type": "button", "body": body,
                "action": {"buttons": [{"type": "reply", "reply": {"id": payload, "title": title}} for title, payload in usable]}}
    if len(usable) > MAX_LIST_ROWS:
        logger.warning("WhatsApp lists hold %d rows: %d buttons left out", MAX_LIST_ROWS, len(usable) - MAX_LIST_ROWS)
    rows = []
    for title, payload in usable[:MAX_LIST_ROWS]:
        row = {"id": payload, "title": shortened(title, MAX_ROW_TITLE_CHARS)}
        if len(title) > MAX_ROW_TITLE_CHARS:
            row["description"] = shortened(title, MAX_ROW_DESCRIPTION_CHARS)
        rows.append(row)
    return {"type": "list", "body": body, "action": {"button": choice_label(language), "sections": [{"rows": rows}]}}


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `X-Hub-Signature-256` is the HMAC-SHA256 of the raw body under the app secret."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len(SIGNATURE_PREFIX):].strip().lower().encode("ascii", "replace"), expected.encode())


@dataclass(frozen=True)
class Incoming:
    """One customer message of a webhook, as the channel reads it."""

    message_id: str
    sender: str
    kind: str
    text: str


def sender_of(message: dict[str, Any], contacts: list[Any]) -> str:
    """The business-scoped user id when the payload has one (Meta's, from 2026), else the phone number."""
    contact = next((c for c in contacts if isinstance(c, dict)
                    and (c.get("wa_id") == message.get("from") or c.get("user_id") == message.get("from_user_id"))),
                   contacts[0] if len(contacts) == 1 and isinstance(contacts[0], dict) else {})
    for candidate in (message.get("from_user_id"), contact.get("user_id"), message.get("from"), contact.get("wa_id")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def text_of(message: dict[str, Any]) -> str:
    kind = message.get("type")
    if kind == "text":
        return str((message.get("text") or {}).get("body") or "")
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return str(reply.get("id") or reply.get("title") or "")
    if kind == "button":
        button = message.get("button") or {}
        return str(button.get("payload") or button.get("text") or "")
    return ""


def messages_of(payload: Any, phone_number_id: str) -> list[Incoming]:
    """The customer messages of a webhook sent to this business number; statuses and the rest left out."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return []
    found: list[Incoming] = []
    for entry in payload.get("entry") or []:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) and change.get("field") == "messages" else None
            if not isinstance(value, dict) or str((value.get("metadata") or {}).get("phone_number_id")) != phone_number_id:
                continue
            contacts: list[Any] = value["contacts"] if isinstance(value.get("contacts"), list) else []
            for message in value.get("messages") or []:
                if not isinstance(message, dict) or not isinstance(message.get("id"), str) or message.get("group_id"):
                    continue
                kind = str(message.get("type") or "")
                if kind in IGNORED_TYPES:
                    continue
                found.append(Incoming(message["id"], sender_of(message, contacts), kind, well_formed_text(text_of(message))))
    return found[:MAX_MESSAGES_PER_WEBHOOK]


class ServiceWindow:
    """When each customer last wrote, for WhatsApp's 24-hour customer service window: in Redis when
    CHANNEL_REDIS_URL is set (shared by every replica), else in this process."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._last_seen = delivery.Recent(DEDUP_SECONDS)

    async def saw(self, sender: str) -> None:
        now = time.time()
        if self.redis is not None:
            await self.redis.set(f"whatsapp:last-seen:{sender}", str(now), ex=DEDUP_SECONDS)
        else:
            self._last_seen.put(sender, now)

    async def closed(self, sender: str) -> bool:
        """True only when the customer's last message is known and more than 24 hours old."""
        try:
            seen = await self.redis.get(f"whatsapp:last-seen:{sender}") if self.redis is not None else self._last_seen.get(sender)
        except Exception as exc:  # the window is then unknown: Meta's answer tells
            logger.warning("WhatsApp: the customer's last message time could not be read (%s)", type(exc).__name__)
            return False
        return seen is not None and float(seen) < time.time() - SERVICE_WINDOW_SECONDS


class GraphApi:
    """The calls this channel makes to Meta's Graph API (connectors/delivery.py's rules)."""

    def __init__(self, graph_url: str, access_token: str, phone_number_id: str) -> None:
        self.messages_url = f"{graph_url.rstrip('/')}/{phone_number_id}/messages"
        self.access_token = access_token

    async def post(self, body: dict[str, Any], idempotent: bool) -> tuple[int, dict[str, Any]]:
        """(status, answer) of Meta's last answer; (0, {}) when none came."""
        answer = await delivery.call(Channel.WHATSAPP.value, self.messages_url, idempotent=idempotent, json=body,
                                     headers={"Authorization": f"Bearer {self.access_token}"})
        return answer.status, answer.body if isinstance(answer.body, dict) else {}


def error_code(answer: dict[str, Any]) -> int | None:
    error = answer.get("error")
    return error.get("code") if isinstance(error, dict) and isinstance(error.get("code"), int) else None


def addressed(recipient: str) -> dict[str, Any]:
    """Meta's address of a customer: a business-scoped user id as `recipient`, a phone number as `to`."""
    key = "recipient" if BSUID.fullmatch(recipient) else "to"
    return {"messaging_product": "whatsapp", "recipient_type": "individual", key: recipient}


class Replies:
    """What goes to customers: in order per recipient in the background (connectors/delivery.py), as a
    template when the customer service window is closed."""

    def __init__(self, graph: GraphApi, window: ServiceWindow, template_name: str, template_language: str) -> None:
        self.graph, self.window = graph, window
        self.template_name, self.template_language = template_name, template_language or "en"
        self.outbox = delivery.Outbox(Channel.WHATSAPP.value)

    def send(self, recipient: str, kind: str, content: dict[str, Any], plain_text: str) -> None:
        self.outbox.send(recipient, functools.partial(self._deliver, recipient, kind, content, plain_text))

    async def _deliver(self, recipient: str, kind: str, content: dict[str, Any], plain_text: str) -> None:
        if await self.window.closed(recipient):
            await self._template(recipient, plain_text)
            return
        status, answer = await self.graph.post({**addressed(recipient), "type": kind, kind: content}, idempotent=False)
        if error_code(answer) == OUTSIDE_WINDOW_ERROR:
            await self._template(recipient, plain_text)
        elif not 200 <= status < 300:
            raise delivery.Undelivered(f"{status or 'no answer'} {error_code(answer)}")

    async def _template(self, recipient: str, plain_text: str) -> None:
        """Outside the 24-hour window WhatsApp takes templates only: the configured one, the text as its parameter."""
        if not self.template_name:
            raise delivery.Undelivered("the customer last wrote over 24 hours ago and WHATSAPP_TEMPLATE_NAME is not set")
        for part in split_text(PLAIN_SPACE.sub(" ", plain_text), MAX_TEMPLATE_PARAMETER_CHARS):
            template = {"name": self.template_name, "language": {"code": self.template_language},
                        "components": [{"type": "body", "parameters": [{"type": "text", "text": part}]}]}
            status, answer = await self.graph.post({**addressed(recipient), "type": "template", "template": template},
                                                   idempotent=False)
            if not 200 <= status < 300:
                raise delivery.Undelivered(f"the template: {status or 'no answer'} {error_code(answer)}")

    async def mark_read_and_typing(self, message_id: str) -> None:
        """Harmless to repeat, so retried on 5xx and timeouts too."""
        await self.graph.post({"messaging_product": "whatsapp", "status": "read", "message_id": message_id,
                               "typing_indicator": {"type": "text"}}, idempotent=True)


class WhatsAppOutput(OutputChannel):
    """The assistant's and the agents' messages to a customer on WhatsApp, within WhatsApp's limits."""

    @classmethod
    def name(cls) -> str:
        return Channel.WHATSAPP.value

    def __init__(self, replies: Replies, language: str | None = None) -> None:
        self.replies = replies
        self.language = language

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in split_text(text):
            self.replies.send(recipient_id, "text", {"body": part, "preview_url": False}, part)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        parts = split_text(text or "")
        last = parts.pop() if parts and len(parts[-1]) <= MAX_INTERACTIVE_BODY_CHARS else ""
        for part in parts:
            self.replies.send(recipient_id, "text", {"body": part, "preview_url": False}, part)
        interactive = interactive_of(last, buttons or [], self.language)
        if interactive is None:
            await self.send_text_message(recipient_id, last)
            return
        titles = " / ".join(str(b.get("title") or "") for b in buttons if isinstance(b, dict))
        self.replies.send(recipient_id, "interactive", interactive, f"{last} ({titles})" if last else titles)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        self.replies.send(recipient_id, "image", {"link": image}, image)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        logger.info("WhatsApp: a custom message for conversation %s is not sent (the channel sends text, buttons and images)",
                    logs.reference(recipient_id))


class WhatsAppInput(InputChannel):
    """Meta's webhook for the WhatsApp Business Cloud API."""

    @classmethod
    def name(cls) -> str:
        return Channel.WHATSAPP.value

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        given = {k: str(v or "").strip() for k, v in (credentials or {}).items()}
        names = (*SETTINGS, "graph_url", "redis_url", "template_name", "template_language")
        return cls(**{k: given.get(k, "") for k in names})

    def __init__(self, app_secret: str = "", verify_token: str = "", access_token: str = "", phone_number_id: str = "",
                 graph_url: str = "", redis_url: str = "", template_name: str = "", template_language: str = "") -> None:
        self.app_secret, self.verify_token = app_secret, verify_token
        self.phone_number_id = phone_number_id
        given = {"app_secret": app_secret, "verify_token": verify_token, "access_token": access_token,
                 "phone_number_id": phone_number_id}
        self.missing = [SETTINGS[k] for k, v in given.items() if not v]
        self._handling: dict[str, asyncio.Task[None]] = {}
        if self.missing:
            logger.info("the WhatsApp channel is off: set %s to use it (docs/whatsapp.md)", ", ".join(self.missing))
            self.replies: Replies | None = None
            return
        self.seen = delivery.SeenIds(Channel.WHATSAPP.value, redis_url, DEDUP_SECONDS)
        self.window = ServiceWindow(self.seen.redis)
        self.replies = Replies(GraphApi(graph_url or DEFAULT_GRAPH_URL, access_token, phone_number_id), self.window,
                             template_name, template_language)

    def get_output_channel(self) -> OutputChannel | None:
        return WhatsAppOutput(self.replies) if self.replies else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        whatsapp = keep_the_version_private(Blueprint(f"whatsapp_webhook_{type(self).__name__}"))

        @whatsapp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "off" if self.missing else "ok"})

        @whatsapp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if self.missing:
                not_found(request)
            offered = str(request.args.get("hub.verify_token") or "").encode("utf-8", "surrogateescape")
            if request.args.get("hub.mode") != "subscribe" or not hmac.compare_digest(offered, self.verify_token.encode()):
                reason = "hub.mode must be subscribe, with the verify token"
                return response.json({"error": "forbidden", "reason": reason}, status=403)
            return response.text(str(request.args.get("hub.challenge") or "")[:256])

        @whatsapp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.missing or self.replies is None:
                not_found(request)
            body = request.body or b""
            signature = request.headers.get("X-Hub-Signature-256")
            if len(body) > MAX_REQUEST_BYTES or not signature_matches(self.app_secret, body, signature):
                return response.json({"error": "forbidden", "reason": "X-Hub-Signature-256 does not sign this body"}, status=403)
            try:
                incoming = messages_of(json.loads(body), self.phone_number_id)
            except (ValueError, RecursionError):
                return response.json({"error": "bad_request", "reason": "the body is not JSON"}, status=400)
            for message in incoming:
                try:
                    first = await self.seen.first_time(message.message_id)
                except delivery.Unavailable:
                    return delivery.try_again_later()
                if first:  # handled after the same customer's earlier messages, in the order Meta sent them
                    delivery.in_turn(self._handling, message.sender, functools.partial(self._handle, message, on_new_message))
            return response.json({"status": "received"})

        return whatsapp

    async def _handle(self, message: Incoming, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        assert self.replies is not None
        if not is_sender_id(message.sender):
            logger.warning("a WhatsApp message with a sender id of another shape was left out")
            return
        await self.replies.mark_read_and_typing(message.message_id)
        try:
            await self.window.saw(message.sender)
        except Exception as exc:
            logger.warning("WhatsApp: the customer's last message time could not be kept (%s)", type(exc).__name__)
        language = message_language(message.text)
        output = WhatsAppOutput(self.replies, language)
        if message.kind not in TEXT_TYPES:
            await output.send_text_message(message.sender, texts.in_every_language("channels.whatsapp.text_only", "\n\n"))
        elif is_too_long(message.text):
            await output.send_text_message(message.sender, too_long_answer(message.text))
        elif message.text.strip():
            logs.about(message.sender)
            try:
                await on_new_message(UserMessage(message.text, output, message.sender, input_channel=self.name(),
                                                 metadata={"whatsapp_message_id": message.message_id[:MAX_ROW_ID_CHARS]}))
            except Exception:
                logger.exception("a WhatsApp message could not be handled")
