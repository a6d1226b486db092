"""What Rasa's web server tells whoever asks, without a token: not its version, nor how a channel
that is off would be turned on.

Rasa 3.6 answers `GET /` with "Hello from Rasa: <version>", `GET /version` with the version and the
oldest model it loads, and puts the version in every error of its HTTP API (a 401 for a missing
token included): a stranger learns which known weaknesses to try. Rasa offers no setting for it, so
every channel of ours registers, through its blueprint, a listener that quietens the server before it
starts (Sanic 21.12 consults the app's middleware and error handlers per request):

- `GET /` answers "ok" (it stays a liveness check);
- `/version` answers Sanic's plain 404, as an address that does not exist (`pip show rasa` on the
  server, or its log, tells an operator the version);
- the API's errors keep their status, reason and message, without the version.

A channel that is off answers its webhook with `not_found()`: the same plain 404 as an address
that does not exist. Which settings turn it on is said in the server's log at start, not to callers.
"""
from __future__ import annotations

import sys
from asyncio import AbstractEventLoop
from typing import TYPE_CHECKING, NoReturn

from sanic import Blueprint, Sanic, response
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse

if TYPE_CHECKING:
    from rasa.server import ErrorResponse


def not_found(request: Request) -> NoReturn:
    """Sanic's own 404, word for word."""
    raise NotFound(f"Requested URL {request.path} not found")


async def _without_version(request: Request) -> HTTPResponse | None:
    if request.path == "/version":
        not_found(request)
    if request.path == "/" and request.method in ("GET", "HEAD"):
        return response.text("ok")
    return None


async def _error_without_version(_: Request, exception: ErrorResponse) -> HTTPResponse:
    return response.json({k: v for k, v in exception.error_info.items() if k != "version"}, status=exception.status)


def _quieten(app: Sanic, _: AbstractEventLoop) -> None:
    app.register_middleware(_without_version, "request")  # once, however many channels ask
    server = sys.modules.get("rasa.server")  # Rasa's HTTP API (not there when a test serves a channel alone)
    if server is not None:
        app.error_handler.add(server.ErrorResponse, _error_without_version)


def keep_the_version_private(blueprint: Blueprint) -> Blueprint:
    """The channel's blueprint, which quietens the whole server when it starts."""
    blueprint.listener("before_server_start")(_quieten)
    return blueprint
