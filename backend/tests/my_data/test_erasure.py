"""Erasure reaches the assistant's own transcripts: the worker deletes the customer's tracker rows and
answer records, once, and no one else's; the request, its audit trail and the verifications stay."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, func, select, text

from backoffice.identity.tables import VerificationAttempt
from backoffice.knowledge.tables import AnswerRecord
from backoffice.requests.service.filing import file_request
from backoffice.requests.tables import AuditEntry, Request, SystemTask
from backoffice.shared.database import open_database
from backoffice.shared.tracker_store import TOMBSTONES, TrackerStore, TranscriptsUnavailable
from backoffice.worker import Claim, Worker, WorkerConfig

from ..conftest import systems_at
from .conftest import RASA_EVENTS, SERVICE, SYSTEMS_TOKEN, bind, new_conversation


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def assistant_task(Session, request_id: str) -> SystemTask:
    with Session() as s:
        return s.scalar(select(SystemTask).where(SystemTask.request_id == request_id, SystemTask.system == "assistant"))


def test_erasure_deletes_the_customers_transcripts_exactly_once_and_no_one_elses(client, clock, tracker, db_url, company, kb):
    engine, Session = open_database(db_url)
    worker = Worker(Session, WorkerConfig(systems_at(company.url, SYSTEMS_TOKEN), tracker_url=tracker.url))
    knowledge = kb.current()

    def file(type_, conversation_id=None, customer_id="C0009"):
        with Session() as s:
            return file_request(s, customer_id, type_, ["customer_service"], {}, f"t-{uuid.uuid4().hex}", clock(),
                                conversation_id=conversation_id, knowledge=knowledge).request

    try:
        bound, filed_from, shared, theirs = (new_conversation() for _ in range(4))
        bind(client, clock, bound, "C0009")
        bind(client, clock, shared, "C0009")
        bind(client, clock, theirs, "C0008")
        for conversation in (bound, filed_from, shared, theirs):
            tracker.say(conversation, ("user", f"hello from {conversation}"), ("bot", "hello"), ("user", "erase me"), ("bot", "done"))
        events = {c: tracker.count(c) for c in (bound, filed_from, shared, theirs)}
        assert all(n == 7 for n in events.values())  # session start, and per turn a user, or an action and a bot event
        with Session.begin() as s:
            s.add_all([AnswerRecord(conversation_id=c, knowledge_version=knowledge.version.id, topic="purposes", language="en")
                       for c in (bound, bound, theirs)])
        access = file("access", filed_from)  # a request filed from a conversation makes it the customer's too
        clock.advance(minutes=61)  # the shared device: a second customer verifies in the same conversation later
        bind(client, clock, shared, "C0007")
        restriction = file("restriction", bound)
        erasure = file("erasure", bound)

        report = worker.run_once(clock())
        assert (report.done, report.failed, report.retried) == (6, 0, 0)  # service and assistant, for three requests

        exported = assistant_task(Session, access.id).result or {}
        assert exported["categories"]["customer_service"] == [  # oldest first; the shared one is not the customer's alone
            {"conversation_id": bound, "messages": 4}, {"conversation_id": filed_from, "messages": 4}]
        assert "not_applicable" in (assistant_task(Session, restriction.id).result or {})

        task = assistant_task(Session, erasure.id)
        assert task.state == "done" and task.attempts == 1
        result = task.result or {}
        assert result["erased"] == {"customer_service": 2}
        assert result["tracker_events_erased"] == events[bound] + events[filed_from]
        assert result["answer_records_erased"] == 2
        assert result["kept"][0]["count"] == 1 and "another customer" in result["kept"][0]["reason"]
        # The customer's conversations are gone; the shared one and the other customer's are untouched.
        assert (tracker.count(bound), tracker.count(filed_from)) == (0, 0)
        assert (tracker.count(shared), tracker.count(theirs)) == (events[shared], events[theirs])
        with Session() as s:
            assert count(s, AnswerRecord, AnswerRecord.conversation_id == bound) == 0
            assert count(s, AnswerRecord, AnswerRecord.conversation_id == theirs) == 1
            # Kept for accountability: the requests, their audit trail, the verifications.
            assert count(s, Request, Request.customer_id == "C0009") == 3
            assert s.get(Request, erasure.id).status == "fulfilled"
            assert [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.request_id == erasure.id))].count("task_done") == 2
            verified = (VerificationAttempt.customer_id == "C0009", VerificationAttempt.verified_at.is_not(None))
            assert count(s, VerificationAttempt, *verified) == 2

        # Delivered again (a lease ran out, a crash before the ledger knew): nothing left to delete, and still done.
        again = worker.deliver(Claim(task.id, erasure.id, "C0009", "assistant", "erase", task.payload, task.idempotency_key, clock()))
        assert again.ok and again.body is not None and again.body["erased"] == {"customer_service": 0}
        assert (again.body["tracker_events_erased"], again.body["answer_records_erased"]) == (0, 0)
        second = file("erasure", bound)
        assert worker.run_once(clock()).done == 2
        assert (assistant_task(Session, second.id).result or {})["tracker_events_erased"] == 0
        assert (tracker.count(shared), tracker.count(theirs)) == (events[shared], events[theirs])

        # What the customer now sees: no conversations, and no customer service contacts at all.
        bind(client, clock, bound, "C0009")
        data = client.get(f"/api/conversations/{bound}/my-data", headers=SERVICE).json()
        assert data["conversations"] == {"count": 0, "messages": 0, "shared_left_out": 1}
        assert "customer_service" in data["empty_categories"]
    finally:
        worker.close()
        engine.dispose()


def test_without_a_tracker_store_the_assistants_task_fails_visibly(db_url, company, kb, clock):
    engine, Session = open_database(db_url)
    worker = Worker(Session, WorkerConfig(systems_at(company.url, SYSTEMS_TOKEN)))  # no tracker_url
    try:
        with Session() as s:
            request = file_request(s, "C0010", "erasure", ["customer_service"], {}, f"t-{uuid.uuid4().hex}", clock(),
                                   knowledge=kb.current()).request
        report = worker.run_once(clock())
        assert (report.done, report.failed) == (1, 1)
        task = assistant_task(Session, request.id)
        assert task.state == "failed" and "not configured" in (task.last_error or "")
        with Session() as s:
            assert s.get(Request, request.id).status == "in_progress"  # not fulfilled while transcripts remain
    finally:
        worker.close()
        engine.dispose()


def test_an_erasure_leaves_a_tombstone_that_a_later_erasure_moves_on(tracker, clock):
    """Rasa's erasure-aware store (bot/tracker_store.py) writes no event older than the tombstone."""
    store = TrackerStore(tracker.url)
    conversation = new_conversation()
    tracker.say(conversation, ("user", "erase me"), ("bot", "done"))
    try:
        first = clock()
        assert store.erase([conversation], first) == (1, 4)
        assert tombstone(tracker, conversation) == first.timestamp() and tracker.count(conversation) == 0
        clock.advance(minutes=5)
        again = clock()
        assert store.erase([conversation], again) == (0, 0)
        assert tombstone(tracker, conversation) == again.timestamp()
    finally:
        store.close()


def test_a_missing_tracker_store_fails_the_erasure_instead_of_counting_as_done(tmp_path, clock):
    missing = TrackerStore(f"sqlite:///{tmp_path / 'not-there' / 'rasa-tracker.db'}")
    with pytest.raises(TranscriptsUnavailable, match="does not exist"):
        missing.erase([new_conversation()], clock())
    assert not (tmp_path / "not-there" / "rasa-tracker.db").exists()  # nothing was created either


def test_a_tracker_store_without_events_or_tombstones_fails_the_erasure(tmp_path, clock):
    """An empty database (Rasa pointed elsewhere), or Rasa's plain SQLTrackerStore (no tombstones)."""
    url = f"sqlite:///{tmp_path / 'rasa-tracker.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as c:
            c.execute(text("CREATE TABLE unrelated (id INTEGER)"))
        with pytest.raises(TranscriptsUnavailable, match="no events table"):
            TrackerStore(url).erase([new_conversation()], clock())
        RASA_EVENTS.metadata.create_all(engine)
        with pytest.raises(TranscriptsUnavailable, match="ErasureAwareTrackerStore"):
            TrackerStore(url).erase([new_conversation()], clock())
    finally:
        engine.dispose()


def test_the_worker_fails_the_assistants_task_visibly_when_the_tracker_store_is_missing(db_url, company, kb, clock, tmp_path):
    engine, Session = open_database(db_url)
    missing = f"sqlite:///{tmp_path / 'rasa-tracker.db'}"
    worker = Worker(Session, WorkerConfig(systems_at(company.url, SYSTEMS_TOKEN), tracker_url=missing))
    try:
        with Session() as s:
            request = file_request(s, "C0010", "erasure", ["customer_service"], {}, f"t-{uuid.uuid4().hex}", clock(),
                                   knowledge=kb.current()).request
        worker.run_once(clock())
        task = assistant_task(Session, request.id)
        assert task.state != "done" and "does not exist" in (task.last_error or "")
        with Session() as s:
            assert s.get(Request, request.id).status == "in_progress"
    finally:
        worker.close()
        engine.dispose()


def tombstone(tracker, conversation_id: str) -> float:
    with tracker.engine.connect() as c:
        return c.scalar(select(TOMBSTONES.c.erased_at).where(TOMBSTONES.c.sender_id == conversation_id))
