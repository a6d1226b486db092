"""The demo: the website page, the login as a seed customer and the mail sink's inbox, these only with
DEMO_MODE=1."""
from __future__ import annotations

import datetime as dt
import smtplib
from email.message import EmailMessage

from fastapi.testclient import TestClient

from backoffice.app import create_app
from backoffice.identity import rules

from ..identity.conftest import CODE_RE, ROOT, SERVICE, SESSION_SECRET, make_settings

DEMO_ROUTES = [("GET", "/api/demo/customers", None), ("POST", "/demo/login", {"customer_id": "C0001"}),
               ("GET", "/demo/inbox", None), ("GET", "/api/demo/inbox", None)]


def test_without_demo_mode_the_demo_does_not_exist(db_url, company, sink):
    with TestClient(create_app(make_settings(db_url, company, sink, demo_mode=False))) as c:
        for method, path, body in DEMO_ROUTES:
            assert c.request(method, path, json=body).status_code == 404, path
        assert c.get("/").status_code == 200  # the website itself is there


def test_the_demo_login_lists_seed_customers_and_signs_a_token_the_channel_accepts(db_url, company, sink):
    with TestClient(create_app(make_settings(db_url, company, sink, demo_mode=True))) as c:
        listed = c.get("/api/demo/customers")
        assert listed.status_code == 200
        customers = listed.json()["customers"]
        assert [x["customer_id"] for x in customers] == [f"C{n:04d}" for n in range(1, 11)]
        for customer in customers[:3]:
            contact = company.contact(customer["customer_id"])
            assert customer["name"] == f"{contact['first_name']} {contact['last_name']}" and customer["email"] == contact["email"]

        login = c.post("/demo/login", json={"customer_id": "C0003"})
        assert login.status_code == 200
        body = login.json()
        assert body["customer_id"] == "C0003" and body["name"] == customers[2]["name"]
        verified = rules.SessionTokens(SESSION_SECRET).verify(body["token"])  # what the Rasa channel does at connect
        assert verified.customer_id == "C0003" and verified.expires_at == dt.datetime.fromisoformat(body["expires_at"])
        assert dt.timedelta(minutes=29) < verified.expires_at - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=30)
        assert 29 * 60 < body["expires_in"] <= 30 * 60
        bound = c.post("/api/identity/session", json={"conversation_id": "demo-1", "token": body["token"]}, headers=SERVICE)
        assert bound.status_code == 200 and bound.json()["customer_id"] == "C0003"

        for unknown in ("C0042", "C9999", "../C0001", "c0001"):  # only the listed demo customers
            assert c.post("/demo/login", json={"customer_id": unknown}).status_code == 404, unknown
        assert c.post("/demo/login", json={"customer_id": "C0001", "extra": 1}).status_code == 422


def test_the_demo_inbox_shows_what_the_sink_received(db_url, company, sink):
    email = company.email_of("C0002")
    with TestClient(create_app(make_settings(db_url, company, sink, demo_mode=True))) as c:
        c.post("/api/identity/email-code", json={"conversation_id": "demo-2", "email": email}, headers=SERVICE)
        sink.wait_for(email)
        # A hostile message straight to the sink: the page must show it as text.
        hostile = EmailMessage()
        hostile["From"], hostile["To"], hostile["Subject"] = "x@example.org", "victim@example.org", "<script>alert(1)</script>"
        hostile.set_content("<img src=x onerror=alert(2)>")
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
            smtp.send_message(hostile)
        sink.wait_for("victim@example.org")

        mine = c.get("/api/demo/inbox", params={"to": email.upper()}).json()["messages"]
        assert len(mine) == 1 and mine[0]["rcpt_tos"] == [email] and CODE_RE.search(mine[0]["text"])
        assert len(c.get("/api/demo/inbox").json()["messages"]) == 2
        page = c.get("/demo/inbox")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert CODE_RE.findall(mine[0]["text"])[0] in page.text
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<img src=x" not in page.text


def test_the_website_has_the_demo_controls_and_the_widget_sends_the_token():
    page = (ROOT / "web" / "index.html").read_text()
    for hook in ("demo-login", "demo-logout", "demo-inbox-link", "lang-nl", "lang-en", "privacy-link"):
        assert f'data-testid="{hook}"' in page, hook
    site = (ROOT / "web" / "static" / "site.js").read_text()
    assert "demo-customer-" in site and "/api/demo/customers" in site and "/demo/login" in site and "sessionStorage" in site
    chat = (ROOT / "web" / "static" / "chat.js").read_text()
    assert "session_token" in chat and "auth" in chat
