"""The back office's logs, set up in one place for the web process and the worker (`configure`).

LOG_FORMAT=json writes one JSON object per line: `time` (UTC, ISO 8601), `level`, `logger`, `message`,
and, where known, `request_id` (the call's, also answered as X-Request-ID) and `conversation` (a
keyed hash of the conversation's id, chatprotocol's `conversation_reference`); LOG_FORMAT=text (the
default, for a terminal) the same in one readable line. A log line never holds what a customer
typed, an e-mail address, a name, a one-time code or a conversation's id (on WhatsApp: a phone
number): where a line is about a conversation it names `reference(conversation_id)`.

`RequestContext` is the ASGI middleware that gives each call its request id (the caller's
X-Request-ID when it is in chatprotocol's shape, as the action server sends it, else a new one) and
its conversation: the caller's X-Conversation-Ref, or the reference of the route's `conversation_id`.
"""
from __future__ import annotations

import logging
import secrets
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatprotocol import (
    CONVERSATION_REF_HEADER,
    CONVERSATION_REF_SHAPE,
    REQUEST_ID_HEADER,
    REQUEST_ID_SHAPE,
    conversation_reference,
)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines name whole addresses (a CRM lookup's query holds the e-mail address) or
# every call: only their warnings are kept.
QUIET = ("httpx2", "httpx", "httpcore", "uvicorn.access", "multipart", "aiosmtpd", "mail.log")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_conversation: ContextVar[str | None] = ContextVar("conversation", default=None)
_scope: ContextVar[Scope | None] = ContextVar("scope", default=None)
_key = secrets.token_hex(32)  # until `configure` gives the service token: references then hold within this process


def reference(conversation_id: str) -> str:
    """How a log line names a conversation (never by its id)."""
    return conversation_reference(conversation_id, _key)


def new_request_id() -> str:
    return secrets.token_hex(8)


class Context(logging.Filter):
    """Puts the current call's request id and conversation reference on every record (when known)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        conversation = _conversation.get() or _route_conversation()
        if conversation and not hasattr(record, "conversation"):
            record.conversation = conversation
        return True


def _route_conversation() -> str | None:
    scope = _scope.get()
    conversation_id = (scope or {}).get("path_params", {}).get("conversation_id")
    return reference(conversation_id) if isinstance(conversation_id, str) and conversation_id else None


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter("%(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level", "name": "logger"},
                             timestamp="time", json_ensure_ascii=False)
    return logging.Formatter(TEXT_FORMAT)


def configure(log_format: str, reference_key: str = "", level: int = logging.INFO) -> None:
    """One handler on the root logger, to standard error, in `log_format` ("json" or "text");
    `reference_key` keys the conversation references (the service token, as the action server's)."""
    global _key
    if reference_key:
        _key = reference_key
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(Context())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


class RequestContext:
    """Each HTTP call's request id and conversation, for the log lines written while it is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get(REQUEST_ID_HEADER.lower(), "")
        request_id = given if REQUEST_ID_SHAPE.fullmatch(given) else new_request_id()
        ref = headers.get(CONVERSATION_REF_HEADER.lower(), "")
        request_token = _request_id.set(request_id)
        conversation_token = _conversation.set(ref if CONVERSATION_REF_SHAPE.fullmatch(ref) else None)
        scope_token = _scope.set(scope)

        async def answered(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, answered)
        finally:
            _request_id.reset(request_token)
            _conversation.reset(conversation_token)
            _scope.reset(scope_token)
