"""The system catalogue: which company system holds which data categories, what it can be asked to do,
and where it is. Read from the file a deployer edits (`company-systems.yml` at the project root);
where a request is routed, which systems an answer to "what do you hold about me" asks, and what the
assistant may offer all derive from it.

The catalogue is checked against the knowledge base (the register of processing) and against each
system's own `GET /systems`; `knowledge.rules.register_mismatches` and `system_mismatches` say what
differs, in sentences for the privacy team. A category the register names that no system holds is
such a mismatch: it is never dropped silently, the request that covers it says so
(`knowledge.rules.unheld`). The comparisons with a register version are the knowledge base's, so
the catalogue imports nothing of it.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "company-systems.yml"
OPERATIONS = ("lookup", "export", "erase", "restrict", "rectify", "preferences", "stop_processing")
# The back office itself holds the assistant's own chat transcripts (Rasa's tracker store): customer
# service contacts too, so that category lives in two systems. The worker carries its tasks out in-process.
ASSISTANT = "assistant"
ASSISTANT_CATEGORIES = ("customer_service",)
_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")


class CatalogueError(ValueError):
    """The catalogue cannot be used; the message names the file, the system and what is wrong."""


@dataclass(frozen=True)
class System:
    id: str
    url: str  # may hold ${VARIABLE}s, resolved by `Catalogue.connect`
    token: str
    categories: tuple[str, ...]
    operations: tuple[str, ...]


@dataclass(frozen=True)
class Address:
    """Where one system is reached, and with which token."""

    url: str
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Catalogue:
    systems: dict[str, System]  # in the file's order: tasks and answers follow it
    # `holders` and `categories` are worked out once (every filing and answer asks them): a
    # catalogue never changes after it is loaded.

    @classmethod
    def load(cls, path: Path) -> Catalogue:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CatalogueError(f"the system catalogue {path} cannot be read: {exc}") from None
        entries = data.get("systems") if isinstance(data, dict) else None
        if not isinstance(entries, dict) or not entries:
            raise CatalogueError(f"{path}: `systems:` must list the connected systems")
        systems = {}
        for system_id, entry in entries.items():
            where = f"{path}: system '{system_id}'"
            if not isinstance(system_id, str) or not _ID.fullmatch(system_id) or system_id == ASSISTANT:
                raise CatalogueError(f"{where}: an id is lower case letters, digits and _ (and not '{ASSISTANT}')")
            if not isinstance(entry, dict) or set(entry) != {"url", "token", "categories", "operations"}:
                raise CatalogueError(f"{where}: needs exactly url, token, categories and operations")
            categories, operations = entry["categories"], entry["operations"]
            if not isinstance(categories, list) or not categories or not all(isinstance(c, str) and _ID.fullmatch(c) for c in categories):
                raise CatalogueError(f"{where}: categories must be a list of category ids")
            unknown = [o for o in operations if o not in OPERATIONS] if isinstance(operations, list) else ["(not a list)"]
            if unknown or "export" not in operations:
                raise CatalogueError(f"{where}: operations are {', '.join(OPERATIONS)} and include export; not {unknown}")
            if not all(isinstance(entry[k], str) and entry[k] for k in ("url", "token")):
                raise CatalogueError(f"{where}: url and token must be set (a ${{VARIABLE}} of the environment for the token)")
            systems[system_id] = System(system_id, entry["url"], entry["token"], tuple(categories), tuple(operations))
        return cls(systems)

    # --- what derives from it ---

    @property
    def company_systems(self) -> tuple[str, ...]:
        return tuple(self.systems)

    def categories_of(self, system: str) -> tuple[str, ...]:
        return ASSISTANT_CATEGORIES if system == ASSISTANT else self.systems[system].categories

    @cached_property
    def holders(self) -> dict[str, tuple[str, ...]]:
        """Each category held by a connected system, with every system that holds it (the assistant last)."""
        found: dict[str, list[str]] = {}
        for system in self.systems.values():
            for category in system.categories:
                found.setdefault(category, []).append(system.id)
        for category in ASSISTANT_CATEGORIES:
            found.setdefault(category, []).append(ASSISTANT)
        return {c: tuple(s) for c, s in found.items()}

    @cached_property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.holders)

    def route(self, categories: Iterable[str]) -> dict[str, list[str]]:
        """The systems that hold these categories, each with its share, in the catalogue's order."""
        holders = self.holders
        by_system: dict[str, list[str]] = {}
        for category in categories:
            for system in holders.get(category, ()):
                by_system.setdefault(system, []).append(category)
        order = [*self.systems, ASSISTANT]
        return {s: by_system[s] for s in order if s in by_system}

    def able_to(self, operation: str) -> tuple[str, ...]:
        """The systems that can be asked to do `operation` (for example the one that finds a customer by e-mail)."""
        return tuple(s.id for s in self.systems.values() if operation in s.operations)

    def connect(self, variables: Mapping[str, str]) -> dict[str, Address]:
        """Each system's address and token, with the ${VARIABLE}s filled in; `CatalogueError` names one that is unset."""
        addresses = {}
        for system in self.systems.values():
            url, token = (_fill(system.url, variables, system.id), _fill(system.token, variables, system.id))
            addresses[system.id] = Address(url.rstrip("/"), token)
        return addresses

    # --- what differs ---

    def system_mismatches(self, system: str, served: dict | None) -> list[str]:
        """Where a system's own `GET /systems` entry disagrees with the catalogue (`served` None: it has none)."""
        if served is None:
            return [f"{system}: the system does not list itself in its own GET /systems"]
        problems = []
        ours = self.systems[system]
        for what, mine in (("categories", ours.categories), ("operations", ours.operations)):
            theirs = served.get(what)
            if not isinstance(theirs, list):
                problems.append(f"{system}: its GET /systems says nothing about its {what}")
            elif set(theirs) != set(mine):
                problems.append(f"{system}: the catalogue says {what} {system_names(set(mine))}, "
                                f"the system itself {system_names(set(theirs))}")
        return problems


def _fill(template: str, variables: Mapping[str, str], system: str) -> str:
    def value(found: re.Match) -> str:
        name = found.group(1)
        if not variables.get(name):
            raise CatalogueError(f"system '{system}' in the catalogue needs {name}, which is not set")
        if variables[name].startswith("change-me"):
            raise CatalogueError(f"system '{system}' in the catalogue needs {name}, which is still the placeholder of .env.example")
        return variables[name]

    return _VARIABLE.sub(value, template)


def system_names(ids: set[str]) -> str:
    """Systems named in a sentence for the privacy team: sorted, or "no system"."""
    return ", ".join(sorted(ids)) or "no system"


@lru_cache(maxsize=4)
def load(path: Path = DEFAULT_FILE) -> Catalogue:
    return Catalogue.load(path)
