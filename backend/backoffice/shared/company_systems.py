"""The back office's client of the company systems: one per process, each call to the address and
with the token the system catalogue gives, and a timeout on every call (a caller that must answer a
chat sooner passes a shorter one). What the systems say of themselves is checked against the
catalogue by the knowledge base (`knowledge.service`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx2

from ..catalogue import Catalogue


class CompanySystems:
    def __init__(self, catalogue: Catalogue, variables: Mapping[str, str], timeout: float) -> None:
        """`variables` fill the catalogue's ${...}; `CatalogueError` names one that is unset."""
        self.catalogue = catalogue
        self.addresses = catalogue.connect(variables)
        self.http = httpx2.Client(timeout=httpx2.Timeout(timeout))

    def customer_url(self, system: str, customer_id: str, operation: str) -> str:
        return f"{self.addresses[system].url}/customers/{quote(customer_id, safe='')}/{operation}"

    def request(self, system: str, method: str, url: str, headers: Mapping[str, str] = {}, **options: Any) -> httpx2.Response:
        return self.http.request(method, url, headers={**self.addresses[system].headers(), **headers}, **options)

    def export(self, system: str, customer_id: str, **options: Any) -> httpx2.Response:
        return self.request(system, "GET", self.customer_url(system, customer_id, "export"), **options)

    def lookup(self, email: str, **options: Any) -> httpx2.Response:
        """Ask the system that finds customers by e-mail address (the CRM) for this one."""
        system = self.finder
        return self.request(system, "GET", f"{self.addresses[system].url}/customers/lookup", params={"email": email}, **options)

    @property
    def finder(self) -> str:
        able = self.catalogue.able_to("lookup")
        if not able:
            raise LookupError("no system in the catalogue can find a customer by e-mail address (operation lookup)")
        return able[0]

    def close(self) -> None:
        self.http.close()
