"""Throttle in front of the staff console's sign-in: wrong passwords slow a guesser down without locking staff out for long.
(Each account also locks itself after 10 wrong passwords: `rules`.)

Failed logins are counted per client address and per user name, each over FAILURE_WINDOW (a
quiet window forgets them). From the FREE_FAILURES-th failure on, that key is locked: a login
from it gets 429 with `Retry-After` and its password is not even checked, and each further failure
doubles the lock.
- A client address is locked from 30 seconds up to 15 minutes: one source guesses at most a few
  passwords an hour.
- A user name is locked after twice as many failures, from anywhere, and for 30 to 60 seconds
  only: a stranger guessing from many addresses gets about one guess a minute, and the real person
  waits at most a minute at a time (the trade-off: during such an attack they may have to wait).
A successful login clears both. Counts live in this process (the back office runs one); they are
bounded to MAX_TRACKED keys, the stalest dropped first. Behind a reverse proxy every request comes
from the proxy's address, so the per-address limit becomes one for everyone.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5
FAILURE_WINDOW = 15 * 60.0
MAX_TRACKED = 10_000


@dataclass(frozen=True)
class Limit:
    free_failures: int
    first_lock: float
    longest_lock: float


ADDRESS = Limit(FREE_FAILURES, 30.0, 15 * 60.0)
USER = Limit(2 * FREE_FAILURES, 30.0, 60.0)


@dataclass
class _Failures:
    count: int
    last_at: float
    locked_until: float


class LoginThrottle:
    """`retry_after(address, user)`: seconds to wait, or None; then `failed(...)` or `succeeded(...)`.
    `clock` gives seconds (any origin) and is the only notion of time here."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def _keys(self, address: str, user: str) -> tuple[tuple[tuple[str, str], Limit], ...]:
        return (("address", address[:100]), ADDRESS), (("user", user[:100]), USER)

    def retry_after(self, address: str, user: str) -> int | None:
        """Whole seconds until a login from this address for this user name is checked again; None: now."""
        now = self._clock()
        with self._lock:
            waits = [found.locked_until - now for key, _ in self._keys(address, user)
                     if (found := self._failures.get(key)) is not None and found.locked_until > now]
        return math.ceil(max(waits)) if waits else None

    def failed(self, address: str, user: str) -> None:
        now = self._clock()
        with self._lock:
            for key, limit in self._keys(address, user):
                found = self._failures.get(key)
                if found is None or now - found.last_at > FAILURE_WINDOW:
                    found = self._failures[key] = _Failures(0, now, now)
                found.count += 1
                found.last_at = now
                if found.count >= limit.free_failures:
                    lock = limit.first_lock * 2 ** min(found.count - limit.free_failures, 16)
                    found.locked_until = now + min(lock, limit.longest_lock)
            self._forget_stalest()

    def succeeded(self, address: str, user: str) -> None:
        with self._lock:
            for key, _ in self._keys(address, user):
                self._failures.pop(key, None)

    def _forget_stalest(self) -> None:
        if len(self._failures) > MAX_TRACKED:
            for key, _ in sorted(self._failures.items(), key=lambda item: item[1].last_at)[: len(self._failures) - MAX_TRACKED]:
                del self._failures[key]
