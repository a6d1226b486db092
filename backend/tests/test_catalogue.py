"""One system catalogue (company-systems.yml): routing, the answer to "what do you hold", and what the
assistant may offer all follow it, and what it disagrees with is said, not dropped."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backoffice import catalogue
from backoffice.app import create_app
from backoffice.catalogue import ASSISTANT, Catalogue, CatalogueError
from backoffice.knowledge.rules import register_mismatches, undeclared_fields
from backoffice.knowledge.service import load_knowledge, mismatches, publish_lock
from backoffice.shared.company_systems import CompanySystems

from .conftest import KNOWLEDGE, SYSTEMS_TOKEN, company_systems, eventually, fresh_secret, systems_at
from .requests.test_ledger_api import SERVICE, settings_for
from .staff.conftest import sign_in

CATALOGUE = catalogue.load()
REGISTER = load_knowledge(KNOWLEDGE).versions["2026-09"]
CURRENT = load_knowledge(KNOWLEDGE).current()


def test_the_catalogue_routes_each_category_to_the_systems_that_hold_it():
    assert CATALOGUE.company_systems == ("crm", "orders", "loyalty", "marketing", "wifi", "service")
    assert CATALOGUE.holders["customer_service"] == ("service", ASSISTANT)
    assert CATALOGUE.holders["profile_segments"] == ("loyalty",)
    assert CATALOGUE.route(["store_visits", "customer_service", "account"]) == {
        "crm": ["account"], "wifi": ["store_visits"], "service": ["customer_service"], ASSISTANT: ["customer_service"]}
    assert CATALOGUE.able_to("lookup") == ("crm",) and CATALOGUE.able_to("preferences") == ("marketing",)


def test_every_difference_with_the_register_is_named():
    assert register_mismatches(CATALOGUE, REGISTER) == [
        "the register of version 2026-09 names 'website_usage', which no connected system holds: a request covering it is handled by hand",
        "'contact_details': the register of version 2026-09 says it is held by crm, orders, the catalogue by crm",
        "'profile_segments': the register of version 2026-09 says it is held by marketing, the catalogue by loyalty",
        "'marketing_preferences': the register of version 2026-09 says it is held by crm, marketing, the catalogue by marketing",
    ]


def test_the_demo_company_systems_agree_with_the_catalogue(tmp_path):
    token = fresh_secret("catalogue-systems")
    with company_systems(tmp_path, token) as company:
        systems = CompanySystems(CATALOGUE, systems_at(company.url, token), timeout=5)
        assert mismatches(systems, CURRENT) == ([], [])
        changed = Catalogue({**CATALOGUE.systems, "wifi": CATALOGUE.systems["wifi"].__class__(
            "wifi", CATALOGUE.systems["wifi"].url, CATALOGUE.systems["wifi"].token, ("store_visits", "website_usage"), ("export",))})
        other = CompanySystems(changed, systems_at(company.url, token), timeout=5)
        assert mismatches(other, CURRENT) == ([
            "wifi: the catalogue says categories store_visits, website_usage, the system itself store_visits",
            "wifi: the catalogue says operations export, the system itself erase, export, restrict, stop_processing"], [])
        systems.close()
        other.close()


def test_every_field_the_demo_systems_export_is_declared_in_the_register(company_process):
    """Nothing held that is not declared: every field of every seeded customer's export, in every
    system, is a field the current register's category declares (the date of birth included)."""
    systems = CompanySystems(CATALOGUE, systems_at(company_process.url, SYSTEMS_TOKEN), timeout=5)
    exported = []
    for number in range(1, 51):
        for system in CATALOGUE.company_systems:
            response = systems.export(system, f"C{number:04d}")
            if response.status_code == 200:
                exported += [(system, category, record) for category, records in response.json()["categories"].items()
                             for record in records]
    systems.close()
    assert {field for _, category, record in exported if category == "account" for field in record} >= {"date_of_birth"}
    assert undeclared_fields(CATALOGUE, CURRENT, exported) == []
    account = CURRENT.category("account")
    assert account is not None and "geboortedatum" in account.description.nl


def test_a_field_the_register_does_not_declare_is_named_to_the_privacy_team(company_process, knowledge_copy, db_url, caplog):
    """A register without the date of birth (as the demo's was): the start-up check names the CRM's
    field in the log and on the privacy team's page, and so does a customer's export that holds it."""
    current = load_knowledge(knowledge_copy).current().version.id
    path = knowledge_copy / current / "categories.yml"
    path.write_text(path.read_text().replace("      date_of_birth:\n", "      born_on:\n"))
    (knowledge_copy / "published.lock").write_text("{}")
    publish_lock(knowledge_copy)
    register = load_knowledge(knowledge_copy).current()
    named = (f"crm: its export of 'account' holds the field 'date_of_birth', which the register of version {current} "
             "does not declare: declare it with its purpose, or stop holding it")
    export = company_process.export("crm", "C0001")["categories"]
    assert undeclared_fields(CATALOGUE, register, [("crm", c, r) for c, found in export.items() for r in found]) == [named]
    settings = settings_for(db_url, knowledge_dir=knowledge_copy, company_systems_url=company_process.url)
    with caplog.at_level("WARNING"), TestClient(create_app(settings)) as client:
        sign_in(client, "privacy_officer", "Sanne")
        found = eventually(lambda: named in client.get("/api/privacy/requests").json()["catalogue_problems"], 30,
                           "the undeclared field named on the privacy page")
        page = client.get("/console/privacy/requests").text
    assert found
    assert "date_of_birth" in page and 'data-testid="catalogue-problems"' in page
    assert any(named in r.getMessage() for r in caplog.records)


def test_an_erasure_of_everything_keeps_what_no_system_holds_in_sight_of_the_privacy_team(db_url):
    with TestClient(create_app(settings_for(db_url))) as client:
        filed = client.post("/api/requests", json={"customer_id": "C0060", "type": "erasure",
                                                   "client_request_id": f"cat-{uuid.uuid4()}"}, headers=SERVICE).json()
        assert filed["needs_attention"] == ["website_usage is held by no connected system: handle it by hand"]
        assert ASSISTANT in [t["system"] for t in filed["tasks"]]
        sign_in(client, "privacy_officer", "Sanne")
        overview = client.get("/api/privacy/requests").json()
        page = client.get("/console/privacy/requests").text
    assert overview["counts"]["needs_attention"] == 1
    assert overview["catalogue_problems"][:1] == [register_mismatches(CATALOGUE, CURRENT)[0]]
    assert 'data-testid="catalogue-problems"' in page and "website_usage" in page


@pytest.mark.parametrize("entry, complaint", [
    ("url: x\n    categories: [a]\n    operations: [export]", "needs exactly url, token, categories and operations"),
    ("url: x\n    token: t\n    categories: [a]\n    operations: [export, delete]", "not ['delete']"),
    ("url: x\n    token: t\n    categories: []\n    operations: [export]", "categories must be a list of category ids"),
])
def test_a_broken_catalogue_is_refused_with_the_reason(tmp_path: Path, entry: str, complaint: str):
    path = tmp_path / "systems.yml"
    path.write_text("systems:\n  crm:\n    " + entry + "\n")
    with pytest.raises(CatalogueError, match="system 'crm'") as raised:
        Catalogue.load(path)
    assert complaint in str(raised.value)


def test_an_unset_or_placeholder_variable_of_the_catalogue_is_named():
    with pytest.raises(CatalogueError, match="needs COMPANY_SYSTEMS_TOKEN, which is not set"):
        CATALOGUE.connect({"COMPANY_SYSTEMS_URL": "http://localhost:1"})
    with pytest.raises(CatalogueError, match="needs COMPANY_SYSTEMS_TOKEN, which is still the placeholder"):
        CATALOGUE.connect({"COMPANY_SYSTEMS_URL": "http://localhost:1", "COMPANY_SYSTEMS_TOKEN": "change-me"})


def test_the_vocabulary_is_served_to_the_assistant(db_url):
    with TestClient(create_app(settings_for(db_url))) as client:
        assert client.get("/api/vocabulary").status_code == 401
        served = client.get("/api/vocabulary", headers=SERVICE).json()
    assert served["consents"] == [
        {"id": "newsletter", "purpose": "newsletter", "direct_marketing": True, "linked_to_customer": True},
        {"id": "personalised_offers", "purpose": "personalised_offers", "direct_marketing": True,
         "linked_to_customer": True},
        # the Wi-Fi counts hold a scrambled phone code, not a customer: stopping them needs no verification
        {"id": "wifi_counting", "purpose": "store_visitor_counting", "direct_marketing": False,
         "linked_to_customer": False}]
    assert {c["purpose"] for c in served["consents"]} <= {p.id for p in REGISTER.purposes}
    assert served["correctable_fields"] == ["name", "address", "email", "phone"]
    assert "objection_direct_marketing" in served["rights"] and served["statuses"][0] == "received"
