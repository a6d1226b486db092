"""The privacy team's overview counts every request and never cuts an open one for newer closed ones."""
from __future__ import annotations

import datetime as dt
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import update

from backoffice.app import create_app
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
