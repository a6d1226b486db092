"""The outbox worker against the real company systems: delivery, retries, Retry-After, failure, leases, a kill."""
from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import uuid

import pytest
from sqlalchemy import select

from backoffice.requests.rules import needs_attention
from backoffice.requests.service.filing import file_request
from backoffice.requests.tables import AuditEntry, Request, SystemTask
from backoffice.worker import parse_retry_after

from .conftest import BACKEND, NOW, SYSTEMS_TOKEN, Process, eventually, free_port

SECOND = dt.timedelta(seconds=1)


def file(Session, knowledge, customer_id, type_, categories=None, details=None, now=NOW):
    with Session() as s:
        return file_request(s, customer_id, type_, categories, details or {}, f"t-{uuid.uuid4().hex}", now, knowledge=knowledge)


def tasks_of(Session, request_id) -> list[SystemTask]:
    with Session() as s:
        return list(s.scalars(select(SystemTask).where(SystemTask.request_id == request_id).order_by(SystemTask.id)))


def request_of(Session, request_id) -> Request:
    with Session() as s:
        return s.get(Request, request_id)


def audit_of(Session, request_id) -> list[AuditEntry]:
    with Session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id).order_by(AuditEntry.id)))


def test_delivers_every_task_once_and_fulfils_the_request(Session, knowledge, make_worker, systems):
    erasure = file(Session, knowledge, "C0001", "erasure")
    access = file(Session, knowledge, "C0002", "access", ["contact_details", "purchase_history"])
    worker = make_worker("w-a")

    report = worker.run_once(NOW)
    assert (report.done, report.retried, report.failed) == (9, 0, 0)  # 6 systems and the assistant's transcripts; 2
    for filed in (erasure, access):
        assert request_of(Session, filed.request.id).status == "fulfilled"
        assert all(t.state == "done" and t.attempts == 1 and t.locked_by is None for t in tasks_of(Session, filed.request.id))
    # The systems carried out each erasure exactly once (exports change nothing and are not logged).
    keys = [t.idempotency_key for t in erasure.tasks if t.system != "assistant"]
    assert systems.actions(keys) == {k: 1 for k in keys}
    # What the systems answered is kept: the export for access, what was erased and kept for erasure.
    exported = {t.system: t.result or {} for t in tasks_of(Session, access.request.id)}
    assert exported["crm"]["categories"]["contact_details"][0]["email"]
    orders = next(t.result or {} for t in tasks_of(Session, erasure.request.id) if t.system == "orders")
    assert orders["status"] == "done" and all(k["reason"] for k in orders["kept"])
    audit = audit_of(Session, erasure.request.id)
    assert [a.action for a in audit].count("task_done") == 7
    assert (audit[-1].action, audit[-1].from_status, audit[-1].to_status, audit[-1].actor) == (
        "status", "in_progress", "fulfilled", "system:outbox")
    # Nothing is left to do, and a second pass does nothing again.
    assert worker.run_once(NOW + dt.timedelta(hours=1)).total == 0
    assert systems.actions(keys) == {k: 1 for k in keys}


def test_a_system_that_is_down_is_retried_with_backoff_until_it_is_back(Session, knowledge, make_worker, systems):
    systems.fault("crm", "down", count=2, retry_after=0)
    new_email = f"fixed-{uuid.uuid4().hex[:6]}@example.nl"
    filed = file(Session, knowledge, "C0013", "rectification", details={"field": "email", "value": new_email})
    worker = make_worker(backoff_base=10.0)

    assert worker.run_once(NOW).retried == 1
    [task] = tasks_of(Session, filed.request.id)
    assert (task.state, task.attempts, task.next_attempt_at) == ("pending", 1, NOW + 10 * SECOND)
    assert (task.last_error or "").startswith("503") and task.locked_by is None
    assert worker.run_once(NOW + 9 * SECOND).total == 0  # not due yet
    assert worker.run_once(NOW + 10 * SECOND).retried == 1
    [task] = tasks_of(Session, filed.request.id)
    assert (task.attempts, task.next_attempt_at) == (2, NOW + 10 * SECOND + 20 * SECOND)  # doubled
    assert request_of(Session, filed.request.id).status == "in_progress"

    assert worker.run_once(NOW + 30 * SECOND).done == 1
    [task] = tasks_of(Session, filed.request.id)
    assert (task.state, task.attempts, task.last_error) == ("done", 3, None)
    assert request_of(Session, filed.request.id).status == "fulfilled"
    assert systems.export("crm", "C0013")["categories"]["contact_details"][0]["email"] == new_email
    assert systems.actions([task.idempotency_key]) == {task.idempotency_key: 1}


def test_a_stopped_system_process_is_retried_then_reached(Session, knowledge, make_worker, systems):
    filed = file(Session, knowledge, "C0014", "restriction", ["store_visits"])
    nobody = make_worker(base_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    assert nobody.run_once(NOW).retried == 1
    [task] = tasks_of(Session, filed.request.id)
    assert task.state == "pending" and "could not reach wifi" in (task.last_error or "")
    assert make_worker().run_once(task.next_attempt_at).done == 1
    assert request_of(Session, filed.request.id).status == "fulfilled"
    assert systems.export("wifi", "C0014")["restricted"][0]["category"] == "store_visits"


def test_retry_after_on_429_is_honoured(Session, knowledge, make_worker, systems):
    systems.fault("marketing", "429", retry_after=120, count=1)
    filed = file(Session, knowledge, "C0015", "objection_direct_marketing")
    worker = make_worker(backoff_base=1.0)

    assert worker.run_once(NOW).retried == 1
    [task] = tasks_of(Session, filed.request.id)
    assert task.next_attempt_at == NOW + 120 * SECOND  # not the 1 s backoff: the system asked for 120 s
    assert (task.last_error or "").startswith("429")
    assert worker.run_once(NOW + 119 * SECOND).total == 0
    assert worker.run_once(NOW + 120 * SECOND).done == 1
    assert request_of(Session, filed.request.id).status == "fulfilled"
    prefs = systems.export("marketing", "C0015")["categories"]["marketing_preferences"]
    assert prefs and not any(p["granted"] for p in prefs if p["purpose"] in ("newsletter", "personalised_offers"))


def test_a_task_failing_for_good_is_marked_failed_and_the_request_needs_attention(Session, knowledge, make_worker, systems):
    systems.fault("wifi", "down", count=None, retry_after=0)
    filed = file(Session, knowledge, "C0016", "erasure", ["contact_details", "store_visits"])
    worker = make_worker(max_attempts=3, backoff_base=1.0, backoff_cap=4.0)

    at = NOW
    for _ in range(5):
        worker.run_once(at)
        at += dt.timedelta(minutes=1)
    tasks = {t.system: t for t in tasks_of(Session, filed.request.id)}
    assert tasks["crm"].state == "done"
    wifi = tasks["wifi"]
    assert (wifi.state, wifi.attempts, wifi.next_attempt_at) == ("failed", 3, None)
    assert (wifi.last_error or "").startswith("503")
    request = request_of(Session, filed.request.id)
    assert request.status == "in_progress"  # not fulfilled, not dropped
    reasons = needs_attention(request.to_domain(), [t.to_domain() for t in tasks.values()], NOW.date())
    assert reasons == [f"wifi failed after 3 attempts: {wifi.last_error}"]
    failed = [a for a in audit_of(Session, filed.request.id) if a.action == "task_failed"]
    assert len(failed) == 1 and (failed[0].detail or {})["system"] == "wifi"
    assert worker.run_once(at + dt.timedelta(days=1)).total == 0  # a failed task is not retried by itself


def test_an_unknown_customer_fails_at_once(Session, knowledge, make_worker, systems):
    filed = file(Session, knowledge, "C9999", "access", ["store_visits"])
    assert make_worker().run_once(NOW).failed == 1
    [task] = tasks_of(Session, filed.request.id)
    assert (task.state, task.attempts) == ("failed", 1)
    assert (task.last_error or "").startswith("404")


def test_two_workers_never_deliver_the_same_task(Session, knowledge, make_worker, systems):
    filed = [file(Session, knowledge, f"C00{20 + i}", "erasure", ["account", "store_visits", "customer_service"]) for i in range(8)]
    workers = [make_worker(f"w{i}") for i in range(3)]
    reports = {}
    start = threading.Barrier(len(workers))

    def run(worker):
        start.wait()
        reports[worker.id] = worker.run_once(NOW)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    delivered = [task_id for r in reports.values() for task_id in r.tasks]
    all_tasks = [t for f in filed for t in tasks_of(Session, f.request.id)]
    assert sorted(delivered) == sorted(t.id for t in all_tasks)  # each claimed by exactly one worker
    assert all(t.state == "done" for t in all_tasks)
    assert all(request_of(Session, f.request.id).status == "fulfilled" for f in filed)
    keys = [t.idempotency_key for t in all_tasks if t.system != "assistant"]  # the assistant's run in the worker
    assert systems.actions(keys) == {k: 1 for k in keys}
    for f in filed:  # the last two tasks finishing at once still move the request exactly once
        assert [a.to_status for a in audit_of(Session, f.request.id)].count("fulfilled") == 1


def test_a_worker_killed_mid_task_is_replaced_and_every_task_runs_exactly_once(Session, ledger_url, knowledge, systems, tmp_path):
    stalled = 100  # more crm calls than this test makes: each one stalls until the fault is lifted
    systems.fault("crm", "slow", delay=2.0, count=stalled)
    now = dt.datetime.now(dt.UTC)  # the worker processes use the real clock
    filed = [file(Session, knowledge, c, "erasure", ["contact_details", "store_visits"], now=now) for c in ("C0030", "C0031")]
    env = {**os.environ, "BACKOFFICE_DATABASE_URL": ledger_url, "COMPANY_SYSTEMS_URL": systems.url,
           "COMPANY_SYSTEMS_TOKEN": SYSTEMS_TOKEN, "WORKER_BACKOFF_BASE_SECONDS": "0.5"}

    def worker(worker_id: str) -> Process:
        command = [sys.executable, "-m", "backoffice", "worker", "--id", worker_id, "--lease", "4", "--poll", "0.1", "--timeout", "3"]
        return Process(f"worker {worker_id}", command, BACKEND, env, tmp_path / f"worker-{worker_id}.log").start()

    first = worker("w1")
    try:
        in_flight = eventually(lambda: next((t for f in filed for t in tasks_of(Session, f.request.id)
                                             if t.system == "crm" and t.locked_by == "w1"), None), 30, "w1 claims a crm task")
        # The call has reached the system, which is taking its time: it took one of the stalls.
        eventually(lambda: systems.faults()["crm"]["remaining"], 30, "w1's call reaches the crm",
                   until=lambda remaining: remaining == stalled - 1)
    finally:
        first.kill()  # SIGKILL: no clean-up, the lease stays behind
    assert in_flight is not None
    [killed] = [t for t in tasks_of(Session, in_flight.request_id) if t.id == in_flight.id]
    assert killed.state == "in_progress" and killed.completed_at is None

    systems.fault("crm", "ok")
    second = worker("w2")
    try:
        eventually(lambda: [request_of(Session, f.request.id).status for f in filed], 40, "both requests fulfilled",
                   until=lambda statuses: statuses == ["fulfilled"] * len(filed))
    finally:
        second.stop()

    all_tasks = [t for f in filed for t in tasks_of(Session, f.request.id)]
    assert all(t.state == "done" for t in all_tasks)
    keys = [t.idempotency_key for t in all_tasks]
    assert systems.actions(keys) == {k: 1 for k in keys}  # exactly once, the killed call included
    done = next(a for a in audit_of(Session, in_flight.request_id)
                if a.action == "task_done" and (a.detail or {})["system"] == "crm")
    assert done.detail is not None
    assert done.detail["worker"] == "w2"  # delivered again by the new worker after the lease ran out
    assert done.detail["replayed"] is False  # the killed call was still waiting: the system never acted on it


def test_a_crash_between_delivery_and_record_is_replayed_not_done_twice(Session, knowledge, make_worker, systems):
    filed = file(Session, knowledge, "C0032", "erasure", ["store_visits"])
    crashing = make_worker("w-crash", lease=30.0)

    def die(*_args, **_kwargs):
        raise SystemExit("killed after the system acted, before the ledger knew")

    crashing.record = die
    try:
        crashing.process_one(NOW)
    except SystemExit:
        pass
    [task] = tasks_of(Session, filed.request.id)
    assert (task.state, task.locked_by) == ("in_progress", "w-crash")
    assert systems.actions([task.idempotency_key]) == {task.idempotency_key: 1}  # the system did act

    other = make_worker("w-next", lease=30.0)
    assert other.run_once(NOW + 29 * SECOND).total == 0  # the lease still holds
    assert other.run_once(NOW + 30 * SECOND).done == 1
    [task] = tasks_of(Session, filed.request.id)
    assert task.state == "done" and (task.result or {})["erased"] is not None
    assert systems.actions([task.idempotency_key]) == {task.idempotency_key: 1}  # replayed, not erased again
    done = next(a for a in audit_of(Session, filed.request.id) if a.action == "task_done")
    assert done.detail == {"system": "wifi", "attempts": 1, "worker": "w-next", "replayed": True}
    assert request_of(Session, filed.request.id).status == "fulfilled"


@pytest.mark.parametrize("mode, carried_out", [("slow", False), ("slow_answer", True)])
def test_a_system_slower_than_the_workers_timeout_is_asked_again_and_acts_once(
        Session, knowledge, make_worker, systems, mode, carried_out):
    """The worker gives up waiting. A system that was slow to start never acted ("slow"): the retry is
    its first time. One that acted and was slow to answer ("slow_answer"): the retry, with the same
    Idempotency-Key, gets the stored answer back (replayed). Either way it acted exactly once."""
    systems.fault("wifi", mode, delay=2.5, count=1)
    filed = file(Session, knowledge, "C0033" if carried_out else "C0034", "erasure", ["store_visits"])
    worker = make_worker("w-slow", timeout=1.0, backoff_base=1.0)

    assert worker.run_once(NOW).retried == 1
    [task] = tasks_of(Session, filed.request.id)
    assert (task.state, task.attempts) == ("pending", 1) and (task.last_error or "").startswith("no answer within 1 s")
    if carried_out:  # it acted, then answered late
        eventually(lambda: systems.actions([task.idempotency_key]), 30, "the slow system carries out the timed-out call",
                   until=lambda counts: counts == {task.idempotency_key: 1})

    assert worker.run_once(task.next_attempt_at).done == 1
    [task] = tasks_of(Session, filed.request.id)
    assert (task.state, task.attempts) == ("done", 2)
    assert systems.actions([task.idempotency_key]) == {task.idempotency_key: 1}
    done = next(a for a in audit_of(Session, filed.request.id) if a.action == "task_done")
    assert done.detail == {"system": "wifi", "attempts": 2, "worker": "w-slow", "replayed": carried_out}
    assert request_of(Session, filed.request.id).status == "fulfilled"


def test_retry_after_is_read_as_seconds_or_as_a_date():
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == 120 * SECOND
    assert parse_retry_after("Sun, 01 Mar 2026 12:01:30 GMT", now) == 90 * SECOND
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now) == dt.timedelta(0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("99999999") == dt.timedelta(days=1)  # a hostile value cannot park a task for years
