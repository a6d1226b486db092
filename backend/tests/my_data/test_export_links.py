"""Download links: the customer's own data as JSON and CSV, for minutes, for that customer only;
an expired link is gone (410), a changed or foreign one refused (403), and every link and download is on record.
The token in a link is opaque: random, naming no one; its record is kept under the token's keyed hash."""
from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import re
import secrets

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session as OrmSession

from backoffice.app import create_app
from backoffice.my_data.tables import ExportDownload, ExportLink

from .conftest import (
    EXPORT_SECRET,
    PUBLIC_URL,
    SERVICE,
    SESSION_SECRET,
    TOKENS,
    bind,
    local,
    make_settings,
    new_conversation,
    routes,
)

CSV_HEADER = ["category", "system", "record", "field", "value"]


def issue(client, conversation_id, **params) -> dict:
    response = client.post(f"/api/conversations/{conversation_id}/exports", params=params, headers=SERVICE)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def token_of(link: dict) -> str:
    return local(link["json_url"]).removeprefix("/exports/").removesuffix(".json")


def record_key(token: str) -> str:
    """The key an issued link is recorded under: the token's HMAC-SHA256 with the link secret."""
    return hmac.new(EXPORT_SECRET.encode(), b"export-link:" + token.encode(), hashlib.sha256).hexdigest()


def rows_of(db_url: str, model) -> list:
    engine = create_engine(db_url)
    with OrmSession(engine) as s:
        found = list(s.scalars(select(model)))
    engine.dispose()
    return found


def test_the_link_gives_that_customers_data_and_transcripts_as_json_and_csv(db_url, company, tracker):
    """Through the whole app, as it runs: the routes are mounted and the links carry the public address."""
    settings = make_settings(db_url, company, tracker.url)
    with TestClient(create_app(settings)) as client:
        conversation, other = new_conversation(), new_conversation()
        token, _ = TOKENS.issue("C0001", dt.datetime.now(dt.UTC))
        assert client.post("/api/identity/session", json={"conversation_id": conversation, "token": token},
                           headers=SERVICE).status_code == 200
        token, _ = TOKENS.issue("C0002", dt.datetime.now(dt.UTC))
        assert client.post("/api/identity/session", json={"conversation_id": other, "token": token}, headers=SERVICE).status_code == 200
        tracker.say(conversation, ("user", "Mag ik al mijn gegevens?"), ("bot", "Hier is een downloadlink."))
        tracker.say(other, ("user", "zebra-secret of the other customer"), ("bot", "reply zebra"))

        before = dt.datetime.now(dt.UTC)
        link = issue(client, conversation, language="en")
        after = dt.datetime.now(dt.UTC)
        assert set(link) == {"json_url", "csv_url", "expires_at"}
        assert link["json_url"].startswith(f"{PUBLIC_URL}/exports/") and link["json_url"].endswith(".json")
        assert link["csv_url"] == link["json_url"].removesuffix(".json") + ".csv"
        expires = dt.datetime.fromisoformat(link["expires_at"])
        # 15 minutes from the whole second the link was issued in
        assert before.replace(microsecond=0) + dt.timedelta(minutes=15) <= expires <= after + dt.timedelta(minutes=15)
        token = token_of(link)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), "32 random bytes, nothing else"
        assert b"C0001" not in base64.urlsafe_b64decode(token + "="), "the link names no customer"

        response = client.get(local(link["json_url"]))
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-disposition"].startswith("attachment;") and ".json" in response.headers["content-disposition"]
        assert response.headers["content-type"].startswith("application/json")
        document = response.json()
        assert document["customer_id"] == "C0001" and document["language"] == "en"
        assert document["complaint"]["url"] and document["dpo"]["email"]
        by_id = {c["id"]: c for c in document["categories"]}
        # Every record of every system, in full, exactly as the systems hold it.
        for system in ("crm", "orders", "loyalty", "marketing", "wifi", "service"):
            export = company.http.get(f"/systems/{system}/customers/C0001/export").json()["categories"]
            for category, records in export.items():
                mine = [d["record"] for d in by_id.get(category, {"data": []})["data"] if d["system"] == system]
                assert mine == records, (system, category)
        assert by_id["invoices"]["purposes"] and by_id["invoices"]["retention"] == "7 years after purchase"
        [chat] = [d["record"] for d in by_id["customer_service"]["data"] if d["system"] == "assistant"]
        assert chat["conversation"] == f"{chat['started_at'][:10]} #1" and conversation not in response.text  # no session id
        assert [(m["from"], m["text"]) for m in chat["messages"]] == [
            ("customer", "Mag ik al mijn gegevens?"), ("assistant", "Hier is een downloadlink.")]
        assert all(dt.datetime.fromisoformat(m["at"]).tzinfo is not None for m in chat["messages"])
        other_email = company.contact("C0002")["email"]
        assert "zebra" not in response.text and other_email not in response.text and "C0002" not in response.text

        response = client.get(local(link["csv_url"]))
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert response.headers["cache-control"] == "no-store" and response.headers["content-disposition"].startswith("attachment;")
        # A byte-order mark first, so that Dutch Excel reads UTF-8 ("één", not "Ã©Ã©n").
        assert response.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0] == CSV_HEADER and all(len(r) == 5 for r in rows)
        values = {(r[0], r[1], r[2], r[3]): r[4] for r in rows[1:]}
        contact = company.contact("C0001")
        assert values[("contact_details", "crm", "1", "email")] == contact["email"]
        assert values[("contact_details", "crm", "1", "address.city")] == contact["address"]["city"]
        assert values[("purchase_history", "orders", "1", "lines[0].sku")]
        assert values[("customer_service", "assistant", "1", "messages[0].text")] == "Mag ik al mijn gegevens?"
        assert values[("customer_service", "assistant", "1", "messages[1].from")] == "assistant"
        assert {r[0] for r in rows[1:]} == set(by_id)
        assert "zebra" not in response.text and other_email not in response.text

    # On record: the link (for whom, from which conversation, until when) and both downloads.
    [issued] = rows_of(db_url, ExportLink)
    assert (issued.customer_id, issued.conversation_id, issued.expires_at) == ("C0001", conversation, expires)
    assert issued.jti == record_key(token)
    assert token not in repr(vars(issued)), "the token itself is not stored: a reader of the database cannot download"
    downloads = rows_of(db_url, ExportDownload)
    assert sorted(d.format for d in downloads) == ["csv", "json"] and {d.jti for d in downloads} == {issued.jti}


def test_an_expired_link_is_gone_with_a_clear_sentence(client, clock, tracker, db_url, company):
    conversation = new_conversation()
    bind(client, clock, conversation, "C0001")
    link = issue(client, conversation, language="en")  # the sentence is in the language the link was made in
    # the clock runs on while the test does: 10 s of slack before the link's 15 minutes (counted from a whole second) end
    clock.advance(minutes=14, seconds=50)
    assert client.get(local(link["csv_url"])).status_code == 200
    clock.advance(seconds=10)
    for url in (link["json_url"], link["csv_url"]):
        response = client.get(local(url))
        assert response.status_code == 410
        assert response.json()["reason"] == "expired" and "expired" in response.json()["detail"]
        assert "new link" in response.json()["detail"]
        assert "C0001" not in response.text and response.headers["cache-control"] == "no-store"
    assert [d.format for d in rows_of(db_url, ExportDownload)] == ["csv"]  # only the download that worked


def test_the_link_lifetime_is_configurable(db_url, company, tracker, kb, clock):
    with TestClient(routes(make_settings(db_url, company, tracker.url, export_link_minutes=2), kb, clock)) as client:
        conversation = new_conversation()
        bind(client, clock, conversation, "C0001")
        link = issue(client, conversation)
        assert dt.datetime.fromisoformat(link["expires_at"]) - clock().replace(microsecond=0) == dt.timedelta(minutes=2)
        clock.advance(minutes=2)
        assert client.get(local(link["json_url"])).status_code == 410


@pytest.fixture
def good_link(client, clock, tracker):
    conversation = new_conversation()
    bind(client, clock, conversation, "C0001")
    return issue(client, conversation)


def test_a_changed_or_foreign_link_is_refused_and_says_nothing_about_anyone(client, clock, good_link, db_url):
    token = token_of(good_link)
    now = int(clock().timestamp())
    old_style = {"aud": "export", "sub": "C0001", "iat": now, "exp": now + 600, "jti": "x", "lang": "en"}
    forged = {
        "one character changed": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "cut short": token[:-2],
        "made longer": token + "A",
        # The key the link is recorded under: what a reader of the database could see.
        "the record's key": record_key(token),
        # A signed link of the old kind, naming the customer, made with our key.
        "old signed link": jwt.encode(old_style, EXPORT_SECRET, algorithm="HS256"),
        # A real website session token: signed by another secret, for the chat.
        "session token": TOKENS.issue("C0001", clock())[0],
        "not a token": "definitely-not-a-token",
        # In the right shape, but never issued (not on record).
        "never issued": secrets.token_urlsafe(32),
    }
    assert SESSION_SECRET != EXPORT_SECRET
    for name, bad in forged.items():
        for kind in ("json", "csv"):
            response = client.get(f"/exports/{bad}.{kind}")
            assert response.status_code == 403, (name, response.text)
            body = response.json()
            assert body["reason"] == "invalid_link" and "not valid" in body["detail"], name
            assert "C000" not in response.text and "@" not in response.text, name
    assert client.get(local(good_link["json_url"])).status_code == 200  # the real one still works
    assert len(rows_of(db_url, ExportDownload)) == 1
