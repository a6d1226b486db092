"""The logs of the assistant's processes, set up in one place for the Rasa server (by the health
channel, connectors/health.py, when Rasa loads bot/credentials.yml) and the action server
(actions/server.py).

LOG_FORMAT=json writes one JSON object per line, as the back office does: `time` (UTC, ISO 8601),
`level`, `logger`, `message`, and where known `request_id` (the action call's, sent on to the back
office as X-Request-ID) and `conversation`: a keyed hash of the conversation's id
(chatprotocol's `conversation_reference`, keyed with BACKOFFICE_SERVICE_TOKEN as on the back
office), never the id itself, which on WhatsApp is the customer's phone number. LOG_FORMAT=text (the
default) leaves Rasa's and rasa_sdk's own readable lines as they are.

Our own log lines never hold what a customer typed, an e-mail address, a name or a code. Rasa's own
loggers hold message texts at DEBUG: run them at INFO (LOG_LEVEL, Rasa's own setting; scripts/stack.py
sets it), and `warn_if_debug` says so in the log when they are not.
"""
from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Mapping
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from chatprotocol import conversation_reference

# Sanic's loggers do not pass their lines on to the root logger (Rasa and rasa_sdk turn that off).
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access")
# urllib3 (under `requests`, the actions' client of the back office) names the path of a call it
# retries, and a path holds the conversation's id: only its errors are kept.
QUIET = ("urllib3",)

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
conversation: ContextVar[str | None] = ContextVar("conversation", default=None)
_key = os.environ.get("BACKOFFICE_SERVICE_TOKEN", "") or secrets.token_hex(32)


def reference(conversation_id: str) -> str:
    """How a log line names a conversation: the same reference the back office's lines give it."""
    return conversation_reference(conversation_id, _key)


def about(conversation_id: str) -> str:
    """From here on in this task, log lines are about this conversation; its reference."""
    ref = reference(conversation_id)
    conversation.set(ref)
    return ref


def new_request_id() -> str:
    return secrets.token_hex(8)


class Context(logging.Filter):
    """Puts the current call's request id and conversation reference on every record (when known)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("conversation", conversation)):
            value = var.get()
            if value and not hasattr(record, name):
                setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter("%(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level", "name": "logger"},
                         timestamp="time", json_ensure_ascii=False)


def configure(env: Mapping[str, str]) -> str:
    """LOG_FORMAT for this process; returns it. "json": one handler, on the root logger and Sanic's,
    writing JSON to standard error; "text": the handlers Rasa or rasa_sdk set up stay, each given the
    context of the call."""
    global _key
    _key = env.get("BACKOFFICE_SERVICE_TOKEN", "") or _key
    log_format = (env.get("LOG_FORMAT") or "text").strip().lower()
    if log_format not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT must be json or text, not {log_format[:20]!r}")
    root = logging.getLogger()
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(json_formatter())
        root.handlers[:] = [handler]
        for name in SANIC_LOGGERS:
            logging.getLogger(name).handlers[:] = [handler]
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.ERROR)
    for each in {*root.handlers, *(h for name in SANIC_LOGGERS for h in logging.getLogger(name).handlers)}:
        if not any(isinstance(f, Context) for f in each.filters):
            each.addFilter(Context())
    return log_format


def warn_if_debug() -> None:
    """Rasa's own loggers print what customers type at DEBUG: say so where an operator reads it."""
    if logging.getLogger("rasa").getEffectiveLevel() <= logging.DEBUG:
        logging.getLogger(__name__).warning("Rasa logs at DEBUG: its lines then hold what customers type; run it at INFO "
                                            "(LOG_LEVEL=INFO) wherever customers chat")
