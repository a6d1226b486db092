"""The Rasa server's readiness, and its logs set up (bot/logs.py): a channel that takes no messages.

`GET /webhooks/health/ready` answers 200 `{"ready": true}` once the server has a model loaded (its
agent is ready), else 503. Rasa's own `GET /` answers while no model is loaded (liveness), and its
`/status` needs the API's token, which a probe should not hold.

Loaded from bot/credentials.yml as `connectors.health.HealthInput`, with no settings. When Rasa
creates it (at start, before the server runs) it sets up the process's logs (LOG_FORMAT,
`bot.logs.configure`), and once the server starts it gives each HTTP call a request id, and each call
of Rasa's HTTP API about a conversation (`/conversations/<id>/...`) that conversation's reference,
for the log lines written while the call is served.
"""
from __future__ import annotations

import os
from asyncio import AbstractEventLoop
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import logs
from chatprotocol import REQUEST_ID_HEADER, REQUEST_ID_SHAPE
from connectors.edge import keep_the_version_private

CONVERSATIONS = "/conversations/"


async def _call_context(request: Request) -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    logs.request_id.set(given if REQUEST_ID_SHAPE.fullmatch(given) else logs.new_request_id())
    logs.conversation.set(None)
    if request.path.startswith(CONVERSATIONS):
        conversation_id = unquote(request.path[len(CONVERSATIONS):].split("/", 1)[0])
        if conversation_id:
            logs.about(conversation_id)


def _on_start(app: Sanic, _: AbstractEventLoop) -> None:
    app.register_middleware(_call_context, "request")
    logs.warn_if_debug()


class HealthInput(InputChannel):
    """Readiness of the Rasa server (`GET /webhooks/health/ready`); no messages."""

    @classmethod
    def name(cls) -> str:
        return "health"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        logs.configure(os.environ)
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        health = keep_the_version_private(Blueprint(f"health_{type(self).__name__}"))
        health.listener("before_server_start")(_on_start)

        @health.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            agent = getattr(request.app.ctx, "agent", None)
            if agent is not None and agent.is_ready():
                return response.json({"ready": True})
            return response.json({"ready": False, "reason": "no model is loaded"}, status=503)

        return health
