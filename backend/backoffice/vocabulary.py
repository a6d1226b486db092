"""The ids the back office and the assistant both use, defined once here and served to the assistant
(`GET /api/vocabulary`), which keeps only the words for them: the rights and the statuses of a
request, the consents that can be withdrawn (each the knowledge base's purpose it is for), and the
fields a customer may correct, with the parts of an address."""
from __future__ import annotations

from dataclasses import dataclass

from .requests import rules as rr


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
        "rights": [t.value for t in rr.RequestType],
        "statuses": [s.value for s in rr.Status],
        "consents": [{"id": c.id, "purpose": c.purpose, "direct_marketing": c.direct_marketing,
                      "linked_to_customer": c.linked_to_customer} for c in CONSENTS],
        "correctable_fields": list(CORRECTABLE_FIELDS),
        "address_parts": list(ADDRESS_PARTS),
    }
