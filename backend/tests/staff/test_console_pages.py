"""The console's pages: one layout (language, labels, navigation by role, the CSRF token, a strict
Content-Security-Policy with no inline script), and the privacy overview's picture of open requests by
due week, drawn on the server with its figures in a table."""
from __future__ import annotations

import re

from fastapi.testclient import TestClient

from backoffice.app import create_app
from backoffice.sentences import texts
from backoffice.staff.pages import Labels, console_page, staff_language
from backoffice.staff.rules import Staff

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


