"""Composing answers from the knowledge base, in Dutch or English.

Pure functions over one knowledge-base version (the JSON the back office serves, every text as
`{"nl": ..., "en": ...}`): no Rasa, no HTTP, so they are tested on their own. Every answer ends by
naming the version it comes from. The sentences around the knowledge base's texts are the text
catalogue's (text-catalogue/texts/<language>.yml, read by actions/sentences.py).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .sentences import LANGUAGES, LEGAL_BASES, TOPIC_LABELS, sentence

Version = dict[str, Any]

# A first answer fits a phone screen in a chat: at most this many characters, the source line
# included. What does not fit is offered as buttons (one category, the full details).
FIRST_ANSWER_LIMIT = 600
# the entity a "details" button sends with the topic's intent
DETAIL_ENTITY = "answer_detail"

TOPICS = (
    "what_data_collected",
    "why_data_used",
    "sharing_third_parties",
    "retention",
    "security",
    "access_my_data",
    "correct_my_data",
    "delete_my_data",
    "opt_out",
    "policy_changes",
    "children_and_specific_audiences",
    "international_transfers",
    "cookies_tracking",
    "contact_dpo",
    "out_of_scope",
)

# Which topic of the taxonomy each intent's answer belongs to.
INTENT_TOPICS = {
    "ask_what_data_collected": "what_data_collected",
    "ask_why_data_used": "why_data_used",
    "ask_benefit": "why_data_used",
    "ask_sharing_third_parties": "sharing_third_parties",
    "ask_retention": "retention",
    "ask_security": "security",
    "request_access": "access_my_data",
    "request_correction": "correct_my_data",
    "request_deletion": "delete_my_data",
    "request_opt_out": "opt_out",
    "request_restriction": "opt_out",
    "request_status": "access_my_data",
    "ask_policy_changes": "policy_changes",
    "ask_children_specific_audiences": "children_and_specific_audiences",
    "ask_international_transfers": "international_transfers",
    "ask_cookies_tracking": "cookies_tracking",
    "ask_contact_dpo": "contact_dpo",
    "ask_human": "contact_dpo",
    "out_of_scope": "out_of_scope",
}


# Answers that say nothing about personal data (a question we cannot help with) cite no register version.
NOT_FROM_THE_REGISTER = frozenset({"out_of_scope"})


# Companies customers ask about by name ("do you share my data with Facebook?"): the answer says whether
# the register lists them as a recipient, beside the register's own recipients.
ASKED_ABOUT = ("Facebook", "Meta", "Instagram", "WhatsApp", "Google", "YouTube", "TikTok", "Amazon", "Microsoft",
               "Apple", "Twitter", "LinkedIn", "Snapchat", "Pinterest", "Bol.com", "Coolblue", "Criteo")
MAX_QUESTION_CHARS = 500  # a question names its companies early; longer text is not searched


def named_companies(text: str, recipients: list[str]) -> list[str]:
    """The companies a question names, as the register or ASKED_ABOUT spells them, in the order named."""
    low = (text or "")[:MAX_QUESTION_CHARS].lower()
    found = []
    for name in dict.fromkeys([*recipients, *ASKED_ABOUT]):
        hit = re.search(r"(?<!\w)" + re.escape(name.lower()) + r"(?!\w)", low)
        if hit:
            found.append((hit.start(), name))
    return [name for _, name in sorted(found)]


def listing(names: list[str], last: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


# One block of an answer: a paragraph, or bullets of (what, details); shortened as a whole to fit.
Bullets = list[tuple[str, str]]
Block = str | Bullets


@dataclass
class Answer:
    topic: str
    text: str
    version: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    # further messages of the same answer (only when the customer asked for all details)
    more: list[str] = field(default_factory=list)


def bullets(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)


# the space after a sentence: not after an abbreviation such as "B.V."
SENTENCE_END = r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z'\"])"


def first_sentence(text: str) -> str:
    """The first sentence; with its answer when it is a question ("Gaf je toestemming? Dan ...")."""
    sentences = re.split(SENTENCE_END, text.strip())
    return " ".join(sentences[:2]) if sentences[0].endswith("?") else sentences[0]


def render(blocks: list[Block], level: int, first_whole: bool = False) -> str:
    """Level 0 says everything; 1 keeps first sentences; 2 keeps the bullets' heads only.
    `first_whole`: the first block (what answers the question) is kept whole."""
    parts = []
    for i, block in enumerate(blocks):
        block_level = 0 if first_whole and i == 0 else level
        if isinstance(block, str):
            parts.append(block if block_level == 0 else first_sentence(block))
        elif block_level == 0:
            parts.append(bullets([f"{head}: {detail}" if detail else head for head, detail in block]))
        elif block_level == 1:
            parts.append(bullets([f"{head}: {first_sentence(detail)}" if detail else first_sentence(head)
                                  for head, detail in block]))
        else:
            parts.append(bullets([first_sentence(head) for head, _ in block]))
    return "\n".join(p for p in parts if p)


def fit(blocks: list[Block], budget: int) -> tuple[str, bool]:
    """The fullest rendering within `budget` characters, and whether anything was left out."""
    for level, first_whole in ((0, False), (1, True), (1, False), (2, True), (2, False)):
        text = render(blocks, level, first_whole)
        if len(text) <= budget:
            return text, level > 0
    text = render(blocks, 2)
    cut = text[: max(budget - 2, 0)].rsplit("\n", 1)[0]
    return f"{cut}\n…", True


def chunks(blocks: list[Block], budget: int) -> list[str]:
    """Every detail, in messages of at most `budget` characters (bullets split between messages)."""
    pieces: list[str] = []
    for block in blocks:
        if isinstance(block, str):
            pieces.append(block)
        else:
            pieces.extend(f"• {head}: {detail}" if detail else f"• {head}" for head, detail in block)
    messages: list[str] = []
    for piece in pieces:
        if len(piece) > budget:
            messages.extend(sentences_within(piece, budget))
        elif messages and len(messages[-1]) + 1 + len(piece) <= budget:
            messages[-1] += "\n" + piece
        else:
            messages.append(piece)
    return messages


def sentences_within(text: str, budget: int) -> list[str]:
    """A long paragraph as messages of whole sentences, each at most `budget` characters."""
    messages: list[str] = []
    for part in re.split(SENTENCE_END, text):
        part = part[:budget]
        if messages and len(messages[-1]) + 1 + len(part) <= budget:
            messages[-1] += " " + part
        else:
            messages.append(part)
    return messages


class Composer:
    """Answers in one language from one knowledge-base version."""

    def __init__(self, version: Version, language: str) -> None:
        self.kb = version
        self.lang = language if language in LANGUAGES else "en"
        self.version_id = version["version"]["id"]

    def t(self, text: dict[str, str] | None) -> str:
        return text[self.lang] if text else ""

    def category(self, category_id: str | None) -> dict[str, Any] | None:
        return next((c for c in self.kb["categories"] if c["id"] == category_id), None)

    def not_collected(self, category_id: str | None) -> dict[str, Any] | None:
        return next((c for c in self.kb["not_collected"] if c["id"] == category_id), None)

    def purposes_for(self, category_id: str) -> list[dict[str, Any]]:
        return [p for p in self.kb["purposes"] if category_id in p["categories"]]

    def recipients(self, category_id: str | None = None) -> list[dict[str, Any]]:
        """Every recipient once; only those of one category's purposes when it is named."""
        seen: dict[str, dict[str, Any]] = {}
        purposes = self.purposes_for(category_id) if category_id else self.kb["purposes"]
        for purpose in purposes:
            for recipient in purpose["recipients"]:
                seen.setdefault(recipient["name"], recipient)
        return list(seen.values())

    def answer(
        self, topic: str, category_id: str | None = None, intent: str | None = None, all_details: bool = False,
        question: str = "",
    ) -> Answer:
        """The first answer fits FIRST_ANSWER_LIMIT; `all_details` gives everything, over several messages.
        `question`: the customer's words, so a recipients answer says yes or no to the companies it names."""
        blocks = getattr(self, f"_{topic}")(category_id, intent)
        if topic == "sharing_third_parties" and question:
            blocks = self._named_recipients(question) + blocks
        source = "" if topic in NOT_FROM_THE_REGISTER else "\n" + sentence("source", self.lang, v=self.version_id)
        budget = FIRST_ANSWER_LIMIT - len(source)
        if all_details:
            messages = chunks(blocks, budget)
            messages[-1] += source
            return Answer(topic=topic, text=messages[0], version=self.version_id, more=messages[1:])
        body, shortened = fit(blocks, budget)
        buttons = self._follow_ups(topic, category_id, intent)
        if shortened and (intent or _intent_for(topic)).startswith("ask_"):
            payload = json.dumps({DETAIL_ENTITY: "all", **({"data_category": category_id} if self.category(category_id) else {})})
            buttons.append({"title": sentence("all_details", self.lang), "payload": f"/{intent or _intent_for(topic)}{payload}"})
        return Answer(topic=topic, text=f"{body}{source}", version=self.version_id, buttons=buttons)

    def _follow_ups(self, topic: str, category_id: str | None, intent: str | None) -> list[dict[str, str]]:
        """Buttons to the narrower questions a long overview leaves open."""
        if topic == "sharing_third_parties" and any(r["outside_eu"] for r in self.recipients()):
            return [{"title": sentence("outside_eu_button", self.lang), "payload": "/ask_international_transfers"}]
        if topic == "delete_my_data":
            kept = [c for c in self.kb["categories"] if c.get("kept_after_erasure")]
            return [
                {"title": sentence("kept_retention_button", self.lang, name=self.t(c["name"])),
                 "payload": f'/ask_retention{json.dumps({"data_category": c["id"]})}'}
                for c in kept[:3]
            ]
        return []

    # -- one method per topic: the blocks of the full answer -------------------------------------

    def _what_data_collected(self, category_id: str | None, intent: str | None) -> list[Block]:
        absent = self.not_collected(category_id)
        if absent:
            return [self.t(absent["statement"])]
        category = self.category(category_id)
        if category:
            purposes = ", ".join(self.t(p["name"]) for p in self.purposes_for(category["id"]))
            return [
                sentence("we_hold", self.lang, name=self.t(category["name"]), description=self.t(category["description"])),
                sentence("from_source", self.lang, source=self.t(category["source"])),
                sentence("used_for", self.lang, purposes=purposes),
            ]
        names: Bullets = [(self.t(c["name"]), "") for c in self.kb["categories"]]
        return [sentence("overview", self.lang), names, sentence("overview_more", self.lang)]

    def _why_data_used(self, category_id: str | None, intent: str | None) -> list[Block]:
        category = self.category(category_id)
        purposes = self.purposes_for(category["id"]) if category else self.kb["purposes"]
        if intent == "ask_benefit":
            # what the customer gets for their data; a legal duty (the tax records) is no trade
            gains = [(self.t(p["name"]), self.t(p["benefit"])) for p in purposes if p["legal_basis"] != "legal_obligation"]
            return [sentence("benefit_intro", self.lang), gains]
        lines: Bullets = []
        for p in purposes:
            head = f"{self.t(p['name'])} ({LEGAL_BASES[p['legal_basis']][self.lang]}"
            head += f"; {sentence('automated_flag', self.lang)})" if p["automated_decision"]["applies"] else ")"
            detail = self.t(p["description"])
            if p["automated_decision"]["applies"]:
                detail += " " + sentence("automated", self.lang, logic=self.t(p["automated_decision"]["logic"]))
            lines.append((head, detail))
        if category:
            intro = sentence("purposes_for", self.lang, name=self.t(category["name"]))
        else:
            intro = sentence("purposes_intro", self.lang)
        return [intro, lines]

    def _sharing_third_parties(self, category_id: str | None, intent: str | None) -> list[Block]:
        """One category's question gets that category's recipients only."""
        category = self.category(category_id)
        recipients = self.recipients(category["id"] if category else None)
        lines: Bullets = []
        for r in recipients:
            head = f"{r['name']} ({r['country']})"
            detail = self.t(r["role"])
            if r["outside_eu"]:
                detail += "; " + sentence("outside_eu", self.lang, safeguard=self.t(r["safeguard"]))
            lines.append((head, detail))
        return [self._topic_text("sharing_third_parties"), sentence("recipients_intro", self.lang), lines]

    def _named_recipients(self, question: str) -> list[Block]:
        """Yes or no for each company the question names: is it a recipient in the register?"""
        listed = {r["name"] for r in self.recipients()}
        named = named_companies(question, sorted(listed))
        blocks: list[Block] = []
        found = [n for n in named if n in listed]
        if found:
            blocks.append(sentence("is_a_recipient", self.lang, names=listing(found, sentence("list_and", self.lang))))
        absent = [n for n in named if n not in listed]
        if absent:
            blocks.append(sentence("not_a_recipient", self.lang, names=listing(absent, sentence("list_or", self.lang))))
        return blocks

    def how_to_stop(self, purpose_ids: list[str]) -> Answer:
        """The register's own instruction to switch off each purpose named (its `opt_out`)."""
        lines: Bullets = [(self.t(p["name"]), self.t(p["opt_out"]))
                          for p in self.kb["purposes"] if p["id"] in purpose_ids and p.get("opt_out")]
        source = sentence("source", self.lang, v=self.version_id)
        body, _ = fit([sentence("how_to_stop", self.lang), lines], FIRST_ANSWER_LIMIT - len(source) - 1)
        return Answer(topic="opt_out", text=f"{body}\n{source}", version=self.version_id)

    def _retention(self, category_id: str | None, intent: str | None) -> list[Block]:
        absent = self.not_collected(category_id)
        if absent:
            return [self.t(absent["statement"])]
        category = self.category(category_id)
        if category:
            r = category["retention"]
            return [sentence("retention_one", self.lang, name=self.t(category["name"]), period=self.t(r["period"]),
                             reason=self.t(r["reason"]))]
        periods: Bullets = [(self.t(c["name"]), self.t(c["retention"]["period"])) for c in self.kb["categories"]]
        return [sentence("retention_intro", self.lang), periods]

    def _topic_text(self, key: str) -> str:
        return self.t(self.kb["topics"]["topics"][key])

    def _right(self, key: str) -> str:
        return self.t(self.kb["topics"]["rights"][key])

    def _security(self, category_id: str | None, intent: str | None) -> list[Block]:
        return [self._topic_text("security")]

    def _access_my_data(self, category_id: str | None, intent: str | None) -> list[Block]:
        return [self._right("access"), self._right("portability")]

    def _correct_my_data(self, category_id: str | None, intent: str | None) -> list[Block]:
        return [self._right("correction")]

    def _delete_my_data(self, category_id: str | None, intent: str | None) -> list[Block]:
        kept: Bullets = [(self.t(c["name"]), self.t(c["kept_after_erasure"]))
                         for c in self.kb["categories"] if c.get("kept_after_erasure")]
        return [self._right("erasure"), sentence("kept_intro", self.lang), kept] if kept else [self._right("erasure")]

    def _opt_out(self, category_id: str | None, intent: str | None) -> list[Block]:
        lines = [(self.t(p["name"]), self.t(p["opt_out"])) for p in self.kb["purposes"] if p.get("opt_out")]
        rights: list[Block] = [self._right("objection"), self._right("withdraw_consent")]
        return rights + [sentence("opt_out_intro", self.lang), lines] if lines else rights

    def _policy_changes(self, category_id: str | None, intent: str | None) -> list[Block]:
        info = self.kb["version"]
        if not info["changelog"]:
            return [sentence("first_version", self.lang, v=info["id"]), self._topic_text("policy_changes")]
        intro = sentence("changes_intro", self.lang, v=info["id"], date=info["effective_date"])
        return [intro, [(self.t(e["text"]), "") for e in info["changelog"]], self._topic_text("policy_changes")]

    def _children_and_specific_audiences(self, category_id: str | None, intent: str | None) -> list[Block]:
        return [self._topic_text("children_and_specific_audiences")]

    def _international_transfers(self, category_id: str | None, intent: str | None) -> list[Block]:
        abroad = [r for r in self.recipients() if r["outside_eu"]]
        if not abroad:
            return [self._topic_text("international_transfers"), sentence("no_transfers", self.lang)]
        lines = [(f"{r['name']} ({r['country']})", f"{self.t(r['role'])}; {self.t(r['safeguard'])}") for r in abroad]
        return [self._topic_text("international_transfers"), sentence("transfers_intro", self.lang), lines]

    def _cookies_tracking(self, category_id: str | None, intent: str | None) -> list[Block]:
        return [self._topic_text("cookies_tracking")]

    def _contact_dpo(self, category_id: str | None, intent: str | None) -> list[Block]:
        company = self.kb["company"]
        dpo, service = company["dpo"], company["customer_service"]
        blocks: list[Block] = [
            sentence("dpo", self.lang, controller=company["name"], name=dpo["name"], email=dpo["email"], phone=dpo["phone"]),
            sentence("service", self.lang, email=service["email"], phone=service["phone"], hours=self.t(service["hours"])),
            self._right("complaint"),
        ]
        return [sentence("human", self.lang), *blocks] if intent == "ask_human" else blocks

    def _out_of_scope(self, category_id: str | None, intent: str | None) -> list[Block]:
        return [self._topic_text("out_of_scope")]

    # -- not tied to one topic ------------------------------------------------------------------

    def changes_since(self, newer_versions: list[Version], old_version_id: str) -> str:
        """The notice for a returning customer: every changelog entry published since their last visit
        (their first sentences when all would not fit; "what changed?" gives the whole entries)."""
        entries: Bullets = [(self.t(e["text"]), "") for v in newer_versions for e in v["version"]["changelog"]]
        source = sentence("source", self.lang, v=self.version_id)
        notice: list[Block] = [sentence("since_last_visit", self.lang, old=old_version_id), entries]
        body, _ = fit(notice, FIRST_ANSWER_LIMIT - len(source) - 1)
        return f"{body}\n{source}"

    def clarify(self, intents: list[str]) -> Answer:
        topics: list[str] = []
        for intent in intents:
            topic = INTENT_TOPICS.get(intent)
            if topic and topic not in topics and topic != "out_of_scope":
                topics.append(topic)
        buttons = [{"title": TOPIC_LABELS[t][self.lang], "payload": f"/{_intent_for(t)}"} for t in topics[:3]]
        return Answer(topic="clarify", text=sentence("clarify", self.lang), version=self.version_id, buttons=buttons)


def _intent_for(topic: str) -> str:
    return next(intent for intent, t in INTENT_TOPICS.items() if t == topic)
