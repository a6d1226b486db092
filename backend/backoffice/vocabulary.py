"""The ids the back office and the assistant both use, defined once here and served to the assistant
(`GET /api/vocabulary`), which keeps only the words for them: the rights and the statuses of a
request, the consents that can be withdrawn (each the knowledge base's purpose it is for), and the
fields a customer may correct, with the parts of an address. The ledger's rules (`requests.rules`)
say what a request of each right and in each status may do."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RequestType(str, Enum):
    """A right the customer uses, with the GDPR article it rests on (`RequestType.ACCESS.article`)."""

    ACCESS = "access"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    OBJECTION_DIRECT_MARKETING = "objection_direct_marketing"
    WITHDRAW_CONSENT = "withdraw_consent"
    # Stopping one use of data: a withdrawal when that use rests on consent, an objection when it
    # rests on legitimate interest (the knowledge base says which). Under the CCPA regime it is the
    # opt-out of sale or sharing.
    OPT_OUT = "opt_out"

    @property
    def article(self) -> str:
        return _ARTICLES[self]


_ARTICLES = {
    RequestType.ACCESS: "Art. 15",
    RequestType.PORTABILITY: "Art. 20",
    RequestType.RECTIFICATION: "Art. 16",
    RequestType.ERASURE: "Art. 17",
    RequestType.RESTRICTION: "Art. 18",
    RequestType.OBJECTION: "Art. 21(1)",
    RequestType.OBJECTION_DIRECT_MARKETING: "Art. 21(2)-(3)",
    RequestType.WITHDRAW_CONSENT: "Art. 7(3)",
    RequestType.OPT_OUT: "Art. 7(3) / Art. 21",
}


class Status(str, Enum):
    """Where a request is in its life (after Fides and the Data Rights Protocol).

    Being extended is not a status: an extended request is still being worked on, so `extended`
    is a flag on the request next to its status.
    """

    RECEIVED = "received"
    IDENTITY_UNVERIFIED = "identity_unverified"  # we asked the customer to prove who they are
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"  # fanned out to the company's systems
    FULFILLED = "fulfilled"
    DENIED = "denied"  # always with a reason the customer is told, and their right to complain
    CANCELED = "canceled"  # the customer withdrew the request
    EXPIRED = "expired"  # the customer never proved their identity in time

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


OPEN_STATES = frozenset({Status.RECEIVED, Status.IDENTITY_UNVERIFIED, Status.VERIFIED, Status.IN_PROGRESS})


@dataclass(frozen=True)
class Consent:
    """A consent the customer can withdraw or opt out of: its id in the marketing system, the purpose
    of the knowledge base it serves, whether it is direct marketing (Art. 21(2): stopping it is
    absolute), and whether its data is linked to the customer: when it is not (the Wi-Fi counts hold a
    scrambled phone code, not a name), the customer switches it off with the register's instruction and
    no one asks who they are, which would serve no purpose."""

    id: str
    purpose: str
    direct_marketing: bool
    linked_to_customer: bool = True


CONSENTS = (
    Consent("newsletter", "newsletter", direct_marketing=True),
    Consent("personalised_offers", "personalised_offers", direct_marketing=True),
    Consent("wifi_counting", "store_visitor_counting", direct_marketing=False, linked_to_customer=False),
)
CONSENT_IDS = tuple(c.id for c in CONSENTS)
DIRECT_MARKETING = tuple(c.id for c in CONSENTS if c.direct_marketing)
CORRECTABLE_FIELDS = ("name", "address", "email", "phone")
ADDRESS_PARTS = ("street", "house_number", "postcode", "city")  # what the system contract stores


def served() -> dict:
    return {
        "rights": [t.value for t in RequestType],
        "statuses": [s.value for s in Status],
        "consents": [{"id": c.id, "purpose": c.purpose, "direct_marketing": c.direct_marketing,
                      "linked_to_customer": c.linked_to_customer} for c in CONSENTS],
        "correctable_fields": list(CORRECTABLE_FIELDS),
        "address_parts": list(ADDRESS_PARTS),
    }
