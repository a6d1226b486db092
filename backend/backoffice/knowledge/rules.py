"""The knowledge base: the company's register of processing, in customer language, per version.

This module is the domain core: it checks the content of `knowledge/<version>/` (read by service.py)
against the schema and against the versions published before, compares versions, and compares a
version with the system catalogue. It reads no file and has no web or database imports, so the API,
the CLI and the tests all share one definition of what a valid knowledge base is.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ..catalogue import ASSISTANT, Catalogue, system_names
from ..shared.time import COMPANY_TIME_ZONE, local_date

LANGUAGES = ("nl", "en")
FILES = ("version.yml", "company.yml", "categories.yml", "not_collected.yml", "purposes.yml", "topics.yml")
PUBLISHED_LOCK = "published.lock"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A customer-facing text in both languages the assistant speaks."""

    nl: str
    en: str

    @field_validator("nl", "en")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be empty")
        return value.strip()


class ChangelogEntry(Strict):
    id: str
    text: Text


class VersionInfo(Strict):
    id: str
    status: Literal["published", "draft"]
    effective_date: dt.date
    previous: str | None = None
    changelog: list[ChangelogEntry] = []


class Contact(Strict):
    name: str
    email: str
    phone: str
    postal_address: Text


class CustomerService(Strict):
    email: str
    phone: str
    hours: Text
    url: str


class Authority(Strict):
    name: Text
    url: str


class Company(Strict):
    name: str
    address: Text
    kvk: str
    dpo: Contact
    customer_service: CustomerService
    authority: Authority


class Retention(Strict):
    months: int | None = None
    period: Text
    reason: Text


class FieldWords(Text):
    """How the register names one field a system exports, and each coded value it can hold (a
    status, a payment method), so a customer reads words, not the systems' codes."""

    values: dict[str, Text] = {}


class Category(Strict):
    id: str
    name: Text
    description: Text
    source: Text
    systems: list[str]  # the register's own word; the system catalogue says who holds it (checked at start)
    # Every field a system's export of this category holds, by the export's own name. A field no
    # category declares is named to the privacy team (`undeclared_fields`). None: the
    # version (before 2026-12) declared no fields.
    fields: dict[str, FieldWords] | None = None
    retention: Retention
    kept_after_erasure: Text | None = None


class NotCollected(Strict):
    id: str
    name: Text
    statement: Text


class Recipient(Strict):
    name: str
    role: Text
    country: str
    outside_eu: bool
    safeguard: Text | None = None

    @model_validator(mode="after")
    def safeguard_when_outside_eu(self) -> Recipient:
        if self.outside_eu and self.safeguard is None:
            raise ValueError("a recipient outside the EU needs a safeguard")
        return self


class AutomatedDecision(Strict):
    applies: bool
    logic: Text | None = None

    @model_validator(mode="after")
    def logic_when_applies(self) -> AutomatedDecision:
        if self.applies and self.logic is None:
            raise ValueError("an automated decision needs meaningful information about its logic")
        return self


class Purpose(Strict):
    id: str
    name: Text
    description: Text
    categories: list[str]
    legal_basis: Literal["consent", "contract", "legal_obligation", "legitimate_interest"]
    legal_basis_explained: Text
    recipients: list[Recipient] = []
    automated_decision: AutomatedDecision
    benefit: Text
    opt_out: Text | None = None


# The legal bases an objection under Art. 21(1) applies to (Art. 6(1)(e) public task, (f) legitimate interest).
OBJECTABLE_BASES = frozenset({"legitimate_interest", "public_task"})


def objectable_purposes(purposes: Iterable[Purpose]) -> dict[str, tuple[str, ...]]:
    """The purposes a customer can object to under Art. 21(1), each with the categories it uses."""
    return {p.id: tuple(p.categories) for p in purposes if p.legal_basis in OBJECTABLE_BASES}


TOPIC_TEXTS = (
    "security",
    "children_and_specific_audiences",
    "cookies_tracking",
    "international_transfers",
    "policy_changes",
    "sharing_third_parties",
    "out_of_scope",
)
RIGHTS = (
    "access",
    "correction",
    "erasure",
    "restriction",
    "objection",
    "portability",
    "withdraw_consent",
    "complaint",
)


class Topics(Strict):
    topics: dict[str, Text]
    rights: dict[str, Text]

    @model_validator(mode="after")
    def all_present(self) -> Topics:
        missing = [t for t in TOPIC_TEXTS if t not in self.topics] + [r for r in RIGHTS if r not in self.rights]
        if missing:
            raise ValueError(f"missing texts for: {', '.join(missing)}")
        return self


class KnowledgeVersion(Strict):
    """One version of the register. Published versions never change (see `published.lock`)."""

    version: VersionInfo
    company: Company
    categories: list[Category]
    not_collected: list[NotCollected]
    purposes: list[Purpose]
    topics: Topics

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def purposes_for(self, category_id: str) -> list[Purpose]:
        return [p for p in self.purposes if category_id in p.categories]

    def localized(self, language: str) -> dict[str, Any]:
        """The version as JSON with every `{nl, en}` text replaced by the text in one language."""
        return pick_language(self.model_dump(mode="json"), language)


class KnowledgeError(Exception):
    """A knowledge base file is broken; the message names the file, the entry and the field."""


def pick_language(value: Any, language: str) -> Any:
    if isinstance(value, dict):
        if set(value) == set(LANGUAGES):
            return value[language]
        return {k: pick_language(v, language) for k, v in value.items()}
    if isinstance(value, list):
        return [pick_language(v, language) for v in value]
    return value


def _describe(path: str, data: Any, loc: tuple) -> str:
    """Turn a pydantic error location into 'entry <id>, field <a.b>' for a person fixing the file."""
    entry = None
    fields = list(loc)
    if len(fields) >= 2 and isinstance(fields[1], int):
        items = data.get(fields[0]) if isinstance(data, dict) else None
        item = items[fields[1]] if isinstance(items, list) and fields[1] < len(items) else None
        entry = item.get("id") if isinstance(item, dict) else None
        entry = f"'{entry}'" if entry else f"#{fields[1] + 1}"
        fields = fields[2:]
    field = ".".join(str(f) for f in fields) or "(whole file)"
    return f"{path}: entry {entry}, field {field}" if entry else f"{path}: field {field}"


def version_from_files(folder: str, files: dict[str, Any]) -> KnowledgeVersion:
    """One version from its files' content (FILES, each as its YAML reads), checked; a KnowledgeError
    names the file (`folder`/name), the entry and the field."""
    raw: dict[str, Any] = {}
    paths: dict[str, str] = {}
    for name in FILES:
        path, data = f"{folder}/{name}", files[name]
        key = name.removesuffix(".yml")
        if key in ("categories", "not_collected", "purposes"):
            if not isinstance(data, dict) or key not in data:
                raise KnowledgeError(f"{path}: field {key} is missing")
            data = data[key]
        raw[key] = data
        paths[key] = path
    try:
        version = KnowledgeVersion.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        top, *rest = err["loc"]
        key = str(top)  # the version's top-level fields are its files
        file_data = {key: raw[key]}
        where = _describe(paths[key], file_data, (key, *rest))
        raise KnowledgeError(f"{where}: {err['msg']}") from None
    _check_references(version, paths)
    folder_name = folder.rstrip("/").rsplit("/", 1)[-1]
    if version.version.id != folder_name:
        raise KnowledgeError(f"{paths['version']}: field id: '{version.version.id}' differs from folder name '{folder_name}'")
    return version


def _check_references(version: KnowledgeVersion, paths: dict[str, str]) -> None:
    known = {c.id for c in version.categories}
    for kind, items in (("categories", version.categories), ("purposes", version.purposes), ("not_collected", version.not_collected)):
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise KnowledgeError(f"{paths[kind]}: entry '{item.id}', field id: duplicate id")
            seen.add(item.id)
    for purpose in version.purposes:
        for category_id in purpose.categories:
            if category_id not in known:
                raise KnowledgeError(
                    f"{paths['purposes']}: entry '{purpose.id}', field categories: unknown category '{category_id}'"
                )
    for category in version.categories:
        if not version.purposes_for(category.id):
            raise KnowledgeError(f"{paths['categories']}: entry '{category.id}', field id: no purpose uses this category")


def content_hash(files: dict[str, bytes]) -> str:
    """The fingerprint of a version's files (FILES, each as its bytes) that publication records."""
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(name.encode())
        digest.update(files[name])
    return digest.hexdigest()


class KnowledgeBase:
    """All versions in `knowledge/`: the published ones (frozen by `published.lock`) and the draft."""

    def __init__(self, versions: dict[str, KnowledgeVersion]):
        self.versions = versions

    @classmethod
    def checked(cls, root: str, versions: dict[str, KnowledgeVersion], lock: dict[str, str], hashes: dict[str, str]) -> KnowledgeBase:
        """The versions of the folder `root`, checked against each other and against the publication
        `lock` (version → recorded content hash; `hashes` the versions' hashes now)."""
        published = {k: v for k, v in versions.items() if v.version.status == "published"}
        if not published:
            raise KnowledgeError(f"{root}: no published version")
        for vid, version in versions.items():
            prev = version.version.previous
            if prev is not None and prev not in versions:
                raise KnowledgeError(f"{root}/{vid}/version.yml: field previous: unknown version '{prev}'")
            if prev is not None and version.version.status == "published" and not version.version.changelog:
                raise KnowledgeError(f"{root}/{vid}/version.yml: field changelog: a new published version needs a changelog")
        # A published version never changes: its content must match the hash recorded at publication.
        for vid in published:
            if vid not in lock:
                raise KnowledgeError(f"{root}/{PUBLISHED_LOCK}: entry '{vid}': published version not recorded; "
                                     "run `make publish-knowledge`")
            if lock[vid] != hashes[vid]:
                raise KnowledgeError(f"{root}/{vid}: entry '{vid}': a published version was edited; "
                                     "put changes in a new version")
        return cls(versions)

    def published(self) -> list[KnowledgeVersion]:
        items = [v for v in self.versions.values() if v.version.status == "published"]
        return sorted(items, key=lambda v: v.version.effective_date)

    def current(self, today: dt.date | None = None) -> KnowledgeVersion:
        """The newest published version in effect on `today`, a day in the company's time zone (a
        version dated 1 March takes effect at midnight in Amsterdam, not at 01:00 by a UTC clock)."""
        today = today or local_date(dt.datetime.now(dt.UTC))
        in_effect = [v for v in self.published() if v.version.effective_date <= today]
        return (in_effect or self.published())[-1]

    def current_at(self, moment: dt.datetime) -> KnowledgeVersion:
        """The version in effect at `moment` (timezone-aware): the one current on that day in Amsterdam."""
        return self.current(local_date(moment))

    def current_until(self, now: dt.datetime) -> dt.datetime | None:
        """When the version current at `now` stops being current: midnight in the company's time zone
        of the next published version's effective date; None when none is planned."""
        later = [v.version.effective_date for v in self.published() if v.version.effective_date > local_date(now)]
        if not later:
            return None
        return dt.datetime.combine(min(later), dt.time(0), tzinfo=COMPANY_TIME_ZONE).astimezone(dt.UTC)

    def get(self, version_id: str) -> KnowledgeVersion | None:
        return self.versions.get(version_id)

    def changes_since(self, version_id: str) -> list[KnowledgeVersion]:
        """The published versions after `version_id` up to the current one, oldest first."""
        published = self.published()
        ids = [v.version.id for v in published]
        current = self.current()
        if version_id not in ids:
            return []
        return [v for v in published[ids.index(version_id) + 1 :] if v.version.effective_date <= current.version.effective_date]


def diff(old: KnowledgeVersion, new: KnowledgeVersion) -> dict[str, Any]:
    """What changed between two versions: entries added, removed and changed (with the fields)."""
    result: dict[str, Any] = {"from": old.version.id, "to": new.version.id, "changelog": [], "sections": {}}
    result["changelog"] = [e.model_dump() for e in new.version.changelog] if new.version.previous == old.version.id else []
    for section in ("categories", "purposes", "not_collected"):
        before = {i.id: i.model_dump(mode="json") for i in getattr(old, section)}
        after = {i.id: i.model_dump(mode="json") for i in getattr(new, section)}
        changed = {}
        for key in sorted(before.keys() & after.keys()):
            fields = _changed_fields(before[key], after[key])
            if fields:
                changed[key] = fields
        result["sections"][section] = {
            "added": sorted(after.keys() - before.keys()),
            "removed": sorted(before.keys() - after.keys()),
            "changed": changed,
        }
    for section in ("company", "topics"):
        fields = _changed_fields(getattr(old, section).model_dump(mode="json"), getattr(new, section).model_dump(mode="json"))
        result["sections"][section] = {"changed": fields}
    return result


def _changed_fields(before: Any, after: Any, prefix: str = "") -> dict[str, dict[str, Any]]:
    if isinstance(before, dict) and isinstance(after, dict) and set(before) != set(LANGUAGES):
        out: dict[str, dict[str, Any]] = {}
        for key in sorted(before.keys() | after.keys()):
            out.update(_changed_fields(before.get(key), after.get(key), f"{prefix}{key}."))
        return out
    if before != after:
        return {prefix.rstrip("."): {"old": before, "new": after}}
    return {}


# --- the register and the system catalogue ------------------------------------------------------
# What the catalogue (who holds what) and a version of the register say differently: checked at
# start (knowledge.service) and on every export a customer asks for (my_data).


def unheld(catalogue: Catalogue, version: KnowledgeVersion) -> list[str]:
    """The register's categories that no connected system holds."""
    holders = catalogue.holders
    return [c.id for c in version.categories if c.id not in holders]


def register_mismatches(catalogue: Catalogue, version: KnowledgeVersion) -> list[str]:
    """Where the knowledge base's register and this catalogue disagree about who holds what."""
    problems = [f"the register of version {version.version.id} names '{c}', which no connected system holds: "
                "a request covering it is handled by hand" for c in unheld(catalogue, version)]
    holders = catalogue.holders
    for category in version.categories:
        said = set(category.systems or ())
        held = set(holders.get(category.id, ())) - {ASSISTANT}
        if category.id in holders and said != held:
            problems.append(f"'{category.id}': the register of version {version.version.id} says it is held by "
                            f"{system_names(said)}, the catalogue by {system_names(held)}")
    named = {c.id for c in version.categories}
    problems += [f"'{c}' is held by {system_names(set(holders[c]) - {ASSISTANT})} but not in the register of version "
                 f"{version.version.id}" for c in holders if c not in named]
    return problems


def undeclared_fields(catalogue: Catalogue, version: KnowledgeVersion, exported: Iterable[tuple[str, str, Iterable[str]]]) -> list[str]:
    """Each field a company system returns in an export (`exported`: system, category, and a record
    or the field names its `GET /systems` lists) that the register's category does not declare:
    data held without the register saying so, named once per system, category and field. The
    assistant's own records are the back office's."""
    problems = []
    for system, category_id, record in exported:
        if system == ASSISTANT:
            continue
        category = version.category(category_id)
        declared = (category.fields or {}) if category is not None else {}
        for field in record:
            if field in declared:
                continue
            problem = (f"{system}: its export of '{category_id}' holds the field '{field}', which the register of "
                       f"version {version.version.id} does not declare: declare it with its purpose, or stop holding it")
            if problem not in problems:
                problems.append(problem)
    return problems
