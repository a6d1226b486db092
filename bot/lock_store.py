"""A conversation lock that holds across Rasa processes: one turn of a conversation at a time, on Redis.

Rasa serialises the turns of one conversation with its lock store (`async with lock_store.lock(id)`
in the processor, the agent and the HTTP API). Rasa 3.6's `RedisLockStore` reads the lock's ticket
list, adds a ticket and writes it back, so two processes can both take the lock (seen here: two
holders at once in 2 of 5 runs of two processes, and `LockError`s); its keys never expire and its
client blocks the event loop.

Here a lock is one Redis key, taken with `SET key owner NX PX lease` (atomic) and given back by a
script that deletes it only for its owner. While a turn runs, its holder renews the lease every
third of it, so a turn may take as long as the longest action call and a crashed holder frees the
conversation within one lease. Waiters of one process queue behind an `asyncio.Lock` (arrival order
kept), and one of them at a time polls Redis. The client is `redis.asyncio`, made in the event loop
that uses it (each Sanic worker has its own).

    lock_store:
      type: bot.lock_store.RedisConversationLockStore
      url: redis://:password@redis:6379/0   # or `url: host` with `port`, `db`, `password`
      lease_seconds: 20                     # how soon a crashed holder's lock is free again
      wait_seconds: 330                     # longer than the longest turn (Rasa's action timeout is 300 s)
"""
from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot import logs

logger = logging.getLogger(__name__)

# Delete or extend the key only while it still holds this owner's token.
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"

POLL_SECONDS = (0.005, 0.05)  # a waiter's pause between tries, from the first to the longest
CALL_TIMEOUT_SECONDS = 5.0


class RedisConversationLockStore(LockStore):
    """Rasa's `LockStore`, atomic on Redis: `lock(conversation_id)` is all Rasa 3.6 calls."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, *, url: str = "redis://localhost:6379/0",
                 lease_seconds: float = 20.0, wait_seconds: float = 330.0, key_prefix: str = "lock:") -> None:
        options: dict[str, Any] = dict(endpoint_config.kwargs) if endpoint_config else {}
        if endpoint_config and endpoint_config.url:
            url = endpoint_config.url
        if "://" not in url:  # `url: host` with port, db and password beside it, as Rasa's own Redis stores take them
            password = options.pop("password", None)
            credentials = f":{password}@" if password else ""
            url = f"redis://{credentials}{url}:{options.pop('port', 6379)}/{options.pop('db', 0)}"
        self.url = url
        self.lease_ms = int(float(options.pop("lease_seconds", lease_seconds)) * 1000)
        self.wait_seconds = float(options.pop("wait_seconds", wait_seconds))
        self.key_prefix = str(options.pop("key_prefix", key_prefix))
        if self.lease_ms < 1000 or self.wait_seconds <= 0:
            raise ValueError("lease_seconds must be at least 1 and wait_seconds above 0")
        self._clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}
        self._waiting: dict[str, tuple[asyncio.Lock, int]] = {}

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = aioredis.Redis.from_url(self.url, socket_timeout=CALL_TIMEOUT_SECONDS,
                                                          socket_connect_timeout=CALL_TIMEOUT_SECONDS)
        return self._clients[loop]

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncIterator[TicketLock]:
        """Hold the conversation's lock for the `async with` block, or raise `LockError` after `wait_seconds`.

        Rasa's `lock_lifetime` and `wait_time_in_seconds` are taken and not used: the lease is renewed
        while the block runs, and waiting is bounded by `wait_seconds`."""
        local, users = self._waiting.get(conversation_id, (asyncio.Lock(), 0))
        self._waiting[conversation_id] = (local, users + 1)
        try:
            async with local:
                key, token = self.key_prefix + conversation_id, secrets.token_hex(16)
                await self._acquire(key, token, conversation_id)
                renewing = asyncio.create_task(self._renew(key, token, conversation_id))
                try:
                    yield TicketLock(conversation_id)
                finally:
                    renewing.cancel()
                    await self._release(key, token, conversation_id)
        finally:
            local, users = self._waiting[conversation_id]
            if users == 1:
                del self._waiting[conversation_id]
            else:
                self._waiting[conversation_id] = (local, users - 1)

    async def _acquire(self, key: str, token: str, conversation_id: str) -> None:
        client, deadline, pause = self._client(), time.monotonic() + self.wait_seconds, POLL_SECONDS[0]
        while True:
            try:
                if await client.set(key, token, nx=True, px=self.lease_ms):
                    return
            except aioredis.RedisError as error:
                raise LockError(f"The lock store could not be reached for conversation '{conversation_id}': {error}") from error
            if time.monotonic() >= deadline:
                raise LockError(f"Conversation '{conversation_id}' stayed locked for {self.wait_seconds:g} s.")
            await asyncio.sleep(random.uniform(pause / 2, pause))  # noqa: S311 (jitter, not a secret)
            pause = min(pause * 2, POLL_SECONDS[1])

    async def _renew(self, key: str, token: str, conversation_id: str) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                if not await self._client().eval(RENEW, 1, key, token, self.lease_ms):
                    logger.error("The lock of conversation %s was lost while a turn ran (its lease ran out).",
                                 logs.reference(conversation_id))
                    return
            except aioredis.RedisError as error:
                logger.warning("The lock of conversation %s could not be renewed: %s", logs.reference(conversation_id), error)

    async def _release(self, key: str, token: str, conversation_id: str) -> None:
        try:
            await self._client().eval(RELEASE, 1, key, token)
        except aioredis.RedisError as error:  # the lease ends it anyway
            logger.warning("The lock of conversation %s could not be given back (free again within the lease): %s",
                           logs.reference(conversation_id), error)
