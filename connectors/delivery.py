"""How the messaging channels (WhatsApp, Telegram, Teams) talk to their services and take their
webhooks: one set of rules for all three.

- **In order, in the background.** `Outbox.send(recipient, deliver)` runs `deliver` after that
  recipient's earlier deliveries, in a task of its own: neither the webhook nor Rasa's conversation
  lock waits for the remote API, and a customer's messages arrive in the order they were said.
- **Each call with a timeout** (`CALL_TIMEOUT_SECONDS`, well under Rasa's 60 s conversation lock).
- **A call is repeated only where a repeat cannot harm** (`call(..., idempotent=...)`):
  - a 429: the service says it did not take the call. It is repeated after the service's
    `Retry-After` (the header, or Telegram's `parameters.retry_after`) when that is at most
    `MAX_RETRY_AFTER_SECONDS`; a longer wait is not waited for;
  - a connection that failed before the request was sent (refused, no route, DNS, TLS): the service
    never saw it;
  - for an idempotent call only, also a 5xx, a timeout and a connection lost after sending. Marking a
    message read, getting a token and setting a webhook are idempotent. **Sending a message is not**:
    after a 5xx or a timeout it may still have been delivered, and a repeat would show the customer
    the same message twice. It is logged instead.
- **Failures a person sees**: a message that could not be delivered is logged at error level with the
  channel and the recipient's first characters (`Undelivered`).
- **Each incoming id once** (`SeenIds`: WhatsApp message ids, Telegram update ids, Teams activity ids),
  also when the service sends it again and across replicas: claimed with Redis `SET NX EX` when
  `CHANNEL_REDIS_URL` is set (every replica shares it). When Redis cannot be reached the claim raises,
  and the webhook answers 503 so the service sends it again later. Without a URL the ids are kept in
  this process only, a bounded number for a bounded time, and one warning line says so at start.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from sanic import response
from sanic.response import HTTPResponse

from bot import logs

logger = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 10.0
CALL_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.5  # before the 2nd attempt; doubled before the 3rd
MAX_RETRY_AFTER_SECONDS = 5.0  # a 429 asking to wait longer is not retried within the turn
REDIS_TIMEOUT_SECONDS = 2.0
KEPT_IN_PROCESS = 100_000  # incoming ids one process remembers without Redis


class Unavailable(Exception):
    """Whether an incoming id was seen cannot be told now (Redis unreachable): the webhook answers
    `try_again_later()`."""


def try_again_later() -> HTTPResponse:
    """503: the service keeps the message and sends it again later."""
    return response.json({"error": "unavailable", "reason": "try again later"}, status=503)


class Undelivered(Exception):
    """A message the service did not take; the reason is logged (it never holds a token)."""


@dataclass(frozen=True)
class Answer:
    """The service's last answer: its status (0 when none came) and its JSON body (None when not JSON)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def retry_after(reply: aiohttp.ClientResponse, body: Any) -> float | None:
    """The wait a 429 asks for: the Retry-After header's seconds, else Telegram's `parameters.retry_after`."""
    header = reply.headers.get("Retry-After", "")
    if header.strip().isdigit():
        return float(header)
    parameters = body.get("parameters") if isinstance(body, dict) else None
    wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return float(wait) if isinstance(wait, (int, float)) and not isinstance(wait, bool) else None


async def call(channel: str, url: str, *, idempotent: bool, json: Any = None, form: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> Answer:
    """POST to a service with a timeout, repeated only where the module's rules allow it. The URL
    (which may hold a token) is never logged."""
    answer = Answer(0, None)
    for attempt in range(1, CALL_ATTEMPTS + 1):
        wait = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_SECONDS)) as http:
                async with http.post(url, json=json, data=form, headers=headers) as reply:
                    try:
                        body = await reply.json(content_type=None)
                    except ValueError:
                        body = None
                    answer = Answer(reply.status, body)
                    asked = retry_after(reply, body) if reply.status == 429 else None
        except aiohttp.ClientConnectorError as exc:  # nothing was sent: always safe to repeat
            logger.warning("%s: the service could not be reached (%s), attempt %d of %d", channel, type(exc).__name__,
                           attempt, CALL_ATTEMPTS)
            answer = Answer(0, None)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # it may have been taken
            logger.warning("%s: no answer from the service (%s), attempt %d of %d%s", channel, type(exc).__name__, attempt,
                           CALL_ATTEMPTS, "" if idempotent else ", not repeated: it may have arrived")
            answer = Answer(0, None)
            if not idempotent:
                return answer
        else:
            if answer.status == 429:
                if asked is not None and asked > MAX_RETRY_AFTER_SECONDS:
                    logger.warning("%s: rate-limited for %.0f s, longer than a turn waits", channel, asked)
                    return answer
                wait = asked if asked is not None else wait
            elif answer.status < 500 or not idempotent:
                return answer
            logger.warning("%s: the service answered %d, attempt %d of %d", channel, answer.status, attempt, CALL_ATTEMPTS)
        if attempt < CALL_ATTEMPTS:
            await asyncio.sleep(wait)
    return answer


def shortened(channel: str, recipient: str) -> str:
    """How a log line names a recipient: their conversation's reference (bot/logs.py), never the id (a
    phone number, a chat id), nor a part of it."""
    return f"conversation {logs.reference(recipient)}"


class Outbox:
    """A channel's messages, sent in the background in order per recipient; what fails is logged."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._tails: dict[str, asyncio.Task[None]] = {}

    def send(self, recipient: str, deliver: Callable[[], Awaitable[Any]]) -> asyncio.Task[None]:
        """Run `deliver` after the recipient's earlier deliveries (also those that failed)."""
        return in_turn(self._tails, recipient, lambda: self._logged(recipient, deliver))

    async def _logged(self, recipient: str, deliver: Callable[[], Awaitable[Any]]) -> None:
        try:
            await deliver()
        except Undelivered as failure:
            logger.error("a %s message to %s was not delivered: %s", self.channel, shortened(self.channel, recipient), failure)
        except Exception:
            logger.exception("a %s message to %s was not delivered", self.channel, shortened(self.channel, recipient))


def in_turn(tails: dict[str, asyncio.Task[None]], key: str, job: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    """`job` in a background task that starts when the key's previous job (the tail) has ended."""
    previous = tails.get(key)

    async def after_the_previous() -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await job()

    task = asyncio.get_running_loop().create_task(after_the_previous())
    tails[key] = task
    task.add_done_callback(lambda done: tails.pop(key, None) if tails.get(key) is done else None)
    return task


def redis_client(url: str) -> Any:
    """An asyncio Redis client whose every command gives up after REDIS_TIMEOUT_SECONDS."""
    import redis.asyncio

    return redis.asyncio.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)


class Recent:
    """Keys with the time each was last put, in this process: at most KEPT_IN_PROCESS of them, none
    older than `lifetime_seconds`."""

    def __init__(self, lifetime_seconds: float) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._times: OrderedDict[str, float] = OrderedDict()

    def put(self, key: str, now: float) -> None:
        self._times[key] = now
        self._times.move_to_end(key)
        while len(self._times) > KEPT_IN_PROCESS or next(iter(self._times.values())) < now - self.lifetime_seconds:
            self._times.popitem(last=False)

    def get(self, key: str) -> float | None:
        return self._times.get(key)


class SeenIds:
    """The incoming ids a channel has taken: in Redis when a URL is set (shared by every replica), else
    in this process, at most KEPT_IN_PROCESS of them for `lifetime_seconds`."""

    def __init__(self, channel: str, redis_url: str, lifetime_seconds: int) -> None:
        self.channel, self.lifetime_seconds = channel, lifetime_seconds
        self.redis = redis_client(redis_url) if redis_url else None
        self._kept = Recent(lifetime_seconds)
        if self.redis is None:
            logger.warning("%s: incoming ids are remembered in this process only, so a message sent again is answered "
                           "once per replica; set CHANNEL_REDIS_URL when Rasa runs more than one", channel)

    async def first_time(self, incoming_id: str) -> bool:
        """True the first time the id is seen; `Unavailable` when that cannot be told."""
        if self.redis is not None:
            try:
                return bool(await self.redis.set(f"{self.channel}:seen:{incoming_id}", "1", nx=True, ex=self.lifetime_seconds))
            except Exception as exc:  # redis's errors, OSError, timeouts: the id's fate is unknown
                logger.error("%s: incoming ids cannot be claimed in Redis (%s): the service is asked to send again later",
                             self.channel, type(exc).__name__)
                raise Unavailable from exc
        if self._kept.get(incoming_id) is not None:
            return False
        self._kept.put(incoming_id, time.time())
        return True
