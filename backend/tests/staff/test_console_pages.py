"""The console's pages: one layout (language, labels, navigation by role, the CSRF token, a strict
Content-Security-Policy with no inline script), and the privacy overview's picture of open requests by
due week, drawn on the server with its figures in a table."""
from __future__ import annotations

import datetime as dt
import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import update

from backoffice.app import create_app
from backoffice.knowledge.service import load_knowledge
from backoffice.requests.rules import open_by_due_week
from backoffice.requests.service.filing import file_request
from backoffice.requests.tables import Request
from backoffice.sentences import texts
from backoffice.staff.pages import Labels, console_page, staff_language
from backoffice.staff.rules import Staff

from ..conftest import KNOWLEDGE
from .conftest import console_settings, sign_in
from .test_sign_in import HTTPS

OFFICER = Staff(1, "sanne@voltera.example", "Sanne", "Sanne <Visser>", "privacy_officer", "token-of-the-session")
AGENT = Staff(2, "anna@voltera.example", "Anna", "Anna de Vries", "agent", "agents-token")
ENGLISH = Labels(texts("Voltera"), "en")


def test_the_layout_escapes_names_links_by_role_and_carries_the_csrf_token():
    page = console_page("Queue <today>", "<p>body</p>", OFFICER, ENGLISH)
    assert page.startswith('<!doctype html><html lang="en">') and "<title>Queue &lt;today&gt; · " in page
    assert '<meta name="csrf-token" content="token-of-the-session">' in page
    assert '<input type="hidden" name="csrf_token" value="token-of-the-session">' in page
    assert 'href="/console"' in page and 'href="/console/privacy/requests"' in page and "Sanne &lt;Visser&gt;" in page
    agents = console_page("Queue", "", AGENT, ENGLISH)
    assert 'href="/console/privacy/requests"' not in agents and 'action="/console/logout"' in agents
    assert "<script" not in page and 'href="/static/console.css"' in page
    signed_out = console_page("Sign in", "", None, ENGLISH)
    assert "csrf-token" not in signed_out and "logout" not in signed_out


def test_the_login_form_is_labelled_and_served_with_a_strict_policy(db_url):
    with TestClient(create_app(console_settings(db_url)), base_url=HTTPS) as client:
        form = client.get("/console/login")
        assert client.get("/static/console.css").status_code == 200
    assert form.status_code == 200 and '<html lang="en">' in form.text
    for field in ("email", "password"):
        assert f'<label for="{field}">' in form.text and f'id="{field}" name="{field}"' in form.text
    policy = form.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert form.headers["cache-control"] == "no-store" and form.headers["x-frame-options"] == "DENY"
    assert not re.search(r"<script(?![^>]*\bsrc=)", form.text) and not re.search(r"<[^>]+\son[a-z]+=", form.text)  # nothing inline


def test_the_console_speaks_the_browsers_language_and_names_the_company_of_the_setting(db_url):
    """The labels (the queue's, the privacy team's) come from the text catalogue in the staff member's
    language (Accept-Language), the product's name from COMPANY_NAME: another company's console never
    says the demo company's name."""
    with TestClient(create_app(console_settings(db_url, company_name="Acme Energie")), base_url=HTTPS) as client:
        dutch = client.get("/console/login", headers={"Accept-Language": "de-DE, nl;q=0.8, en;q=0.5"}).text
        english = client.get("/console/login", headers={"Accept-Language": "fr"}).text
        client.headers["Accept-Language"] = "nl"
        sign_in(client, role="privacy_officer")
        queue = client.get("/console").text
        requests = client.get("/console/privacy/requests").text
    assert '<html lang="nl">' in dutch and "<h1>Inloggen</h1>" in dutch and '<label for="password">Wachtwoord</label>' in dutch
    assert '<html lang="en">' in english and "<h1>Sign in</h1>" in english
    assert "Acme Energie medewerkersconsole" in dutch and "Acme Energie staff console" in english
    assert "<h1>Wachtrij</h1>" in queue and "Gesprekken die op een mens wachten" in queue
    assert 'name="console-texts"' in queue and "vroeg om een mens" in queue  # console.js's words, for its labels
    assert "<h2>Verzoeken</h2>" in requests and "<p>Geen open verzoeken.</p>" in requests
    assert "Acme Energie" in queue and all("Voltera" not in page for page in (dutch, english, queue, requests))
    assert staff_language("en-GB;q=0.2, nl-BE") == "nl" and staff_language(None) == staff_language("de") == "en"


def test_open_requests_by_due_week_put_every_earlier_week_in_one_overdue_bar():
    today = dt.date(2026, 2, 4)  # a Wednesday; its week starts on 2 February
    counts = [("in_progress", dt.date(2026, 1, 10), 2), ("received", dt.date(2026, 1, 30), 1), ("in_progress", dt.date(2026, 2, 3), 1),
              ("verified", dt.date(2026, 2, 8), 4), ("identity_unverified", dt.date(2026, 2, 18), 1),
              ("in_progress", dt.date(2026, 9, 1), 1)]
    bars = open_by_due_week(counts, today)
    assert [b["week"] for b in bars] == ["before"] + [(dt.date(2026, 2, 2) + dt.timedelta(weeks=n)).isoformat() for n in range(14)] + [
        "later"]
    assert bars[0]["overdue"] and bars[0]["counts"]["in_progress"] == 2 and bars[0]["total"] == 3
    assert bars[1]["label"] == "week of 2 Feb 2026" and bars[1]["counts"] == {
        "received": 0, "identity_unverified": 0, "verified": 4, "in_progress": 1} and not bars[1]["overdue"]
    assert bars[2]["total"] == 0 and bars[3]["counts"]["identity_unverified"] == 1
    assert bars[-1]["total"] == 1 and bars[-1]["label"] == "after 10 May 2026"
    assert open_by_due_week([], today) == []
    assert [b["week"] for b in open_by_due_week([("received", dt.date(2026, 2, 20), 1)], today)] == ["2026-02-02", "2026-02-09",
                                                                                                    "2026-02-16"]


def test_the_overview_draws_the_due_weeks_and_tabulates_the_same_figures(db_url):
    knowledge = load_knowledge(KNOWLEDGE).current()
    now = dt.datetime.now(dt.UTC)
    app = create_app(console_settings(db_url))
    with app.state.process.sessions() as s:
        ids = [file_request(s, f"C00{50 + n}", "access", None, None, f"weeks-{n}-{uuid.uuid4()}", now - dt.timedelta(days=days),
                            knowledge=knowledge).request.id for n, days in enumerate((45, 0, 0, 3))]
        s.execute(update(Request).where(Request.id == ids[3]).values(status="fulfilled"))
        s.commit()
    with TestClient(app, base_url=HTTPS) as client:
        sign_in(client, "privacy_officer", "Sanne")
        bars = client.get("/api/privacy/requests").json()["open_by_due_week"]
        page = client.get("/console/privacy/requests")
    assert sum(b["total"] for b in bars) == 3 and bars[0]["week"] == "before" and bars[0]["total"] == 1
    assert bars[-1]["total"] == 2  # the two filed today, due in a month
    text = page.text
    svg = re.search(r'<svg class="chart" aria-hidden="true"[^>]*>(.*?)</svg>', text, re.S)
    assert svg and svg.group(1).count('class="status-') == 2  # one non-empty segment per bar with requests
    table = re.search(r'<table class="figures" data-testid="due-weeks">(.*?)</table>', text, re.S)
    assert table and "<caption>Open requests by due week and status</caption>" in table.group(1)
    rows = re.findall(r'<tr[^>]*><th scope="row">([^<]+)</th>((?:<td>\d+</td>)+)</tr>', table.group(1))
    assert [int(re.findall(r"\d+", cells)[-1]) for _, cells in rows] == [b["total"] for b in bars]
    assert rows[0][0].startswith("before ")
    assert "style=" not in svg.group(0) and "<script" not in text
