"""Another company's back office (COMPANY_NAME="Acme Energie") names that company, and never the demo
company, in what its own renderers make from the text catalogue (text-catalogue/texts/<language>.yml): the e-mails,
the chat notices of a handoff, the staff console's pages and the website widget's words. (The
catalogue's keys and placeholders, and the assistant's and the channels' texts: tests/test_sentences.py.)"""
from __future__ import annotations

import datetime as dt

from fastapi import FastAPI

from backoffice.identity.service import SmtpConfig, code_email, unused_code_notice
from backoffice.objections import rules as objection_rules
from backoffice.requests.service.receipts import receipt_email
from backoffice.requests.tables import Request
from backoffice.sentences import LANGUAGES, texts
from backoffice.settings import Settings

from .handoff.conftest import Clock, FakeRasa, Tracker, clock, handoff_app, rasa, signed_in, tracker  # noqa: F401 (fixtures)
from .handoff.test_queue import agent_online, hand_over

OTHER_COMPANY = "Acme Energie"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def names_the_other_company(text: str) -> bool:
    return OTHER_COMPANY in text and "Voltera" not in text and "{company}" not in text


def test_the_e_mails_name_the_company_of_the_setting_and_come_from_it(monkeypatch):
    monkeypatch.delenv("SMTP_FROM", raising=False)  # a .env read by an earlier test may have set the sender
    settings = Settings(company_name=f"  {OTHER_COMPANY} ")
    assert settings.company_name == OTHER_COMPANY and settings.smtp_from.startswith(f"{OTHER_COMPANY} privacy <")
    smtp = SmtpConfig.from_settings(settings)
    code = code_email("klant@example.com", "123456", NOW, dt.timedelta(minutes=10), smtp, "en")
    notice = unused_code_notice(["klant@example.com"], NOW, "locked", smtp)
    receipts = [receipt_email("klant@example.com", Request(id="REQ-1", type="access", details={"language": language},
                                                            received_at=NOW, due_on=NOW.date()), "privacy@acme.example", smtp)
                for language in LANGUAGES]
    for message in (code, notice, *receipts):
        assert names_the_other_company(message.get_content()), message["Subject"]
        assert message["From"].startswith(OTHER_COMPANY)
    assert names_the_other_company(code["Subject"]) and names_the_other_company(notice.get_content())
    authority = {"name": {"nl": "Autoriteit Persoonsgegevens", "en": "Dutch Data Protection Authority"}, "url": "https://ap.example"}
    for language in LANGUAGES:
        for decision in ("upheld", "refused"):
            decided = objection_rules.outcome(decision, language, "fraude", "reden", "REQ-2", authority, texts(OTHER_COMPANY))
            assert names_the_other_company(decided), (language, decision)


def test_the_handoff_the_console_and_the_widget_name_the_company_of_the_setting(db_url, tracker, rasa: FakeRasa,  # noqa: F811
                                                                               clock: Clock, signed_in):  # noqa: F811
    app: FastAPI = handoff_app(db_url, tracker, rasa, clock, company_name=OTHER_COMPANY)
    anna, _ = agent_online(app, signed_in, "Anna")
    entry = hand_over(app, "conv-acme", language="nl")["entry"]
    assert anna.post(f"/api/console/conversations/{entry}/claim").status_code == 200
    assert anna.post(f"/api/console/conversations/{entry}/hand-back").status_code == 200
    assert rasa.said("conv-acme") == [f"Je praat nu met Anna van het team van {OTHER_COMPANY}.",
                                      f"Je praat weer met de assistent van {OTHER_COMPANY}. Waarmee kan ik je helpen?"]

    pages = [anna.get(path, headers={"Accept-Language": language}).text for path in ("/console", f"/console/conversations/{entry}")
             for language in LANGUAGES]
    assert all(names_the_other_company(page) for page in pages)
    assert f"{OTHER_COMPANY} medewerkersconsole" in pages[0] and f"{OTHER_COMPANY} staff console" in pages[1]

    widget = anna.get("/widget/texts")
    assert widget.status_code == 200 and widget.headers["access-control-allow-origin"] == "*"
    assert set(widget.json()) == set(LANGUAGES) and widget.json()["nl"]["launcherOpen"] == "Open de privacy-assistent"
    assert all(names_the_other_company(said[key]) for said in widget.json().values() for key in ("subtitle", "intro"))
    assert "/widget/texts" in anna.get("/openapi.json").json()["paths"], "public, so in the schema the OpenAPI fuzz runs through"
