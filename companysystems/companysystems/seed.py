"""The demo company's customers: 50 made-up Voltera customers, the same every time.

A fixed random seed decides who has what; dates are offsets from the day of seeding, so the data
always looks current (Wi-Fi visits inside their 30 days, orders over the last 8 years, some invoices
past their 7-year retention). A few customers have a fixed shape for demos and tests:
C0001 has data in every system, C0002 only contact details and one order, C0003 an account and a
newsletter subscription but never bought anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from .data_operations import address_line
from .db import (
    Account,
    Base,
    Contact,
    Customer,
    Invoice,
    LoyaltyCard,
    LoyaltyTransaction,
    MarketingConsent,
    Order,
    OrderLine,
    Payment,
    ProfileSegment,
    RefundAccount,
    StoreVisit,
    Ticket,
    TicketNote,
    WifiDevice,
)

SEED = 20250317
CUSTOMERS = 50
UTC = dt.UTC

FIRST_NAMES = [
    "Sanne",
    "Daan",
    "Emma",
    "Lucas",
    "Julia",
    "Sem",
    "Sophie",
    "Bram",
    "Lotte",
    "Thijs",
    "Fleur",
    "Ruben",
    "Anouk",
    "Jesse",
    "Eva",
    "Lars",
    "Iris",
    "Noah",
    "Femke",
    "Finn",
    "Noor",
    "Jeroen",
    "Marieke",
    "Pieter",
    "Ingrid",
    "Willem",
    "Annemiek",
    "Joost",
    "Zoë",
    "Mohammed",
    "Fatima",
    "Chloë",
    "Kees",
    "Tess",
    "Youssef",
    "Mila",
    "Hanneke",
    "Stijn",
    "Esra",
    "Maarten",
]
LAST_NAMES = [
    "de Vries",
    "Jansen",
    "de Jong",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "de Graaf",
    "van der Meer",
    "van der Linden",
    "Kok",
    "Jacobs",
    "de Haan",
    "Vermeulen",
    "van Dijk",
    "Willems",
    "Hoekstra",
    "Postma",
    "Yılmaz",
    "El Amrani",
    "Kaya",
    "Pinas",
    "Nguyen",
    "van Beek",
    "Kuipers",
    "Schouten",
    "Prins",
]
# City, first two digits of its postcodes, streets.
CITIES = [
    (
        "Amsterdam",
        (10, 11),
        ["Prinsengracht", "Jan Pieterszoon Coenstraat", "Javastraat", "Admiraal de Ruijterweg", "Ceintuurbaan"],
    ),
    ("Rotterdam", (30, 31), ["Nieuwe Binnenweg", "Beukelsdijk", "Zwart Janstraat", "Kralingse Plaslaan"]),
    ("Utrecht", (35, 35), ["Oudegracht", "Amsterdamsestraatweg", "Biltstraat", "Kanaalstraat"]),
    ("Den Haag", (25, 25), ["Laan van Meerdervoort", "Weimarstraat", "Valkenboslaan", "Frederik Hendriklaan"]),
    ("Eindhoven", (56, 56), ["Kruisstraat", "Woenselse Markt", "Boschdijk", "Tongelresestraat"]),
    ("Groningen", (97, 97), ["Herestraat", "Nieuwe Ebbingestraat", "Paterswoldseweg"]),
    ("Tilburg", (50, 50), ["Korvelseweg", "Ringbaan-West", "Piusstraat"]),
    ("Nijmegen", (65, 65), ["Graafseweg", "Sint Annastraat", "Hatertseweg"]),
    ("Haarlem", (20, 20), ["Zijlweg", "Rijksstraatweg", "Kleverparkweg"]),
    ("Zwolle", (80, 80), ["Assendorperstraat", "Diezerstraat", "Hortensiastraat"]),
    ("Breda", (48, 48), ["Haagweg", "Ginnekenweg", "Boschstraat"]),
    ("Almere", (13, 13), ["Grote Markt", "Muziekweg", "Randstad"]),
]
STORES = [
    "Amsterdam Kalverstraat",
    "Rotterdam Lijnbaan",
    "Utrecht Hoog Catharijne",
    "Den Haag Grote Marktstraat",
    "Eindhoven Demer",
    "Groningen Herestraat",
]
# sku, description, price in cents (incl. 21% VAT), interest segment
PRODUCTS = [
    ("VLT-TV55", "55 inch 4K-televisie", 64900, "home_cinema"),
    ("VLT-SNDB", "Soundbar met subwoofer", 29900, "home_cinema"),
    ("VLT-LAP14", "Laptop 14 inch, 16 GB", 89900, "computing"),
    ("VLT-TAB11", "Tablet 11 inch", 37900, "computing"),
    ("VLT-PHN128", "Smartphone 128 GB", 44900, "mobile"),
    ("VLT-WATCH", "Smartwatch", 19900, "mobile"),
    ("VLT-HPNC", "Draadloze koptelefoon met noise cancelling", 24900, "audio"),
    ("VLT-EARB", "Draadloze oordopjes", 9900, "audio"),
    ("VLT-SPKR", "Bluetooth-speaker", 7999, "audio"),
    ("VLT-CONS", "Gameconsole", 54900, "gaming"),
    ("VLT-CTRL", "Extra controller", 6999, "gaming"),
    ("VLT-AIRF", "Airfryer XL", 12900, "kitchen"),
    ("VLT-KOFF", "Volautomatische koffiemachine", 49900, "kitchen"),
    ("VLT-WAS8", "Wasmachine 8 kg", 54900, "household"),
    ("VLT-ROBO", "Robotstofzuiger", 29900, "smart_home"),
    ("VLT-BULB", "Slimme lamp E27, 2 stuks", 3499, "smart_home"),
    ("VLT-CAM", "Systeemcamera met lens", 79900, "photography"),
    ("VLT-SD128", "SD-kaart 128 GB", 2499, "photography"),
    ("VLT-USBC", "USB-C-kabel 2 m", 1499, None),
    ("VLT-HDMI", "HDMI-kabel 1,5 m", 1299, None),
]
BANKS = ["INGB", "ABNA", "RABO", "SNSB", "TRIO", "ASNB", "BUNQ", "KNAB"]
TICKET_SUBJECTS = [
    ("Bestelling nog niet ontvangen", "Pakket volgens track & trace bezorgd bij de buren; klant ingelicht."),
    ("Retour aanvragen", "Retourlabel gemaild; terugbetaling na ontvangst."),
    ("Koptelefoon valt steeds uit", "Firmware-update uitgelegd; bij aanhoudend probleem garantieaanvraag."),
    ("Factuur kwijt", "Kopie van de factuur opnieuw gemaild."),
    ("Vraag over Voltera Plus-punten", "Punten van aankoop in de winkel handmatig bijgeschreven."),
    ("Wasmachine lekt", "Monteur ingepland onder garantie."),
    ("Adres wijzigen voor bezorging", "Bezorgadres aangepast voor verzending."),
]
CONSENT_SOURCES = {
    "newsletter": ["account signup", "webshop checkout", "Voltera app"],
    "personalised_offers": ["Voltera Plus signup", "Voltera app"],
    "wifi_counting": ["Voltera app", "store Wi-Fi login page"],
}


def ascii_fold(text: str) -> str:
    text = text.replace("ı", "i")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def iban(rng: random.Random) -> str:
    """A Dutch IBAN with valid check digits (ISO 13616 mod 97), for a made-up account."""
    bank, account = rng.choice(BANKS), f"{rng.randrange(10**9, 10**10)}"
    digits = "".join(str(int(ch, 36)) for ch in bank + account + "NL00")
    return f"NL{98 - int(digits) % 97:02d}{bank}{account}"


@dataclass
class Shape:
    account: bool
    orders: int
    loyalty: bool
    consents: dict[str, bool]
    wifi: bool
    tickets: int
    refund_iban: bool
    old_order: bool = False


def shape_of(number: int, rng: random.Random) -> Shape:
    if number == 1:
        return Shape(
            True, 6, True, {"newsletter": True, "personalised_offers": True, "wifi_counting": True}, True, 2, True, old_order=True
        )
    if number == 2:
        return Shape(False, 1, False, {}, False, 0, False)
    if number == 3:
        return Shape(True, 0, False, {"newsletter": True}, False, 0, False)
    consents = {}
    if rng.random() < 0.75:
        for purpose, chance in (("newsletter", 0.65), ("personalised_offers", 0.45), ("wifi_counting", 0.35)):
            if rng.random() < 0.8:
                consents[purpose] = rng.random() < chance
    return Shape(
        account=rng.random() < 0.85,
        orders=rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8]),
        loyalty=rng.random() < 0.6,
        consents=consents,
        wifi=consents.get("wifi_counting", False) and rng.random() < 0.8,
        tickets=rng.choice([0, 0, 0, 1, 1, 2, 3]),
        refund_iban=rng.random() < 0.3,
        old_order=rng.random() < 0.3,
    )


class Builder:
    """Adds one customer at a time; numbers of orders, invoices and tickets run across customers."""

    def __init__(self, s: Session, today: dt.date) -> None:
        self.s = s
        self.rng = random.Random(SEED)
        self.now = dt.datetime.combine(today, dt.time(0), UTC)
        self.emails: set[str] = set()
        self.seq = {"order": 100000, "invoice": 0, "ticket": 50000, "card": 0}

    def ago(self, days: float, hour_from: int = 9, hour_to: int = 21) -> dt.datetime:
        day = self.now - dt.timedelta(days=int(days))
        return day.replace(
            hour=self.rng.randrange(hour_from, hour_to), minute=self.rng.randrange(60), second=self.rng.randrange(60)
        )

    def email_for(self, first: str, last: str) -> str:
        base = f"{ascii_fold(first)}.{ascii_fold(last).replace(' ', '')}".lower()
        email, n = f"{base}@example.nl", 2
        while email in self.emails:
            email, n = f"{base}{n}@example.nl", n + 1
        self.emails.add(email)
        return email

    def add(self, number: int) -> None:
        rng, s = self.rng, self.s
        cid = f"C{number:04d}"
        shape = shape_of(number, rng)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, (pc_from, pc_to), streets = rng.choice(CITIES)
        letters = "ABCEGHJKLMNPRTVWXZ"
        postcode = f"{rng.randint(pc_from, pc_to)}{rng.randint(0, 99):02d} {rng.choice(letters)}{rng.choice(letters)}"
        street, house = rng.choice(streets), f"{rng.randint(1, 240)}{rng.choice(['', '', '', 'A', '-2', ' bis'])}"
        email = self.email_for(first, last)
        name, address = f"{first} {last}", address_line(street, house, postcode, city)
        days = sorted((rng.randint(1, 8 * 365) for _ in range(shape.orders)), reverse=True)
        if shape.old_order and days:
            days[0] = rng.randint(7 * 365 + 10, 8 * 365)  # an invoice past its 7-year retention
        if number == 1:
            days[-1] = 20  # and one well inside it
        # A customer since before their first order.
        since_days = (days[0] if days else 0) + rng.randint(30, 365)
        since = self.ago(since_days)

        s.add(Customer(id=cid, created_at=since))
        s.flush()  # rows refer to the customer without an ORM relationship: the unit of work needs it in first
        s.add(
            Contact(
                customer_id=cid,
                first_name=first,
                last_name=last,
                street=street,
                house_number=house,
                postcode=postcode,
                city=city,
                country="NL",
                email=email,
                phone=f"+31 6 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                updated_at=since,
            )
        )
        if shape.account:
            s.add(
                Account(
                    customer_id=cid,
                    login_email=email,
                    created_at=since,
                    last_login_at=self.ago(rng.randint(0, min(400, since_days))),
                    date_of_birth=(self.now - dt.timedelta(days=rng.randint(18 * 365, 80 * 365))).date(),
                )
            )

        card: LoyaltyCard | None = None
        if shape.loyalty:
            self.seq["card"] += 1
            card = LoyaltyCard(
                customer_id=cid,
                card_number=f"2990 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {self.seq['card']:04d}",
                tier="bronze",
                points_balance=0,
                enrolled_at=self.ago(rng.randint(1, since_days)),
            )
            s.add(card)

        segments: set[str] = set()
        for age in days:
            segments |= self.add_order(cid, name, address, age, card)
        if card is not None:
            self.add_redemptions(cid, card)
            card.tier = "gold" if card.points_balance >= 2500 else "silver" if card.points_balance >= 800 else "bronze"
            if shape.consents.get("personalised_offers"):
                for segment in sorted(segments)[:4]:
                    s.add(ProfileSegment(customer_id=cid, segment=segment, assigned_at=self.ago(rng.randint(1, 60))))

        if shape.refund_iban:
            s.add(
                RefundAccount(customer_id=cid, iban=iban(rng), account_holder=name, added_at=self.ago(rng.randint(10, 3 * 365)))
            )
        for purpose, granted in shape.consents.items():
            given = self.ago(rng.randint(60, 5 * 365))
            changed = given if granted else self.ago(rng.randint(1, 59))
            s.add(
                MarketingConsent(
                    customer_id=cid,
                    purpose=purpose,
                    granted=granted,
                    changed_at=changed,
                    source=rng.choice(CONSENT_SOURCES[purpose]),
                )
            )
        if shape.wifi:
            self.add_wifi(cid)
        for _ in range(shape.tickets):
            self.add_ticket(cid)
        s.flush()

    def add_order(self, cid: str, name: str, address: str, age: int, card: LoyaltyCard | None) -> set[str]:
        rng, s = self.rng, self.s
        at = self.ago(age)
        in_store = rng.random() < 0.35
        picks = rng.sample(PRODUCTS, rng.choice([1, 1, 2, 2, 3]))
        lines = [(sku, desc, 1 if price > 5000 else rng.randint(1, 3), price, seg) for sku, desc, price, seg in picks]
        total = sum(q * p for _, _, q, p, _ in lines)
        self.seq["order"] += 1
        self.seq["invoice"] += 1
        order = Order(
            order_number=f"VO-{self.seq['order']}",
            customer_id=cid,
            ordered_at=at,
            channel="store" if in_store else "webshop",
            store=rng.choice(STORES) if in_store else None,
            status="returned" if rng.random() < 0.06 else ("collected" if in_store else "delivered"),
            delivery_name=None if in_store else name,
            delivery_address=None if in_store else address,
            total_cents=total,
        )
        order.lines = [OrderLine(sku=sku, description=desc, quantity=q, unit_price_cents=p) for sku, desc, q, p, _ in lines]
        s.add(order)
        s.add(
            Invoice(
                invoice_number=f"VF-{at.year}-{self.seq['invoice']:06d}",
                customer_id=cid,
                order=order,
                issued_at=at,
                billing_name=name,
                billing_address=address,
                total_cents=total,
                vat_cents=round(total * 21 / 121),
                lines=[{"description": desc, "quantity": q, "unit_price_cents": p, "vat_rate": 21} for _, desc, q, p, _ in lines],
            )
        )
        method = rng.choice(["pin", "pin", "creditcard"] if in_store else ["ideal", "ideal", "creditcard", "klarna"])
        s.add(
            Payment(
                customer_id=cid,
                order=order,
                paid_at=at + dt.timedelta(minutes=1),
                method=method,
                card_last4=f"{rng.randint(0, 9999):04d}" if method in ("pin", "creditcard") else None,
                amount_cents=total,
                reference=f"ADY-{hashlib.sha256(order.order_number.encode()).hexdigest()[:16].upper()}",
            )
        )
        if card is not None and at >= card.enrolled_at:
            points = total // 100
            card.points_balance += points
            s.add(
                LoyaltyTransaction(
                    customer_id=cid,
                    occurred_at=at,
                    points=points,
                    description=f"Punten voor bestelling {order.order_number}",
                    store=order.store,
                )
            )
        return {seg for *_, seg in lines if seg}

    def add_redemptions(self, cid: str, card: LoyaltyCard) -> None:
        if card.points_balance >= 500 and self.rng.random() < 0.5:
            card.points_balance -= 500
            self.s.add(
                LoyaltyTransaction(
                    customer_id=cid,
                    occurred_at=self.ago(self.rng.randint(1, 90)),
                    points=-500,
                    description="Ledenkorting van 5 euro ingewisseld",
                    store=None,
                )
            )

    def add_wifi(self, cid: str) -> None:
        rng, s = self.rng, self.s
        mac = ":".join(f"{rng.randrange(256):02x}" for _ in range(6))
        mac_hash = hashlib.sha256(f"voltera-wifi-salt:{mac}".encode()).hexdigest()
        s.add(WifiDevice(mac_hash=mac_hash, customer_id=cid, registered_at=self.ago(rng.randint(31, 700))))
        for _ in range(rng.randint(1, 5)):
            entered = self.ago(rng.randint(1, 29), 10, 20)
            s.add(
                StoreVisit(
                    mac_hash=mac_hash,
                    store=rng.choice(STORES),
                    entered_at=entered,
                    left_at=entered + dt.timedelta(minutes=rng.randint(4, 55)),
                )
            )

    def add_anonymous_visits(self, count: int) -> None:
        """Phones of visitors who never opted in via the app: counted, linked to nobody."""
        for _ in range(count):
            mac_hash = hashlib.sha256(f"voltera-wifi-salt:anon:{self.rng.random()}".encode()).hexdigest()
            entered = self.ago(self.rng.randint(1, 29), 10, 20)
            self.s.add(
                StoreVisit(
                    mac_hash=mac_hash,
                    store=self.rng.choice(STORES),
                    entered_at=entered,
                    left_at=entered + dt.timedelta(minutes=self.rng.randint(3, 40)),
                )
            )

    def add_ticket(self, cid: str) -> None:
        rng, s = self.rng, self.s
        subject, answer = rng.choice(TICKET_SUBJECTS)
        opened = self.ago(rng.randint(1, 330))
        open_still = rng.random() < 0.15
        self.seq["ticket"] += 1
        ticket = Ticket(
            ticket_number=f"KS-{self.seq['ticket']}",
            customer_id=cid,
            opened_at=opened,
            closed_at=None if open_still else opened + dt.timedelta(days=rng.randint(0, 6)),
            channel=rng.choice(["email", "phone", "store", "chat"]),
            subject=subject,
            status="open" if open_still else "closed",
        )
        agent = f"Klantenservice, medewerker {rng.randint(10, 99)}"
        ticket.notes.append(
            TicketNote(
                written_at=opened + dt.timedelta(minutes=rng.randint(5, 240)),
                author=agent,
                text=f"Klant meldt: {subject.lower()}.",
            )
        )
        if not open_still:
            ticket.notes.append(TicketNote(written_at=ticket.closed_at, author=agent, text=answer))
        s.add(ticket)


def seed(Session: sessionmaker, today: dt.date | None = None) -> int:
    """Add the demo customers unless there are customers already; returns how many were added."""
    with Session.begin() as s:
        if s.scalar(select(func.count()).select_from(Customer)):
            return 0
        builder = Builder(s, today or dt.datetime.now(UTC).date())
        for number in range(1, CUSTOMERS + 1):
            builder.add(number)
        builder.add_anonymous_visits(40)
    return CUSTOMERS


def reset(Session: sessionmaker) -> None:
    """Empty every table (schema stays): demos and end-to-end runs start again from the seed."""
    with Session.begin() as s:
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))
