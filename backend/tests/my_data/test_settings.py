"""The back office finds Rasa's tracker store from the variables Rasa reads, and links carry the public address."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from backoffice.my_data.service import ExportLinks, LinkExpired, LinkInvalid, usable_secret
from backoffice.my_data.tables import ExportLink
from backoffice.settings import PROJECT_ROOT, Settings, tracker_url
from backoffice.shared.database import Base


def test_the_tracker_store_is_the_one_rasa_uses():
    # The embedded default: a SQLite file relative to the project root, where Rasa runs (not backend/).
    assert tracker_url({"TRACKER_DB_DIALECT": "sqlite", "TRACKER_DB_HOST": "", "TRACKER_DB": "var/rasa-tracker.db"}) == \
        f"sqlite:///{PROJECT_ROOT / 'var' / 'rasa-tracker.db'}"
    assert tracker_url({}) == f"sqlite:///{PROJECT_ROOT / 'var' / 'rasa-tracker.db'}"
    assert tracker_url({"TRACKER_DB": "/srv/rasa/tracker.db"}) == "sqlite:////srv/rasa/tracker.db"
    # PostgreSQL as Rasa reads it: a host that may carry its port, optional user, password and port.
    assert tracker_url({"TRACKER_DB_DIALECT": "postgresql", "TRACKER_DB_HOST": "db.internal:5433", "TRACKER_DB": "rasa",
                        "TRACKER_DB_USERNAME": "rasa", "TRACKER_DB_PASSWORD": "p@ss:word"}) == \
        "postgresql+psycopg://rasa:p%40ss%3Aword@db.internal:5433/rasa"
    assert tracker_url({"TRACKER_DB_DIALECT": "postgresql", "TRACKER_DB_HOST": "localhost", "TRACKER_DB_PORT": "5432",
                        "TRACKER_DB": "rasa"}) == "postgresql+psycopg://localhost:5432/rasa"
    # A whole URL in the host (Rasa allows it), or the one override.
    assert tracker_url({"TRACKER_DB_DIALECT": "postgresql", "TRACKER_DB_HOST": "postgresql://u@h/conversations"}) == \
        "postgresql+psycopg://u@h/conversations"
    assert tracker_url({"TRACKER_DB_URL": "postgresql+psycopg://x@y:1/z", "TRACKER_DB": "ignored.db"}) == "postgresql+psycopg://x@y:1/z"


def test_settings_read_the_new_variables(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_URL", "http://localhost:8123")
    monkeypatch.setenv("BACKOFFICE_PUBLIC_URL", "https://privacy.voltera.example/")
    monkeypatch.setenv("EXPORT_LINK_MINUTES", "5")
    monkeypatch.setenv("EXPORT_LINK_SECRET", "x" * 40)
    monkeypatch.setenv("TRACKER_DB_URL", "sqlite:////tmp/tracker.db")
    settings = Settings.from_env()
    assert (settings.public_url, settings.export_link_minutes, settings.export_link_secret, settings.tracker_url) == (
        "https://privacy.voltera.example", 5, "x" * 40, "sqlite:////tmp/tracker.db")
    monkeypatch.setenv("BACKOFFICE_PUBLIC_URL", "")
    assert Settings.from_env().public_url == "http://localhost:8123"  # the back office's own address by default


def test_link_keys_must_be_real_secrets():
    assert not usable_secret("") and not usable_secret("change-me") and not usable_secret("short-secret")
    assert usable_secret("a" * 32)
    with pytest.raises(ValueError):
        ExportLinks("too short", dt.timedelta(minutes=15))
    links = ExportLinks("k" * 32, dt.timedelta(minutes=15))
    now = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)
    link = links.issue("C0001", "en", now)
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[Base.metadata.tables["export_links"]])
    with Session(engine) as session:
        session.add(ExportLink(jti=link.jti, customer_id="C0001", conversation_id="c", language="en", issued_at=now,
                               expires_at=link.expires_at))
        session.commit()
        assert links.verify(link.token, now + dt.timedelta(minutes=14), session).customer_id == "C0001"
        with pytest.raises(LinkExpired):
            links.verify(link.token, now + dt.timedelta(minutes=15), session)
        with pytest.raises(LinkInvalid):  # another key: the same token is recorded under another name
            ExportLinks("o" * 32, dt.timedelta(minutes=15)).verify(link.token, now, session)
