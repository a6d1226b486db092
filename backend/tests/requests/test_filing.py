"""Filing a request: one transaction, idempotent, right deadline, right systems, consents at once."""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from backoffice import catalogue
from backoffice.knowledge.rules import Text
from backoffice.requests.rules import ExtensionRefused, extend
from backoffice.requests.service import filing
from backoffice.requests.service.filing import FilingConflict, FilingError, file_request
from backoffice.requests.tables import AuditEntry, ConsentState, Request, SystemTask

from .conftest import NOW

CATALOGUE = catalogue.load()
# Each system with the categories it holds, as the catalogue says: an erasure of everything reaches all of them.
SYSTEM_CATEGORIES = {s: CATALOGUE.categories_of(s) for s in (*CATALOGUE.company_systems, catalogue.ASSISTANT)}


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def cid() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def test_erasure_is_filed_with_its_deadline_tasks_audit_and_what_is_kept(Session, knowledge):
    with Session() as s:
        filed = file_request(s, "C0001", "erasure", None, {}, cid(), NOW, channel="website", knowledge=knowledge)
    assert filed.created
    with Session() as s:
        request = s.get(Request, filed.request.id)
        # Received 31 January: one calendar month is 28 February (2026 is no leap year).
        assert (request.due_on, request.original_due_on) == (dt.date(2026, 2, 28), dt.date(2026, 2, 28))
        assert request.status == "in_progress" and not request.extended
        assert request.id.startswith("REQ-2026-") and len(request.id) == len("REQ-2026-") + 10
        tasks = s.scalars(select(SystemTask).where(SystemTask.request_id == request.id).order_by(SystemTask.id)).all()
        # No categories given: every system, each with exactly the categories it holds.
        assert {t.system: tuple(t.categories) for t in tasks} == SYSTEM_CATEGORIES
        assert all(t.operation == "erase" and t.payload == {"categories": t.categories} for t in tasks)
        assert all(t.state == "pending" and t.next_attempt_at == NOW for t in tasks)
        assert [t.idempotency_key for t in tasks] == [f"{request.id}:{t.system}" for t in tasks]
        audit = s.scalars(select(AuditEntry).where(AuditEntry.request_id == request.id).order_by(AuditEntry.id)).all()
        assert [(a.action, a.from_status, a.to_status) for a in audit] == [
            ("filed", None, "received"), ("receipt_due", "received", "received"), ("status", "received", "verified"),
            ("status", "verified", "in_progress"),
        ]
        assert audit[0].actor == "customer:C0001" and all(a.at == NOW for a in audit)

    # What is kept, and why, comes from the knowledge base: every erased category that has a text.
    expected = [c.id for c in knowledge.categories if c.id in CATALOGUE.categories and c.kept_after_erasure]
    assert [k["category"] for k in filed.kept_after_erasure] == [c for c in CATALOGUE.categories if c in expected]
    assert "invoices" in expected
    invoices = next(k for k in filed.kept_after_erasure if k["category"] == "invoices")
    assert invoices["reason"] == knowledge.category("invoices").kept_after_erasure.model_dump()
    assert "7" in invoices["reason"]["en"]
    assert request.details["kept_after_erasure"] == filed.kept_after_erasure
    assert request.knowledge_version == knowledge.version.id


def test_what_is_kept_follows_the_knowledge_base_not_the_code(Session, knowledge):
    changed = [
        c.model_copy(update={"kept_after_erasure": Text(nl="Tien jaar bewaard.", en="Kept ten years.")}) if c.id == "store_visits" else c
        for c in knowledge.categories
    ]
    edited = knowledge.model_copy(update={"categories": changed})
    with Session() as s:
        filed = file_request(s, "C0002", "erasure", ["store_visits", "account"], {}, cid(), NOW, knowledge=edited)
    assert filed.kept_after_erasure == [
        {"category": "store_visits", "name": knowledge.category("store_visits").name.model_dump(),
         "reason": {"nl": "Tien jaar bewaard.", "en": "Kept ten years."}}
    ]


def test_only_the_systems_holding_the_categories_get_a_task(Session, knowledge):
    with Session() as s:
        filed = file_request(s, "C0003", "access", ["store_visits", "invoices", "purchase_history"], None, cid(), NOW, knowledge=knowledge)
        assert [(t.system, t.categories, t.operation, t.payload) for t in filed.tasks] == [
            ("orders", ["purchase_history", "invoices"], "export", None),
            ("wifi", ["store_visits"], "export", None),
        ]
        assert filed.kept_after_erasure == []  # not an erasure
        restricted = file_request(s, "C0003", "restriction", ["profile_segments"], None, cid(), NOW, knowledge=knowledge)
        assert [(t.system, t.operation, t.payload) for t in restricted.tasks] == [
            ("loyalty", "restrict", {"categories": ["profile_segments"]})]


def test_a_repeated_filing_returns_the_first_and_adds_nothing(Session, knowledge):
    key = cid()
    with Session() as s:
        first = file_request(s, "C0004", "access", None, {}, key, NOW, knowledge=knowledge)
    with Session() as s:
        again = file_request(s, "C0004", "access", None, {}, key, NOW + dt.timedelta(minutes=3), knowledge=knowledge)
        assert not again.created and again.request.id == first.request.id
        assert [t.id for t in again.tasks] == [t.id for t in first.tasks]
        assert count(s, Request) == 1
        assert count(s, SystemTask) == len(SYSTEM_CATEGORIES)
        assert count(s, AuditEntry) == 4  # filed, receipt due, verified, in progress
        assert s.get(Request, first.request.id).received_at == NOW
        # The same key for another customer or another right is a mistake, not a repeat.
        with pytest.raises(FilingConflict):
            file_request(s, "C0005", "access", None, {}, key, NOW, knowledge=knowledge)
        with pytest.raises(FilingConflict):
            file_request(s, "C0004", "erasure", None, {}, key, NOW, knowledge=knowledge)
        assert count(s, Request) == 1


def test_filing_is_all_or_nothing_when_the_database_refuses_part_of_it(Session, knowledge, monkeypatch):
    real_task = filing._task

    def clashing_task(request_id, system, *args):
        task = real_task(request_id, system, *args)
        task.idempotency_key = f"{request_id}:same-key"  # two tasks with one key: a late INSERT fails
        return task

    monkeypatch.setattr(filing, "_task", clashing_task)
    with Session() as s, pytest.raises(IntegrityError):
        file_request(s, "C0006", "erasure", ["contact_details", "store_visits"], None, cid(), NOW, knowledge=knowledge)
    with Session() as s:  # the request row and its audit entries were written before the failure: all gone
        assert count(s, Request) == 0 and count(s, SystemTask) == 0 and count(s, AuditEntry) == 0


def test_a_crash_after_the_writes_leaves_nothing_behind(Session, knowledge, monkeypatch):
    real = filing._stop_consents

    def crash(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("process died before commit")

    monkeypatch.setattr(filing, "_stop_consents", crash)
    with Session() as s, pytest.raises(RuntimeError):
        file_request(s, "C0007", "objection_direct_marketing", None, None, cid(), NOW, knowledge=knowledge)
    with Session() as s:  # also proves no lock was left behind on SQLite
        assert count(s, Request) == 0 and count(s, SystemTask) == 0 and count(s, AuditEntry) == 0
        assert count(s, ConsentState) == 0


def test_200_concurrent_filings_each_filed_twice_give_200_requests(Session, knowledge):
    keys = [f"burst-{i}-{uuid.uuid4().hex[:8]}" for i in range(200)]

    def file_one(key: str):
        with Session() as s:  # each thread its own session
            filed = file_request(s, f"C{keys.index(key) % 50 + 1:04d}", "access", ["contact_details"], {}, key, NOW, knowledge=knowledge)
            return key, filed.request.id, filed.created

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(file_one, keys + keys[::-1]))

    assert sum(created for _, _, created in results) == 200
    ids_per_key: dict[str, set] = {}
    for key, request_id, _ in results:
        ids_per_key.setdefault(key, set()).add(request_id)
    assert all(len(ids) == 1 for ids in ids_per_key.values())  # both filings of a key got the same request
    with Session() as s:
        assert count(s, Request) == 200
        assert s.scalar(select(func.count(func.distinct(Request.client_request_id)))) == 200
        assert count(s, SystemTask) == 200  # contact_details lives in crm only
        assert count(s, AuditEntry) == 800


def test_the_same_filing_sent_by_20_threads_at_once_is_filed_once(Session, knowledge):
    key = f"twins-{uuid.uuid4().hex}"
    start = threading.Barrier(20)

    def file_twin(_):
        with Session() as s:
            start.wait()
            filed = file_request(s, "C0005", "erasure", None, {}, key, NOW, knowledge=knowledge)
            return filed.request.id, filed.created, len(filed.tasks)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(file_twin, range(20)))
    assert len({request_id for request_id, _, _ in results}) == 1
    assert sum(created for _, created, _ in results) == 1
    assert all(n == len(SYSTEM_CATEGORIES) for _, _, n in results)  # a repeat sees the first one's tasks
    with Session() as s:
        assert count(s, Request) == 1 and count(s, SystemTask) == len(SYSTEM_CATEGORIES) and count(s, AuditEntry) == 4


def test_objection_to_direct_marketing_takes_effect_at_once(Session, knowledge):
    with Session() as s:
        s.add(ConsentState(customer_id="C0008", purpose="newsletter", granted=True, changed_at=NOW - dt.timedelta(days=90),
                           source="signup"))
        s.commit()
    with Session() as s:
        filed = file_request(s, "C0008", "objection_direct_marketing", None, None, cid(), NOW, knowledge=knowledge)
        request_id = filed.request.id
    with Session() as s:  # before any worker ran
        consents = {c.purpose: c for c in s.scalars(select(ConsentState).where(ConsentState.customer_id == "C0008"))}
        assert {p: c.granted for p, c in consents.items()} == {"newsletter": False, "personalised_offers": False}
        assert all(c.changed_at == NOW and c.source == f"request:{request_id}" for c in consents.values())
        task = s.scalar(select(SystemTask).where(SystemTask.request_id == request_id))
        assert (task.system, task.operation, task.payload, task.state) == (
            "marketing", "preferences", {"newsletter": False, "personalised_offers": False}, "pending")
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id).order_by(AuditEntry.id))]
        assert actions == ["filed", "receipt_due", "status", "status", "consent"]
    # It is absolute: no extension (and no denial) by the rules the API uses.
    with pytest.raises(ExtensionRefused):
        extend(filed.request.to_domain(), "busy", NOW, "privacy:anna")


def test_withdrawal_and_opt_out_name_their_purposes(Session, knowledge):
    with Session() as s:
        with pytest.raises(FilingError, match="which consent"):
            file_request(s, "C0009", "withdraw_consent", None, {}, cid(), NOW, knowledge=knowledge)
        with pytest.raises(FilingError, match="purposes"):
            file_request(s, "C0009", "objection_direct_marketing", None, {"purposes": ["wifi_counting"]}, cid(), NOW, knowledge=knowledge)
        wifi = file_request(s, "C0009", "withdraw_consent", None, {"purposes": ["wifi_counting"]}, cid(), NOW, knowledge=knowledge)
        assert wifi.tasks[0].payload == {"wifi_counting": False}
        opt_out = file_request(s, "C0009", "opt_out", None, None, cid(), NOW, knowledge=knowledge)
        assert opt_out.tasks[0].payload == {"newsletter": False, "personalised_offers": False}
        assert s.get(ConsentState, ("C0009", "wifi_counting")).granted is False


def test_correction_needs_a_field_and_a_value_and_goes_to_crm(Session, knowledge):
    with Session() as s:
        with pytest.raises(FilingError, match="which field"):
            file_request(s, "C0010", "rectification", None, {"value": "x"}, cid(), NOW, knowledge=knowledge)
        with pytest.raises(FilingError, match="correct email"):
            file_request(s, "C0010", "rectification", None, {"field": "email", "value": "  "}, cid(), NOW, knowledge=knowledge)
        with pytest.raises(FilingError, match="not invoices"):
            file_request(s, "C0010", "rectification", ["invoices"], {"field": "email", "value": "a@b.nl"}, cid(), NOW, knowledge=knowledge)
        with pytest.raises(FilingError, match="address in its parts"):
            file_request(s, "C0010", "rectification", None, {"field": "address", "value": "Kerkstraat 5 Utrecht"}, cid(), NOW,
                         knowledge=knowledge)
        filed = file_request(s, "C0010", "rectification", None, {"field": "email", "value": " new@example.nl "}, cid(), NOW,
                             knowledge=knowledge)
        assert [(t.system, t.operation, t.payload) for t in filed.tasks] == [
            ("crm", "rectify", {"field": "email", "value": "new@example.nl"})]


@pytest.mark.parametrize("args, message", [
    (("C0011", "forget_me", None, {}), "not a right"),
    (("C0011", "erasure", ["horoscope"], {}), "no connected system holds horoscope"),
    (("C0011", "erasure", ["website_usage"], {}), "no connected system holds website_usage"),
    (("", "erasure", None, {}), "customer's id"),
    (("C 11; drop", "erasure", None, {}), "customer id must be"),
    (("C0011", "erasure", None, {"iban": "NL00"}), "unknown details: iban"),
    (("C0011", "erasure", None, {"purposes": ["newsletter"]}), "purposes belong"),
])
def test_bad_input_is_refused_and_nothing_is_written(Session, knowledge, args, message):
    customer_id, type_, categories, details = args
    with Session() as s:
        with pytest.raises(FilingError, match=message):
            file_request(s, customer_id, type_, categories, details, cid(), NOW, knowledge=knowledge)
        with pytest.raises(FilingError, match="timezone-aware"):
            file_request(s, "C0011", "access", None, {}, cid(), NOW.replace(tzinfo=None), knowledge=knowledge)
        assert count(s, Request) == 0


def test_the_database_refuses_to_change_or_delete_audit_entries(Session, ledger_url, knowledge):
    with Session() as s:
        request_id = file_request(s, "C0012", "access", None, {}, cid(), NOW, knowledge=knowledge).request.id
    for statement in ("UPDATE audit_entries SET reason = 'rewritten'", "DELETE FROM audit_entries"):
        with Session() as s:
            with pytest.raises(Exception, match="append-only"):
                s.execute(text(statement))
                s.commit()
            s.rollback()
    with Session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id)).all()
        assert len(entries) == 4 and "rewritten" not in [e.reason for e in entries]
        entries[0].reason = "rewritten"
        with pytest.raises(RuntimeError, match="append-only"):
            s.flush()


@pytest.mark.parametrize("moment, received, due", [
    (dt.datetime(2026, 1, 31, 22, 30, tzinfo=dt.UTC), dt.date(2026, 1, 31), dt.date(2026, 2, 28)),  # 23:30 Amsterdam
    (dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC), dt.date(2026, 2, 1), dt.date(2026, 3, 1)),  # 00:30 Amsterdam
])
def test_a_request_filed_around_midnight_is_due_by_the_day_in_amsterdam(Session, knowledge, moment, received, due):
    with Session() as s:
        filed = file_request(s, "C0001", "access", None, {}, cid(), moment, channel="assistant", knowledge=knowledge)
    with Session() as s:
        request = s.get(Request, filed.request.id)
        assert request.due_on == due and request.to_domain().received_on == received
