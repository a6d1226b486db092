"""The action server as the assistant runs it: rasa_sdk's own app, private and distrustful.

The action server receives whole conversations and answers with a customer's data, so it only takes
requests from the Rasa server (docs/architecture.md, "What Rasa 3.6 gives and lacks"):

- it listens on ACTIONS_HOST, 127.0.0.1 unless told otherwise (a private address in a deployment
  of several machines, never a public one);
- every request but the probes' and the scraper's (`GET /health`, `/health/ready`, `/metrics`, below)
  must carry `X-Action-Token: <ACTION_SERVER_TOKEN>`, the secret
  Rasa sends through `bot/endpoints.yml` (`action_endpoint.headers`); it is compared in constant
  time; missing: 401, wrong: 403, and no action runs;
- a body over ACTION_SERVER_MAX_BODY_BYTES is refused with 413, also once inflated when Rasa
  compresses it (COMPRESS_ACTION_SERVER_REQUEST); a body that is not an action call gets 400;
- a wrong method or path gets its HTTP answer (405, 404), not rasa_sdk's 500.

What an operator watches (docs/operations.md), without the token: `GET /health` answers while the
process serves (liveness); `GET /health/ready` answers 200 when the back office answers its own
readiness (`GET <BACKOFFICE_URL>/health/ready`, within 2 s), else 503; `GET /metrics` has each
action's latency and its failed calls of the back office, by action name (actions/metrics.py). They
are open because they say nothing of any conversation, and a scraper given the token could run
actions with a forged conversation; the action server's network stays private all the same.
Each action call's log lines carry a request id and the conversation's reference (bot/logs.py).

Run it with `python -m actions.server` from the project root (`scripts/stack.py` does). Without a
real secret (unset, a `change-me` placeholder, shorter than 32 characters) it refuses to start.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import sys
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import metrics
from bot import logs

log = logging.getLogger("actions.server")

TOKEN_HEADER = "X-Action-Token"
MIN_TOKEN_LENGTH = 32
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
# A whole conversation's events travel in every call; 16 MB holds thousands of turns.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
OPEN_PATHS = frozenset({"/health", "/health/ready", "/metrics"})
# How long /health/ready waits for the back office's own readiness.
BACKOFFICE_READY_SECONDS = 2.0
# How long a connection may wait for its call. Sanic's 5 s default also closed a fresh connection a
# busy Rasa had not written to yet, and Rasa lost that turn's answer; Rasa opens one per call.
KEEP_ALIVE_SECONDS = 60


class SettingError(ValueError):
    """A setting that keeps the action server from starting, said in one sentence."""


@dataclass(frozen=True)
class ServerSettings:
    token: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    backoffice_url: str = "http://localhost:8000"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServerSettings:
        token = env.get("ACTION_SERVER_TOKEN", "")
        if not token or token.startswith("change-me"):
            raise SettingError("ACTION_SERVER_TOKEN is not set (or still the change-me placeholder): "
                               "set it to a random secret, e.g. `openssl rand -hex 24`, the same for Rasa and the action server")
        if len(token) < MIN_TOKEN_LENGTH:
            raise SettingError(f"ACTION_SERVER_TOKEN must be at least {MIN_TOKEN_LENGTH} characters "
                               "(e.g. `openssl rand -hex 24`)")
        service_token = env.get("BACKOFFICE_SERVICE_TOKEN", "")
        if not service_token or service_token.startswith("change-me"):
            raise SettingError("BACKOFFICE_SERVICE_TOKEN is not set (or still the change-me placeholder): the actions "
                               "call the back office with it; set the back office's own token")
        try:
            port = int(env.get("ACTIONS_PORT") or DEFAULT_PORT)
            max_body = int(env.get("ACTION_SERVER_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
        except ValueError:
            raise SettingError("ACTIONS_PORT and ACTION_SERVER_MAX_BODY_BYTES must be whole numbers") from None
        if max_body < 1024:
            raise SettingError("ACTION_SERVER_MAX_BODY_BYTES must be at least 1024")
        return cls(token=token, host=env.get("ACTIONS_HOST") or DEFAULT_HOST, port=port, max_body_bytes=max_body,
                   backoffice_url=(env.get("BACKOFFICE_URL") or "http://localhost:8000").rstrip("/"))


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> HTTPResponse:
    return response.json({"error": message}, status=status, headers=dict(headers or {}))


def read_action_call(request: Request, max_body_bytes: int) -> object:
    """The request's JSON, inflated first when Rasa compressed it, never beyond `max_body_bytes`."""
    if request.headers.get("Content-Encoding") == "deflate":
        inflater = zlib.decompressobj()
        try:
            body = inflater.decompress(request.body, max_body_bytes)
        except zlib.error:
            raise SanicException("the body is not valid deflate data", status_code=400) from None
        if inflater.unconsumed_tail:
            raise SanicException(f"the inflated body is over the limit of {max_body_bytes} bytes", status_code=413)
    else:
        body = request.body
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SanicException("the body is not JSON", status_code=400) from None


def is_action_call(call: object) -> bool:
    return isinstance(call, dict) and isinstance(call.get("next_action"), str) and isinstance(call.get("tracker"), dict)


def build_app(settings: ServerSettings, actions_package: str = "actions") -> Sanic:
    """rasa_sdk's app for `actions_package`, with the token check, the body limit and honest errors."""
    app = create_app(actions_package, cors_origins=None)  # no browser has any business here
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_SECONDS
    expected = settings.token.encode()
    action_names = registered_actions(actions_package)

    @app.middleware("request")
    async def only_from_rasa(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(TOKEN_HEADER)
        if not given:
            return error(401, f"the {TOKEN_HEADER} header is required")
        if not hmac.compare_digest(given.encode(), expected):
            return error(403, f"the {TOKEN_HEADER} header is not the action server's token")
        # Sanic also runs this middleware for a request it refused while reading the body: say why.
        if (getattr(request.stream, "request_bytes", 0) or 0) > settings.max_body_bytes:
            return error(413, f"the body is over the limit of {settings.max_body_bytes} bytes")
        if request.method == "POST" and request.path == "/webhook":
            call = read_action_call(request, settings.max_body_bytes)
            if not is_action_call(call):
                return error(400, "the body is not an action call (an object with next_action and tracker)")
            assert isinstance(call, dict)
            start_call(request, call, action_names)
        return None

    @app.middleware("response")
    async def timed(request: Request, _response: HTTPResponse) -> None:
        started = getattr(request.ctx, "started", None)
        if started is not None:
            metrics.action_seconds.labels(request.ctx.action).observe(time.perf_counter() - started)

    @app.get("/health/ready")
    async def ready(_request: Request) -> HTTPResponse:
        problem = await backoffice_not_ready(settings.backoffice_url)
        if problem:
            return response.json({"ready": False, "reason": problem}, status=503)
        return response.json({"ready": True})

    @app.get("/metrics")
    async def scrape(_request: Request) -> HTTPResponse:
        return response.raw(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)

    @app.exception(SanicException)
    async def http_error(_request: Request, exception: SanicException) -> HTTPResponse:
        """Sanic's own refusals (405, 404, 413, 400) keep their status; rasa_sdk's handler would say 500."""
        return error(exception.status_code, str(exception), getattr(exception, "headers", None))

    return app


def registered_actions(actions_package: str) -> frozenset[str]:
    """The names of the actions rasa_sdk's app runs (the metrics' labels), found as it finds them, without
    its log lines a second time."""
    executor_log = logging.getLogger("rasa_sdk.executor")
    level = executor_log.level
    executor_log.setLevel(logging.WARNING)
    try:
        known = ActionExecutor()
        known.register_package(actions_package)
    finally:
        executor_log.setLevel(level)
    return frozenset(known.actions)


def start_call(request: Request, call: dict, action_names: frozenset[str]) -> None:
    """The call's request id, conversation reference and action, for its log lines, its back-office
    calls and its latency (an action this server does not have is "unknown": a label is never what a
    caller made up)."""
    action = call["next_action"] if call["next_action"] in action_names else metrics.UNKNOWN
    request.ctx.action, request.ctx.started = action, time.perf_counter()
    metrics.running.set(action)
    logs.request_id.set(logs.new_request_id())
    sender = call["tracker"].get("sender_id")
    logs.conversation.set(logs.reference(sender) if isinstance(sender, str) and sender else None)


async def backoffice_not_ready(backoffice_url: str) -> str | None:
    """Why the back office is not ready (None: it is): its /health/ready, within BACKOFFICE_READY_SECONDS."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BACKOFFICE_READY_SECONDS)) as session:
            async with session.get(f"{backoffice_url}/health/ready") as answer:
                if answer.status == 200:
                    return None
                return f"the back office is not ready (it answered {answer.status})"
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # not the built-in TimeoutError before Python 3.11
        return f"the back office does not answer ({type(exc).__name__})"


def main() -> int:
    utils.configure_colored_logging("INFO")
    utils.update_sanic_log_level()
    try:
        logs.configure(os.environ)
    except ValueError as exc:
        print(f"the action server does not start: {exc}", file=sys.stderr)
        return 2
    try:
        settings = ServerSettings.from_env(os.environ)
    except SettingError as exc:
        print(f"the action server does not start: {exc}", file=sys.stderr)
        return 2
    app = build_app(settings)
    log.info("action server on http://%s:%s (requests need %s)", settings.host, settings.port, TOKEN_HEADER)
    app.run(host=settings.host, port=settings.port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
