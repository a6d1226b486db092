"""The privacy team's overview: it counts every request, never cuts an open one for newer closed ones, and
draws the open ones by the week they are due, overdue weeks in one bar."""
from __future__ import annotations

import datetime as dt
import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import update

from backoffice.app import create_app
from backoffice.requests.rules import open_by_due_week
from backoffice.requests.service import privacy_team
from backoffice.requests.service.filing import file_request
from backoffice.requests.tables import Request

from ..staff.conftest import sign_in
from .test_ledger_api import settings_for


def test_an_old_overdue_request_stays_on_top_and_in_the_counts_beyond_the_listing_limit(ledger_url, Session, knowledge, monkeypatch):
    monkeypatch.setattr(privacy_team, "OVERVIEW_LIMIT", 5)
    long_ago = dt.datetime(2025, 1, 6, 10, tzinfo=dt.UTC)
    with Session() as s:
        old = file_request(s, "C0050", "access", None, None, f"old-{uuid.uuid4()}", long_ago, knowledge=knowledge).request.id
        newer = [file_request(s, "C0051", "access", None, None, f"new-{n}-{uuid.uuid4()}", long_ago + dt.timedelta(days=40 + n),
                              knowledge=knowledge).request.id for n in range(6)]
        s.execute(update(Request).where(Request.id.in_(newer)).values(status="fulfilled"))
        s.commit()
    with TestClient(create_app(settings_for(ledger_url))) as client:
        sign_in(client, "privacy_officer", "Sanne")
        listing = client.get("/api/privacy/requests").json()
        page = client.get("/console/privacy/requests").text
    assert [r["id"] for r in listing["requests"]][:1] == [old] and len(listing["requests"]) == 5
    assert listing["counts"]["open"] == 1 and listing["counts"]["overdue"] == 1 and listing["counts"]["needs_attention"] == 1
    assert f'data-request="{old}"' in page and "1 open, <strong>1 overdue</strong>" in page


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


def test_the_overview_draws_the_due_weeks_and_tabulates_the_same_figures(ledger_url, knowledge):
    now = dt.datetime.now(dt.UTC)
    app = create_app(settings_for(ledger_url))
    with app.state.process.sessions() as s:
        ids = [file_request(s, f"C00{50 + n}", "access", None, None, f"weeks-{n}-{uuid.uuid4()}", now - dt.timedelta(days=days),
                            knowledge=knowledge).request.id for n, days in enumerate((45, 0, 0, 3))]
        s.execute(update(Request).where(Request.id == ids[3]).values(status="fulfilled"))
        s.commit()
    with TestClient(app) as client:
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
