"""The outbox worker: delivers every system task to its company system, exactly once, however often it fails.

One pass (`Worker.run_once`) does, for each task that is due:

1. **claim** it with a lease: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` then an UPDATE;
   on SQLite the same conditional UPDATE (`... WHERE locked_until IS NULL OR locked_until <= now`)
   inside a write-locked transaction. Several workers never hold the same task at once, and a task
   whose worker died becomes due again when its lease runs out.
2. **deliver** it, outside any database transaction, with `Idempotency-Key: <task.idempotency_key>`
   and a timeout. The company system stores the key with the action, so delivering a task again
   (after a crash, a lost answer, an expired lease) replays the first answer and does nothing twice.
   The "assistant" system is the back office itself: its tasks (the chat transcripts in Rasa's
   tracker store) are carried out here, in-process (`my_data.service.carry_out`), and are idempotent
   by nature: erasing again finds nothing left to delete.
3. **record** the outcome in one transaction: done (with the system's answer and an audit entry), or
   a retry at `requests.rules.next_backoff` (never before the system's `Retry-After`), or failed
   for good after the last attempt (`requests.rules.record_failure`): failed tasks stay visible,
   they are never dropped. When the last task of a request is done, the request moves to
   `fulfilled` (`requests.rules.transition`, with its audit entry) in that same transaction.

Run it with `python -m backoffice worker` (loops, polling every WORKER_POLL_SECONDS) or
`python -m backoffice worker --once` (delivers what is due, then exits). Between passes it also
tells customers of verification codes that went unused (`identity.service.CodeNotices`, every NOTICE_SWEEP_SECONDS).
"""
from __future__ import annotations

import datetime as dt
import email.utils
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from . import catalogue
from .catalogue import ASSISTANT
from .identity.service import NOTICE_SWEEP_SECONDS, CodeNotices, SmtpConfig
from .my_data.service import carry_out
from .requests.rules import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    MAX_ATTEMPTS,
    AuditEntry,
    TaskState,
    next_backoff,
    record_done,
    record_failure,
    request_fulfilled,
    transition,
)
from .requests.tables import Request, SystemTask, append_audit
from .settings import Settings
from .shared.company_systems import CompanySystems
from .shared.tracker_store import TrackerStore, TranscriptsUnavailable
from .vocabulary import Status

if TYPE_CHECKING:
    from .objections.service import OutcomeNotices

log = logging.getLogger(__name__)

METHODS = {"export": "GET", "erase": "POST", "restrict": "POST", "rectify": "POST", "preferences": "PUT", "stop_processing": "POST"}
TRANSIENT = {408, 425, 429, 500, 502, 503, 504, 401, 403}  # worth another try (401/403: a token being rotated)
MAX_RETRY_AFTER = dt.timedelta(days=1)
ERROR_LIMIT = 500
ACTOR = "system:outbox"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class WorkerConfig:
    variables: Mapping[str, str]  # what the system catalogue's ${...} read: where the systems are, their tokens
    catalogue_file: Path = catalogue.DEFAULT_FILE
    timeout: float = 5.0  # seconds per call; well under the assistant's 60 s conversation lock
    lease: float = 30.0  # seconds a claimed task stays ours; longer than a call may take
    max_attempts: int = MAX_ATTEMPTS
    backoff_base: float = BACKOFF_BASE.total_seconds()
    backoff_cap: float = BACKOFF_CAP.total_seconds()
    poll_interval: float = 1.0
    tracker_url: str | None = None  # Rasa's tracker store, for the assistant's own tasks

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.lease <= 0 or self.backoff_base <= 0 or self.backoff_cap < self.backoff_base:
            raise ValueError("timeout, lease and backoff must be positive, and the cap at least the base")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.lease <= self.timeout:
            raise ValueError("the lease must outlast a call (lease > timeout), or a second worker could take a task in flight")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WorkerConfig:
        values: dict[str, Any] = dict(
            variables=settings.catalogue_variables(), catalogue_file=settings.catalogue_file,
            timeout=settings.worker_timeout_seconds, lease=settings.worker_lease_seconds,
            max_attempts=settings.worker_max_attempts, backoff_base=settings.worker_backoff_base_seconds,
            backoff_cap=settings.worker_backoff_cap_seconds, poll_interval=settings.worker_poll_seconds,
            tracker_url=settings.tracker_url,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class Claim:
    """A task this worker holds until `locked_until`, with what it needs to call the system."""

    task_id: int
    request_id: str
    customer_id: str
    system: str
    operation: str
    payload: dict | None
    idempotency_key: str
    locked_until: dt.datetime


@dataclass(frozen=True)
class Delivery:
    """What the company system answered (or why no answer came)."""

    ok: bool
    status: int | None = None
    body: dict | None = None
    error: str | None = None
    retry_after: dt.timedelta | None = None
    permanent: bool = False  # retrying cannot help (unknown customer, invalid request)
    replayed: bool = False  # the system had done it before and replayed its stored answer


@dataclass
class RunReport:
    done: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    tasks: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.done + self.retried + self.failed + self.skipped


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> dt.timedelta | None:
    """`Retry-After` as a wait: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = dt.timedelta(seconds=int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        wait = max(when - (now or utcnow()), dt.timedelta(0))
    return min(wait, MAX_RETRY_AFTER)


def _for_the_log(delivery: Delivery) -> str:
    """Why a delivery failed, as a log line may say it: the status a system answered, not its words (a
    refused correction's answer may repeat the new e-mail address or name); the task keeps those."""
    if delivery.status is not None:
        return f"answered {delivery.status}"
    return delivery.error or "unknown error"


class Worker:
    """Claims due tasks, delivers them, records the outcome. Safe to run several at once."""

    def __init__(
        self, Session: sessionmaker, config: WorkerConfig, worker_id: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.Session = Session
        self.config = config
        self.id = (worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")[:100]
        self.clock = clock
        self.systems = CompanySystems(catalogue.load(config.catalogue_file), config.variables, config.timeout)
        self.transcripts = TrackerStore(config.tracker_url) if config.tracker_url else None

    def close(self) -> None:
        self.systems.close()
        if self.transcripts is not None:
            self.transcripts.close()

    # --- 1. claim ---------------------------------------------------------------------------

    @staticmethod
    def _due(now: dt.datetime) -> Any:
        return and_(
            SystemTask.state.in_((TaskState.PENDING.value, TaskState.IN_PROGRESS.value)),
            SystemTask.next_attempt_at <= now,
            or_(SystemTask.locked_until.is_(None), SystemTask.locked_until <= now),
        )

    def claim(self, now: dt.datetime) -> Claim | None:
        """Take the task due longest, with a lease; None when nothing is due."""
        until = now + dt.timedelta(seconds=self.config.lease)
        for _ in range(5):
            with self.Session.begin() as s:
                pick = select(SystemTask.id).where(self._due(now)).order_by(SystemTask.next_attempt_at, SystemTask.id).limit(1)
                if s.get_bind().dialect.name == "postgresql":
                    pick = pick.with_for_update(skip_locked=True)
                task_id = s.scalar(pick)
                if task_id is None:
                    return None
                taken = s.execute(
                    update(SystemTask)
                    .where(SystemTask.id == task_id, self._due(now))
                    .values(state=TaskState.IN_PROGRESS.value, locked_by=self.id, locked_until=until)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:
                    continue  # another worker took it between our look and our update: look again
                task = s.get(SystemTask, task_id)
                customer_id = s.scalar(select(Request.customer_id).where(Request.id == task.request_id))
                return Claim(task.id, task.request_id, customer_id, task.system, task.operation, task.payload,
                             task.idempotency_key, until)
        return None

    # --- 2. deliver -------------------------------------------------------------------------

    def deliver(self, claim: Claim) -> Delivery:
        """Call the company system once. Never raises for network or HTTP trouble: it reports it."""
        if claim.system == ASSISTANT:
            return self.deliver_here(claim)
        if claim.system not in self.systems.addresses:
            return Delivery(ok=False, permanent=True, error=f"'{claim.system}' is not in the system catalogue")
        method = METHODS[claim.operation]
        try:
            response = self.systems.request(
                claim.system, method, self.systems.customer_url(claim.system, claim.customer_id, claim.operation),
                headers={"Idempotency-Key": claim.idempotency_key},
                json=claim.payload if method != "GET" else None,
            )
        except httpx2.TimeoutException as exc:
            return Delivery(ok=False, error=f"no answer within {self.config.timeout:g} s ({type(exc).__name__})")
        except httpx2.HTTPError as exc:
            return Delivery(ok=False, error=f"could not reach {claim.system}: {type(exc).__name__}: {exc}"[:ERROR_LIMIT])

        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if 200 <= status < 300 and isinstance(body, dict):
            return Delivery(ok=True, status=status, body=body,
                            replayed=response.headers.get("Idempotent-Replayed", "").lower() == "true")
        detail = body.get("detail") if isinstance(body, dict) else None
        error = f"{status} {detail if detail is not None else response.text[:200]}"[:ERROR_LIMIT]
        if 200 <= status < 300:
            return Delivery(ok=False, status=status, error=f"{status} answer is not a JSON object")
        return Delivery(
            ok=False, status=status, error=error,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            permanent=status not in TRANSIENT and status < 500,
        )

    def deliver_here(self, claim: Claim) -> Delivery:
        """The assistant's task, carried out in this process; trouble with the tracker store is retried."""
        if self.transcripts is None:
            return Delivery(ok=False, permanent=True, error="the assistant's conversation store is not configured (TRACKER_DB_*)")
        try:
            return Delivery(ok=True, body=carry_out(claim.operation, claim.customer_id, self.Session, self.transcripts, self.clock()))
        except TranscriptsUnavailable as exc:
            return Delivery(ok=False, error=str(exc))

    # --- 3. record --------------------------------------------------------------------------

    def record(self, claim: Claim, delivery: Delivery, now: dt.datetime) -> str:
        """Store the outcome; returns 'done', 'retried', 'failed', or 'skipped' (someone else settled it)."""
        with self.Session.begin() as s:
            # Lock the request: the last two tasks of a request finishing at once must not both miss
            # (or both make) the move to fulfilled.
            request = s.scalar(select(Request).where(Request.id == claim.request_id).with_for_update())
            task = s.get(SystemTask, claim.task_id)
            if request is None or task is None:
                return "skipped"
            if task.state in (TaskState.DONE.value, TaskState.FAILED.value):
                return "skipped"
            if delivery.ok:
                self._done(s, request, task, delivery, now)
                return "done"
            if task.locked_by != self.id:
                return "skipped"  # our lease ran out and another worker holds the task: its answer counts
            return self._failed(s, request, task, delivery, now)

    def _done(self, s: Session, request: Request, task: SystemTask, delivery: Delivery, now: dt.datetime) -> None:
        done = record_done(task.to_domain())
        task.state, task.attempts, task.next_attempt_at, task.last_error = done.state.value, done.attempts, None, None
        task.completed_at, task.result = now, delivery.body
        task.locked_by, task.locked_until = None, None
        request.updated_at = now
        append_audit(s, AuditEntry(
            request_id=request.id, actor=ACTOR, action="task_done", from_status=Status(request.status),
            to_status=Status(request.status), reason=f"{task.system} confirmed {task.operation}", at=now,
        ), detail={"system": task.system, "attempts": task.attempts, "worker": self.id, "replayed": delivery.replayed})
        s.flush()
        tasks = [t.to_domain() for t in s.scalars(select(SystemTask).where(SystemTask.request_id == request.id))]
        if request.status == Status.IN_PROGRESS.value and request_fulfilled(tasks):
            moved, entry = transition(request.to_domain(), Status.FULFILLED, ACTOR,
                                         f"all {len(tasks)} systems confirmed", now=now, tasks=tasks)
            request.status, request.closed_at = moved.status.value, now
            append_audit(s, entry, detail={"systems": [t.system for t in tasks]})

    def _failed(self, s: Session, request: Request, task: SystemTask, delivery: Delivery, now: dt.datetime) -> str:
        error = delivery.error or "unknown error"
        # A permanent refusal (unknown customer, invalid request) fails at once: retrying cannot help.
        max_attempts = task.attempts + 1 if delivery.permanent else self.config.max_attempts
        after = record_failure(task.to_domain(), error, now, delivery.retry_after, max_attempts=max_attempts)
        task.state, task.attempts, task.last_error = after.state.value, after.attempts, error
        task.locked_by, task.locked_until = None, None
        request.updated_at = now
        if after.state is TaskState.FAILED:
            task.next_attempt_at = None
            append_audit(s, AuditEntry(
                request_id=request.id, actor=ACTOR, action="task_failed", from_status=Status(request.status),
                to_status=Status(request.status), reason=f"{task.system} failed after {task.attempts} attempts: {error}",
                at=now,
            ), detail={"system": task.system, "attempts": task.attempts, "status": delivery.status,
                       "permanent": delivery.permanent, "worker": self.id})
            log.warning("task %s (%s for %s) failed for good: %s", task.id, task.system, request.id, _for_the_log(delivery))
            return "failed"
        # The retry schedule: requests.rules.next_backoff with this worker's base and cap, never
        # earlier than the system's Retry-After.
        task.next_attempt_at = now + next_backoff(
            after.attempts, delivery.retry_after,
            base=dt.timedelta(seconds=self.config.backoff_base), cap=dt.timedelta(seconds=self.config.backoff_cap),
        )
        log.info("task %s (%s for %s) attempt %s failed (%s); next at %s", task.id, task.system, request.id,
                 task.attempts, _for_the_log(delivery), task.next_attempt_at.isoformat())
        return "retried"

    # --- the loop ---------------------------------------------------------------------------

    def process_one(self, now: dt.datetime | None = None) -> tuple[int, str] | None:
        """Claim, deliver and record one due task; None when nothing is due."""
        claim = self.claim(now or self.clock())
        if claim is None:
            return None
        delivery = self.deliver(claim)
        return claim.task_id, self.record(claim, delivery, now or self.clock())

    def run_once(self, now: dt.datetime | None = None, max_tasks: int = 10_000) -> RunReport:
        """Deliver every task due at `now` (default: the clock), then return what happened."""
        report = RunReport()
        while report.total < max_tasks:
            outcome = self.process_one(now)
            if outcome is None:
                break
            task_id, result = outcome
            report.tasks.append(task_id)
            setattr(report, result, getattr(report, result) + 1)
        return report

    def run_forever(self, stop: threading.Event, notices: CodeNotices | None = None, outcomes: OutcomeNotices | None = None) -> None:
        """Poll until `stop` is set; a database or network hiccup is logged and retried, never fatal.
        With `notices`, sweep the unused verification codes every NOTICE_SWEEP_SECONDS as well; with
        `outcomes` (objections.service.OutcomeNotices), the decisions on objections not yet e-mailed."""
        log.info("worker %s delivering to %s", self.id, ", ".join(self.systems.addresses))
        next_sweep = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + NOTICE_SWEEP_SECONDS
                for sweeper, what in ((notices, "unused codes"), (outcomes, "objection decisions")):
                    try:
                        if sweeper is not None:
                            sweeper.sweep()
                    except Exception:  # the database, the CRM or the mail server may be down: the next sweep tries again
                        log.exception("sweep of %s failed; trying again later", what)
            try:
                report = self.run_once(max_tasks=100)
            except Exception:  # the database may be restarting: wait and try again
                log.exception("worker pass failed; trying again shortly")
                report = RunReport()
            if report.total == 0:
                stop.wait(self.config.poll_interval)


def main(settings: Settings, once: bool = False, worker_id: str | None = None, **overrides: Any) -> int:
    """`python -m backoffice worker`: deliver tasks until SIGTERM/SIGINT (or once with --once)."""
    import signal

    from .knowledge.service import load_knowledge
    from .objections.service import OutcomeNotices
    from .shared.database import open_database

    engine, Session = open_database(settings.database_url)
    worker = Worker(Session, WorkerConfig.from_settings(settings, **overrides), worker_id=worker_id)
    notices = CodeNotices(Session, worker.systems, SmtpConfig.from_settings(settings))
    outcomes = OutcomeNotices(Session, worker.systems, SmtpConfig.from_settings(settings),
                              load_knowledge(settings.knowledge_dir), utcnow)
    try:
        if once:
            report = worker.run_once()
            told = notices.sweep() + outcomes.sweep()
            print(f"done {report.done}, retried {report.retried}, failed {report.failed}, skipped {report.skipped}; "
                  f"{told} customer(s) told of unused codes or decisions")
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker.run_forever(stop, notices, outcomes)
        return 0
    finally:
        worker.close()
        engine.dispose()
