import datetime as dt
from dataclasses import FrozenInstanceError

import pytest

from backoffice.requests.rules import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    CCPA,
    GDPR,
    TRANSITIONS,
    AuditEntry,
    ExtensionRefused,
    InvalidTransition,
    Regime,
    RequestType,
    RightsRequest,
    Status,
    SystemTask,
    TaskState,
    add_months,
    confirmation_due,
    due_date,
    due_within,
    extend,
    extended_due_date,
    is_overdue,
    local_date,
    needs_attention,
    next_backoff,
    record_done,
    record_failure,
    request_fulfilled,
    takes_effect_immediately,
    transition,
)

AMS = dt.timezone(dt.timedelta(hours=1))
NOW = dt.datetime(2025, 2, 10, 9, 30, tzinfo=AMS)
S = Status

# Written out by hand, so that any change to the lifecycle table has to change this test too.
EXPECTED_MOVES = {
    (S.RECEIVED, S.IDENTITY_UNVERIFIED),
    (S.RECEIVED, S.VERIFIED),
    (S.RECEIVED, S.DENIED),
    (S.RECEIVED, S.CANCELED),
    (S.IDENTITY_UNVERIFIED, S.VERIFIED),
    (S.IDENTITY_UNVERIFIED, S.DENIED),
    (S.IDENTITY_UNVERIFIED, S.CANCELED),
    (S.IDENTITY_UNVERIFIED, S.EXPIRED),
    (S.VERIFIED, S.IN_PROGRESS),
    (S.VERIFIED, S.DENIED),
    (S.VERIFIED, S.CANCELED),
    (S.IN_PROGRESS, S.FULFILLED),
    (S.IN_PROGRESS, S.DENIED),
    (S.IN_PROGRESS, S.CANCELED),
}
ALL_PAIRS = {(a, b) for a in Status for b in Status}


def make(status=S.RECEIVED, type=RequestType.ACCESS, received_on=dt.date(2025, 1, 31), regime=GDPR, **kw):
    return RightsRequest(id="R-1", customer_id="C-42", type=type, received_on=received_on, regime=regime, status=status, **kw)


def done_tasks(request_id="R-1"):
    return [record_done(SystemTask.for_request(request_id, system, ["contact"])) for system in ("crm", "loyalty")]


def move(request, to, reason=None, actor="agent:anna", now=NOW, tasks=None):
    if to is S.DENIED and reason is None:
        reason = "we hold no data under this e-mail address"
    if to is S.FULFILLED and tasks is None:
        tasks = done_tasks(request.id)
    return transition(request, to, actor, reason, now=now, tasks=tasks)


# --- rights -------------------------------------------------------------------------------------


def test_every_right_names_its_gdpr_article():
    assert RequestType.ACCESS.article == "Art. 15"
    assert RequestType.RECTIFICATION.article == "Art. 16"
    assert RequestType.ERASURE.article == "Art. 17"
    assert RequestType.RESTRICTION.article == "Art. 18"
    assert RequestType.PORTABILITY.article == "Art. 20"
    assert RequestType.OBJECTION.article == "Art. 21(1)"
    assert RequestType.OBJECTION_DIRECT_MARKETING.article == "Art. 21(2)-(3)"
    assert RequestType.WITHDRAW_CONSENT.article == "Art. 7(3)"
    assert "Art. 21" in RequestType.OPT_OUT.article and "Art. 7(3)" in RequestType.OPT_OUT.article
    assert {t.value for t in RequestType} == {
        "access", "portability", "rectification", "erasure", "restriction",
        "objection", "objection_direct_marketing", "withdraw_consent", "opt_out",
    }


def test_request_type_round_trips_through_its_stored_value():
    assert RequestType("erasure") is RequestType.ERASURE
    assert make(type="erasure").type is RequestType.ERASURE


def test_only_objection_to_direct_marketing_takes_effect_immediately():
    assert [t for t in RequestType if takes_effect_immediately(t)] == [RequestType.OBJECTION_DIRECT_MARKETING]


# --- lifecycle ----------------------------------------------------------------------------------


def test_transition_table_is_exactly_the_designed_lifecycle():
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == EXPECTED_MOVES
    assert set(TRANSITIONS) == set(Status)


@pytest.mark.parametrize("source,target", sorted(EXPECTED_MOVES))
def test_every_allowed_move_changes_status_and_writes_an_audit_entry(source, target):
    request = make(status=source)
    moved, entry = move(request, target, reason="customer asked" if target is not S.DENIED else "no data held")
    assert moved.status is target
    assert request.status is source, "the original request must not change"
    assert entry == AuditEntry(
        request_id="R-1", actor="agent:anna", action="status", from_status=source, to_status=target,
        reason="customer asked" if target is not S.DENIED else "no data held", at=NOW,
    )


@pytest.mark.parametrize("source,target", sorted(ALL_PAIRS - EXPECTED_MOVES))
def test_every_other_move_is_refused(source, target):
    request = make(status=source)
    with pytest.raises(InvalidTransition) as err:
        move(request, target)
    assert source.value in str(err.value) and "R-1" in str(err.value)


def test_refusal_says_where_the_request_can_go():
    with pytest.raises(InvalidTransition, match="from received to in_progress.*canceled, denied, identity_unverified, verified"):
        move(make(status=S.RECEIVED), S.IN_PROGRESS)


def test_closed_request_does_not_reopen():
    with pytest.raises(InvalidTransition, match="already fulfilled"):
        move(make(status=S.FULFILLED), S.IN_PROGRESS)


def test_unknown_status_is_refused_clearly():
    with pytest.raises(InvalidTransition, match="'archived' is not a status"):
        transition(make(), "archived", "agent:anna", now=NOW)


def test_full_life_with_identity_check_leaves_an_audit_trail():
    request = make()
    trail = []
    for target, actor in [
        (S.IDENTITY_UNVERIFIED, "system:ledger"),
        (S.VERIFIED, "customer:C-42"),
        (S.IN_PROGRESS, "system:outbox"),
        (S.FULFILLED, "system:outbox"),
    ]:
        request, entry = move(request, target, actor=actor)
        trail.append((entry.actor, entry.from_status.value, entry.to_status.value))
    assert trail == [
        ("system:ledger", "received", "identity_unverified"),
        ("customer:C-42", "identity_unverified", "verified"),
        ("system:outbox", "verified", "in_progress"),
        ("system:outbox", "in_progress", "fulfilled"),
    ]
    assert not request.is_open


def test_verified_session_skips_the_identity_step():
    moved, entry = move(make(), S.VERIFIED, actor="customer:C-42", reason="logged-in website session")
    assert moved.status is S.VERIFIED and entry.from_status is S.RECEIVED
    assert entry.reason == "logged-in website session"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_denial_needs_a_reason(reason):
    with pytest.raises(InvalidTransition, match="denial needs a reason"):
        transition(make(status=S.VERIFIED), S.DENIED, "dpo:jan", reason, now=NOW)


def test_denial_keeps_the_reason_on_the_request():
    moved, entry = transition(make(status=S.VERIFIED), S.DENIED, "dpo:jan", "  invoices kept 7 years (tax law)  ", now=NOW)
    assert moved.denial_reason == "invoices kept 7 years (tax law)"
    assert entry.reason == "invoices kept 7 years (tax law)"


@pytest.mark.parametrize("source", [S.RECEIVED, S.IDENTITY_UNVERIFIED, S.VERIFIED, S.IN_PROGRESS])
def test_objection_to_direct_marketing_can_never_be_denied(source):
    request = make(status=source, type=RequestType.OBJECTION_DIRECT_MARKETING)
    with pytest.raises(InvalidTransition, match="absolute"):
        move(request, S.DENIED, reason="we would rather keep mailing")


def test_objection_to_direct_marketing_can_still_be_canceled_by_the_customer():
    request = make(status=S.IN_PROGRESS, type=RequestType.OBJECTION_DIRECT_MARKETING)
    moved, _ = move(request, S.CANCELED, actor="customer:C-42")
    assert moved.status is S.CANCELED


def test_fulfilled_only_when_every_task_is_done():
    request = make(status=S.IN_PROGRESS)
    crm, loyalty = done_tasks()
    pending = SystemTask.for_request("R-1", "marketing", ["email"])
    failed = record_failure(pending, "HTTP 500", NOW, max_attempts=1)
    with pytest.raises(InvalidTransition, match="marketing \\(pending\\)"):
        move(request, S.FULFILLED, tasks=[crm, loyalty, pending])
    with pytest.raises(InvalidTransition, match="marketing \\(failed\\)"):
        move(request, S.FULFILLED, tasks=[crm, loyalty, failed])
    with pytest.raises(InvalidTransition, match="no system tasks"):
        move(request, S.FULFILLED, tasks=[])
    with pytest.raises(InvalidTransition, match="another request"):
        move(request, S.FULFILLED, tasks=done_tasks("R-2"))
    assert move(request, S.FULFILLED, tasks=[crm, loyalty])[0].status is S.FULFILLED


def test_audit_needs_an_actor_and_an_unambiguous_time():
    with pytest.raises(ValueError, match="actor"):
        transition(make(), S.VERIFIED, "  ", now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        transition(make(), S.VERIFIED, "agent:anna", now=dt.datetime(2025, 2, 10, 9, 30))


def test_requests_and_audit_entries_are_immutable():
    request, entry = move(make(), S.VERIFIED)
    with pytest.raises(FrozenInstanceError):
        request.status = S.FULFILLED
    with pytest.raises(FrozenInstanceError):
        entry.reason = "changed afterwards"


# --- deadlines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "received,due",
    [
        (dt.date(2025, 1, 31), dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 31), dt.date(2024, 2, 29)),
        (dt.date(2025, 1, 30), dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 30), dt.date(2024, 2, 29)),
        (dt.date(2025, 3, 31), dt.date(2025, 4, 30)),
        (dt.date(2025, 2, 28), dt.date(2025, 3, 28)),
        (dt.date(2024, 2, 29), dt.date(2024, 3, 29)),
        (dt.date(2025, 8, 31), dt.date(2025, 9, 30)),
        (dt.date(2024, 12, 15), dt.date(2025, 1, 15)),
        (dt.date(2024, 12, 31), dt.date(2025, 1, 31)),
        (dt.date(2025, 3, 5), dt.date(2025, 4, 5)),
    ],
)
def test_gdpr_due_date_is_one_calendar_month_clamped_to_month_end(received, due):
    assert due_date(received, GDPR) == due


def test_add_months_crosses_years():
    assert add_months(dt.date(2024, 11, 30), 3) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2023, 11, 30), 3) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 5, 17), 0) == dt.date(2025, 5, 17)
    assert add_months(dt.date(2025, 5, 17), 24) == dt.date(2027, 5, 17)


def test_new_request_gets_its_due_date_from_the_regime():
    request = make(received_on=dt.date(2024, 1, 31))
    assert request.due_on == request.original_due_on == dt.date(2024, 2, 29)
    assert not request.extended


def test_extension_moves_deadline_to_three_months_after_receipt_and_keeps_reason():
    request = make(status=S.IN_PROGRESS, received_on=dt.date(2025, 1, 31))
    reason = "your data sits in five systems, two of them archived"
    extended, entry = extend(request, reason, NOW, "dpo:jan")
    # 31 Jan + 3 months = 30 April; 28 Feb + 2 months would wrongly be 28 April.
    assert extended.due_on == dt.date(2025, 4, 30) == extended_due_date(request.received_on, GDPR)
    assert extended.original_due_on == dt.date(2025, 2, 28)
    assert extended.extended and extended.extension_reason == reason
    assert extended.status is S.IN_PROGRESS
    assert entry.action == "extension" and entry.reason == reason and entry.actor == "dpo:jan"
    assert entry.from_status is entry.to_status is S.IN_PROGRESS
    assert not request.extended, "the original request must not change"


def test_extension_is_allowed_once():
    request = make(status=S.IN_PROGRESS)
    extended, _ = extend(request, "many requests at once", NOW, "dpo:jan")
    with pytest.raises(ExtensionRefused, match="already extended to 2025-04-30"):
        extend(extended, "still complex", NOW, "dpo:jan")


def test_extension_must_be_told_within_the_first_month():
    request = make(status=S.IN_PROGRESS, received_on=dt.date(2025, 1, 31))
    on_due_date = dt.datetime(2025, 2, 28, 23, 0, tzinfo=AMS)
    assert extend(request, "complex", on_due_date, "dpo:jan")[0].due_on == dt.date(2025, 4, 30)
    with pytest.raises(ExtensionRefused, match="too late.*2025-02-28"):
        extend(request, "complex", dt.datetime(2025, 3, 1, 8, 0, tzinfo=AMS), "dpo:jan")


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_extension_needs_a_reason(reason):
    with pytest.raises(ExtensionRefused, match="needs a reason"):
        extend(make(status=S.VERIFIED), reason, NOW, "dpo:jan")


def test_extension_refused_for_closed_requests_and_direct_marketing_objections():
    with pytest.raises(ExtensionRefused, match="already fulfilled"):
        extend(make(status=S.FULFILLED), "complex", NOW, "dpo:jan")
    with pytest.raises(ExtensionRefused, match="takes effect at once"):
        extend(make(status=S.IN_PROGRESS, type=RequestType.OBJECTION_DIRECT_MARKETING), "busy", NOW, "dpo:jan")


def test_ccpa_gives_45_days_plus_45_and_confirmation_in_10_business_days():
    received = dt.date(2025, 1, 3)  # a Friday
    request = make(status=S.VERIFIED, received_on=received, regime=CCPA)
    assert request.due_on == dt.date(2025, 2, 17)
    extended, _ = extend(request, "complex", dt.datetime(2025, 2, 1, 12, 0, tzinfo=AMS), "dpo:jan")
    assert extended.due_on == dt.date(2025, 4, 3)
    assert confirmation_due(received, CCPA) == dt.date(2025, 1, 17)
    assert confirmation_due(received, GDPR) is None


def test_ccpa_opt_out_is_due_in_15_business_days_without_extension():
    received = dt.date(2025, 1, 3)
    request = make(type=RequestType.OPT_OUT, received_on=received, regime=CCPA)
    assert request.due_on == dt.date(2025, 1, 24)
    assert due_date(received, CCPA) == dt.date(2025, 2, 17)
    assert due_date(received, GDPR, RequestType.OPT_OUT) == dt.date(2025, 2, 3)
    with pytest.raises(ExtensionRefused, match="CCPA allows no extension for opt_out"):
        extend(request, "complex", NOW.replace(month=1, day=10), "dpo:jan")


def test_regime_is_configurable_and_checked():
    quick = Regime("house rule", days=14)
    assert due_date(dt.date(2025, 1, 31), quick) == dt.date(2025, 2, 14)
    with pytest.raises(ExtensionRefused, match="house rule allows no extension"):
        extend(make(regime=quick), "complex", NOW.replace(day=1), "dpo:jan")
    with pytest.raises(ValueError):
        Regime("nothing")
    with pytest.raises(ValueError):
        Regime("negative", months=1, extension_days=-1)


def test_overdue_only_after_the_due_date_and_only_while_open():
    request = make(status=S.IN_PROGRESS, received_on=dt.date(2025, 1, 31))  # due 28 Feb 2025
    assert not is_overdue(request, dt.date(2025, 2, 28))
    assert is_overdue(request, dt.date(2025, 3, 1))
    assert is_overdue(request, dt.datetime(2025, 3, 1, 0, 1, tzinfo=AMS))
    assert not is_overdue(make(status=S.FULFILLED, received_on=dt.date(2025, 1, 31)), dt.date(2025, 3, 1))


def test_due_this_week():
    request = make(status=S.VERIFIED, received_on=dt.date(2025, 1, 31))  # due 28 Feb 2025
    assert due_within(request, dt.date(2025, 2, 21), 7)
    assert due_within(request, dt.date(2025, 2, 28), 7)
    assert not due_within(request, dt.date(2025, 2, 20), 7)
    assert not due_within(request, dt.date(2025, 3, 1), 7), "overdue is reported as overdue, not as due"
    assert not due_within(make(status=S.DENIED, denial_reason="x"), dt.date(2025, 2, 25), 7)


# --- system tasks -------------------------------------------------------------------------------


def test_backoff_doubles_up_to_a_cap():
    assert [next_backoff(n) for n in (1, 2, 3, 4)] == [BACKOFF_BASE * f for f in (1, 2, 4, 8)]
    assert next_backoff(20) == BACKOFF_CAP
    assert next_backoff(10_000) == BACKOFF_CAP
    assert next_backoff(3) == next_backoff(3), "no jitter: the schedule is deterministic"
    assert next_backoff(3, base=dt.timedelta(seconds=1), cap=dt.timedelta(seconds=3)) == dt.timedelta(seconds=3)


def test_backoff_never_waits_less_than_retry_after():
    assert next_backoff(1, retry_after=600) == dt.timedelta(seconds=600)
    assert next_backoff(1, retry_after=dt.timedelta(minutes=5)) == dt.timedelta(minutes=5)
    assert next_backoff(4, retry_after=1) == BACKOFF_BASE * 8
    assert next_backoff(30, retry_after=7200) == dt.timedelta(hours=2), "Retry-After beats the cap"
    assert next_backoff(1, retry_after=0) == BACKOFF_BASE


def test_backoff_rejects_nonsense():
    with pytest.raises(ValueError):
        next_backoff(0)
    with pytest.raises(ValueError):
        next_backoff(1, retry_after=-5)


def test_failed_attempt_is_retried_later_then_marked_failed_and_visible():
    task = SystemTask.for_request("R-1", "crm", ["contact", "orders"])
    assert task.idempotency_key == "R-1:crm" and task.state is TaskState.PENDING and task.attempts == 0
    task = record_failure(task, "HTTP 429", NOW, retry_after=120, max_attempts=3)
    assert (task.state, task.attempts, task.last_error) == (TaskState.PENDING, 1, "HTTP 429")
    assert task.next_attempt_at == NOW + dt.timedelta(seconds=120)
    task = record_failure(task, "HTTP 500", NOW, max_attempts=3)
    assert task.next_attempt_at == NOW + BACKOFF_BASE * 2
    task = record_failure(task, "timeout", NOW, max_attempts=3)
    assert (task.state, task.attempts, task.next_attempt_at) == (TaskState.FAILED, 3, None)
    assert task.idempotency_key == "R-1:crm", "a retry must reuse the key"


def test_request_fulfilled_only_when_all_tasks_done():
    crm, loyalty = done_tasks()
    assert request_fulfilled([crm, loyalty])
    assert not request_fulfilled([])
    for state in (TaskState.PENDING, TaskState.IN_PROGRESS, TaskState.FAILED):
        other = SystemTask.for_request("R-1", "marketing", ["email"])
        other = SystemTask(**{**other.__dict__, "state": state})
        assert not request_fulfilled([crm, other, loyalty]), state


def test_failed_task_and_overdue_request_need_attention():
    request = make(status=S.IN_PROGRESS, received_on=dt.date(2025, 1, 31))
    crm, loyalty = done_tasks()
    failed = record_failure(SystemTask.for_request("R-1", "marketing", ["email"]), "HTTP 503", NOW, max_attempts=1)
    assert needs_attention(request, [crm, loyalty], dt.date(2025, 2, 10)) == []
    assert needs_attention(request, [crm, failed], dt.date(2025, 2, 10)) == ["marketing failed after 1 attempts: HTTP 503"]
    assert needs_attention(request, [crm, failed], dt.date(2025, 3, 3)) == [
        "overdue since 2025-02-28",
        "marketing failed after 1 attempts: HTTP 503",
    ]
    assert not request_fulfilled([crm, failed])


@pytest.mark.parametrize(
    "moment, day",
    [
        (dt.datetime(2026, 1, 31, 22, 59, tzinfo=dt.UTC), dt.date(2026, 1, 31)),  # 23:59 in Amsterdam
        (dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC), dt.date(2026, 2, 1)),  # 00:30 in Amsterdam
        (dt.datetime(2026, 6, 30, 21, 59, tzinfo=dt.UTC), dt.date(2026, 6, 30)),  # summer time: 23:59
        (dt.datetime(2026, 6, 30, 22, 0, tzinfo=dt.UTC), dt.date(2026, 7, 1)),  # summer time: 00:00
    ],
)
def test_the_day_a_request_is_received_is_the_day_in_amsterdam(moment, day):
    assert local_date(moment) == day


def test_a_moment_without_a_time_zone_names_no_day():
    with pytest.raises(ValueError):
        local_date(dt.datetime(2026, 1, 31, 23, 30))
