"""The privacy request ledger's rules: what each right asks, how a request moves, and when it is due.

This module is the domain core of the ledger. It has no web, database or network imports, so the
API, the outbox worker, the privacy overview and the tests all share one definition of what a legal
move is, what the deadline is, and when a request may be called fulfilled. Everything here is a
pure function of its inputs: callers pass `now` / `today`, and get new values back (nothing is
changed in place), so the database layer decides when a change is committed together with its
audit entry.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from ..shared.time import local_date
from ..vocabulary import OPEN_STATES, RequestType, Status

# --- rights -------------------------------------------------------------------------------------
# The rights (`RequestType`) and statuses (`Status`) are named in `vocabulary`, with the ids the
# assistant words too; what a request of each may do is here.


def takes_effect_immediately(request_type: RequestType) -> bool:
    """Objection to direct marketing is absolute (Art. 21(2)-(3)): no balancing, no approval step.

    The ledger starts fulfilling such a request at once; it can never be denied or extended.
    """
    return RequestType(request_type) is RequestType.OBJECTION_DIRECT_MARKETING


# --- lifecycle ----------------------------------------------------------------------------------


CLOSED_STATES = frozenset(Status) - OPEN_STATES
OPEN = tuple(sorted(s.value for s in OPEN_STATES))  # as stored, for queries and views

# The only moves a request can make. A closed request never reopens: a new question is a new request.
# `expired` is only for a request that waits on the customer (identity not proven). Once identity
# is verified the company owes an answer, so a verified request cannot quietly expire: it is
# fulfilled, denied with a reason, canceled by the customer, or it shows up as overdue.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.IDENTITY_UNVERIFIED, Status.VERIFIED, Status.DENIED, Status.CANCELED}),
    Status.IDENTITY_UNVERIFIED: frozenset({Status.VERIFIED, Status.DENIED, Status.CANCELED, Status.EXPIRED}),
    Status.VERIFIED: frozenset({Status.IN_PROGRESS, Status.DENIED, Status.CANCELED}),
    Status.IN_PROGRESS: frozenset({Status.FULFILLED, Status.DENIED, Status.CANCELED}),
    Status.FULFILLED: frozenset(),
    Status.DENIED: frozenset(),
    Status.CANCELED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class RequestRuleError(ValueError):
    """A change to a request that the rules do not allow; the message says which rule and why."""


class InvalidTransition(RequestRuleError):
    """A status change that is not in the lifecycle, or lacks what the rules require (e.g. a reason)."""


class ExtensionRefused(RequestRuleError):
    """An extension of the deadline that Art. 12(3) (or the regime) does not allow."""


# --- deadline regimes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Regime:
    """The law that sets a request's deadlines: a period to answer, an extension, a confirmation.

    A period is `months` calendar months plus `days` calendar days from the day of receipt.
    """

    name: str
    months: int = 0
    days: int = 0
    extension_months: int = 0
    extension_days: int = 0
    confirm_within_business_days: int | None = None
    opt_out_within_business_days: int | None = None

    def __post_init__(self) -> None:
        numbers = (self.months, self.days, self.extension_months, self.extension_days,
                   self.confirm_within_business_days or 0, self.opt_out_within_business_days or 0)
        if any(n < 0 for n in numbers):
            raise ValueError(f"regime {self.name}: periods cannot be negative")
        if self.months == 0 and self.days == 0:
            raise ValueError(f"regime {self.name}: needs a period to answer within")

    @property
    def can_extend(self) -> bool:
        return bool(self.extension_months or self.extension_days)


# Art. 12(3): one calendar month, extendable by two further months (customer told within the first).
GDPR = Regime("GDPR", months=1, extension_months=2)
# CCPA/CPRA: 45 days, +45 with notice; confirm receipt within 10 business days; opt-out of sale
# or sharing within 15 business days.
CCPA = Regime("CCPA", days=45, extension_days=45, confirm_within_business_days=10, opt_out_within_business_days=15)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later; if that month is shorter, its last day (31 Jan + 1 = 28/29 Feb).

    This is how EU law counts a period of months (Regulation 1182/71, Art. 3(2)(c)) and how the
    EDPB reads Art. 12(3).
    """
    if months < 0:
        raise ValueError("months cannot be negative")
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    first_of_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (first_of_next - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last_day))


def add_business_days(day: dt.date, business_days: int) -> dt.date:
    """`business_days` working days after `day`, skipping Saturdays and Sundays.

    Public holidays are not skipped: that makes the date earlier, never later than the law allows.
    """
    if business_days < 0:
        raise ValueError("business days cannot be negative")
    current = day
    left = business_days
    while left:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def _period_end(received_on: dt.date, months: int, days: int) -> dt.date:
    return add_months(received_on, months) + dt.timedelta(days=days)


def _is_ccpa_opt_out(regime: Regime, request_type: RequestType | None) -> bool:
    return regime.opt_out_within_business_days is not None and request_type is RequestType.OPT_OUT


def due_date(received_on: dt.date, regime: Regime = GDPR, request_type: RequestType | None = None) -> dt.date:
    """The last day to answer: under GDPR one calendar month after receipt (31 Jan -> 28/29 Feb).

    We do not move a deadline that falls on a weekend to the next working day, although the law
    would allow it: answering earlier is always on time. Under CCPA an opt-out has its own, shorter
    period in business days; pass `request_type` to get it.
    """
    received_on = _as_date(received_on)
    request_type = RequestType(request_type) if request_type is not None else None
    if _is_ccpa_opt_out(regime, request_type):
        return add_business_days(received_on, regime.opt_out_within_business_days or 0)
    return _period_end(received_on, regime.months, regime.days)


def extended_due_date(received_on: dt.date, regime: Regime = GDPR) -> dt.date:
    """The last day to answer after an extension, counted from receipt (GDPR: receipt + 3 months).

    Counted from receipt, not from the first due date: 31 Jan + 3 months is 30 April, whereas
    28 Feb + 2 months would wrongly give 28 April.
    """
    received_on = _as_date(received_on)
    return _period_end(
        received_on, regime.months + regime.extension_months, regime.days + regime.extension_days
    )


def confirmation_due(received_on: dt.date, regime: Regime = GDPR) -> dt.date | None:
    """The last day to confirm receipt (CCPA: 10 business days), or None if the regime asks none."""
    if regime.confirm_within_business_days is None:
        return None
    return add_business_days(_as_date(received_on), regime.confirm_within_business_days)


# --- the request and its audit trail ------------------------------------------------------------


@dataclass(frozen=True, init=False)
class RightsRequest:
    """One request from one customer to use one right. Never changed in place: moves return a copy.

    `due_on` is the deadline in force; `original_due_on` the first one, kept after an extension.
    Both are worked out from the regime when not given, so a request always has a deadline.
    """

    id: str
    customer_id: str
    type: RequestType
    received_on: dt.date
    regime: Regime
    status: Status
    due_on: dt.date
    original_due_on: dt.date
    extended: bool
    extension_reason: str | None
    denial_reason: str | None

    def __init__(
        self,
        id: str,
        customer_id: str,
        type: RequestType | str,
        received_on: dt.date | dt.datetime,
        regime: Regime = GDPR,
        status: Status | str = Status.RECEIVED,
        due_on: dt.date | None = None,
        original_due_on: dt.date | None = None,
        extended: bool = False,
        extension_reason: str | None = None,
        denial_reason: str | None = None,
    ) -> None:
        request_type, request_status, received = RequestType(type), Status(status), _as_date(received_on)
        due = due_on if due_on is not None else due_date(received, regime, request_type)
        if extended and not (extension_reason or "").strip():
            raise ValueError(f"request {id}: an extended request needs the reason the customer was told")
        fields = {
            "id": id, "customer_id": customer_id, "type": request_type, "received_on": received, "regime": regime,
            "status": request_status, "due_on": due, "original_due_on": original_due_on if original_due_on is not None else due,
            "extended": extended, "extension_reason": extension_reason, "denial_reason": denial_reason,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES


@dataclass(frozen=True)
class AuditEntry:
    """One line of the append-only audit log: who or what changed the request, how, why, and when.

    `actor` names a person or a process ("customer:42", "agent:anna", "system:outbox"). `action` is
    "status" for a status change and "extension" for an extended deadline (status stays the same).
    """

    request_id: str
    actor: str
    action: str
    from_status: Status | None  # None only for the entry that files the request
    to_status: Status
    reason: str | None
    at: dt.datetime


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return local_date(value) if isinstance(value, dt.datetime) else value


def _check_actor_and_time(actor: str, now: dt.datetime) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("an audit entry needs the person or process that caused it (actor)")
    if not isinstance(now, dt.datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be a timezone-aware datetime: an audit timestamp must be unambiguous")


def _clean(reason: str | None) -> str | None:
    if reason is None:
        return None
    reason = reason.strip()
    return reason or None


def transition(
    request: RightsRequest,
    to_status: Status | str,
    actor: str,
    reason: str | None = None,
    *,
    now: dt.datetime,
    tasks: Sequence[SystemTask] | None = None,
) -> tuple[RightsRequest, AuditEntry]:
    """Move a request to `to_status` and return the moved request with the audit entry to store.

    Refuses, with InvalidTransition, any move not in TRANSITIONS; a denial without a reason (the
    customer must be told why, Art. 12(4)); a denial of an objection to direct marketing (it is
    absolute); and `fulfilled` unless `tasks` shows every system task done.
    """
    _check_actor_and_time(actor, now)
    try:
        target = Status(to_status)
    except ValueError:
        raise InvalidTransition(f"request {request.id}: '{to_status}' is not a status") from None
    source = request.status
    reason = _clean(reason)

    if source in CLOSED_STATES:
        raise InvalidTransition(
            f"request {request.id} is already {source.value}; a closed request does not reopen, file a new one"
        )
    allowed = TRANSITIONS[source]
    if target not in allowed:
        options = ", ".join(sorted(s.value for s in allowed))
        raise InvalidTransition(
            f"request {request.id} cannot move from {source.value} to {target.value}; "
            f"from {source.value} it can move to: {options}"
        )
    if target is Status.DENIED:
        if takes_effect_immediately(request.type):
            raise InvalidTransition(
                f"request {request.id}: an objection to direct marketing ({request.type.article}) is absolute "
                "and cannot be denied"
            )
        if reason is None:
            raise InvalidTransition(
                f"request {request.id}: a denial needs a reason; the customer is told why and that they can complain"
            )
    if target is Status.FULFILLED:
        foreign = [t.system for t in (tasks or ()) if t.request_id != request.id]
        if foreign:
            raise InvalidTransition(
                f"request {request.id}: tasks for {', '.join(foreign)} belong to another request"
            )
        if tasks is None or not request_fulfilled(tasks):
            open_tasks = ", ".join(f"{t.system} ({t.state.value})" for t in (tasks or ()) if t.state is not TaskState.DONE)
            detail = f"not done: {open_tasks}" if open_tasks else "no system tasks were given"
            raise InvalidTransition(
                f"request {request.id} cannot be fulfilled until every system task is done; {detail}"
            )

    changes: dict = {"status": target}
    if target is Status.DENIED:
        changes["denial_reason"] = reason
    moved = replace(request, **changes)
    entry = AuditEntry(
        request_id=request.id, actor=actor.strip(), action="status",
        from_status=source, to_status=target, reason=reason, at=now,
    )
    return moved, entry


# --- deadlines ----------------------------------------------------------------------------------


def extend(
    request: RightsRequest, reason: str | None, now: dt.datetime, actor: str
) -> tuple[RightsRequest, AuditEntry]:
    """Extend the deadline once (GDPR: to receipt + 3 months) and return the audit entry to store.

    Art. 12(3) allows it only for complex or many requests, and only if the customer is told, with
    the reason, within the first period: so it needs a reason, must happen on or before the original
    due date, and happens once. An objection to direct marketing must take effect at once and is
    never extended; nor is a CCPA opt-out, whose 15 business days have no extension.
    """
    _check_actor_and_time(actor, now)
    reason = _clean(reason)
    today = local_date(now)
    if not request.is_open:
        raise ExtensionRefused(f"request {request.id} is already {request.status.value}; only an open request can be extended")
    if request.extended:
        raise ExtensionRefused(
            f"request {request.id} was already extended to {request.due_on.isoformat()}; the law allows one extension"
        )
    if takes_effect_immediately(request.type):
        raise ExtensionRefused(
            f"request {request.id}: an objection to direct marketing takes effect at once and cannot be extended"
        )
    if not request.regime.can_extend or _is_ccpa_opt_out(request.regime, request.type):
        raise ExtensionRefused(f"request {request.id}: {request.regime.name} allows no extension for {request.type.value}")
    if reason is None:
        raise ExtensionRefused(f"request {request.id}: an extension needs a reason, which the customer is told")
    if today > request.original_due_on:
        raise ExtensionRefused(
            f"request {request.id}: too late to extend; the customer had to be told by {request.original_due_on.isoformat()}"
        )
    new_due = extended_due_date(request.received_on, request.regime)
    moved = replace(request, extended=True, extension_reason=reason, due_on=new_due)
    entry = AuditEntry(
        request_id=request.id, actor=actor.strip(), action="extension",
        from_status=request.status, to_status=request.status, reason=reason, at=now,
    )
    return moved, entry


def is_overdue(request: RightsRequest, today: dt.date) -> bool:
    """An open request whose deadline has passed. A closed request is never overdue."""
    return request.is_open and _as_date(today) > request.due_on


DUE_SOON_DAYS = 7  # the privacy team's views flag a request due within this many days


def due_within(request: RightsRequest, today: dt.date, days: int) -> bool:
    """An open request due between today and `days` days from now, both included (not overdue ones)."""
    if days < 0:
        raise ValueError("days cannot be negative")
    today = _as_date(today)
    return request.is_open and today <= request.due_on <= today + dt.timedelta(days=days)


# --- fan-out to the company's systems -----------------------------------------------------------


class TaskState(str, Enum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"  # gave up retrying: visible to the privacy team, never silently dropped


BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class SystemTask:
    """The part of a request one company system must carry out, for the data categories it holds.

    The idempotency key is sent with every attempt, so a retry after a lost answer is not done twice.
    """

    request_id: str
    system: str
    categories: tuple[str, ...]
    idempotency_key: str
    state: TaskState = TaskState.PENDING
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "state", TaskState(self.state))
        if self.attempts < 0:
            raise ValueError("attempts cannot be negative")
        if not self.idempotency_key:
            raise ValueError(f"task for {self.system}: needs an idempotency key")

    @classmethod
    def for_request(cls, request_id: str, system: str, categories: Iterable[str]) -> SystemTask:
        """A new task with a key that is the same every time this request reaches this system."""
        return cls(request_id=request_id, system=system, categories=tuple(categories),
                   idempotency_key=f"{request_id}:{system}")


RetryAfter = dt.timedelta | int | float | None


def next_backoff(
    attempts: int,
    retry_after: RetryAfter = None,
    *,
    base: dt.timedelta = BACKOFF_BASE,
    cap: dt.timedelta = BACKOFF_CAP,
) -> dt.timedelta:
    """How long to wait after `attempts` failed attempts: base * 2^(attempts-1), at most `cap`.

    No jitter, so the schedule is predictable and testable. A system's `Retry-After` (seconds or a
    timedelta; the HTTP layer turns an HTTP-date into one) is honoured: the wait is never shorter
    than it, even when it is longer than the cap.
    """
    if attempts < 1:
        raise ValueError("next_backoff is for after a failed attempt: attempts must be at least 1")
    # Compare exponents rather than building 2**attempts, so a large count cannot overflow.
    delay = cap
    if attempts - 1 < 63:
        candidate_seconds = base.total_seconds() * (2 ** (attempts - 1))
        if candidate_seconds < cap.total_seconds():
            delay = dt.timedelta(seconds=candidate_seconds)
    if retry_after is not None:
        wait = retry_after if isinstance(retry_after, dt.timedelta) else dt.timedelta(seconds=retry_after)
        if wait < dt.timedelta(0):
            raise ValueError("Retry-After cannot be negative")
        delay = max(delay, wait)
    return delay


def record_failure(
    task: SystemTask,
    error: str,
    now: dt.datetime,
    retry_after: RetryAfter = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> SystemTask:
    """Note a failed attempt: schedule the next one with backoff, or mark the task failed for good."""
    attempts = task.attempts + 1
    if attempts >= max_attempts:
        return replace(task, state=TaskState.FAILED, attempts=attempts, last_error=error, next_attempt_at=None)
    return replace(
        task, state=TaskState.PENDING, attempts=attempts, last_error=error,
        next_attempt_at=now + next_backoff(attempts, retry_after),
    )


class RetryRefused(RequestRuleError):
    """Only a failed task of an open request gets a new round of attempts."""


def filed(request: RightsRequest, actor: str, now: dt.datetime) -> AuditEntry:
    """The first line of a request's audit trail: who filed which right, and when it is due."""
    _check_actor_and_time(actor, now)
    return AuditEntry(request_id=request.id, actor=actor, action="filed", from_status=None, to_status=request.status,
                      reason=f"{request.type.value} ({request.type.article}) filed, due {request.due_on.isoformat()}", at=now)


def retry(task: SystemTask, request: RightsRequest, actor: str, now: dt.datetime) -> tuple[SystemTask, AuditEntry]:
    """A privacy officer gives a task that failed for good a new round of attempts, starting now."""
    _check_actor_and_time(actor, now)
    if task.state is not TaskState.FAILED or not request.is_open:
        raise RetryRefused(f"only a failed task of an open request can be retried; this one is {task.state.value}")
    again = replace(task, state=TaskState.PENDING, attempts=0, next_attempt_at=now)
    entry = AuditEntry(request_id=request.id, actor=actor, action="task_retry", from_status=request.status,
                       to_status=request.status, at=now,
                       reason=f"{task.system} gets a new round of attempts (last error: {task.last_error or 'none'})")
    return again, entry


def record_done(task: SystemTask) -> SystemTask:
    """Note that the system confirmed the work."""
    return replace(task, state=TaskState.DONE, attempts=task.attempts + 1, next_attempt_at=None, last_error=None)


def request_fulfilled(tasks: Sequence[SystemTask]) -> bool:
    """True only when there is at least one task and every task is done.

    No tasks means nothing was fanned out yet, which is not the same as done.
    """
    tasks = list(tasks)
    return bool(tasks) and all(t.state is TaskState.DONE for t in tasks)


def failed_tasks(tasks: Sequence[SystemTask]) -> list[SystemTask]:
    return [t for t in tasks if t.state is TaskState.FAILED]


def needs_attention(request: RightsRequest, tasks: Sequence[SystemTask], today: dt.date) -> list[str]:
    """Why the privacy team must look at this request now; empty when nothing needs a person.

    A failed system task blocks fulfilment, so it is reported rather than retried forever.
    """
    reasons = []
    if is_overdue(request, today):
        reasons.append(f"overdue since {request.due_on.isoformat()}")
    if request.is_open:
        for task in failed_tasks(tasks):
            reasons.append(f"{task.system} failed after {task.attempts} attempts: {task.last_error or 'no error given'}")
    return reasons


# --- open requests by due week ------------------------------------------------------------------
# The privacy overview's picture: open requests by due week and status, so a privacy officer sees
# at a glance which weeks the deadlines pile up in.
#
# Weeks start on Monday. Every week before the current one is one bar ("before" this week: all of it
# overdue); then every week from this one to the last with a deadline, at most MAX_WEEKS, and the rest
# as one "later" bar. The counts come from the database (`service.privacy_team.due_counts`).

MAX_WEEKS = 14  # a deadline is at most three months away (one month, extended once by two)
STATUS_ORDER = tuple(s.value for s in (Status.RECEIVED, Status.IDENTITY_UNVERIFIED, Status.VERIFIED, Status.IN_PROGRESS))


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def open_by_due_week(counts: Iterable[tuple[str, dt.date, int]], today: dt.date) -> list[dict]:
    """One entry per bar: `week` ("before", a Monday's date, or "later"), `label` and `short_label`, `overdue` (the
    whole week is past), the count per status (every open status, 0 included) and the total."""
    this_week = week_start(today)
    last_week = this_week + dt.timedelta(weeks=MAX_WEEKS - 1)
    buckets: dict[str, dict[str, int]] = {}
    for status, due_on, count in counts:
        start = week_start(due_on)
        key = "before" if start < this_week else "later" if start > last_week else start.isoformat()
        per_status = buckets.setdefault(key, dict.fromkeys(STATUS_ORDER, 0))
        per_status[status] = per_status.get(status, 0) + count
    weeks = [k for k in buckets if k not in ("before", "later")]
    keys = ["before"] if "before" in buckets else []
    if "later" in buckets or weeks:
        last = last_week if "later" in buckets else dt.date.fromisoformat(max(weeks))
        keys += [(this_week + dt.timedelta(weeks=n)).isoformat() for n in range((last - this_week).days // 7 + 1)]
    keys += ["later"] if "later" in buckets else []
    return [_bar(key, buckets.get(key, dict.fromkeys(STATUS_ORDER, 0)), this_week, last_week) for key in keys]


def _bar(key: str, per_status: dict[str, int], this_week: dt.date, last_week: dt.date) -> dict:
    if key == "before":
        label, short, overdue = f"before {_day(this_week)}", "before", True
    elif key == "later":
        label, short, overdue = f"after {_day(last_week + dt.timedelta(days=6))}", "later", False
    else:
        monday = dt.date.fromisoformat(key)
        label, short, overdue = f"week of {_day(monday)}", f"{monday.day} {monday:%b}", False
    return {"week": key, "label": label, "short_label": short, "overdue": overdue, "counts": per_status,
            "total": sum(per_status.values())}


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b} {day.year}"
