"""The REST channel for the tests and the evaluation, behind a bearer token (Rasa's own `rest` channel
takes a message from anyone, for any sender id).

`POST /webhooks/rest/webhook` with `Authorization: Bearer <REST_CHANNEL_TOKEN>` and
`{"sender": "<id>", "message": "<text>", "metadata": {...}}` answers, as Rasa's channel does, with the
assistant's replies `[{"recipient_id": ..., "text": ...}, ...]`. What it adds:

- **Off without a token.** With `token` (REST_CHANNEL_TOKEN) empty the channel answers a plain 404,
  as an address that does not exist (its log says what turns it on); a set token must be at least
  32 characters. A missing or wrong token gets 401; tokens
  are compared in constant time.
- **Clean answers to malformed requests**: 400 with `{"error": ..., "reason": ...}` for an empty
  body, a body that is not a JSON object, a message or sender that is not a string, a sender id of
  another shape than `connectors.limits` allows, metadata that is not an object; 413 for a body or
  metadata over its limit. A message longer than `MAX_MESSAGE_CHARS` gets the "too long" answer
  (200) and never reaches the NLU pipeline.
- **Replies that come later.** REST cannot push: what a member of staff writes in a chat handed
  over to them is stored in the conversation, and `GET /webhooks/rest/webhook/messages?sender=<id>&after=<unix time>`
  (same token) answers with the assistant's and the agent's messages stored after that moment,
  `[{"recipient_id", "text", "timestamp"}, ...]`, oldest first; the client polls it while waiting.
- **The input channel is always `rest`** (Rasa's channel lets the body name any, `website`
  included), metadata keys starting with `_` (the server's own) and credential-looking keys are
  dropped, and `?stream=true` is not offered.

Registered in bot/credentials.yml as `connectors.rest.TokenRestInput` with `token: ${REST_CHANNEL_TOKEN}`.
"""
from __future__ import annotations

import hmac
import json
import logging
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import logs
from chatprotocol import Channel
from connectors.edge import keep_the_version_private, not_found
from connectors.limits import (
    MAX_REQUEST_BYTES,
    Refused,
    client_metadata,
    is_sender_id,
    is_too_long,
    too_long_answer,
    well_formed_text,
)

logger = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 32
MAX_LATER_MESSAGES = 100
BEARER = "bearer "


def refusal(status: int, error: str, reason: str) -> HTTPResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="rest"'} if status == 401 else None
    return response.json({"error": error, "reason": reason}, status=status, headers=headers)


class TokenRestInput(InputChannel):
    """Rasa's REST channel, for callers holding the channel's token only."""

    @classmethod
    def name(cls) -> str:
        return Channel.REST.value

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(token=(credentials or {}).get("token"))

    def __init__(self, token: str | None = None) -> None:
        self.token = (token or "").strip()
        if self.token and len(self.token) < MIN_TOKEN_CHARS:
            raise ValueError(f"REST_CHANNEL_TOKEN must be at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 24`)")
        if not self.token:
            logger.info("the REST channel is off (REST_CHANNEL_TOKEN is not set)")

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith(BEARER):
            return False
        offered = header[len(BEARER):].strip().encode("utf-8", "surrogateescape")
        return hmac.compare_digest(offered, self.token.encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest = keep_the_version_private(Blueprint(f"rest_webhook_{type(self).__name__}"))

        @rest.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.token else "off"})

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.token:
                not_found(request)
            if not self.authorised(request):
                return refusal(401, "unauthorised", "send the channel's token as 'Authorization: Bearer <token>'")
            try:
                sender, text, metadata = self._read(request.body or b"")
            except Refused as refused:
                return refusal(refused.status, "bad_request" if refused.status == 400 else "too_large", refused.reason)
            logs.about(sender)  # this task's log lines name the conversation by its reference
            if is_too_long(text):
                logger.info("REST message of %d characters answered as too long", len(text))
                return response.json([{"recipient_id": sender, "text": too_long_answer(text, metadata.get("language"))}])
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata))
            except CancelledError:
                logger.error("a REST message timed out")
            except Exception:
                logger.exception("a REST message could not be handled")
            return response.json(collector.messages)

        @rest.route("/webhook/messages", methods=["GET"])
        async def later_messages(request: Request) -> HTTPResponse:
            if not self.token:
                not_found(request)
            if not self.authorised(request):
                return refusal(401, "unauthorised", "send the channel's token as 'Authorization: Bearer <token>'")
            sender = request.args.get("sender") or ""
            if not is_sender_id(sender):
                return refusal(400, "bad_request", "'sender' must be a sender id as in POST /webhooks/rest/webhook")
            try:
                after = float(request.args.get("after") or 0)
            except ValueError:
                return refusal(400, "bad_request", "'after' must be a Unix time in seconds")
            tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
            said = [{"recipient_id": sender, "text": e.text, "timestamp": e.timestamp}
                    for e in (tracker.events if tracker else []) if isinstance(e, BotUttered) and e.text and e.timestamp > after]
            return response.json(said[-MAX_LATER_MESSAGES:])

        return rest

    @staticmethod
    def _read(body: bytes) -> tuple[str, str, dict[str, Any]]:
        """(sender, message, metadata) of a request body; `Refused` with the reason otherwise."""
        if len(body) > MAX_REQUEST_BYTES:
            raise Refused(f"the body must be at most {MAX_REQUEST_BYTES} bytes", 413)
        if not body.strip():
            raise Refused("the body is empty: send a JSON object with 'sender' and 'message'")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise Refused("the body is not JSON") from None
        if not isinstance(data, dict):
            raise Refused("the body must be a JSON object with 'sender' and 'message'")
        sender, text = data.get("sender"), data.get("message")
        if not isinstance(text, str):
            raise Refused("'message' must be a string")
        if not isinstance(sender, str):
            raise Refused("'sender' must be a string")
        if not is_sender_id(sender):
            raise Refused("'sender' must be 1 to 128 letters, digits and _ . : @ + = -, starting with a letter, digit or +")
        return sender, well_formed_text(text), client_metadata(data.get("metadata"))
