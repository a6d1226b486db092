"""Database of the demo company: one schema for its six systems, and the contract's bookkeeping.

A real company keeps each system in its own database; one database keeps the demo to one process.
Tables are prefixed by the system that owns them. Every row that belongs to a customer carries the
shared customer id, so each system can export and erase by it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
# Its own version table, so the company systems can share a PostgreSQL database with the back office.
VERSION_TABLE = "companysystems_alembic_version"


class UTCDateTime(TypeDecorator):
    """Timestamps always come back timezone-aware in UTC, on SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the company systems store UTC only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


def customer_fk(nullable: bool = False) -> Mapped[Any]:
    return mapped_column(String(32), ForeignKey("customers.id"), index=True, nullable=nullable)


class Customer(Base):
    """The customer id every system shares. It holds no personal data, so it outlives erasure."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- crm -------------------------------------------------------------------------------------


class Contact(Base):
    __tablename__ = "crm_contacts"

    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.id"), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(120))
    house_number: Mapped[str] = mapped_column(String(20))
    postcode: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(80))
    country: Mapped[str] = mapped_column(String(2))
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Account(Base):
    __tablename__ = "crm_accounts"

    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.id"), primary_key=True)
    login_email: Mapped[str] = mapped_column(String(254), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)


# --- orders ----------------------------------------------------------------------------------


class Order(Base):
    """An order. On erasure it is unlinked from the customer (customer_id NULL) unless an invoice still needs it."""

    __tablename__ = "orders_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[str | None] = customer_fk(nullable=True)
    ordered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    store: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    delivery_name: Mapped[str | None] = mapped_column(String(200))
    delivery_address: Mapped[str | None] = mapped_column(String(300))
    total_cents: Mapped[int] = mapped_column(Integer)
    anonymised_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lines: Mapped[list[OrderLine]] = relationship(passive_deletes=True)


class OrderLine(Base):
    __tablename__ = "orders_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(Integer, ForeignKey("orders_orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)


class Invoice(Base):
    """An invoice is a self-contained document (its own name, address and lines): tax law keeps it 7 years."""

    __tablename__ = "orders_invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[str] = customer_fk()
    order_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("orders_orders.id", ondelete="SET NULL"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    billing_name: Mapped[str] = mapped_column(String(200))
    billing_address: Mapped[str] = mapped_column(String(300))
    lines: Mapped[list] = mapped_column(JSON)
    total_cents: Mapped[int] = mapped_column(Integer)
    vat_cents: Mapped[int] = mapped_column(Integer)
    order: Mapped[Order | None] = relationship()


class Payment(Base):
    __tablename__ = "orders_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = customer_fk()
    order_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("orders_orders.id", ondelete="SET NULL"), index=True)
    paid_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    amount_cents: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(64))
    order: Mapped[Order | None] = relationship()


class RefundAccount(Base):
    __tablename__ = "orders_refund_accounts"

    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.id"), primary_key=True)
    iban: Mapped[str] = mapped_column(String(34))
    account_holder: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- loyalty ---------------------------------------------------------------------------------


class LoyaltyCard(Base):
    __tablename__ = "loyalty_cards"

    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.id"), primary_key=True)
    card_number: Mapped[str] = mapped_column(String(32), unique=True)
    tier: Mapped[str] = mapped_column(String(16))
    points_balance: Mapped[int] = mapped_column(Integer)
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LoyaltyTransaction(Base):
    __tablename__ = "loyalty_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = customer_fk()
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    points: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    store: Mapped[str | None] = mapped_column(String(80))


class ProfileSegment(Base):
    __tablename__ = "loyalty_profile_segments"
    __table_args__ = (UniqueConstraint("customer_id", "segment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = customer_fk()
    segment: Mapped[str] = mapped_column(String(40))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- marketing -------------------------------------------------------------------------------


class MarketingConsent(Base):
    """The current choice per purpose, with when it was made: absent means never given."""

    __tablename__ = "marketing_consents"

    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(80))


# --- wifi ------------------------------------------------------------------------------------


class WifiDevice(Base):
    """A phone the customer opted in through the app: the only link between a MAC hash and a person."""

    __tablename__ = "wifi_devices"

    mac_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = customer_fk()
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StoreVisit(Base):
    __tablename__ = "wifi_store_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mac_hash: Mapped[str] = mapped_column(String(64), index=True)
    store: Mapped[str] = mapped_column(String(80))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# --- service ---------------------------------------------------------------------------------


class Ticket(Base):
    __tablename__ = "service_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[str] = customer_fk()
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    notes: Mapped[list[TicketNote]] = relationship(passive_deletes=True)


class TicketNote(Base):
    __tablename__ = "service_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("service_tickets.id", ondelete="CASCADE"), index=True)
    written_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    author: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)


# --- the contract's bookkeeping --------------------------------------------------------------


class ProcessingStop(Base):
    """Art. 21(1): an objection the company upheld; this system no longer uses these categories for this purpose."""

    __tablename__ = "processing_stops"
    __table_args__ = (UniqueConstraint("customer_id", "system", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = customer_fk()
    system: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(40))
    categories: Mapped[list] = mapped_column(JSON)
    stopped_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Restriction(Base):
    """Art. 18: this system may store the category but must not otherwise process it."""

    __tablename__ = "restrictions"
    __table_args__ = (UniqueConstraint("customer_id", "system", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = customer_fk()
    system: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    restricted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class IdempotencyRecord(Base):
    """A request already carried out, with its response: a repeat with the same key gets this answer and nothing runs."""

    __tablename__ = "idempotency_keys"

    system: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ActionLog(Base):
    """One row per action actually carried out, so tests (and auditors) can prove 'exactly once'."""

    __tablename__ = "actions_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(20), index=True)
    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    operation: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict] = mapped_column(JSON)
    executed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def migrate(database_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")


def create(database_url: str) -> Engine:
    """An engine; on SQLite every transaction takes the write lock at BEGIN, so concurrent retries queue up instead of failing."""
    if not database_url.startswith("sqlite"):
        return create_engine(database_url, pool_pre_ping=True)
    engine = create_engine(database_url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def connect(database_url: str) -> tuple[Engine, sessionmaker]:
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    migrate(database_url)
    engine = create(database_url)
    return engine, sessionmaker(engine, expire_on_commit=False)
