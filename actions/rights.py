"""A customer's own data and their privacy requests, worded for the chat, in Dutch or English.

Pure functions (no Rasa, no HTTP), tested on their own:
- `draft_request` turns what the customer said (intent, entities, words) into a request to confirm;
- `summary`, `receipt`, `status_report` and `my_data_report` word what the back office returns,
  with the sentences of the text catalogue (actions/sentences.py reads them).
Who the customer is never comes from here: the actions ask the back office for the conversation's
verified customer, and the back office checks every request again when it is filed.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from bot.value_shapes import EMAIL

from .answers import Composer, bullets
from .backoffice import Vocabulary
from .sentences import CONSENT_NAMES, FIELD_NAMES, MONTHS, RIGHT_NAMES, STATUS_NAMES, sentence

Draft = dict[str, Any]

# What each rights intent asks for; an opt-out's right depends on what is stopped (see `_opt_out_type`).
INTENT_RIGHTS = {
    "request_deletion": "erasure",
    "request_correction": "rectification",
    "request_restriction": "restriction",
    "request_opt_out": "opt_out",
}

# The words that recognise what a customer names, by the back office's ids (`Vocabulary`); an id the
# back office serves without words here can still be chosen by its button.
PURPOSE_WORDS = {
    "newsletter": ("newsletter", "nieuwsbrief", "mailing", "reclame", "marketing", "e-mails", "emails", "mails"),
    "personalised_offers": ("personalis", "personaliz", "gepersonaliseerd", "persoonlijke aanbieding", "profil",
                            "aanbieding", "offers", "segment"),
    "wifi_counting": ("wifi", "wi-fi", "tellen", "counting", "bezoekers", "visitor", "winkel", "in store",
                      "in-store", "in the store", "stores", "your store", "shops", "your shop", "in the shop"),
}
# Words for the processings on legitimate interest a customer can object to (Art. 21(1)), beside the
# register's own names of those purposes (`objectable_purposes`).
OBJECTION_WORDS = {
    "fraud_prevention": ("fraud", "risicocontrole", "risk check", "betaalcontrole", "payment check"),
    "customer_service": ("klantenservice", "klantendienst", "customer service", "servicegesprek"),
}
CONSENT_WORDS = ("consent", "toestemming")
# The requests that stop a consent at once: the register says how to switch each off yourself.
STOP_TYPES = ("opt_out", "withdraw_consent", "objection_direct_marketing")
FIELD_WORDS = {
    "email": ("e-mail", "email", "mailadres"),
    "phone": ("phone", "telefoon", "mobiel", "nummer", "number"),
    "address": ("address", "adres", "verhuisd", "moved", "woonplaats", "postcode", "straat", "street"),
    "name": ("name", "naam"),
}
# "Kerkstraat 5, 1234 AB Utrecht" (a Dutch address; the CRM stores its parts). The pattern backtracks
# more than linearly over long runs of spaces, so only a text of an address's length is tried.
ADDRESS = re.compile(r"^\s*(?P<street>.+?)\s+(?P<house_number>\d+(?:\s?[-/]?\s?[A-Za-z0-9]{1,4})?)\s*(?:,\s*)?"
                     r"(?P<postcode>\d{4}\s?[A-Za-z]{2})\s*(?:,\s*)?(?P<city>[^\d,][^,]*?)\s*$")
MAX_ADDRESS_CHARS = 200


def parse_address(text: str) -> dict[str, str] | None:
    """The parts of a typed address, or None when it is not street, number, postcode and city."""
    found = ADDRESS.match(text) if text and len(text) <= MAX_ADDRESS_CHARS else None
    if not found:
        return None
    parts = found.groupdict()
    parts["postcode"] = parts["postcode"].replace(" ", "").upper()
    parts["postcode"] = f"{parts['postcode'][:4]} {parts['postcode'][4:]}"
    return {k: v.strip() for k, v in parts.items()}

MAX_TYPED_VALUE = 300
PHONE = re.compile(r"^\+?[\d\s().-]{6,20}$")
# a name: words of letters, joined by spaces, hyphens, apostrophes or dots ("Jan de Vries-Smit", "J. Jansen")
NAME = re.compile(r"^[^\W\d_]+(?:[ '’.-]+[^\W\d_]+)*\.?$")


def field_named(text: str, entities: dict[str, list[str]], vocabulary: Vocabulary) -> str | None:
    """The correctable detail a customer names ("my phone number", or a button's `correction_field`)."""
    fields = vocabulary.correctable_fields
    named = next((f for f in entities.get("correction_field", []) if f in fields), None)
    return named or next((f for f in _found(FIELD_WORDS, text[:MAX_TYPED_VALUE]) if f in fields), None)


def read_value(field: str, text: str) -> Any:
    """A corrected detail typed on its own, after the assistant asked for it ("Prinsengracht 263, 1016 GV
    Amsterdam"), in the shape the back office files it; None when the text cannot be that detail."""
    text = text.strip()
    if not text or len(text) > MAX_TYPED_VALUE or text.startswith("/"):
        return None  # empty, too long, or a button's payload
    if field == "address":
        return parse_address(text)
    if field == "email":
        found = EMAIL.search(text)
        return found.group(0) if found and len(text.split()) == 1 else None
    if field == "phone":
        return text if PHONE.match(text) and sum(c.isdigit() for c in text) >= 6 else None
    if field == "name":
        return text if len(text) <= 100 and NAME.match(text) else None
    return None


AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the company's time: every time the customer reads is in it


def long_date(value: str | None, language: str) -> str:
    """'2026-12-29' -> '29 December 2026' / '29 december 2026'."""
    if not value:
        return "-"
    day = dt.date.fromisoformat(value[:10])
    return f"{day.day} {MONTHS[language][day.month - 1]} {day.year}"


def _found(words: Mapping[str, Iterable[str]], text: str) -> list[str]:
    low = text.lower()
    return [key for key, options in words.items() if any(o in low for o in options)]


def _opt_out_type(purposes: list[str], text: str, vocabulary: Vocabulary) -> str:
    if any(w in text.lower() for w in CONSENT_WORDS):
        return "withdraw_consent"
    if purposes and all(purpose in vocabulary.direct_marketing for purpose in purposes):
        return "objection_direct_marketing"  # absolute (Art. 21(2)-(3)): takes effect at once
    return "opt_out"


def objectable_purposes(kb: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The register's purposes on legitimate interest: the processings a customer can object to (Art. 21(1))."""
    return [p for p in kb.get("purposes", []) if p.get("legal_basis") == "legitimate_interest"]


def objection_words(kb: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Per purpose one can object to: its names in the register (nl and en) and the words people use for it."""
    return {p["id"]: (p["name"]["nl"].lower(), p["name"]["en"].lower(), *OBJECTION_WORDS.get(p["id"], ()))
            for p in objectable_purposes(kb)}


MAX_PURPOSE_TEXT = 300


def named_purpose(text: str, entities: dict[str, list[str]], vocabulary: Vocabulary,
                  objectable: Mapping[str, Iterable[str]]) -> str | None:
    """What the customer named to stop: a processing to object to, a consent, "all_marketing"; None if nothing.
    A button's `purpose` entity counts first; then the words, the processings on legitimate interest before
    the consents ("fraudecontrole" is the fraud check, not marketing)."""
    for value in entities.get("purpose", []):
        if value in objectable or value in vocabulary.consents or value == "all_marketing":
            return value
    low = (text or "")[:MAX_PURPOSE_TEXT]
    found = _found(objectable, low) or [x for x in _found(PURPOSE_WORDS, low) if x in vocabulary.consents]
    return found[0] if found else None


def draft_for_purpose(purpose: str, text: str, language: str, vocabulary: Vocabulary,
                      objectable: Mapping[str, Iterable[str]]) -> Draft:
    """The request that stops `purpose`: an objection the privacy team weighs for a processing on legitimate
    interest, else an opt-out, a withdrawal of consent or an objection to direct marketing (at once)."""
    draft: Draft = {"type": "objection", "categories": None, "details": {"language": language},
                    "client_request_id": f"chat-{uuid.uuid4().hex}"}
    if purpose in objectable:
        draft["details"]["purpose"] = purpose
        return draft
    purposes = list(vocabulary.direct_marketing) if purpose == "all_marketing" else [purpose]
    draft["type"] = _opt_out_type(purposes, text, vocabulary)
    draft["details"]["purposes"] = purposes
    return draft


def draft_request(intent: str, text: str, entities: dict[str, list[str]], language: str,
                  held_categories: Iterable[str], vocabulary: Vocabulary,
                  objectable: Mapping[str, Iterable[str]] | None = None) -> Draft:
    """The request the customer asked for, as far as their words tell; `missing` names what to ask next.

    `entities`: entity name -> values (data_category, purpose, correction_field, correction_value).
    `held_categories`: the categories a company system holds, so an erasure names only real ones.
    `vocabulary`: the back office's ids, so a correction or an opt-out names only real fields and consents.
    `objectable`: the processings on legitimate interest one can object to, with their words (`objection_words`).
    """
    draft: Draft = {"type": INTENT_RIGHTS[intent], "categories": None, "details": {"language": language},
                    "client_request_id": f"chat-{uuid.uuid4().hex}"}
    held = list(held_categories)
    if draft["type"] in ("erasure", "restriction"):
        named = [c for c in entities.get("data_category", []) if c in held]
        draft["categories"] = named or None
    elif draft["type"] == "rectification":
        fields = vocabulary.correctable_fields
        field = next((f for f in entities.get("correction_field", []) if f in fields), None)
        field = field or next((f for f in _found(FIELD_WORDS, text) if f in fields), None)
        value: Any = next(iter(entities.get("correction_value", [])), None)
        if field == "address" and value is not None:
            value = parse_address(value)  # None: ask again, with the form the address must take
        draft["details"].update(field=field, value=value)
        draft["missing"] = "field" if not field else ("value" if not value else None)
    else:
        objectable = objectable or {}
        to_stop = named_purpose(text, entities, vocabulary, objectable)
        if to_stop is not None and to_stop in objectable:
            return draft_for_purpose(to_stop, text, language, vocabulary, objectable)
        chosen = entities.get("purpose", [])
        consents = vocabulary.consents
        purposes = list(vocabulary.direct_marketing) if "all_marketing" in chosen else [x for x in chosen if x in consents]
        purposes = purposes or [x for x in _found(PURPOSE_WORDS, text) if x in consents]
        if not purposes:
            draft["missing"] = "purpose"
        draft["type"] = _opt_out_type(purposes, text, vocabulary)
        draft["details"]["purposes"] = purposes
    if not draft.get("missing"):
        draft.pop("missing", None)
    return draft


def _names(composer: Composer, category_ids: Iterable[str]) -> str:
    return ", ".join(composer.t(c["name"]) for c in composer.kb["categories"] if c["id"] in set(category_ids))


def summary(draft: Draft, composer: Composer, held_categories: Iterable[str]) -> str:
    """What will be filed, for the customer to confirm (Art. 12: clear and plain)."""
    lang = composer.lang
    kind = draft["type"]
    lines = [sentence("summary_right", lang, right=RIGHT_NAMES[kind][lang])]
    held = list(held_categories)
    if kind in ("erasure", "restriction"):
        chosen = draft.get("categories") or held
        lines.append(sentence("summary_some" if draft.get("categories") else "summary_all", lang, names=_names(composer, chosen)))
    if kind == "erasure":
        chosen = draft.get("categories") or held
        kept = [f"{composer.t(c['name'])}: {composer.t(c['kept_after_erasure'])}"
                for c in composer.kb["categories"] if c["id"] in chosen and c.get("kept_after_erasure")]
        if kept:
            lines.append(f"{sentence('summary_kept', lang)}\n{bullets(kept)}")
        if "customer_service" in chosen:
            lines.append(sentence("summary_chats", lang))
    elif kind == "restriction":
        lines.append(sentence("summary_restriction", lang))
    elif kind == "objection" and draft["details"].get("purpose"):
        purpose = purpose_name(composer, draft["details"]["purpose"])
        lines.append(sentence("summary_object", lang, purpose=purpose))
        lines.append(sentence("summary_weighed", lang, purpose=purpose))
    elif kind == "rectification":
        details = draft["details"]
        value = details["value"]
        if isinstance(value, dict):
            value = f"{value['street']} {value['house_number']}, {value['postcode']} {value['city']}"
        lines.append(sentence("summary_field", lang, field=FIELD_NAMES[details["field"]][lang], value=value))
    else:
        purposes = ", ".join(CONSENT_NAMES[x][lang] for x in draft["details"].get("purposes", []))
        lines.append(sentence("summary_stop", lang, purposes=purposes))
        lines.append(sentence("summary_now", lang))
    if kind not in ("objection_direct_marketing", "withdraw_consent", "opt_out", "objection"):
        lines.append(sentence("summary_deadline", lang))
    return f"{sentence('summary_intro', lang)}\n{bullets(lines)}\n{sentence('summary_question', lang)}"


def purpose_name(composer: Composer, purpose_id: str) -> str:
    """The register's name of a purpose in the customer's language (its id if the register lacks it)."""
    return next((composer.t(p["name"]) for p in composer.kb["purposes"] if p["id"] == purpose_id), purpose_id)


def confirm_buttons(language: str) -> list[dict[str, str]]:
    return [{"title": sentence("yes_file", language), "payload": "/affirm"},
            {"title": sentence("no_cancel", language), "payload": "/deny"}]


def purpose_buttons(language: str, vocabulary: Vocabulary, kb: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """What can be stopped: each consent, all marketing, and each processing on legitimate interest to object to."""
    buttons = [{"title": CONSENT_NAMES[x][language].capitalize(), "payload": f'/request_opt_out{{"purpose": "{x}"}}'}
               for x in vocabulary.consents]
    buttons.append({"title": sentence("all_marketing", language), "payload": '/request_opt_out{"purpose": "all_marketing"}'})
    return buttons + [{"title": sentence("object_button", language, name=p["name"][language]),
                       "payload": f'/request_opt_out{{"purpose": "{p["id"]}"}}'} for p in objectable_purposes(kb or {})]


def receipt(filed: dict[str, Any], draft: Draft, language: str, names: Mapping[str, str] | None = None) -> str:
    """The receipt: request id, the right and the due date; what took effect at once, what is kept, what
    the privacy team weighs. `names`: the register's names of purposes in the customer's language."""
    right = RIGHT_NAMES[filed["type"]][language]
    if filed.get("created") is False:
        lines = [sentence("repeat", language, id=filed["id"])]
    else:
        lines = [sentence("receipt", language, id=filed["id"], right=right, due=long_date(filed.get("due_on"), language))]
    objected = (draft.get("details") or {}).get("purpose")
    if filed["type"] == "objection" and objected:
        name = names.get(objected, objected) if names else objected
        lines.append(sentence("receipt_weighed", language, purpose=name, due=long_date(filed.get("due_on"), language)))
    purposes = draft.get("details", {}).get("purposes")
    if purposes:
        lines.append(sentence("receipt_now", language, purposes=", ".join(CONSENT_NAMES[x][language] for x in purposes)))
    kept = [k["name"][language] for k in filed.get("kept_after_erasure") or []]
    if kept:
        lines.append(sentence("receipt_kept", language, kept=", ".join(kept)))
    lines.append(sentence("receipt_track", language))
    return "\n".join(lines)


def status_report(requests: list[dict[str, Any]], language: str, limit: int = 5) -> str:
    """The customer's requests, newest first: status in words, systems done, due date, extension or denial."""
    if not requests:
        return sentence("no_requests", language)
    lines, attention = [], False
    for r in requests[:limit]:
        tasks = r.get("tasks") or []
        if r["status"] == "fulfilled":
            done_on = max((x.get("completed_at") or "" for x in tasks), default="") or r.get("received_at")
            state = sentence("status_fulfilled", language, date=long_date(done_on, language))
        elif r["status"] == "denied":
            state = sentence("status_denied", language, reason=r.get("denial_reason") or "-")
        elif r.get("open") and r["type"] == "objection" and r["status"] == "verified":
            state = sentence("status_awaiting_decision", language, due=long_date(r.get("due_on"), language))
        elif r.get("open"):
            done = sum(1 for x in tasks if x.get("state") == "done")
            state = sentence("status_progress", language, done=done, total=len(tasks), due=long_date(r.get("due_on"), language))
            if r.get("extended"):
                state += "; " + sentence("status_extended", language, due=long_date(r.get("due_on"), language),
                                         reason=r.get("extension_reason") or "-")
            attention = attention or bool(r.get("needs_attention"))
        else:
            state = STATUS_NAMES[r["status"]][language]
        lines.append(sentence("status_line", language, id=r["id"], right=RIGHT_NAMES[r["type"]][language], status=state))
    text = f"{sentence('status_intro', language)}\n{bullets(lines)}"
    return f"{text}\n{sentence('status_attention', language)}" if attention else text


def my_data_report(data: dict[str, Any], links: dict[str, Any] | None, language: str) -> str:
    """Art. 15 in the chat: per category what we hold, why, on which basis, for how long; the download links."""
    parts = [sentence("data_intro", language)]
    for c in data.get("categories", []):
        head = f"{c['label']} ({sentence('data_records', language, n=c['records'])})"
        purposes = ", ".join(f"{x['label']} ({x['legal_basis']})" for x in c.get("purposes", []))
        lines = [head + (":" if c.get("preview") else "")] + [f"  – {record}" for record in c.get("preview") or []]
        if purposes:
            lines.append("  " + sentence("data_for", language, purposes=purposes))
        if c.get("retention"):
            lines.append("  " + sentence("data_kept", language, period=c["retention"]))
        if c.get("recipients"):
            lines.append("  " + sentence("data_recipients", language, names=", ".join(c["recipients"])))
        if c.get("source"):
            lines.append("  " + sentence("data_source", language, source=c["source"]))
        parts.append("• " + "\n".join(lines))
    empty = data.get("empty_categories") or []
    if empty:
        names = data.get("category_names") or {}
        labels = [names.get(e, e) for e in empty]
        parts.append(sentence("data_empty", language, names=", ".join(labels)))
    kept = data.get("kept_after_erasure") or []
    if kept:  # the same categories the erasure's receipt said are kept, with the register's reason
        said = "\n".join(f"• {k['label']}: {k['reason']}" for k in kept)
        parts.append(sentence("data_kept_after_erasure", language) + "\n" + said)
    chats = data.get("conversations") or {}
    if chats:
        parts.append(sentence("data_chats", language, count=chats.get("count", 0), messages=chats.get("messages", 0)))
    if links:
        until = dt.datetime.fromisoformat(links["expires_at"].replace("Z", "+00:00")).astimezone(AMSTERDAM)
        time = f"{long_date(until.date().isoformat(), language)} {until:%H:%M}"
        parts.append(sentence("data_download", language, time=time, json=links["json_url"], csv=links["csv_url"]))
    parts.append(sentence("data_rights", language))
    if data.get("knowledge_version"):
        parts.append(sentence("source", language, v=data["knowledge_version"]))
    return "\n".join(parts)

