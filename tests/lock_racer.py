"""One racer of tests/test_lock_store.py, a process of its own: takes one conversation's lock again and
again with the given lock store, and counts the turns that found another holder inside the lock.

    python tests/lock_racer.py ours|rasa REDIS_URL CONVERSATION TIMES

It says "ready" once connected, starts when the test sets the key `go` (so all racers start
together), and prints {"overlaps": n, "errors": n, "turns": n} as JSON."""
from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

import redis.asyncio as aioredis
from rasa.core.lock_store import LockError, RedisLockStore
from redis.connection import parse_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.lock_store import RedisConversationLockStore  # noqa: E402

# Both stores are called alike: a short ticket life and poll, so Rasa's store cannot stall the test for minutes.
LOCK_LIFETIME, POLL = 5, 0.01


async def race(kind: str, url: str, conversation: str, times: int) -> dict[str, int]:
    if kind == "ours":
        store = RedisConversationLockStore(url=url, wait_seconds=30)
    else:
        options = parse_url(url)
        store = RedisLockStore(host=options["host"], port=options["port"], db=options.get("db", 0))
    counter = aioredis.Redis.from_url(url)
    print("ready", flush=True)
    while not await counter.exists("go"):
        await asyncio.sleep(0.001)
    overlaps = errors = turns = 0
    for _ in range(times):
        try:
            async with store.lock(conversation, lock_lifetime=LOCK_LIFETIME, wait_time_in_seconds=POLL):
                if await counter.incr("holders") > 1:
                    overlaps += 1
                    await counter.incr("overlaps")  # seen by the test even if this racer stalls later
                await asyncio.sleep(random.uniform(0, 0.002))
                await counter.decr("holders")
                turns += 1
        except LockError:
            errors += 1
    return {"overlaps": overlaps, "errors": errors, "turns": turns}


if __name__ == "__main__":
    kind, url, conversation, times = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    print(json.dumps(asyncio.run(race(kind, url, conversation, times))), flush=True)
