from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backoffice.app import create_app
from backoffice.settings import Settings

from .conftest import KNOWLEDGE

TOKEN = "test-service-token"


@pytest.fixture
def client(sqlite_url: str) -> TestClient:
    settings = Settings(
        knowledge_dir=KNOWLEDGE,
        web_dir=Path(__file__).resolve().parents[2] / "web",
        database_url=sqlite_url,
        socket_url="http://localhost:5005",
        service_token=TOKEN,
        company_systems_token="test-systems-token",  # the catalogue needs one; no system is called here
    )
    return TestClient(create_app(settings))


def test_lists_versions_with_current(client):
    body = client.get("/api/knowledge/versions").json()
    ids = [v["id"] for v in body["versions"]]
    assert body["current"] in ids and "draft" in ids


def test_the_current_version_stays_current_while_nothing_newer_is_published(client):
    body = client.get("/api/knowledge/versions").json()
    assert body["current_until"] is None and body["current_for_seconds"] is None  # the draft is not published


def test_published_version_is_cacheable_for_good(client):
    current = client.get("/api/knowledge/versions").json()["current"]
    response = client.get(f"/api/knowledge/versions/{current}")
    assert "immutable" in response.headers["cache-control"]
    assert response.json()["version"]["id"] == current


def test_entry_by_category_and_language(client):
    nl = client.get("/api/knowledge/versions/current/categories/purchase_history?lang=nl").json()
    en = client.get("/api/knowledge/versions/current/categories/purchase_history?lang=en").json()
    assert nl["categories"]["name"] == "aankoopgeschiedenis"
    assert en["categories"]["name"] == "purchase history"
    assert "order_fulfilment" in en["categories"]["purposes"]


def test_entry_by_topic(client):
    body = client.get("/api/knowledge/versions/current/topics/security?lang=en").json()
    assert "encrypt" in body["text"]
    assert client.get("/api/knowledge/versions/current/topics/rights.erasure?lang=nl").status_code == 200


def test_unknown_entries_are_404(client):
    assert client.get("/api/knowledge/versions/1999-01").status_code == 404
    assert client.get("/api/knowledge/versions/current/categories/horoscope").status_code == 404


def test_difference_between_versions(client):
    versions = client.get("/api/knowledge/versions").json()
    published = sorted((v for v in versions["versions"] if v["status"] == "published"), key=lambda v: v["effective_date"])
    body = client.get(f"/api/knowledge/diff?from_version={published[0]['id']}&to_version={published[1]['id']}").json()
    assert "store_visits" in body["sections"]["categories"]["added"]
    assert body["changelog"]


@pytest.mark.parametrize("method", ["put", "patch", "delete", "post"])
def test_versions_are_read_only(client, method):
    current = client.get("/api/knowledge/versions").json()["current"]
    response = client.request(method.upper(), f"/api/knowledge/versions/{current}", json={})
    assert response.status_code == 405


def test_answer_record_needs_the_service_token(client):
    body = {"knowledge_version": "2026-09", "topic": "retention", "language": "en"}
    assert client.post("/api/conversations/c1/answers", json=body).status_code == 401
    assert client.post("/api/conversations/c1/answers", json=body, headers={"Authorization": "Bearer forged"}).status_code == 401


def test_records_which_version_answered_a_conversation(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    current = client.get("/api/knowledge/versions").json()["current"]
    body = {"knowledge_version": current, "topic": "retention", "language": "nl"}
    assert client.post("/api/conversations/c1/answers", json=body, headers=auth).status_code == 201
    assert client.post("/api/conversations/c1/answers", json={**body, "knowledge_version": "nope"}, headers=auth).status_code == 422
    answers = client.get("/api/conversations/c1/answers", headers=auth).json()["answers"]
    assert [(a["knowledge_version"], a["topic"]) for a in answers] == [(current, "retention")]


def test_serves_the_demo_website(client):
    assert "Voltera" in client.get("/").text
    assert "socketUrl" in client.get("/config.js").text


def test_a_missing_chat_client_is_a_clear_404_not_a_500(tmp_path, sqlite_url):
    """A checkout without `make deps` (no web/node_modules) serves the page, and says what is missing."""
    web = tmp_path / "web"
    (web / "static").mkdir(parents=True)
    (web / "index.html").write_text("<!DOCTYPE html><title>t</title>")
    settings = Settings(knowledge_dir=KNOWLEDGE, web_dir=web, database_url=sqlite_url,
                        socket_url="http://localhost:5005", service_token=TOKEN, company_systems_token="test-systems-token")
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        answer = c.get("/vendor/socket.io.min.js")
        assert answer.status_code == 404 and "make deps" in answer.json()["detail"]
        assert c.get("/").status_code == 200
