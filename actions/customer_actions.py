"""Actions for a verified customer: verify, see their own data, file privacy requests, track them.

Who the customer is comes only from the back office's binding of this conversation (made by the
website channel from a signed login, or by a one-time e-mail code), and only for a message from the
channel and connection that verified it (`Presence`), never from the sender id alone, slots or
entities the customer could type (`/affirm{"customer_id": ...}` gets nowhere). What the customer
asked for waits in the `pending_request` slot until they are verified; from the moment the summary
is shown, the request is a draft in the back office and the slot holds only its id, so "yes" files
exactly what was shown, once (a crafted slot files nothing; "yes" again after a timeout never files
twice).
"""
from __future__ import annotations

import datetime as dt
import logging
from abc import ABCMeta, abstractmethod
from zoneinfo import ZoneInfo
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import rights
from .actions import UNAVAILABLE, answer_from_knowledge, backoffice, conversation_language
from .answers import INTENT_TOPICS, Composer
from .backoffice import BackOfficeError, Presence, Refused

logger = logging.getLogger(__name__)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the customers' clock: "ask again after 14:05"

SAY = {
    "verify_first": {
        "nl": "Daarvoor moet ik eerst weten dat jij het bent. Log in op de website (dan herken ik je hier), of typ het "
              "e-mailadres dat je bij ons gebruikt: ik stuur je dan een code van 6 cijfers. Een kopie van je ID vraag ik nooit.",
        "en": "For that I first need to know it's you. Log in on the website (then I recognise you here), or type the e-mail "
              "address you use with us and I'll send you a 6-digit code. I never ask for a copy of your ID.",
    },
    "code_sent": {
        "nl": "Als dit adres bij een klant hoort, is er nu een code van 6 cijfers naartoe gestuurd. Hij is {minutes} minuten geldig. Typ de code hier.",
        "en": "If this address belongs to a customer, a 6-digit code is on its way to it. It is valid for {minutes} minutes. Type the code here.",
    },
    "not_an_email": {"nl": "Dat lijkt geen e-mailadres. Probeer het nog eens?", "en": "That doesn't look like an e-mail address. Try again?"},
    "already_verified": {
        "nl": "Je bent in dit gesprek al gecontroleerd. Ik laat alleen jouw eigen gegevens zien en dien alleen voor jou verzoeken in.",
        "en": "You are already verified in this conversation. I only show your own data and file requests only for you.",
    },
    "verified": {"nl": "Dank je, je bent gecontroleerd.", "en": "Thank you, you are verified."},
    "verified_next": {
        "nl": "Wat kan ik voor je doen? Bijvoorbeeld: 'laat mijn gegevens zien' of 'wat is de status van mijn verzoek?'.",
        "en": "What can I do for you? For example: 'show my data' or 'what is the status of my request?'.",
    },
    "code_wrong": {"nl": "Die code klopt niet. Je kunt het nog {left} keer proberen.", "en": "That code is not right. You have {left} more tries."},
    "code_wrong_last": {"nl": "Die code klopt niet. Je kunt het nog 1 keer proberen.", "en": "That code is not right. You have 1 more try."},
    "code_locked": {
        "nl": "Te vaak een verkeerde code: deze code is geblokkeerd. Vraag na {when} een nieuwe code aan door je e-mailadres opnieuw te typen.",
        "en": "Too many wrong codes: this code is blocked. Ask for a new code after {when} by typing your e-mail address again.",
    },
    "code_expired": {"nl": "Deze code is verlopen. Typ je e-mailadres opnieuw voor een nieuwe code.", "en": "This code has expired. Type your e-mail address again for a new one."},
    "code_used": {"nl": "Deze code is al gebruikt. Typ je e-mailadres opnieuw voor een nieuwe code.", "en": "This code has been used already. Type your e-mail address again for a new one."},
    "no_code": {
        "nl": "Ik heb in dit gesprek nog geen code gestuurd. Typ eerst je e-mailadres.",
        "en": "I haven't sent a code in this conversation yet. Type your e-mail address first.",
    },
    "other_customer": {
        "nl": "Dit gesprek hoort al bij een andere klant. Begin een nieuw gesprek om jezelf te laten controleren.",
        "en": "This conversation already belongs to another customer. Start a new conversation to verify yourself.",
    },
    "too_many_codes": {
        "nl": "Er zijn te veel codes aangevraagd. Probeer het na {when} opnieuw, of log in op de website.",
        "en": "Too many codes were asked for. Try again after {when}, or log in on the website.",
    },
    "which_field": {"nl": "Welk gegeven wil je laten corrigeren?", "en": "Which detail should we correct?"},
    "type_value": {
        "nl": "Typ je juiste {field} zo: 'nieuw {word}: ...'. Bijvoorbeeld: 'nieuw {word}: {example}'.",
        "en": "Type your correct {field} like this: 'new {word}: ...'. For example: 'new {word}: {example}'.",
    },
    "not_filed": {
        "nl": "Het indienen is niet gelukt: {detail}. Er is niets ingediend.",
        "en": "Filing did not work: {detail}. Nothing was filed.",
    },
    "filing_unsure": {
        "nl": "Ik kon het indienen niet bevestigen: ons systeem reageert even niet. Zeg over een minuut nog eens 'ja': "
              "het wordt nooit twee keer ingediend.",
        "en": "I could not confirm the filing: our system is not answering right now. Say 'yes' again in a minute: "
              "it will never be filed twice.",
    },
    "nothing_pending": {
        "nl": "Prima. Wat wil je weten over je gegevens? Bijvoorbeeld: welke gegevens we hebben, hoe lang we ze bewaren of met wie we ze delen.",
        "en": "Great. What would you like to know about your data? For example: what we hold, how long we keep it, or who we share it with.",
    },
    "nothing_to_cancel": {"nl": "Geen probleem. Stel gerust een andere vraag over je gegevens.", "en": "No problem. Feel free to ask anything else about your data."},
    "no_draft": {
        "nl": "Er staat in dit gesprek geen verzoek klaar om te bevestigen, dus er is niets ingediend. Zeg wat je wilt "
              "(bijvoorbeeld 'verwijder mijn gegevens'), dan laat ik je eerst zien wat ik zou indienen.",
        "en": "There is no request waiting for your confirmation in this conversation, so nothing was filed. Tell me what "
              "you would like (for example 'delete my data') and I'll first show you what I would file.",
    },
    "draft_expired": {
        "nl": "Dit verzoek heeft te lang op je bevestiging gewacht, dus er is niets ingediend. Vraag het opnieuw, dan "
              "laat ik je een nieuwe samenvatting zien.",
        "en": "This request waited too long for your confirmation, so nothing was filed. Ask again and I'll show you a "
              "fresh summary.",
    },
}
MAX_DRAFT_ID = 40
FIELD_EXAMPLES = {
    "address": {"nl": ("adres", "Kerkstraat 5, 1234 AB Utrecht"), "en": ("address", "Kerkstraat 5, 1234 AB Utrecht")},
    "email": {"nl": ("e-mailadres", "naam@voorbeeld.nl"), "en": ("e-mail", "name@example.com")},
    "phone": {"nl": ("telefoonnummer", "06 12345678"), "en": ("phone number", "+31 6 12345678")},
    "name": {"nl": ("naam", "Jan Jansen"), "en": ("name", "Jan Jansen")},
}


def say(key: str, language: str, **values: Any) -> str:
    return SAY[key][language].format(**values)


def entity_values(tracker: Tracker) -> Dict[str, List[str]]:
    found: Dict[str, List[str]] = {}
    for entity in tracker.latest_message.get("entities", []):
        if isinstance(entity.get("value"), str):
            found.setdefault(entity["entity"], []).append(entity["value"])
    return found


def composer_for(language: str) -> Composer:
    client = backoffice()
    return Composer(client.version(client.current_version_id()), language)


def held_categories(composer: Composer) -> List[str]:
    """The knowledge base's categories that a connected system holds: what a request really covers."""
    routed = backoffice().request_categories()
    return [c["id"] for c in composer.kb["categories"] if c["id"] in routed]


class CustomerAction(Action, metaclass=ABCMeta):
    """Shared steps: the verified customer of this conversation, and carrying on with what was asked."""

    def customer(self, tracker: Tracker) -> Optional[str]:
        return backoffice().verified_customer(tracker.sender_id, Presence.of(tracker))

    def already_verified(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> bool:
        """A verified conversation sends and checks no codes: it stays the customer it was verified as."""
        if self.customer(tracker) is None:
            return False
        dispatcher.utter_message(text=say("already_verified", language))
        return True

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        language = conversation_language(tracker)
        try:
            return self.act(dispatcher, tracker, language)
        except BackOfficeError as exc:
            logger.error("%s: back office unavailable: %s", self.name(), exc)
            dispatcher.utter_message(text=UNAVAILABLE[language])
            return []

    @abstractmethod
    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
        """The action's own job, with the conversation's language."""

    def carry_on(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str,
                 pending: Optional[Dict[str, Any]]) -> List[EventType]:
        """Do what the customer asked for before they were verified (or now, if they already are)."""
        kind = pending.get("type") if isinstance(pending, dict) else None
        if kind == "show_data":
            return show_my_data(dispatcher, tracker, language)
        if kind == "status":
            return request_status(dispatcher, tracker, language)
        if isinstance(kind, str):
            return ask_to_confirm(dispatcher, tracker, pending, language)  # type: ignore[arg-type]
        dispatcher.utter_message(text=say("verified_next", language))
        return []


def show_my_data(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
    client = backoffice()
    presence = Presence.of(tracker)
    try:
        data = client.my_data(tracker.sender_id, language, presence)
        links = client.export_links(tracker.sender_id, presence)
    except Refused as exc:
        logger.warning("my data refused: %s", exc)
        dispatcher.utter_message(text=say("verify_first", language))
        return [SlotSet("pending_request", {"type": "show_data"})]
    text = rights.my_data_report(data, links, language)
    if rights.mentions_someone_else(tracker.latest_message.get("text") or ""):
        text = f"{rights.p('data_only_yours', language)}\n{text}"
    dispatcher.utter_message(text=text)
    return [SlotSet("pending_request", None)]


def request_status(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
    try:
        listing = backoffice().conversation_requests(tracker.sender_id, Presence.of(tracker))
    except Refused as exc:
        logger.warning("request status refused: %s", exc)
        dispatcher.utter_message(text=say("verify_first", language))
        return [SlotSet("pending_request", {"type": "status"})]
    dispatcher.utter_message(text=rights.status_report(listing.get("requests", []), language))
    return [SlotSet("pending_request", None)]


def ask_to_confirm(dispatcher: CollectingDispatcher, tracker: Tracker, draft: Dict[str, Any], language: str) -> List[EventType]:
    """Ask for what is still missing, or store the draft in the back office, show its summary and ask to confirm."""
    missing = draft.get("missing")
    if missing == "purpose":
        dispatcher.utter_message(text=rights.p("which_purpose", language), buttons=rights.purpose_buttons(language))
        return [SlotSet("pending_request", None)]
    if missing == "field":
        buttons = [{"title": rights.t("field", f, language).capitalize(),
                    "payload": f'/request_correction{{"correction_field": "{f}"}}'} for f in rights.FIELDS]
        dispatcher.utter_message(text=say("which_field", language), buttons=buttons)
        return [SlotSet("pending_request", None)]
    if missing == "value":
        field = draft["details"]["field"]
        word, example = FIELD_EXAMPLES[field][language]
        dispatcher.utter_message(text=say("type_value", language, field=rights.t("field", field, language), word=word, example=example))
        return [SlotSet("pending_request", None)]
    composer = composer_for(language)
    try:
        stored = backoffice().make_draft(tracker.sender_id, draft, composer.version_id, Presence.of(tracker))
    except Refused as exc:
        logger.warning("the draft was refused: %s", exc)
        if exc.reason == "not_verified":
            dispatcher.utter_message(text=say("verify_first", language))
            return [SlotSet("pending_request", {k: draft[k] for k in ("type", "categories", "details") if k in draft})]
        dispatcher.utter_message(text=say("not_filed", language, detail=exc.body.get("detail") or exc.reason))
        return [SlotSet("pending_request", None)]
    dispatcher.utter_message(text=rights.summary(stored, composer, held_categories(composer)),
                             buttons=rights.confirm_buttons(language))
    return [SlotSet("pending_request", {"draft_id": stored["draft_id"]})]


class ActionShowMyData(CustomerAction):
    """Show a verified customer what the company holds about them (Art. 15), with download links."""

    def name(self) -> Text:
        return "action_show_my_data"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
        if self.customer(tracker) is None:
            events = answer_from_knowledge(dispatcher, tracker, INTENT_TOPICS["request_access"], "request_access")
            dispatcher.utter_message(text=say("verify_first", language))
            return events + [SlotSet("pending_request", {"type": "show_data"})]
        return [SlotSet("answer_topic", INTENT_TOPICS["request_access"])] + show_my_data(dispatcher, tracker, language)


class ActionRequestStatus(CustomerAction):
    """Answer "where is my request?" from the ledger."""

    def name(self) -> Text:
        return "action_request_status"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
        topic = [SlotSet("answer_topic", INTENT_TOPICS["request_status"])]
        if self.customer(tracker) is None:
            dispatcher.utter_message(text=say("verify_first", language))
            return topic + [SlotSet("pending_request", {"type": "status"})]
        return topic + request_status(dispatcher, tracker, language)


class ActionStartRequest(CustomerAction):
    """Turn "delete my data", "stop the newsletter", "new address: ..." into a request to confirm."""

    def name(self) -> Text:
        return "action_start_request"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        topic = [SlotSet("answer_topic", INTENT_TOPICS.get(intent))]
        composer = composer_for(language)
        draft = rights.draft_request(intent, tracker.latest_message.get("text") or "", entity_values(tracker),
                                     language, held_categories(composer))
        if self.customer(tracker) is None:
            # What the right is and how it works, for everyone; filing waits for verification.
            events = answer_from_knowledge(dispatcher, tracker, INTENT_TOPICS.get(intent, "out_of_scope"), intent)
            dispatcher.utter_message(text=say("verify_first", language))
            return events + [SlotSet("pending_request", draft)]
        return topic + ask_to_confirm(dispatcher, tracker, draft, language)


class ActionConfirmRequest(CustomerAction):
    """ "Yes": file the confirmed request and give the receipt (the request is committed before we say so)."""

    def name(self) -> Text:
        return "action_confirm_request"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
        pending = tracker.get_slot("pending_request")
        draft_id = pending.get("draft_id") if isinstance(pending, dict) else None
        if not isinstance(draft_id, str) or not 0 < len(draft_id) <= MAX_DRAFT_ID:
            # Nothing was shown to confirm: whatever else the slot holds (a crafted dict, a request still
            # waiting for verification) is never filed.
            dispatcher.utter_message(text=say("nothing_pending" if not pending else "no_draft", language))
            return []
        try:
            filed = backoffice().file_draft(tracker.sender_id, draft_id, Presence.of(tracker))
        except Refused as exc:
            logger.warning("filing draft %s refused: %s", draft_id[:14], exc)
            if exc.reason == "not_verified":
                dispatcher.utter_message(text=say("verify_first", language))
                return []
            key = {"no_draft": "no_draft", "draft_expired": "draft_expired"}.get(exc.reason)
            text = say(key, language) if key else say("not_filed", language, detail=exc.body.get("detail") or exc.reason)
            dispatcher.utter_message(text=text)
            return [SlotSet("pending_request", None)]
        except BackOfficeError as exc:
            logger.error("filing draft %s: %s", draft_id[:14], exc)
            dispatcher.utter_message(text=say("filing_unsure", language))
            return []  # the draft id stays: "yes" again files it once
        dispatcher.utter_message(text=rights.receipt(filed, filed.get("draft") or {}, language))
        return [SlotSet("pending_request", None)]


class ActionCancelRequest(Action):
    """ "No": drop the request that was waiting for confirmation."""

    def name(self) -> Text:
        return "action_cancel_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        language = conversation_language(tracker)
        if tracker.get_slot("pending_request"):
            dispatcher.utter_message(text=rights.p("canceled", language))
            return [SlotSet("pending_request", None)]
        dispatcher.utter_message(text=say("nothing_to_cancel", language))
        return []


class ActionSendCode(CustomerAction):
    """Send a one-time code to the typed address, if the company knows it (the answer never says whether)."""

    def name(self) -> Text:
        return "action_send_code"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
        if self.already_verified(dispatcher, tracker, language):
            return []
        email = next(iter(entity_values(tracker).get("email", [])), None)
        if not email:
            dispatcher.utter_message(text=say("not_an_email", language))
            return []
        try:
            sent = backoffice().send_email_code(tracker.sender_id, email, language, Presence.of(tracker))
        except Refused as exc:
            if exc.status == 422:
                dispatcher.utter_message(text=say("not_an_email", language))
            else:
                key = "code_locked" if exc.reason == "locked" else "too_many_codes"
                dispatcher.utter_message(text=say(key, language, when=_clock(exc.body.get("locked_until"), exc.body.get("retry_after_seconds"))))
            return []
        dispatcher.utter_message(text=say("code_sent", language, minutes=sent.get("code_valid_minutes", 10)))
        return []


class ActionCheckCode(CustomerAction):
    """Check the typed code; once verified, carry on with what the customer had asked for."""

    def name(self) -> Text:
        return "action_check_code"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
        if self.already_verified(dispatcher, tracker, language):
            return []
        code = next(iter(entity_values(tracker).get("code", [])), "")
        try:
            verified = backoffice().check_email_code(tracker.sender_id, code, Presence.of(tracker))
        except Refused as exc:
            body = exc.body
            messages = {
                "wrong_code": lambda: (say("code_wrong_last", language) if body.get("attempts_left") == 1
                                       else say("code_wrong", language, left=body.get("attempts_left", 0))),
                "locked": lambda: say("code_locked", language, when=_clock(body.get("locked_until"))),
                "expired": lambda: say("code_expired", language),
                "no_code": lambda: say("no_code", language),
                "other_customer": lambda: say("other_customer", language),
            }
            dispatcher.utter_message(text=messages.get(exc.reason, lambda: say("code_used", language))())
            return []
        dispatcher.utter_message(text=say("verified", language))
        return self.carry_on(dispatcher, tracker, language, tracker.get_slot("pending_request"))


def _clock(moment: Optional[str], seconds: Any = None) -> str:
    """When the customer may try again, as the clock in the Netherlands shows it ("14:05")."""
    try:
        at = dt.datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None
    except ValueError:
        at = None
    if at is None and isinstance(seconds, (int, float)) and 0 < seconds < 86400:
        at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    if at is None or at.tzinfo is None:
        return "15 min"
    return at.astimezone(AMSTERDAM).strftime("%H:%M")
