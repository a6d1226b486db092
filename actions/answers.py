"""Composing answers from the knowledge base, in Dutch or English.

Pure functions over one knowledge-base version (the JSON the back office serves, every text as
`{"nl": ..., "en": ...}`): no Rasa, no HTTP, so they are tested on their own. Every answer ends by
naming the version it comes from.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

Version = Dict[str, Any]

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

# Short labels for the buttons of a clarifying question.
TOPIC_LABELS = {
    "what_data_collected": {"nl": "Welke gegevens jullie hebben", "en": "What data you hold"},
    "why_data_used": {"nl": "Waarvoor jullie ze gebruiken", "en": "What you use it for"},
    "sharing_third_parties": {"nl": "Met wie jullie ze delen", "en": "Who you share it with"},
    "retention": {"nl": "Hoe lang jullie ze bewaren", "en": "How long you keep it"},
    "security": {"nl": "Beveiliging", "en": "Security"},
    "access_my_data": {"nl": "Mijn gegevens inzien", "en": "See my data"},
    "correct_my_data": {"nl": "Gegevens corrigeren", "en": "Correct my data"},
    "delete_my_data": {"nl": "Gegevens verwijderen", "en": "Delete my data"},
    "opt_out": {"nl": "Afmelden of bezwaar maken", "en": "Opt out or object"},
    "policy_changes": {"nl": "Wat er veranderd is", "en": "What changed"},
    "children_and_specific_audiences": {"nl": "Kinderen", "en": "Children"},
    "international_transfers": {"nl": "Gegevens buiten de EU", "en": "Data outside the EU"},
    "cookies_tracking": {"nl": "Cookies en tracking", "en": "Cookies and tracking"},
    "contact_dpo": {"nl": "Contact met de privacy-officer", "en": "Contact the privacy officer"},
    "out_of_scope": {"nl": "Iets anders", "en": "Something else"},
}

LEGAL_BASES = {
    "consent": {"nl": "toestemming", "en": "your consent"},
    "contract": {"nl": "overeenkomst", "en": "contract"},
    "legal_obligation": {"nl": "wettelijke plicht", "en": "legal obligation"},
    "legitimate_interest": {"nl": "gerechtvaardigd belang", "en": "legitimate interest"},
}

PHRASES = {
    "source": {"nl": "Bron: privacyregister versie {v}.", "en": "Source: privacy register version {v}."},
    "overview": {"nl": "Dit zijn de gegevens die we van klanten kunnen hebben:", "en": "These are the personal data we may hold about customers:"},
    "overview_more": {
        "nl": "Vraag gerust door, bijvoorbeeld: waarom hebben jullie mijn aankoopgeschiedenis, of hoe lang bewaren jullie die?",
        "en": "Ask me more, for example: why do you have my purchase history, or how long do you keep it?",
    },
    "we_hold": {"nl": "Je {name}: {description}", "en": "Your {name}: {description}"},
    "from_source": {"nl": "Herkomst: {source}", "en": "Where it comes from: {source}"},
    "used_for": {"nl": "We gebruiken dit voor: {purposes}.", "en": "We use it for: {purposes}."},
    "purposes_intro": {"nl": "Hiervoor gebruiken we je gegevens (met de grondslag):", "en": "This is what we use your data for (and the legal basis):"},
    "purposes_for": {"nl": "Waarvoor we je {name} gebruiken (met de grondslag):", "en": "What we use your {name} for (and the legal basis):"},
    "automated": {"nl": "Geautomatiseerd besluit: {logic}", "en": "Automated decision: {logic}"},
    "benefit_intro": {"nl": "Wat je ervoor terugkrijgt:", "en": "What you get in return:"},
    "retention_one": {"nl": "We bewaren je {name}: {period}. Waarom: {reason}", "en": "We keep your {name}: {period}. Why: {reason}"},
    "retention_intro": {"nl": "Zo lang bewaren we je gegevens:", "en": "This is how long we keep your data:"},
    "recipients_intro": {"nl": "Wie je gegevens ontvangt:", "en": "Who receives your data:"},
    "outside_eu": {"nl": "buiten de EU, beschermd door: {safeguard}", "en": "outside the EU, protected by: {safeguard}"},
    "no_transfers": {"nl": "Geen van onze ontvangers zit buiten de EU.", "en": "None of our recipients is outside the EU."},
    "transfers_intro": {"nl": "Ontvangers buiten de EU:", "en": "Recipients outside the EU:"},
    "kept_intro": {"nl": "Wat we ook na verwijdering moeten bewaren:", "en": "What we must keep even after erasure:"},
    "opt_out_intro": {"nl": "Uitzetten kan voor:", "en": "You can switch off:"},
    "changes_intro": {
        "nl": "Wat er veranderd is in versie {v} (geldig vanaf {date}):",
        "en": "What changed in version {v} (in effect from {date}):",
    },
    "first_version": {"nl": "Versie {v} is onze eerste gepubliceerde versie.", "en": "Version {v} is our first published version."},
    "since_last_visit": {
        "nl": "Sinds je vorige bezoek (versie {old}) is ons privacybeleid veranderd:",
        "en": "Since your last visit (version {old}) our privacy terms have changed:",
    },
    "dpo": {
        "nl": "Verantwoordelijk voor je gegevens is {company}. Onze functionaris gegevensbescherming is {name}: {email}, {phone}.",
        "en": "{company} is responsible for your data. Our data protection officer is {name}: {email}, {phone}.",
    },
    "service": {
        "nl": "Klantenservice: {email}, {phone} ({hours}).",
        "en": "Customer service: {email}, {phone} ({hours}).",
    },
    "human": {
        "nl": "In deze chat kan ik je nog niet doorverbinden met een medewerker. Je bereikt een mens zo:",
        "en": "I can't hand this chat over to a member of staff yet. You can reach a person here:",
    },
    "other_language": {
        "nl": "Ik spreek Nederlands en Engels. / I speak Dutch and English.",
        "en": "I speak English and Dutch. / Ik spreek Engels en Nederlands.",
    },
    "clarify": {"nl": "Ik weet niet zeker wat je bedoelt. Gaat je vraag over een van deze onderwerpen?", "en": "I'm not sure what you mean. Is your question about one of these?"},
    "all_details": {"nl": "Alle details", "en": "All details"},
    "outside_eu_button": {"nl": "Welke ontvangers zitten buiten de EU?", "en": "Which recipients are outside the EU?"},
    "automated_flag": {"nl": "geautomatiseerd besluit", "en": "automated decision"},
    "kept_retention_button": {"nl": "Hoe lang: {name}", "en": "How long: {name}"},
    "category_button": {"nl": "Alleen {name}", "en": "Only {name}"},
}

# One block of an answer: a paragraph, or bullets of (what, details); shortened as a whole to fit.
Bullets = List[Tuple[str, str]]
Block = Union[str, Bullets]


@dataclass
class Answer:
    topic: str
    text: str
    version: str
    buttons: List[Dict[str, str]] = field(default_factory=list)
    # further messages of the same answer (only when the customer asked for all details)
    more: List[str] = field(default_factory=list)


def phrase(key: str, language: str, **values: Any) -> str:
    return PHRASES[key][language].format(**values)


def bullets(lines: List[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)


# the space after a sentence: not after an abbreviation such as "B.V."
SENTENCE_END = r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z'\"])"


def first_sentence(text: str) -> str:
    """The first sentence; with its answer when it is a question ("Gaf je toestemming? Dan ...")."""
    sentences = re.split(SENTENCE_END, text.strip())
    return " ".join(sentences[:2]) if sentences[0].endswith("?") else sentences[0]


def render(blocks: List[Block], level: int, first_whole: bool = False) -> str:
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
            parts.append(bullets([f"{head}: {first_sentence(detail)}" if detail else first_sentence(head) for head, detail in block]))
        else:
            parts.append(bullets([first_sentence(head) for head, _ in block]))
    return "\n".join(p for p in parts if p)


def fit(blocks: List[Block], budget: int) -> Tuple[str, bool]:
    """The fullest rendering within `budget` characters, and whether anything was left out."""
    for level, first_whole in ((0, False), (1, True), (1, False), (2, True), (2, False)):
        text = render(blocks, level, first_whole)
        if len(text) <= budget:
            return text, level > 0
    text = render(blocks, 2)
    cut = text[: max(budget - 2, 0)].rsplit("\n", 1)[0]
    return f"{cut}\n…", True


def chunks(blocks: List[Block], budget: int) -> List[str]:
    """Every detail, in messages of at most `budget` characters (bullets split between messages)."""
    pieces: List[str] = []
    for block in blocks:
        if isinstance(block, str):
            pieces.append(block)
        else:
            pieces.extend(f"• {head}: {detail}" if detail else f"• {head}" for head, detail in block)
    messages: List[str] = []
    for piece in pieces:
        if len(piece) > budget:
            messages.extend(sentences_within(piece, budget))
        elif messages and len(messages[-1]) + 1 + len(piece) <= budget:
            messages[-1] += "\n" + piece
        else:
            messages.append(piece)
    return messages


def sentences_within(text: str, budget: int) -> List[str]:
    """A long paragraph as messages of whole sentences, each at most `budget` characters."""
    messages: List[str] = []
    for sentence in re.split(SENTENCE_END, text):
        sentence = sentence[:budget]
        if messages and len(messages[-1]) + 1 + len(sentence) <= budget:
            messages[-1] += " " + sentence
        else:
            messages.append(sentence)
    return messages


class Composer:
    """Answers in one language from one knowledge-base version."""

    def __init__(self, version: Version, language: str) -> None:
        self.kb = version
        self.lang = language if language in ("nl", "en") else "en"
        self.version_id = version["version"]["id"]

    def t(self, text: Optional[Dict[str, str]]) -> str:
        return text[self.lang] if text else ""

    def category(self, category_id: Optional[str]) -> Optional[Dict[str, Any]]:
        return next((c for c in self.kb["categories"] if c["id"] == category_id), None)

    def not_collected(self, category_id: Optional[str]) -> Optional[Dict[str, Any]]:
        return next((c for c in self.kb["not_collected"] if c["id"] == category_id), None)

    def purposes_for(self, category_id: str) -> List[Dict[str, Any]]:
        return [p for p in self.kb["purposes"] if category_id in p["categories"]]

    def recipients(self, category_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every recipient once; only those of one category's purposes when it is named."""
        seen: Dict[str, Dict[str, Any]] = {}
        purposes = self.purposes_for(category_id) if category_id else self.kb["purposes"]
        for purpose in purposes:
            for recipient in purpose["recipients"]:
                seen.setdefault(recipient["name"], recipient)
        return list(seen.values())

    def answer(
        self, topic: str, category_id: Optional[str] = None, intent: Optional[str] = None, all_details: bool = False
    ) -> Answer:
        """The first answer fits FIRST_ANSWER_LIMIT; `all_details` gives everything, over several messages."""
        blocks = getattr(self, f"_{topic}")(category_id, intent)
        source = phrase("source", self.lang, v=self.version_id)
        budget = FIRST_ANSWER_LIMIT - len(source) - 1
        if all_details:
            messages = chunks(blocks, budget)
            messages[-1] += f"\n{source}"
            return Answer(topic=topic, text=messages[0], version=self.version_id, more=messages[1:])
        body, shortened = fit(blocks, budget)
        buttons = self._follow_ups(topic, category_id, intent)
        if shortened and (intent or _intent_for(topic)).startswith("ask_"):
            payload = json.dumps({DETAIL_ENTITY: "all", **({"data_category": category_id} if self.category(category_id) else {})})
            buttons.append({"title": phrase("all_details", self.lang), "payload": f"/{intent or _intent_for(topic)}{payload}"})
        return Answer(topic=topic, text=f"{body}\n{source}", version=self.version_id, buttons=buttons)

    def _follow_ups(self, topic: str, category_id: Optional[str], intent: Optional[str]) -> List[Dict[str, str]]:
        """Buttons to the narrower questions a long overview leaves open."""
        if topic == "sharing_third_parties" and any(r["outside_eu"] for r in self.recipients()):
            return [{"title": phrase("outside_eu_button", self.lang), "payload": "/ask_international_transfers"}]
        if topic == "delete_my_data":
            kept = [c for c in self.kb["categories"] if c.get("kept_after_erasure")]
            return [
                {"title": phrase("kept_retention_button", self.lang, name=self.t(c["name"])),
                 "payload": f'/ask_retention{json.dumps({"data_category": c["id"]})}'}
                for c in kept[:3]
            ]
        return []

    # -- one method per topic: the blocks of the full answer -------------------------------------

    def _what_data_collected(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        absent = self.not_collected(category_id)
        if absent:
            return [self.t(absent["statement"])]
        category = self.category(category_id)
        if category:
            purposes = ", ".join(self.t(p["name"]) for p in self.purposes_for(category["id"]))
            return [
                phrase("we_hold", self.lang, name=self.t(category["name"]), description=self.t(category["description"])),
                phrase("from_source", self.lang, source=self.t(category["source"])),
                phrase("used_for", self.lang, purposes=purposes),
            ]
        return [phrase("overview", self.lang), [(self.t(c["name"]), "") for c in self.kb["categories"]], phrase("overview_more", self.lang)]

    def _why_data_used(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        category = self.category(category_id)
        purposes = self.purposes_for(category["id"]) if category else self.kb["purposes"]
        if intent == "ask_benefit":
            return [phrase("benefit_intro", self.lang), [(self.t(p["name"]), self.t(p["benefit"])) for p in purposes]]
        lines: Bullets = []
        for p in purposes:
            head = f"{self.t(p['name'])} ({LEGAL_BASES[p['legal_basis']][self.lang]}"
            head += f"; {phrase('automated_flag', self.lang)})" if p["automated_decision"]["applies"] else ")"
            detail = self.t(p["description"])
            if p["automated_decision"]["applies"]:
                detail += " " + phrase("automated", self.lang, logic=self.t(p["automated_decision"]["logic"]))
            lines.append((head, detail))
        intro = phrase("purposes_for", self.lang, name=self.t(category["name"])) if category else phrase("purposes_intro", self.lang)
        return [intro, lines]

    def _sharing_third_parties(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        """One category's question gets that category's recipients only."""
        category = self.category(category_id)
        recipients = self.recipients(category["id"] if category else None)
        lines: Bullets = []
        for r in recipients:
            head = f"{r['name']} ({r['country']})"
            detail = self.t(r["role"])
            if r["outside_eu"]:
                detail += "; " + phrase("outside_eu", self.lang, safeguard=self.t(r["safeguard"]))
            lines.append((head, detail))
        return [self._topic_text("sharing_third_parties"), phrase("recipients_intro", self.lang), lines]

    def _retention(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        absent = self.not_collected(category_id)
        if absent:
            return [self.t(absent["statement"])]
        category = self.category(category_id)
        if category:
            r = category["retention"]
            return [phrase("retention_one", self.lang, name=self.t(category["name"]), period=self.t(r["period"]), reason=self.t(r["reason"]))]
        return [phrase("retention_intro", self.lang), [(self.t(c["name"]), self.t(c["retention"]["period"])) for c in self.kb["categories"]]]

    def _topic_text(self, key: str) -> str:
        return self.t(self.kb["topics"]["topics"][key])

    def _right(self, key: str) -> str:
        return self.t(self.kb["topics"]["rights"][key])

    def _security(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        return [self._topic_text("security")]

    def _access_my_data(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        return [self._right("access"), self._right("portability")]

    def _correct_my_data(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        return [self._right("correction")]

    def _delete_my_data(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        kept = [(self.t(c["name"]), self.t(c["kept_after_erasure"])) for c in self.kb["categories"] if c.get("kept_after_erasure")]
        return [self._right("erasure"), phrase("kept_intro", self.lang), kept] if kept else [self._right("erasure")]

    def _opt_out(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        lines = [(self.t(p["name"]), self.t(p["opt_out"])) for p in self.kb["purposes"] if p.get("opt_out")]
        rights: List[Block] = [self._right("objection"), self._right("withdraw_consent")]
        return rights + [phrase("opt_out_intro", self.lang), lines] if lines else rights

    def _policy_changes(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        info = self.kb["version"]
        if not info["changelog"]:
            return [phrase("first_version", self.lang, v=info["id"]), self._topic_text("policy_changes")]
        intro = phrase("changes_intro", self.lang, v=info["id"], date=info["effective_date"])
        return [intro, [(self.t(e["text"]), "") for e in info["changelog"]], self._topic_text("policy_changes")]

    def _children_and_specific_audiences(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        return [self._topic_text("children_and_specific_audiences")]

    def _international_transfers(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        abroad = [r for r in self.recipients() if r["outside_eu"]]
        if not abroad:
            return [self._topic_text("international_transfers"), phrase("no_transfers", self.lang)]
        lines = [(f"{r['name']} ({r['country']})", f"{self.t(r['role'])}; {self.t(r['safeguard'])}") for r in abroad]
        return [self._topic_text("international_transfers"), phrase("transfers_intro", self.lang), lines]

    def _cookies_tracking(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        return [self._topic_text("cookies_tracking")]

    def _contact_dpo(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        company = self.kb["company"]
        dpo, service = company["dpo"], company["customer_service"]
        blocks: List[Block] = [
            phrase("dpo", self.lang, company=company["name"], name=dpo["name"], email=dpo["email"], phone=dpo["phone"]),
            phrase("service", self.lang, email=service["email"], phone=service["phone"], hours=self.t(service["hours"])),
            self._right("complaint"),
        ]
        return [phrase("human", self.lang), *blocks] if intent == "ask_human" else blocks

    def _out_of_scope(self, category_id: Optional[str], intent: Optional[str]) -> List[Block]:
        return [self._topic_text("out_of_scope")]

    # -- not tied to one topic ------------------------------------------------------------------

    def changes_since(self, newer_versions: List[Version], old_version_id: str) -> str:
        """The notice for a returning customer: every changelog entry published since their last visit
        (their first sentences when all would not fit; "what changed?" gives the whole entries)."""
        entries: Bullets = [(self.t(e["text"]), "") for v in newer_versions for e in v["version"]["changelog"]]
        source = phrase("source", self.lang, v=self.version_id)
        body, _ = fit([phrase("since_last_visit", self.lang, old=old_version_id), entries], FIRST_ANSWER_LIMIT - len(source) - 1)
        return f"{body}\n{source}"

    def clarify(self, intents: List[str]) -> Answer:
        topics: List[str] = []
        for intent in intents:
            topic = INTENT_TOPICS.get(intent)
            if topic and topic not in topics and topic != "out_of_scope":
                topics.append(topic)
        buttons = [{"title": TOPIC_LABELS[t][self.lang], "payload": f"/{_intent_for(t)}"} for t in topics[:3]]
        return Answer(topic="clarify", text=phrase("clarify", self.lang), version=self.version_id, buttons=buttons)


def _intent_for(topic: str) -> str:
    return next(intent for intent, t in INTENT_TOPICS.items() if t == topic)
