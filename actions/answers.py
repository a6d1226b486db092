"""Composing answers from the knowledge base, in Dutch or English.

Pure functions over one knowledge-base version (the JSON the back office serves, every text as
`{"nl": ..., "en": ...}`): no Rasa, no HTTP, so they are tested on their own. Every answer ends by
naming the version it comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

Version = Dict[str, Any]

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
    "purposes_intro": {"nl": "Hiervoor gebruiken we je gegevens:", "en": "This is what we use your data for:"},
    "purposes_for": {"nl": "Waarvoor we je {name} gebruiken:", "en": "What we use your {name} for:"},
    "basis": {"nl": "grondslag: {basis}", "en": "legal basis: {basis}"},
    "automated": {"nl": "Geautomatiseerd besluit: {logic}", "en": "Automated decision: {logic}"},
    "benefit_intro": {"nl": "Wat je ervoor terugkrijgt:", "en": "What you get in return:"},
    "retention_one": {"nl": "We bewaren je {name}: {period}. Waarom: {reason}", "en": "We keep your {name}: {period}. Why: {reason}"},
    "retention_intro": {"nl": "Zo lang bewaren we je gegevens:", "en": "This is how long we keep your data:"},
    "recipients_intro": {"nl": "Wie je gegevens ontvangt:", "en": "Who receives your data:"},
    "outside_eu": {"nl": "buiten de EU, beschermd door: {safeguard}", "en": "outside the EU, protected by: {safeguard}"},
    "no_transfers": {"nl": "Geen van onze ontvangers zit buiten de EU.", "en": "None of our recipients is outside the EU."},
    "transfers_intro": {"nl": "Ontvangers buiten de EU:", "en": "Recipients outside the EU:"},
    "kept_intro": {"nl": "Wat we ook na verwijdering moeten bewaren:", "en": "What we must keep even after erasure:"},
    "opt_out_intro": {"nl": "Zo zet je het uit:", "en": "How to switch it off:"},
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
}


@dataclass
class Answer:
    topic: str
    text: str
    version: str
    buttons: List[Dict[str, str]] = field(default_factory=list)


def phrase(key: str, language: str, **values: Any) -> str:
    return PHRASES[key][language].format(**values)


def bullets(lines: List[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)


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

    def recipients(self) -> List[Dict[str, Any]]:
        seen: Dict[str, Dict[str, Any]] = {}
        for purpose in self.kb["purposes"]:
            for recipient in purpose["recipients"]:
                seen.setdefault(recipient["name"], recipient)
        return list(seen.values())

    def answer(self, topic: str, category_id: Optional[str] = None, intent: Optional[str] = None) -> Answer:
        compose = getattr(self, f"_{topic}")
        body = compose(category_id, intent)
        text = f"{body}\n{phrase('source', self.lang, v=self.version_id)}"
        return Answer(topic=topic, text=text, version=self.version_id)

    # -- one method per topic -------------------------------------------------------------------

    def _what_data_collected(self, category_id: Optional[str], intent: Optional[str]) -> str:
        absent = self.not_collected(category_id)
        if absent:
            return self.t(absent["statement"])
        category = self.category(category_id)
        if category:
            purposes = ", ".join(self.t(p["name"]) for p in self.purposes_for(category["id"]))
            return "\n".join(
                [
                    phrase("we_hold", self.lang, name=self.t(category["name"]), description=self.t(category["description"])),
                    phrase("from_source", self.lang, source=self.t(category["source"])),
                    phrase("used_for", self.lang, purposes=purposes),
                ]
            )
        lines = [self.t(c["name"]) for c in self.kb["categories"]]
        return f"{phrase('overview', self.lang)}\n{bullets(lines)}\n{phrase('overview_more', self.lang)}"

    def _why_data_used(self, category_id: Optional[str], intent: Optional[str]) -> str:
        category = self.category(category_id)
        purposes = self.purposes_for(category["id"]) if category else self.kb["purposes"]
        if intent == "ask_benefit":
            lines = [f"{self.t(p['name'])}: {self.t(p['benefit'])}" for p in purposes]
            return f"{phrase('benefit_intro', self.lang)}\n{bullets(lines)}"
        lines = []
        for p in purposes:
            basis = phrase("basis", self.lang, basis=LEGAL_BASES[p["legal_basis"]][self.lang])
            line = f"{self.t(p['name'])} ({basis}): {self.t(p['description'])}"
            if p["automated_decision"]["applies"]:
                line += " " + phrase("automated", self.lang, logic=self.t(p["automated_decision"]["logic"]))
            lines.append(line)
        intro = phrase("purposes_for", self.lang, name=self.t(category["name"])) if category else phrase("purposes_intro", self.lang)
        return f"{intro}\n{bullets(lines)}"

    def _sharing_third_parties(self, category_id: Optional[str], intent: Optional[str]) -> str:
        lines = []
        for r in self.recipients():
            line = f"{r['name']} ({r['country']}): {self.t(r['role'])}"
            if r["outside_eu"]:
                line += "; " + phrase("outside_eu", self.lang, safeguard=self.t(r["safeguard"]))
            lines.append(line)
        return f"{self.t(self.kb['topics']['topics']['sharing_third_parties'])}\n{phrase('recipients_intro', self.lang)}\n{bullets(lines)}"

    def _retention(self, category_id: Optional[str], intent: Optional[str]) -> str:
        absent = self.not_collected(category_id)
        if absent:
            return self.t(absent["statement"])
        category = self.category(category_id)
        if category:
            r = category["retention"]
            return phrase("retention_one", self.lang, name=self.t(category["name"]), period=self.t(r["period"]), reason=self.t(r["reason"]))
        lines = [f"{self.t(c['name'])}: {self.t(c['retention']['period'])}" for c in self.kb["categories"]]
        return f"{phrase('retention_intro', self.lang)}\n{bullets(lines)}"

    def _topic_text(self, key: str) -> str:
        return self.t(self.kb["topics"]["topics"][key])

    def _right(self, key: str) -> str:
        return self.t(self.kb["topics"]["rights"][key])

    def _security(self, category_id: Optional[str], intent: Optional[str]) -> str:
        return self._topic_text("security")

    def _access_my_data(self, category_id: Optional[str], intent: Optional[str]) -> str:
        return f"{self._right('access')}\n{self._right('portability')}"

    def _correct_my_data(self, category_id: Optional[str], intent: Optional[str]) -> str:
        return self._right("correction")

    def _delete_my_data(self, category_id: Optional[str], intent: Optional[str]) -> str:
        kept = [f"{self.t(c['name'])}: {self.t(c['kept_after_erasure'])}" for c in self.kb["categories"] if c.get("kept_after_erasure")]
        text = self._right("erasure")
        return f"{text}\n{phrase('kept_intro', self.lang)}\n{bullets(kept)}" if kept else text

    def _opt_out(self, category_id: Optional[str], intent: Optional[str]) -> str:
        lines = [f"{self.t(p['name'])}: {self.t(p['opt_out'])}" for p in self.kb["purposes"] if p.get("opt_out")]
        text = f"{self._right('objection')}\n{self._right('withdraw_consent')}"
        return f"{text}\n{phrase('opt_out_intro', self.lang)}\n{bullets(lines)}" if lines else text

    def _policy_changes(self, category_id: Optional[str], intent: Optional[str]) -> str:
        info = self.kb["version"]
        if info["changelog"]:
            changes = f"{phrase('changes_intro', self.lang, v=info['id'], date=info['effective_date'])}\n" + bullets(
                [self.t(e["text"]) for e in info["changelog"]]
            )
        else:
            changes = phrase("first_version", self.lang, v=info["id"])
        return f"{changes}\n{self._topic_text('policy_changes')}"

    def _children_and_specific_audiences(self, category_id: Optional[str], intent: Optional[str]) -> str:
        return self._topic_text("children_and_specific_audiences")

    def _international_transfers(self, category_id: Optional[str], intent: Optional[str]) -> str:
        abroad = [r for r in self.recipients() if r["outside_eu"]]
        lines = [f"{r['name']} ({r['country']}): {self.t(r['role'])}; {self.t(r['safeguard'])}" for r in abroad]
        listing = f"{phrase('transfers_intro', self.lang)}\n{bullets(lines)}" if lines else phrase("no_transfers", self.lang)
        return f"{self._topic_text('international_transfers')}\n{listing}"

    def _cookies_tracking(self, category_id: Optional[str], intent: Optional[str]) -> str:
        return self._topic_text("cookies_tracking")

    def _contact_dpo(self, category_id: Optional[str], intent: Optional[str]) -> str:
        company = self.kb["company"]
        dpo, service = company["dpo"], company["customer_service"]
        lines = [
            phrase("dpo", self.lang, company=company["name"], name=dpo["name"], email=dpo["email"], phone=dpo["phone"]),
            phrase("service", self.lang, email=service["email"], phone=service["phone"], hours=self.t(service["hours"])),
            self._right("complaint"),
        ]
        if intent == "ask_human":
            lines.insert(0, phrase("human", self.lang))
        return "\n".join(lines)

    def _out_of_scope(self, category_id: Optional[str], intent: Optional[str]) -> str:
        return self._topic_text("out_of_scope")

    # -- not tied to one topic ------------------------------------------------------------------

    def changes_since(self, newer_versions: List[Version], old_version_id: str) -> str:
        """The notice for a returning customer: every changelog entry published since their last visit."""
        lines = [self.t(e["text"]) for v in newer_versions for e in v["version"]["changelog"]]
        return f"{phrase('since_last_visit', self.lang, old=old_version_id)}\n{bullets(lines)}\n{phrase('source', self.lang, v=self.version_id)}"

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
