"""The back office's client of the company systems: one per process, each call to the address and
with the token the system catalogue gives, and a timeout on every call (a caller that must answer a
chat sooner passes a shorter one). Also the check, at start, of the catalogue against what each
system says of itself."""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx2

from ..catalogue import Catalogue
from ..knowledge.rules import KnowledgeVersion

log = logging.getLogger(__name__)


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



def mismatches(systems: CompanySystems, version: KnowledgeVersion) -> tuple[list[str], list[str]]:
    """Where each system's own `GET /systems` disagrees with the catalogue, or lists a field of its
    exports that the register (`version`) does not declare; and the systems that could not be asked
    (not up yet, or not answering the contract)."""
    problems: list[str] = []
    unread: list[str] = []
    listings: dict[str, list | None] = {}
    for system, address in systems.addresses.items():
        base = address.url.rsplit("/systems/", 1)[0]
        if base not in listings:
            try:
                response = systems.request(system, "GET", f"{base}/systems")
                listed = response.json().get("systems") if response.status_code == 200 else None
                listings[base] = listed if isinstance(listed, list) else None
            except (httpx2.HTTPError, ValueError, AttributeError):
                listings[base] = None
        listed = listings[base]
        if listed is None:
            unread.append(system)
            continue
        served = next((s for s in listed if isinstance(s, dict) and s.get("system") == system), None)
        problems += systems.catalogue.system_mismatches(system, served)
        fields = served.get("fields") if served is not None else None
        if isinstance(fields, dict) and all(isinstance(names, list) for names in fields.values()):
            problems += systems.catalogue.undeclared_fields(version, [(system, c, names) for c, names in fields.items()])
        elif served is not None:
            problems.append(f"{system}: its GET /systems does not list the fields of its exports, so they were not "
                            "checked against the register")
    return problems, unread


class CatalogueProblems:
    """Where the system catalogue disagrees with the register or with the systems themselves: logged
    once each, and shown to the privacy team."""

    SYSTEMS_WAIT_SECONDS = 60.0

    def __init__(self, found: list[str]) -> None:
        self.found: list[str] = []
        self.stop = threading.Event()
        self.add(found)

    def add(self, found: list[str]) -> None:
        for problem in found:
            if problem not in self.found:
                log.warning("system catalogue: %s", problem)
                self.found.append(problem)

    def check_systems(self, systems: CompanySystems, version: KnowledgeVersion) -> None:
        """Ask the systems until each answered, for up to a minute; then say which did not."""
        waited = 0.0
        while not self.stop.is_set():
            found, unread = mismatches(systems, version)
            if not unread or waited >= self.SYSTEMS_WAIT_SECONDS:
                self.add(found + [f"{system}: its GET /systems could not be read, so the catalogue was not checked "
                                  "against it" for system in unread])
                return
            self.stop.wait(2.0)
            waited += 2.0
