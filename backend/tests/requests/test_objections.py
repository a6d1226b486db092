"""Objections to a processing on legitimate interest (Art. 21(1)): which purposes can be objected to, that
an objection waits for the privacy team, and that an upheld one stops that processing only."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from backoffice import catalogue
from backoffice.knowledge.rules import objectable_purposes
from backoffice.objections import rules
from backoffice.objections.service import decide
from backoffice.requests.rules import InvalidTransition, RightsRequest, takes_effect_immediately
from backoffice.requests.service.filing import FilingError, file_request
from backoffice.requests.tables import Request
from backoffice.sentences import texts
from backoffice.vocabulary import RequestType, Status

from .conftest import NOW

CATALOGUE = catalogue.load()
FRAUD = ("contact_details", "payment_details", "purchase_history")


def cid() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


# --- the pure rules ----------------------------------------------------------------------------


def test_only_purposes_on_legitimate_interest_can_be_objected_to(knowledge):
    objectable = objectable_purposes(knowledge.purposes)
    assert objectable == {p.id: tuple(p.categories) for p in knowledge.purposes if p.legal_basis == "legitimate_interest"}
    assert set(objectable) == {"customer_service", "fraud_prevention"}
    assert objectable["fraud_prevention"] == FRAUD
    # consent is withdrawn, a contract or a legal duty is not objected to, and direct marketing stays absolute
    assert not {"newsletter", "personalised_offers", "order_fulfilment", "tax_and_accounting"} & set(objectable)
    assert takes_effect_immediately(RequestType.OBJECTION_DIRECT_MARKETING)
    assert not takes_effect_immediately(RequestType.OBJECTION)


def test_an_upheld_objection_tells_only_the_systems_that_carry_the_processing():
    plan = rules.stop_plan("REQ-1", FRAUD, CATALOGUE.route(FRAUD), CATALOGUE.able_to(rules.STOP))
    assert [(t.system, t.categories, t.idempotency_key) for t in plan.tasks] == [
        ("crm", ("contact_details",), "REQ-1:crm"), ("orders", ("payment_details", "purchase_history"), "REQ-1:orders")]
    assert plan.by_hand == ()  # loyalty, marketing, wifi and service do not carry fraud checks: untouched

    service = ("contact_details", "account", "purchase_history", "customer_service")
    plan = rules.stop_plan("REQ-2", service, CATALOGUE.route(service), CATALOGUE.able_to(rules.STOP))
    assert [t.system for t in plan.tasks] == ["crm", "orders", "service"]
    assert plan.by_hand == (catalogue.ASSISTANT,)  # the chat transcripts: the privacy team tells it by hand


def objection(status: Status = Status.VERIFIED) -> RightsRequest:
    return RightsRequest(id="REQ-9", customer_id="C0041", type=RequestType.OBJECTION, received_on=NOW.date(), status=status)


def test_the_privacy_team_upholds_or_refuses_with_a_reason_once():
    plan = rules.stop_plan("REQ-9", FRAUD, CATALOGUE.route(FRAUD), CATALOGUE.able_to(rules.STOP))
    upheld, entry = rules.decide(objection(), True, None, "privacy_officer:a@b", NOW, plan)
    assert upheld.status is Status.IN_PROGRESS and "crm, orders told to stop" in (entry.reason or "")
    refused, entry = rules.decide(objection(), False, "needed to keep payments safe for all customers", "privacy_officer:a@b", NOW)
    assert refused.status is Status.DENIED and refused.denial_reason == "needed to keep payments safe for all customers"
    with pytest.raises(InvalidTransition, match="needs a reason"):
        rules.decide(objection(), False, "  ", "privacy_officer:a@b", NOW)
    with pytest.raises(rules.DecisionRefused, match="decided already"):
        rules.decide(objection(Status.IN_PROGRESS), True, None, "privacy_officer:a@b", NOW, plan)
    with pytest.raises(rules.DecisionRefused, match="no connected system"):
        rules.decide(objection(), True, None, "privacy_officer:a@b", NOW, rules.StopPlan((), ()))
    restriction = RightsRequest(id="REQ-8", customer_id="C0041", type=RequestType.RESTRICTION, received_on=NOW.date(),
                                   status=Status.VERIFIED)
    with pytest.raises(rules.DecisionRefused, match="only an objection"):
        rules.decide(restriction, True, None, "privacy_officer:a@b", NOW, plan)


def test_the_customer_is_told_the_outcome_with_the_authority(knowledge):
    authority = knowledge.company.authority.model_dump()
    refused = rules.outcome("refused", "nl", "fraude voorkomen", "we moeten betalingen veilig houden", "REQ-9", authority,
                            texts("Voltera"))
    assert "afgewezen" in refused and "we moeten betalingen veilig houden" in refused
    assert "Autoriteit Persoonsgegevens" in refused and "https://autoriteitpersoonsgegevens.nl" in refused
    upheld = rules.outcome("upheld", "en", "preventing fraud", None, "REQ-9", authority, texts("Voltera"))
    assert "upheld" in upheld and "we stop preventing fraud" in upheld and "Autoriteit Persoonsgegevens" in upheld


# --- filed, decided and carried out, on the real database and company systems -----------------


def test_an_objection_waits_for_the_privacy_team_with_the_agents_note(Session, knowledge):
    with Session() as s:
        filed = file_request(s, "C0046", "objection", None, {"purpose": "fraud_prevention", "note": "klant belde boos"}, cid(), NOW,
                             knowledge=knowledge, filed_by="agent:7")
        assert filed.tasks == [] and filed.request.status == "verified"  # nothing goes to a system before a decision
        assert sorted(filed.request.categories) == sorted(FRAUD) and filed.request.details["note"] == "klant belde boos"
        assert filed.request.due_on == dt.date(2026, 2, 28)  # one calendar month (Art. 12(3))
        assert "not_in_connected_systems" not in filed.request.details
    for details, problem in (({}, "which processing"), ({"purpose": "newsletter"}, "which processing"),
                             ({"purpose": "order_fulfilment"}, "which processing")):
        with Session() as s, pytest.raises(FilingError, match=problem):
            file_request(s, "C0046", "objection", None, details, cid(), NOW, knowledge=knowledge)
    with Session() as s, pytest.raises(FilingError, match="belongs to an objection"):
        file_request(s, "C0046", "restriction", None, {"purpose": "fraud_prevention"}, cid(), NOW, knowledge=knowledge)


def test_upheld_the_systems_stop_that_processing_only(Session, kb, knowledge, make_worker, systems):
    with Session() as s:
        filed = file_request(s, "C0045", "objection", None, {"purpose": "fraud_prevention"}, cid(), NOW, knowledge=knowledge)
    with Session() as s:
        request = s.get(Request, filed.request.id)
        decide(s, request, True, None, "privacy_officer:p@v", NOW, kb, CATALOGUE)
        assert [(t.system, t.operation, t.payload) for t in request.tasks] == [
            ("crm", "stop_processing", {"purpose": "fraud_prevention", "categories": ["contact_details"]}),
            ("orders", "stop_processing", {"purpose": "fraud_prevention", "categories": ["payment_details", "purchase_history"]})]
        assert request.decision == "upheld" and request.status == "in_progress"
    assert make_worker().run_once(NOW + dt.timedelta(seconds=1)).done == 2
    with Session() as s:
        assert s.get(Request, filed.request.id).status == "fulfilled"
    assert systems.export("orders", "C0045")["stopped_processing"][0]["purpose"] == "fraud_prevention"
    assert systems.export("crm", "C0045")["stopped_processing"][0]["categories"] == ["contact_details"]
    for system in ("crm", "orders", "loyalty", "marketing", "wifi", "service"):
        assert systems.export(system, "C0045")["restricted"] == [], "never a blanket restriction"
    for system in ("loyalty", "marketing", "wifi", "service"):
        assert systems.export(system, "C0045")["stopped_processing"] == [], system


def test_refused_nothing_reaches_a_system(Session, kb, knowledge):
    with Session() as s:
        filed = file_request(s, "C0044", "objection", None, {"purpose": "customer_service"}, cid(), NOW, knowledge=knowledge)
    with Session() as s:
        request = s.get(Request, filed.request.id)
        decide(s, request, False, "we need the record of what was agreed for a legal claim", "privacy_officer:p@v", NOW, kb, CATALOGUE)
        assert request.status == "denied" and request.tasks == [] and request.closed_at == NOW
        with pytest.raises(rules.DecisionRefused):
            decide(s, request, True, None, "privacy_officer:p@v", NOW, kb, CATALOGUE)
