"""What an operator watches, read from the database when asked: whether this back office can serve
(`Readiness`), and the figures of /metrics (`figures`, `DatabaseGauges`).

Every figure is counted in the shared database at the moment Prometheus scrapes, not kept in a
process: several back offices behind one load balancer all answer the same numbers. Each read of the
database is bounded (`Bounded`): a database that does not answer makes readiness 503 and /metrics
say `backoffice_database_up 0` within READINESS_TIMEOUT_SECONDS, instead of holding the probe.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ..handoff.rules import State as QueueState
from ..handoff.tables import QueueEntry
from ..requests.rules import DUE_SOON_DAYS, TaskState, local_date
from ..requests.service.privacy_team import deadline_conditions
from ..requests.tables import Request, SystemTask
from ..shared.database import SchemaNotCurrent, check_schema
from ..shared.dependencies import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")


class Bounded(Generic[T]):
    """A blocking call run in a thread of its own, waited for at most `timeout` seconds (TimeoutError
    after that). While a call that overran still runs, callers wait for that one instead of starting
    another: a hung database holds one thread, not one per probe."""

    def __init__(self, call: Callable[[], T], timeout: float, name: str) -> None:
        self.call, self.timeout, self.name = call, timeout, name
        self._lock = threading.Lock()
        self._running: Future[T] | None = None

    def __call__(self) -> T:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = Future()
                threading.Thread(target=self._run, args=(self._running,), daemon=True, name=self.name).start()
            running = self._running
        return running.result(self.timeout)

    def _run(self, future: Future[T]) -> None:
        try:
            future.set_result(self.call())
        except BaseException as exc:  # handed to whoever waits
            future.set_exception(exc)


def _timed_out(exc: Exception) -> bool:
    """The bound ran out, or the driver's own connect timeout did (psycopg's ConnectionTimeout, which may
    end a check a later probe is waiting on): either way the database did not answer."""
    return isinstance(exc, TimeoutError) or type(getattr(exc, "orig", None)).__name__ == "ConnectionTimeout"


@dataclass(frozen=True)
class NotReady:
    reason: str  # database_timeout | database_unreachable | schema_not_current
    detail: str


class Readiness:
    """Whether this back office can serve: its database answers, and its schema is at the migrations'
    head (`check_schema`, as at start). Asked again on every probe, so a database that comes back
    makes the back office ready without a restart."""

    def __init__(self, database_url: str, timeout: float) -> None:
        self.timeout = timeout
        self._check = Bounded(lambda: check_schema(database_url, connect_timeout=timeout), timeout, "readiness-check")
        self._last: NotReady | None = None

    def problem(self) -> NotReady | None:
        try:
            self._check()
            found = None
        except SchemaNotCurrent as exc:
            found = NotReady("schema_not_current", str(exc))
        except Exception as exc:  # the driver's own error names the host and user: only its type is said
            if _timed_out(exc):
                found = NotReady("database_timeout", f"the database did not answer within {self.timeout:g} s")
            else:
                found = NotReady("database_unreachable", f"the database cannot be reached ({type(exc).__name__})")
        if (found.reason if found else None) != (self._last.reason if self._last else None):
            if found:
                log.warning("not ready: %s", found.detail)
            else:
                log.info("ready again: the database answers and its schema is current")
        self._last = found
        return found


@dataclass(frozen=True)
class Figures:
    """The figures of /metrics that come from the database, at one moment."""

    tasks_pending: int
    tasks_failed: int
    oldest_pending_task_seconds: float
    requests_open: int
    requests_overdue: int
    requests_due_soon: int
    handoff_waiting: int
    handoff_longest_wait_seconds: float


def _seconds_since(then: dt.datetime | None, now: dt.datetime) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


def figures(session: Session, now: dt.datetime) -> Figures:
    undelivered = SystemTask.state.in_((TaskState.PENDING.value, TaskState.IN_PROGRESS.value))
    pending, failed, oldest = session.execute(select(
        func.count().filter(undelivered), func.count().filter(SystemTask.state == TaskState.FAILED.value),
        func.min(SystemTask.created_at).filter(undelivered),
    ).select_from(SystemTask)).one()
    is_open, overdue, due_soon = deadline_conditions(local_date(now))
    requests_open, requests_overdue, requests_due_soon = session.execute(select(
        func.count().filter(is_open), func.count().filter(overdue), func.count().filter(due_soon),
    ).select_from(Request)).one()
    waiting, longest = session.execute(select(func.count(), func.min(QueueEntry.created_at))
                                       .where(QueueEntry.state == QueueState.WAITING.value)).one()
    return Figures(
        tasks_pending=pending, tasks_failed=failed, oldest_pending_task_seconds=_seconds_since(oldest, now),
        requests_open=requests_open, requests_overdue=requests_overdue, requests_due_soon=requests_due_soon,
        handoff_waiting=waiting, handoff_longest_wait_seconds=_seconds_since(longest, now),
    )


# name, help, the figure it shows
GAUGES: tuple[tuple[str, str, Callable[[Figures], float]], ...] = (
    ("backoffice_outbox_tasks_pending", "System tasks not yet delivered to their company system (waiting, retrying or being delivered).",
     lambda f: f.tasks_pending),
    ("backoffice_outbox_tasks_failed", "System tasks that failed for good and wait for a privacy officer's retry.",
     lambda f: f.tasks_failed),
    ("backoffice_outbox_oldest_pending_task_age_seconds", "Seconds since the oldest undelivered system task was filed (0: none).",
     lambda f: f.oldest_pending_task_seconds),
    ("backoffice_privacy_requests_open", "Privacy requests not yet fulfilled, denied, canceled or expired.", lambda f: f.requests_open),
    ("backoffice_privacy_requests_overdue", "Open privacy requests past their due date (Amsterdam's day).", lambda f: f.requests_overdue),
    (f"backoffice_privacy_requests_due_within_{DUE_SOON_DAYS}_days", f"Open privacy requests due today or within {DUE_SOON_DAYS} days.",
     lambda f: f.requests_due_soon),
    ("backoffice_handoff_queue_waiting", "Chats waiting for an agent.", lambda f: f.handoff_waiting),
    ("backoffice_handoff_queue_longest_wait_seconds", "Seconds the longest-waiting chat has waited for an agent (0: none).",
     lambda f: f.handoff_longest_wait_seconds),
)
DATABASE_UP = "backoffice_database_up"


class DatabaseGauges:
    """A Prometheus collector of `GAUGES`, counted in the database at each scrape; when the database
    does not answer in time, only `backoffice_database_up 0`."""

    def __init__(self, sessions: sessionmaker, clock: Clock, timeout: float) -> None:
        def read() -> Figures:
            with sessions() as session:
                return figures(session, clock())

        self._read = Bounded(read, timeout, "metrics-figures")

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(DATABASE_UP, "1 when this scrape could count the figures in the database, else 0.")
        for name, documentation, _ in GAUGES:
            yield GaugeMetricFamily(name, documentation)

    def collect(self) -> Iterator[Metric]:
        try:
            found: Figures | None = self._read()
        except Exception as exc:  # the database is down or slow: say so, and leave the figures out
            log.warning("the figures of /metrics could not be counted (%s)", type(exc).__name__)
            found = None
        yield GaugeMetricFamily(DATABASE_UP, "1 when this scrape could count the figures in the database, else 0.",
                                value=1 if found else 0)
        if found is None:
            return
        for name, documentation, figure in GAUGES:
            yield GaugeMetricFamily(name, documentation, value=figure(found))
