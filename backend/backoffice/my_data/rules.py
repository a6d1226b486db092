"""What the company holds about one customer, and why: the answer to Art. 15, and the copy to take away.

What is held is gathered by service.py (`collect`, from every company system and the assistant's
own transcripts) into `Holdings`; everything here is made from that, with no I/O:
- `overview` is what the assistant shows in the chat: per category the customer has records in, in
  the knowledge base's order, how many records, a short preview, and what Art. 15(1) asks for it
  (purposes with their legal basis, retention, recipients, source, what an erasure keeps), all in the
  knowledge base's own words; then the categories with nothing, the conversations with the assistant,
  and Art. 15's general facts (automated decisions, transfers outside the EU, the rights, the right
  to complain to the Autoriteit Persoonsgegevens, the data protection officer).
- `export_document` is the same with every record in full (the JSON download); `export_rows` is
  every field of every record as a flat row category, system, record, field, value (the CSV,
  `export_csv`).

Nothing here decides who the customer is: the callers pass the id a verified binding gave them.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import sentences
from ..catalogue import ASSISTANT, Catalogue
from ..knowledge.rules import Category, FieldWords, KnowledgeVersion, Purpose, Recipient, unheld
from ..shared.time import COMPANY_TIME_ZONE

if TYPE_CHECKING:  # the tracker store's adapter reads a database: only the type of what it gives is named here
    from ..shared.tracker_store import Transcript

CATEGORY = "customer_service"  # the knowledge base: "this includes conversations with this chat assistant"
SYSTEM = "assistant"
PREVIEW_RECORDS = 3
PREVIEW_CHARS = 200
CSV_COLUMNS = ("category", "system", "record", "field", "value")
# A byte-order mark first, so that a spreadsheet (Excel with Dutch settings) reads the file as UTF-8: "één", not "Ã©Ã©n".
UTF8_BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SystemUnavailable(Exception):
    """A system did not give its part, so no answer may be given as if complete. The message says
    what went wrong in words fit for the customer ("the loyalty system did not answer in time")."""

    def __init__(self, system: str, problem: str) -> None:
        super().__init__(problem)
        self.system = system


@dataclass(frozen=True)
class Holdings:
    """Everything found about one customer. `records`: category -> [(system, record)], in system order."""

    customer_id: str
    records: dict[str, list[tuple[str, dict]]]
    restricted: dict[str, str | None]  # category -> since when its processing is restricted
    transcripts: list[Transcript]
    shared_conversations: int  # also verified another customer: left out (service.customer_conversations)
    collected_at: dt.datetime
    catalogue: Catalogue  # which systems were asked, and what they hold
    erasure_asked: frozenset[str] = frozenset()  # the categories the customer's erasure requests cover


@dataclass(frozen=True)
class Conversations:
    """A customer's conversations: `own` are theirs alone; `shared` also verified someone else."""

    own: list[str]
    shared: list[str]


def references(transcripts: Iterable[Transcript]) -> list[str]:
    """A name for each transcript that says which conversation it is without being its session id:
    the day it started and its number that day, in the order given (`TrackerStore.transcripts`:
    oldest first), e.g. "2026-01-31 #2". Made of what the export shows anyway, so nothing in it
    leads back to the id."""
    counted: dict[str, int] = {}
    names = []
    for transcript in transcripts:
        day = (transcript.started_at or "")[:10] or "undated"
        counted[day] = counted.get(day, 0) + 1
        names.append(f"{day} #{counted[day]}")
    return names


# --- the answer in the chat, and the download ---------------------------------------------------


def overview(holdings: Holdings, version: KnowledgeVersion, language: str) -> dict:
    """What the customer sees in the chat: counts and previews, with Art. 15's information."""
    return _document(holdings, version, language, full=False)


def export_document(holdings: Holdings, version: KnowledgeVersion, language: str) -> dict:
    """The JSON download: the overview with every record in full instead of previews."""
    return _document(holdings, version, language, full=True)


def export_rows(holdings: Holdings, version: KnowledgeVersion) -> Iterator[tuple[str, str, int, str, str]]:
    """The CSV download: one row per field of every record (category, system, record, field, value);
    `record` numbers the records of one category in one system, from 1. Every text cell is
    spreadsheet-safe (`spreadsheet_safe`): the values come from the company systems and the chat."""
    for category_id in _ordered_categories(holdings, version):
        numbers: dict[str, int] = {}
        for system, record in holdings.records[category_id]:
            numbers[system] = numbers.get(system, 0) + 1
            for field, value in _flatten(record):
                yield (spreadsheet_safe(category_id), spreadsheet_safe(system), numbers[system], spreadsheet_safe(field),
                       _csv_value(value))


def export_csv(holdings: Holdings, version: KnowledgeVersion) -> str:
    """The CSV download's text: a byte-order mark, the header, then `export_rows`."""
    buffer = io.StringIO()
    buffer.write(UTF8_BOM)
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(export_rows(holdings, version))
    return buffer.getvalue()


def _document(holdings: Holdings, version: KnowledgeVersion, language: str, full: bool) -> dict:
    held = _ordered_categories(holdings, version)
    categories = []
    for category_id in held:
        found = holdings.records[category_id]
        entry = _about(version.category(category_id), category_id, version, language)
        entry["records"] = len(found)
        entry["records_by_system"] = {s: sum(1 for system, _ in found if system == s) for s in dict.fromkeys(s for s, _ in found)}
        entry["restricted_since"] = holdings.restricted.get(category_id)
        if full:
            entry["data"] = [{"system": system, "record": record} for system, record in found]
        else:
            category = version.category(category_id)
            fields = (category.fields or {}) if category is not None else {}
            entry["preview"] = [_preview(system, record, fields, language) for system, record in found[:PREVIEW_RECORDS]]
        categories.append(entry)
    # What the customer's erasure kept, in the words of the register that the receipt of the erasure
    # used: never "nothing about you" for a category the receipt said is kept.
    kept = [{"id": c.id, "label": _t(c.name, language), "reason": _t(c.kept_after_erasure, language)}
            for c in version.categories if c.id in holdings.erasure_asked and c.kept_after_erasure is not None]
    purposes = [p for p in version.purposes if any(c in held for c in p.categories)]
    document: dict[str, Any] = {
        "customer_id": holdings.customer_id,
        "knowledge_version": version.version.id,
        "language": language,
        "exported_at" if full else "collected_at": holdings.collected_at.isoformat(),
        "categories": categories,
        "empty_categories": [c.id for c in version.categories if c.id not in held and c.id in holdings.catalogue.holders
                             and c.id not in {k["id"] for k in kept}],
        "kept_after_erasure": kept,
        # Described in the knowledge base, but no connected system can say what it holds.
        "not_in_connected_systems": [c for c in unheld(holdings.catalogue, version) if c not in held],
        # Every category of the register by its name in the language asked for, so no id reaches the customer.
        "category_names": {c.id: _t(c.name, language) for c in version.categories},
        "conversations": {
            "count": len(holdings.transcripts),
            "messages": sum(len(t.messages) for t in holdings.transcripts),
            "shared_left_out": holdings.shared_conversations,
        },
        "automated_decisions": [
            {"purpose": p.id, "label": _t(p.name, language), "logic": _t(p.automated_decision.logic, language)}
            for p in purposes if p.automated_decision.applies
        ],
        "transfers_outside_eu": [
            {"recipient": r.name, "country": r.country, "safeguard": _t(r.safeguard, language)}
            for r in _unique_recipients(purposes) if r.outside_eu
        ],
        "rights": {right: _t(text, language) for right, text in version.topics.rights.items()},
        "complaint": {
            "authority": _t(version.company.authority.name, language),
            "url": version.company.authority.url,
            "text": _t(version.topics.rights.get("complaint"), language),
        },
        "dpo": {
            "name": version.company.dpo.name, "email": version.company.dpo.email, "phone": version.company.dpo.phone,
            "postal_address": _t(version.company.dpo.postal_address, language),
        },
    }
    return document


def _ordered_categories(holdings: Holdings, version: KnowledgeVersion) -> list[str]:
    """The categories with records: the knowledge base's order, then any it does not describe."""
    known = [c.id for c in version.categories if holdings.records.get(c.id)]
    return known + [c for c, found in holdings.records.items() if found and c not in known]


def _about(category: Category | None, category_id: str, version: KnowledgeVersion, language: str) -> dict:
    """Art. 15(1) for one category, in the knowledge base's words."""
    if category is None:
        return {"id": category_id, "label": category_id, "purposes": [], "retention": None, "retention_reason": None,
                "recipients": [], "source": None, "kept_after_erasure": None}
    purposes = version.purposes_for(category.id)
    return {
        "id": category.id,
        "label": _t(category.name, language),
        "purposes": [_purpose(p, language) for p in purposes],
        "retention": _t(category.retention.period, language),
        "retention_reason": _t(category.retention.reason, language),
        "recipients": [r.name for r in _unique_recipients(purposes)],
        "source": _t(category.source, language),
        "kept_after_erasure": _t(category.kept_after_erasure, language),
    }


def _purpose(purpose: Purpose, language: str) -> dict:
    return {
        "id": purpose.id,
        "label": _t(purpose.name, language),
        "legal_basis": sentences.words(language, f"back_office.my_data.legal_bases.{purpose.legal_basis}"),
        "legal_basis_explained": _t(purpose.legal_basis_explained, language),
    }


def _unique_recipients(purposes: list[Purpose]) -> list[Recipient]:
    return list({r.name: r for p in purposes for r in p.recipients}.values())


def _t(text: Any, language: str) -> str | None:
    return getattr(text, language) if text is not None else None


# --- previews and flat rows ----------------------------------------------------------------------


def _preview(system: str, record: dict, fields: dict[str, FieldWords], language: str) -> str:
    """A record as a line a person can read: each value with the register's name for it, coded values
    in the register's words, dates and times in Amsterdam time, never a value cut off; at most about
    PREVIEW_CHARS characters of whole values, then "…"."""
    if system == ASSISTANT:
        count = len(record.get("messages") or [])
        return sentences.words(language, "back_office.my_data.conversation_preview").format(
            date=shown_moment(record.get("started_at") or "", language, with_time=False), count=count,
            messages=sentences.words(language, "back_office.my_data." + ("message" if count == 1 else "messages")))
    parts = []
    for key, value in record.items():
        if value in (None, "", [], {}) or key == "id" or key.endswith(("_id", "_hash")) or key == "currency":
            continue
        words = fields.get(key)
        shown = _shown(key, value, words, language)
        if shown:
            parts.append(f"{_t(words, language) if words else key}: {shown}")
    line = ""
    for part in parts:
        if line and len(line) + len(part) > PREVIEW_CHARS:
            return line + "; …"
        line = f"{line}; {part}" if line else part
    return line


def _shown(key: str, value: Any, words: FieldWords | None, language: str) -> str:
    """One value as a person reads it."""
    if isinstance(value, bool):
        return sentences.words(language, "back_office.my_data." + ("yes" if value else "no"))
    if key.endswith("_cents") and isinstance(value, int):
        amount = f"{value / 100:.2f}"
        return f"€ {amount.replace('.', ',')}" if language == "nl" else f"€{amount}"
    if isinstance(value, dict):  # an address
        street = " ".join(str(value[k]) for k in ("street", "house_number") if value.get(k))
        town = " ".join(str(value[k]) for k in ("postcode", "city") if value.get(k))
        return ", ".join(p for p in (street, town) if p) or ", ".join(str(v) for v in value.values() if v)
    if isinstance(value, list):  # order lines, notes: what they are about
        about = [str(item.get("description") or item.get("subject") or "") for item in value if isinstance(item, dict)]
        return ", ".join(a for a in about if a) or str(len(value))
    if isinstance(value, str):
        coded = words.values.get(value) if words is not None else None
        if coded is not None:
            return _t(coded, language) or value
        return shown_moment(value, language)
    return str(value)


def shown_moment(value: str, language: str, with_time: bool = True) -> str:
    """An ISO date as "1 september 1947" / "1 September 1947"; an ISO time as that day and the time
    in Amsterdam ("7 januari 2027 14:05"); anything else as it is."""
    if _TIMESTAMP.match(value):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        local = moment.astimezone(COMPANY_TIME_ZONE)
        day = f"{local.day} {sentences.words(language, 'common.months')[local.month - 1]} {local.year}"
        return f"{day} {local:%H:%M}" if with_time else day
    if _DATE.match(value):
        date = dt.date.fromisoformat(value)
        return f"{date.day} {sentences.words(language, 'common.months')[date.month - 1]} {date.year}"
    return value


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested objects and lists as dotted field names: address.city, lines[0].sku."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)  # a number, also a negative one, is no formula
    return spreadsheet_safe(str(value))


def spreadsheet_safe(text: str) -> str:
    """A CSV cell a spreadsheet shows as text instead of running it (OWASP "CSV injection"): a cell
    that starts with = + - @, a tab or a carriage return gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
