"""The demo company's seed: about 50 customers with a realistic mix, the same every time."""

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import func, select

from companysystems import db as tables
from companysystems.data_operations import SYSTEMS, retained_until
from companysystems.seed import CUSTOMERS, reset, seed


def count(s, model, *where) -> int:
    return s.scalar(select(func.count()).select_from(model).where(*where))


def test_fifty_customers_with_shared_ids(Session):
    with Session() as s:
        ids = s.scalars(select(tables.Customer.id).order_by(tables.Customer.id)).all()
    assert ids == [f"C{n:04d}" for n in range(1, CUSTOMERS + 1)] and len(ids) == 50


def test_dutch_contacts_with_example_emails(Session):
    with Session() as s:
        contacts = s.scalars(select(tables.Contact)).all()
    emails = [c.email for c in contacts]
    assert len(set(emails)) == len(emails) == 50
    for c in contacts:
        assert re.fullmatch(r"[a-z]+\.[a-z]+\d*@example\.nl", c.email), c.email
        assert c.email.startswith(c.first_name.lower().replace("ë", "e") + ".")
        assert re.fullmatch(r"[1-9]\d{3} [A-Z]{2}", c.postcode) and c.country == "NL"
        assert c.phone.startswith("+31 6 ")


def test_a_mix_of_customers(Session):
    with Session() as s:
        with_orders = count(s, tables.Customer, tables.Customer.id.in_(select(tables.Order.customer_id)))
        facts = {
            "accounts": count(s, tables.Account),
            "loyalty": count(s, tables.LoyaltyCard),
            "segments": count(s, tables.Customer, tables.Customer.id.in_(select(tables.ProfileSegment.customer_id))),
            "consents": count(s, tables.Customer, tables.Customer.id.in_(select(tables.MarketingConsent.customer_id))),
            "withdrawn": count(s, tables.MarketingConsent, tables.MarketingConsent.granted.is_(False)),
            "wifi": count(s, tables.WifiDevice),
            "tickets": count(s, tables.Customer, tables.Customer.id.in_(select(tables.Ticket.customer_id))),
        }
        issued = s.scalars(select(tables.Invoice.issued_at)).all()
    for fact, n in facts.items():
        assert 0 < n < 50, (fact, n)
    assert 0 < with_orders < 50
    today = dt.datetime.now(dt.UTC).date()
    expired = [i for i in issued if retained_until(i) <= today]
    assert expired and len(expired) < len(issued), "some invoices must be past their 7 years, most not"
    assert min(issued) > dt.datetime.now(dt.UTC) - dt.timedelta(days=8 * 365 + 2)


def test_fixed_customers_for_demos(systems):
    first = {name: systems.export(name, "C0001")["categories"] for name in SYSTEMS}
    assert all(records for categories in first.values() for records in categories.values()), "C0001 has data in every category"
    second = {name: systems.export(name, "C0002")["categories"] for name in SYSTEMS}
    assert len(second["orders"]["purchase_history"]) == 1 and second["crm"]["account"] == []
    assert not any(second[name][c] for name in ("loyalty", "marketing", "wifi", "service") for c in SYSTEMS[name])
    third = {name: systems.export(name, "C0003")["categories"] for name in SYSTEMS}
    assert third["orders"]["purchase_history"] == [] and third["crm"]["account"]
    assert [(p["purpose"], p["granted"]) for p in third["marketing"]["marketing_preferences"]] == [("newsletter", True)]


def test_seeding_again_adds_nothing(Session):
    assert seed(Session) == 0
    with Session() as s:
        assert count(s, tables.Customer) == 50


def dump(url: str) -> dict:
    """Every row of every table, in primary-key order."""
    engine, Session = tables.connect(url)
    with Session() as s:
        data = {
            table.name: s.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in tables.Base.metadata.sorted_tables
        }
    engine.dispose()
    return data


def test_same_data_every_time(tmp_path: Path):
    today = dt.date(2026, 3, 1)
    for name in ("a", "b"):
        _, Session = tables.connect(f"sqlite:///{tmp_path / name}.db")
        assert seed(Session, today=today) == 50
    first = dump(f"sqlite:///{tmp_path / 'a'}.db")
    assert len(first["customers"]) == 50 and len(first["orders_orders"]) > 100
    assert first == dump(f"sqlite:///{tmp_path / 'b'}.db")
    # ... and after a reset, too.
    _, Session = tables.connect(f"sqlite:///{tmp_path / 'a'}.db")
    reset(Session)
    assert seed(Session, today=today) == 50
    assert dump(f"sqlite:///{tmp_path / 'a'}.db") == first
