"""What the company's systems do with a customer's data when the back office asks: export, erase,
restrict, rectify, and set marketing preferences.

The rules live here, with no web imports; the HTTP layer (app.py) only parses requests and maps
errors. Every changing operation runs exactly once per idempotency key: the key, the response and
the action are committed in one transaction, so a retry after a timeout gets the stored answer and
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import CursorResult, Delete, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .db import (
    Account,
    ActionLog,
    Contact,
    Customer,
    IdempotencyRecord,
    Invoice,
    LoyaltyCard,
    LoyaltyTransaction,
    MarketingConsent,
    Order,
    OrderLine,
    Payment,
    ProcessingStop,
    ProfileSegment,
    RefundAccount,
    Restriction,
    StoreVisit,
    Ticket,
    TicketNote,
    WifiDevice,
)

# Which system holds which data categories (ids shared with the knowledge base and the back office).
SYSTEMS: dict[str, tuple[str, ...]] = {
    "crm": ("contact_details", "account"),
    "orders": ("purchase_history", "invoices", "payment_details"),
    "loyalty": ("loyalty", "profile_segments"),
    "marketing": ("marketing_preferences",),
    "wifi": ("store_visits",),
    "service": ("customer_service",),
}
# What each system can be asked to do; the routes follow this table and `GET /systems` serves it, so
# the back office can check its own catalogue against it. Every system exports, erases and restricts;
# crm also finds the shared customer id by e-mail address (lookup).
# Every system also stops one processing (a purpose) for a customer when the company upholds an
# objection to it (Art. 21(1)): stop_processing.
Operation = Literal["lookup", "export", "erase", "restrict", "rectify", "preferences", "stop_processing"]
OPERATIONS: dict[str, tuple[Operation, ...]] = {
    "crm": ("lookup", "export", "erase", "restrict", "rectify", "stop_processing"),
    "orders": ("export", "erase", "restrict", "stop_processing"),
    "loyalty": ("export", "erase", "restrict", "stop_processing"),
    "marketing": ("export", "erase", "restrict", "preferences", "stop_processing"),
    "wifi": ("export", "erase", "restrict", "stop_processing"),
    "service": ("export", "erase", "restrict", "stop_processing"),
}
PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RectifiableField = Literal["name", "address", "email", "phone"]
RECTIFIABLE: dict[str, tuple[RectifiableField, ...]] = {"crm": get_args(RectifiableField)}
PREFERENCES = ("newsletter", "personalised_offers", "wifi_counting")

TAX_RETENTION_YEARS = 7
TAX_REASON = (
    "Dutch tax law (article 52 AWR, fiscale bewaarplicht) requires keeping invoices and the records they rest on "
    "for 7 years; they are used for the accounts and tax audits only until then"
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{6,19}$")
NL_POSTCODE = re.compile(r"^([1-9][0-9]{3}) ?([A-Z]{2})$")


class Refused(Exception):
    """A request this system refuses to carry out; the message is safe to show to the caller."""


class NotFound(Refused):
    pass


class Invalid(Refused):
    pass


class Conflict(Refused):
    pass


class KeyReused(Refused):
    """The idempotency key was already used for a different request."""


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    replayed: bool


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def retained_until(moment: dt.datetime) -> dt.date:
    """The day the tax retention of a document from `moment` ends (29 February rolls to 28 February)."""
    day = moment.date()
    try:
        return day.replace(year=day.year + TAX_RETENTION_YEARS)
    except ValueError:
        return day.replace(year=day.year + TAX_RETENTION_YEARS, day=28)


def check_categories(system: str, categories: Iterable[str] | None) -> list[str]:
    """The categories to act on: all this system holds when None; an error names the ones it does not hold."""
    if system not in SYSTEMS:
        raise NotFound(f"no system '{system}'")
    held = SYSTEMS[system]
    if categories is None:
        return list(held)
    wanted = list(dict.fromkeys(categories))
    unknown = [c for c in wanted if c not in held]
    if unknown:
        raise Invalid(f"system '{system}' does not hold {', '.join(unknown)}; it holds {', '.join(held)}")
    if not wanted:
        raise Invalid("categories must not be empty (use null for all categories of this system)")
    return wanted


def address_line(street: str, house_number: str, postcode: str, city: str) -> str:
    return f"{street} {house_number}, {postcode} {city}"


# --- export ----------------------------------------------------------------------------------


def _export_contact(s: Session, cid: str) -> list[dict]:
    c = s.get(Contact, cid)
    if c is None:
        return []
    return [
        {
            "first_name": c.first_name,
            "last_name": c.last_name,
            "address": {
                "street": c.street,
                "house_number": c.house_number,
                "postcode": c.postcode,
                "city": c.city,
                "country": c.country,
            },
            "email": c.email,
            "phone": c.phone,
            "updated_at": iso(c.updated_at),
        }
    ]


def _export_account(s: Session, cid: str) -> list[dict]:
    a = s.get(Account, cid)
    if a is None:
        return []
    return [
        {
            "login_email": a.login_email,
            "created_at": iso(a.created_at),
            "last_login_at": iso(a.last_login_at),
            "date_of_birth": iso(a.date_of_birth),
        }
    ]


def _export_orders(s: Session, cid: str) -> list[dict]:
    orders = s.scalars(select(Order).where(Order.customer_id == cid).order_by(Order.ordered_at)).all()
    lines: dict[int, list[dict]] = {}
    for line in s.scalars(select(OrderLine).where(OrderLine.order_id.in_([o.id for o in orders])).order_by(OrderLine.id)):
        lines.setdefault(line.order_id, []).append(
            {
                "sku": line.sku,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
            }
        )
    return [
        {
            "order_number": o.order_number,
            "ordered_at": iso(o.ordered_at),
            "channel": o.channel,
            "store": o.store,
            "status": o.status,
            "delivery_name": o.delivery_name,
            "delivery_address": o.delivery_address,
            "total_cents": o.total_cents,
            "currency": "EUR",
            "lines": lines.get(o.id, []),
        }
        for o in orders
    ]


def _export_invoices(s: Session, cid: str) -> list[dict]:
    rows = s.execute(
        select(Invoice, Order.order_number)
        .outerjoin(Order, Invoice.order_id == Order.id)
        .where(Invoice.customer_id == cid)
        .order_by(Invoice.issued_at)
    ).all()
    return [
        {
            "invoice_number": i.invoice_number,
            "order_number": number,
            "issued_at": iso(i.issued_at),
            "billing_name": i.billing_name,
            "billing_address": i.billing_address,
            "lines": i.lines,
            "total_cents": i.total_cents,
            "vat_cents": i.vat_cents,
            "currency": "EUR",
            "retained_until": iso(retained_until(i.issued_at)),
        }
        for i, number in rows
    ]


def _export_payments(s: Session, cid: str) -> list[dict]:
    rows = s.execute(
        select(Payment, Order.order_number)
        .outerjoin(Order, Payment.order_id == Order.id)
        .where(Payment.customer_id == cid)
        .order_by(Payment.paid_at)
    ).all()
    records: list[dict] = [
        {
            "kind": "payment",
            "paid_at": iso(p.paid_at),
            "method": p.method,
            "card_last4": p.card_last4,
            "amount_cents": p.amount_cents,
            "currency": "EUR",
            "reference": p.reference,
            "order_number": number,
        }
        for p, number in rows
    ]
    refund = s.get(RefundAccount, cid)
    if refund is not None:
        records.append(
            {
                "kind": "refund_account",
                "iban": refund.iban,
                "account_holder": refund.account_holder,
                "added_at": iso(refund.added_at),
            }
        )
    return records


def _export_loyalty(s: Session, cid: str) -> list[dict]:
    card = s.get(LoyaltyCard, cid)
    if card is None:
        return []
    transactions = s.scalars(
        select(LoyaltyTransaction)
        .where(LoyaltyTransaction.customer_id == cid)
        .order_by(LoyaltyTransaction.occurred_at, LoyaltyTransaction.id)
    )
    return [
        {
            "card_number": card.card_number,
            "tier": card.tier,
            "points_balance": card.points_balance,
            "enrolled_at": iso(card.enrolled_at),
            "transactions": [
                {"occurred_at": iso(t.occurred_at), "points": t.points, "description": t.description, "store": t.store}
                for t in transactions
            ],
        }
    ]


def _export_segments(s: Session, cid: str) -> list[dict]:
    rows = s.scalars(select(ProfileSegment).where(ProfileSegment.customer_id == cid).order_by(ProfileSegment.segment))
    return [{"segment": r.segment, "assigned_at": iso(r.assigned_at), "derived_from": "purchase_history"} for r in rows]


def _export_consents(s: Session, cid: str) -> list[dict]:
    rows = s.scalars(select(MarketingConsent).where(MarketingConsent.customer_id == cid).order_by(MarketingConsent.purpose))
    return [{"purpose": r.purpose, "granted": r.granted, "changed_at": iso(r.changed_at), "source": r.source} for r in rows]


def _export_visits(s: Session, cid: str) -> list[dict]:
    devices = s.scalars(select(WifiDevice).where(WifiDevice.customer_id == cid).order_by(WifiDevice.registered_at)).all()
    visits = s.scalars(
        select(StoreVisit).where(StoreVisit.mac_hash.in_([d.mac_hash for d in devices])).order_by(StoreVisit.entered_at)
    ).all()
    return [{"kind": "device", "mac_hash": d.mac_hash, "registered_at": iso(d.registered_at)} for d in devices] + [
        {"kind": "visit", "mac_hash": v.mac_hash, "store": v.store, "entered_at": iso(v.entered_at), "left_at": iso(v.left_at)}
        for v in visits
    ]


def _export_service(s: Session, cid: str) -> list[dict]:
    tickets = s.scalars(select(Ticket).where(Ticket.customer_id == cid).order_by(Ticket.opened_at)).all()
    notes: dict[int, list[dict]] = {}
    for n in s.scalars(
        select(TicketNote).where(TicketNote.ticket_id.in_([t.id for t in tickets])).order_by(TicketNote.written_at, TicketNote.id)
    ):
        notes.setdefault(n.ticket_id, []).append({"written_at": iso(n.written_at), "author": n.author, "text": n.text})
    return [
        {
            "ticket_number": t.ticket_number,
            "opened_at": iso(t.opened_at),
            "closed_at": iso(t.closed_at),
            "channel": t.channel,
            "subject": t.subject,
            "status": t.status,
            "notes": notes.get(t.id, []),
        }
        for t in tickets
    ]


# The fields of each category's export records, as `GET /systems` lists them: the back office checks
# them against the register of processing at start (a field no category declares is held undeclared).
FIELDS: dict[str, tuple[str, ...]] = {
    "contact_details": ("first_name", "last_name", "address", "email", "phone", "updated_at"),
    "account": ("login_email", "created_at", "last_login_at", "date_of_birth"),
    "purchase_history": ("order_number", "ordered_at", "channel", "store", "status", "delivery_name", "delivery_address",
                         "total_cents", "currency", "lines"),
    "invoices": ("invoice_number", "order_number", "issued_at", "billing_name", "billing_address", "lines", "total_cents",
                 "vat_cents", "currency", "retained_until"),
    "payment_details": ("kind", "paid_at", "method", "card_last4", "amount_cents", "currency", "reference", "order_number",
                        "iban", "account_holder", "added_at"),
    "loyalty": ("card_number", "tier", "points_balance", "enrolled_at", "transactions"),
    "profile_segments": ("segment", "assigned_at", "derived_from"),
    "marketing_preferences": ("purpose", "granted", "changed_at", "source"),
    "store_visits": ("kind", "mac_hash", "registered_at", "store", "entered_at", "left_at"),
    "customer_service": ("ticket_number", "opened_at", "closed_at", "channel", "subject", "status", "notes"),
}

EXPORTERS: dict[str, Callable[[Session, str], list[dict]]] = {
    "contact_details": _export_contact,
    "account": _export_account,
    "purchase_history": _export_orders,
    "invoices": _export_invoices,
    "payment_details": _export_payments,
    "loyalty": _export_loyalty,
    "profile_segments": _export_segments,
    "marketing_preferences": _export_consents,
    "store_visits": _export_visits,
    "customer_service": _export_service,
}


# --- erasure ---------------------------------------------------------------------------------
# Each eraser returns (records erased, kept note or None). Counts are in the units of the export:
# what a category's export listed is either erased or reported as kept, with the reason.


@dataclass
class Kept:
    category: str
    reason: str
    count: int
    retained_until: dt.date | None = None

    def as_dict(self) -> dict:
        return {"category": self.category, "reason": self.reason, "count": self.count, "retained_until": iso(self.retained_until)}


Erased = tuple[int, Kept | None]


def _deleted(s: Session, statement: Delete) -> int:
    """How many rows a DELETE removed (a session types every result as a plain Result; a DELETE's is a cursor's)."""
    result = s.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def _erase_rows(
    model: type[Contact | Account | ProfileSegment | MarketingConsent],
) -> Callable[[Session, str, dt.datetime], Erased]:
    def erase(s: Session, cid: str, _now: dt.datetime) -> Erased:
        return _deleted(s, delete(model).where(model.customer_id == cid)), None

    return erase


def _erase_invoices(s: Session, cid: str, now: dt.datetime) -> Erased:
    invoices = s.scalars(select(Invoice).where(Invoice.customer_id == cid)).all()
    expired = [i.id for i in invoices if retained_until(i.issued_at) <= now.date()]
    kept = [i for i in invoices if i.id not in expired]
    s.execute(delete(Invoice).where(Invoice.id.in_(expired)))
    if not kept:
        return len(expired), None
    until = max(retained_until(i.issued_at) for i in kept)
    reason = f"{len(kept)} invoice(s) younger than 7 years are kept, the last until {iso(until)}: {TAX_REASON}"
    return len(expired), Kept("invoices", reason, len(kept), until)


def _orders_needed_by_invoices(s: Session, cid: str, now: dt.datetime) -> dict[int, dt.date]:
    """Orders an invoice still in its tax retention refers to, with the date that retention ends."""
    needed: dict[int, dt.date] = {}
    for order_id, issued_at in s.execute(select(Invoice.order_id, Invoice.issued_at).where(Invoice.customer_id == cid)):
        until = retained_until(issued_at)
        if order_id is not None and until > now.date():
            needed[order_id] = max(until, needed.get(order_id, until))
    return needed


def _erase_orders(s: Session, cid: str, now: dt.datetime) -> Erased:
    """Delivery details go everywhere; orders no invoice still needs are unlinked from the customer (anonymised)."""
    orders = s.scalars(select(Order.id).where(Order.customer_id == cid)).all()
    needed = {o: until for o, until in _orders_needed_by_invoices(s, cid, now).items() if o in orders}
    s.execute(update(Order).where(Order.customer_id == cid).values(delivery_name=None, delivery_address=None))
    free = [o for o in orders if o not in needed]
    s.execute(update(Order).where(Order.id.in_(free)).values(customer_id=None, anonymised_at=now))
    # Payments of unlinked orders would link them back to the customer.
    s.execute(update(Payment).where(Payment.order_id.in_(free)).values(order_id=None))
    s.execute(update(Invoice).where(Invoice.order_id.in_(free)).values(order_id=None))
    if not needed:
        return len(free), None
    until = max(needed.values())
    reason = (
        f"{len(needed)} order(s) stay linked to you because an invoice still in its retention rests on them "
        f"(the last until {iso(until)}); their delivery details were removed. {TAX_REASON}"
    )
    return len(free), Kept("purchase_history", reason, len(needed), until)


def _erase_payments(s: Session, cid: str, now: dt.datetime) -> Erased:
    """The refund IBAN always goes; payment records stay as long as the tax retention of the payment runs."""
    erased = _deleted(s, delete(RefundAccount).where(RefundAccount.customer_id == cid))
    payments = s.scalars(select(Payment).where(Payment.customer_id == cid)).all()
    expired = [p.id for p in payments if retained_until(p.paid_at) <= now.date()]
    kept = [p for p in payments if p.id not in expired]
    erased += _deleted(s, delete(Payment).where(Payment.id.in_(expired)))
    if not kept:
        return erased, None
    until = max(retained_until(p.paid_at) for p in kept)
    reason = (
        f"{len(kept)} payment record(s) (amount, date, method) younger than 7 years are kept, "
        f"the last until {iso(until)}: {TAX_REASON}"
    )
    return erased, Kept("payment_details", reason, len(kept), until)


def _erase_loyalty(s: Session, cid: str, _now: dt.datetime) -> Erased:
    s.execute(delete(LoyaltyTransaction).where(LoyaltyTransaction.customer_id == cid))
    return _deleted(s, delete(LoyaltyCard).where(LoyaltyCard.customer_id == cid)), None


def _erase_visits(s: Session, cid: str, _now: dt.datetime) -> Erased:
    hashes = s.scalars(select(WifiDevice.mac_hash).where(WifiDevice.customer_id == cid)).all()
    visits = _deleted(s, delete(StoreVisit).where(StoreVisit.mac_hash.in_(hashes)))
    devices = _deleted(s, delete(WifiDevice).where(WifiDevice.customer_id == cid))
    return visits + devices, None


def _erase_service(s: Session, cid: str, _now: dt.datetime) -> Erased:
    tickets = s.scalars(select(Ticket.id).where(Ticket.customer_id == cid)).all()
    s.execute(delete(TicketNote).where(TicketNote.ticket_id.in_(tickets)))
    return _deleted(s, delete(Ticket).where(Ticket.customer_id == cid)), None


# Invoices before purchase history: an order is unlinked only once no kept invoice needs it.
ERASERS: dict[str, Callable[[Session, str, dt.datetime], Erased]] = {
    "contact_details": _erase_rows(Contact),
    "account": _erase_rows(Account),
    "invoices": _erase_invoices,
    "purchase_history": _erase_orders,
    "payment_details": _erase_payments,
    "loyalty": _erase_loyalty,
    "profile_segments": _erase_rows(ProfileSegment),
    "marketing_preferences": _erase_rows(MarketingConsent),
    "store_visits": _erase_visits,
    "customer_service": _erase_service,
}


# --- rectification ---------------------------------------------------------------------------


def _clean(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{field} must be a non-empty text")
    value = " ".join(value.split())
    if len(value) > limit:
        raise Invalid(f"{field} is longer than {limit} characters")
    return value


def _rectify_contact(s: Session, cid: str, field: str, value: Any, now: dt.datetime) -> Any:
    contact = s.get(Contact, cid)
    if contact is None:
        raise Conflict(f"crm holds no contact details for customer {cid} (erased?); nothing to rectify")
    if field == "name":
        if isinstance(value, str):
            first, _, last = _clean(value, "name", 200).partition(" ")
            value = {"first_name": first, "last_name": last}
        if not isinstance(value, dict) or set(value) != {"first_name", "last_name"}:
            raise Invalid("name must be a text 'First Last' or an object {first_name, last_name}")
        contact.first_name = _clean(value["first_name"], "first_name", 100)
        contact.last_name = _clean(value["last_name"], "last_name", 100)
        new: Any = {"first_name": contact.first_name, "last_name": contact.last_name}
    elif field == "address":
        fields = {"street", "house_number", "postcode", "city"}
        if not isinstance(value, dict) or not fields <= set(value) <= fields | {"country"}:
            raise Invalid("address must be an object {street, house_number, postcode, city, country?}")
        country = _clean(value.get("country", "NL"), "country", 2).upper()
        postcode = _clean(value["postcode"], "postcode", 16).upper()
        if country == "NL":
            match = NL_POSTCODE.match(postcode)
            if match is None:
                raise Invalid("postcode is not a Dutch postcode like '1234 AB'")
            postcode = f"{match.group(1)} {match.group(2)}"
        contact.street = _clean(value["street"], "street", 120)
        contact.house_number = _clean(value["house_number"], "house_number", 20)
        contact.postcode, contact.city, contact.country = postcode, _clean(value["city"], "city", 80), country
        new = {
            "street": contact.street,
            "house_number": contact.house_number,
            "postcode": postcode,
            "city": contact.city,
            "country": country,
        }
    elif field == "email":
        new = _clean(value, "email", 254).lower()
        if not EMAIL.match(new):
            raise Invalid("email is not an e-mail address")
        taken = s.scalar(select(Contact.customer_id).where(func.lower(Contact.email) == new, Contact.customer_id != cid))
        if taken is not None:
            raise Conflict("another customer already has this e-mail address")
        contact.email = new
    else:
        new = _clean(value, "phone", 32)
        if not PHONE.match(new):
            raise Invalid("phone is not a phone number")
        contact.phone = new
    contact.updated_at = now
    return new


# --- the systems -----------------------------------------------------------------------------


class CompanySystems:
    """The six systems over one database. Reads run in a short transaction; changes run exactly once per key."""

    def __init__(self, Session: sessionmaker, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.Session = Session
        self.clock = clock

    @staticmethod
    def _customer(s: Session, cid: str) -> None:
        if s.get(Customer, cid) is None:
            raise NotFound(f"no customer '{cid}'")

    def lookup(self, email: str) -> str:
        email = email.strip().lower()
        with self.Session() as s:
            found = s.scalar(
                select(Contact.customer_id).where(func.lower(Contact.email) == email).order_by(Contact.customer_id).limit(1)
            )
            found = found or s.scalar(
                select(Account.customer_id).where(func.lower(Account.login_email) == email).order_by(Account.customer_id).limit(1)
            )
        if found is None:
            raise NotFound("no customer with this e-mail address")
        return found

    def export(self, system: str, customer_id: str) -> dict:
        categories = check_categories(system, None)
        with self.Session() as s:
            self._customer(s, customer_id)
            restricted = s.scalars(
                select(Restriction)
                .where(Restriction.customer_id == customer_id, Restriction.system == system)
                .order_by(Restriction.category)
            ).all()
            stopped = s.scalars(
                select(ProcessingStop)
                .where(ProcessingStop.customer_id == customer_id, ProcessingStop.system == system)
                .order_by(ProcessingStop.purpose)
            ).all()
            return {
                "system": system,
                "customer_id": customer_id,
                "exported_at": iso(self.clock()),
                "categories": {c: EXPORTERS[c](s, customer_id) for c in categories},
                "restricted": [{"category": r.category, "since": iso(r.restricted_at)} for r in restricted],
                "stopped_processing": [
                    {"purpose": p.purpose, "categories": list(p.categories), "since": iso(p.stopped_at)} for p in stopped
                ],
            }

    def erase(self, system: str, customer_id: str, categories: list[str] | None, key: str) -> Outcome:
        wanted = check_categories(system, categories)

        def action(s: Session, now: dt.datetime) -> dict:
            erased: dict[str, int] = {}
            kept: list[dict] = []
            for category in sorted(wanted, key=list(ERASERS).index):
                count, note = ERASERS[category](s, customer_id, now)
                erased[category] = count
                if note is not None:
                    kept.append(note.as_dict())
            # Nothing is left to restrict once a category is gone (kept records stay restricted).
            gone = [c for c in wanted if not any(k["category"] == c for k in kept)]
            s.execute(
                delete(Restriction).where(
                    Restriction.customer_id == customer_id, Restriction.system == system, Restriction.category.in_(gone)
                )
            )
            return {
                "status": "done",
                "system": system,
                "customer_id": customer_id,
                "erased": {c: erased[c] for c in wanted},
                "kept": kept,
            }

        return self._once(system, key, "erase", customer_id, {"categories": categories}, action)

    def restrict(self, system: str, customer_id: str, categories: list[str] | None, key: str) -> Outcome:
        wanted = check_categories(system, categories)

        def action(s: Session, now: dt.datetime) -> dict:
            existing = {
                r.category: r
                for r in s.scalars(
                    select(Restriction).where(Restriction.customer_id == customer_id, Restriction.system == system)
                )
            }
            for category in wanted:
                if category not in existing:
                    s.add(Restriction(customer_id=customer_id, system=system, category=category, restricted_at=now))
            since = {c: iso(existing[c].restricted_at) if c in existing else iso(now) for c in wanted}
            return {
                "status": "done",
                "system": system,
                "customer_id": customer_id,
                "restricted": [{"category": c, "since": since[c]} for c in wanted],
            }

        return self._once(system, key, "restrict", customer_id, {"categories": categories}, action)

    def stop_processing(self, system: str, customer_id: str, purpose: str, categories: list[str] | None, key: str) -> Outcome:
        """An upheld objection (Art. 21(1)): stop using these categories for this one purpose; the rest goes on."""
        if not isinstance(purpose, str) or not PURPOSE.match(purpose):
            raise Invalid("purpose must be a purpose id of the register (lower case letters, digits and _)")
        wanted = sorted(check_categories(system, categories), key=list(SYSTEMS[system]).index)

        def action(s: Session, now: dt.datetime) -> dict:
            row = s.scalar(
                select(ProcessingStop).where(
                    ProcessingStop.customer_id == customer_id, ProcessingStop.system == system, ProcessingStop.purpose == purpose
                )
            )
            if row is None:
                row = ProcessingStop(customer_id=customer_id, system=system, purpose=purpose, categories=wanted, stopped_at=now)
                s.add(row)
            else:
                row.categories = sorted(set(row.categories) | set(wanted), key=list(SYSTEMS[system]).index)
            return {
                "status": "done",
                "system": system,
                "customer_id": customer_id,
                "stopped_processing": {"purpose": purpose, "categories": list(row.categories), "since": iso(row.stopped_at)},
            }

        return self._once(system, key, "stop_processing", customer_id, {"purpose": purpose, "categories": categories}, action)

    def rectify(self, system: str, customer_id: str, field: str, value: Any, key: str) -> Outcome:
        check_categories(system, None)
        if field not in RECTIFIABLE.get(system, ()):
            allowed = ", ".join(RECTIFIABLE.get(system, ())) or "none"
            raise Invalid(f"system '{system}' cannot rectify '{field}'; fields it can rectify: {allowed}")

        def action(s: Session, now: dt.datetime) -> dict:
            new = _rectify_contact(s, customer_id, field, value, now)
            return {"status": "done", "system": system, "customer_id": customer_id, "field": field, "value": new}

        return self._once(system, key, "rectify", customer_id, {"field": field, "value": value}, action)

    def set_preferences(self, customer_id: str, choices: dict[str, bool], key: str, source: str = "privacy request") -> Outcome:
        """Withdrawing consent or objecting to direct marketing takes effect in this transaction: no approval step."""
        unknown = set(choices) - set(PREFERENCES)
        if unknown:
            raise Invalid(f"unknown preference(s) {', '.join(sorted(unknown))}; known: {', '.join(PREFERENCES)}")
        if not choices:
            raise Invalid(f"give at least one of {', '.join(PREFERENCES)}")

        def action(s: Session, now: dt.datetime) -> dict:
            for purpose, granted in choices.items():
                row = s.get(MarketingConsent, (customer_id, purpose))
                if row is None:
                    s.add(
                        MarketingConsent(customer_id=customer_id, purpose=purpose, granted=granted, changed_at=now, source=source)
                    )
                elif row.granted != granted:
                    row.granted, row.changed_at, row.source = granted, now, source
            s.flush()
            rows = {r.purpose: r for r in s.scalars(select(MarketingConsent).where(MarketingConsent.customer_id == customer_id))}
            return {
                "status": "done",
                "system": "marketing",
                "customer_id": customer_id,
                "preferences": {
                    p: {"granted": rows[p].granted, "changed_at": iso(rows[p].changed_at)}
                    if p in rows
                    else {"granted": False, "changed_at": None}
                    for p in PREFERENCES
                },
            }

        return self._once("marketing", key, "preferences", customer_id, {"choices": choices, "source": source}, action)

    def _once(
        self,
        system: str,
        key: str,
        operation: str,
        customer_id: str,
        payload: dict,
        action: Callable[[Session, dt.datetime], dict],
    ) -> Outcome:
        """Run `action` once for this key: the key row is written first, so a concurrent twin waits on it, then replays."""
        if not key or len(key) > 200:
            raise Invalid("Idempotency-Key must be 1 to 200 characters")
        request_hash = hashlib.sha256(
            json.dumps({"operation": operation, "customer_id": customer_id, "payload": payload}, sort_keys=True).encode()
        ).hexdigest()
        for attempt in (1, 2):
            try:
                with self.Session.begin() as s:
                    done = s.get(IdempotencyRecord, (system, key))
                    if done is not None:
                        if done.request_hash != request_hash:
                            raise KeyReused(f"Idempotency-Key '{key}' was already used for a different request to {system}")
                        return Outcome(done.response, replayed=True)
                    self._customer(s, customer_id)
                    now = self.clock()
                    record = IdempotencyRecord(
                        system=system,
                        key=key,
                        operation=operation,
                        customer_id=customer_id,
                        request_hash=request_hash,
                        created_at=now,
                    )
                    s.add(record)
                    s.flush()
                    result = action(s, now)
                    record.response = result
                    s.add(
                        ActionLog(
                            system=system,
                            customer_id=customer_id,
                            operation=operation,
                            idempotency_key=key,
                            detail=payload,
                            executed_at=now,
                        )
                    )
                    return Outcome(result, replayed=False)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
