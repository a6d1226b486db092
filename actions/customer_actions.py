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
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.value_shapes import names_an_email_address
from chatprotocol import HandoffReason

from . import rights
from .actions import answer_from_knowledge, backoffice, conversation_language
from .answers import INTENT_TOPICS, Composer
from .backoffice import BackOfficeError, Refused, presence_of
from .handoff import hand_over
from .sentences import FIELD_EXAMPLES, FIELD_NAMES, sentence

logger = logging.getLogger(__name__)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the customers' clock: "ask again after 14:05"

MAX_DRAFT_ID = 40
STOP_PURPOSE_FORM = "stop_purpose_form"
# the form that takes the customer's next message as the value just asked for (see ask_for_value)
VALUE_FORM = "typed_value_form"
def entity_values(tracker: Tracker) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entity in tracker.latest_message.get("entities", []):
        if isinstance(entity.get("value"), str):
            found.setdefault(entity["entity"], []).append(entity["value"])
    return found


def composer_for(language: str) -> Composer:
    client = backoffice()
    return Composer(client.version(client.current_version_id()), language)


def held_categories(composer: Composer) -> list[str]:
    """The knowledge base's categories that a connected system holds: what a request really covers."""
    routed = backoffice().request_categories()
    return [c["id"] for c in composer.kb["categories"] if c["id"] in routed]


class CustomerAction(Action, metaclass=ABCMeta):
    """Shared steps: the verified customer of this conversation, and carrying on with what was asked."""

    def customer(self, tracker: Tracker) -> str | None:
        return backoffice().verified_customer(tracker.sender_id, presence_of(tracker))

    def already_verified(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> bool:
        """A verified conversation sends and checks no codes: it stays the customer it was verified as."""
        if self.customer(tracker) is None:
            return False
        dispatcher.utter_message(text=sentence("already_verified", language))
        return True

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        language = conversation_language(tracker)
        try:
            return self.act(dispatcher, tracker, language)
        except BackOfficeError as exc:
            logger.error("%s: back office unavailable: %s", self.name(), exc)
            dispatcher.utter_message(text=sentence("unavailable", language))
            return []

    @abstractmethod
    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        """The action's own job, with the conversation's language."""

    def carry_on(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str,
                 pending: dict[str, Any] | None) -> list[EventType]:
        """Do what the customer asked for before they were verified (or now, if they already are)."""
        kind = pending.get("type") if isinstance(pending, dict) else None
        if kind == "show_data":
            return show_my_data(dispatcher, tracker, language)
        if kind == "status":
            return request_status(dispatcher, tracker, language)
        if kind == "ticket":
            return leave_ticket(dispatcher, tracker, language, ticket_reason(pending))
        if isinstance(kind, str):
            return ask_to_confirm(dispatcher, tracker, pending, language)  # type: ignore[arg-type]
        dispatcher.utter_message(text=sentence("verified_next", language))
        return []


def ticket_reason(pending: Any) -> HandoffReason:
    """The reason kept with the offer of a ticket (in the `pending_request` slot, which anyone can set):
    a person asked for, unless it names a known reason."""
    try:
        return HandoffReason(pending.get("reason") if isinstance(pending, dict) and pending.get("type") == "ticket" else None)
    except ValueError:
        return HandoffReason.ASKED_FOR_PERSON


def leave_ticket(dispatcher: CollectingDispatcher, tracker: Tracker, language: str, reason: HandoffReason) -> list[EventType]:
    """Record the ticket for the verified customer; ask them to verify first otherwise."""
    try:
        ticket = backoffice().record_ticket(tracker.sender_id, reason, language, presence_of(tracker))
    except Refused as exc:
        if exc.reason != "not_verified":
            raise BackOfficeError(str(exc)) from None
        dispatcher.utter_message(text=sentence("ticket_verify_first", language))
        return [SlotSet("pending_request", {"type": "ticket", "reason": reason})]
    answer_by = dt.date.fromisoformat(ticket["answer_by"]).strftime("%d-%m-%Y")
    dispatcher.utter_message(text=sentence("ticket_recorded", language, ticket=ticket["ticket"], date=answer_by))
    return [SlotSet("pending_request", None)]


def show_my_data(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
    client = backoffice()
    presence = presence_of(tracker)
    try:
        data = client.my_data(tracker.sender_id, language, presence)
        links = client.export_links(tracker.sender_id, language, presence)
    except Refused as exc:
        logger.warning("my data refused: %s", exc)
        dispatcher.utter_message(text=sentence("verify_first", language))
        return [SlotSet("pending_request", {"type": "show_data"})]
    text = rights.my_data_report(data, links, language)
    if names_an_email_address(tracker.latest_message.get("text") or ""):
        text = f"{sentence('data_only_yours', language)}\n{text}"
    dispatcher.utter_message(text=text)
    return [SlotSet("pending_request", None)]


def request_status(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
    try:
        listing = backoffice().conversation_requests(tracker.sender_id, presence_of(tracker))
    except Refused as exc:
        logger.warning("request status refused: %s", exc)
        dispatcher.utter_message(text=sentence("verify_first", language))
        return [SlotSet("pending_request", {"type": "status"})]
    dispatcher.utter_message(text=rights.status_report(listing.get("requests", []), language))
    return [SlotSet("pending_request", None)]


def ask_for_value(draft: dict[str, Any]) -> list[EventType]:
    """The customer's next message is taken as the value just asked for, before anything else (the form
    typed_value_form; action_take_value carries on). The draft waits for it in pending_request, unconfirmed:
    its `missing` says what was asked."""
    waiting = {k: draft[k] for k in ("type", "categories", "details", "missing") if k in draft}
    return [SlotSet("pending_request", waiting), SlotSet("typed_value", None), FollowupAction(VALUE_FORM)]


def how_to_stop(dispatcher: CollectingDispatcher, tracker: Tracker, draft: dict[str, Any],
                language: str) -> list[EventType]:
    """The register's own instruction to switch off each purpose named. Verifying the customer serves a
    purpose only where its data is linked to them: for the Wi-Fi counts alone nobody is asked who they are."""
    client = backoffice()
    vocabulary = client.vocabulary()
    purposes = draft["details"]["purposes"]
    register = dict(vocabulary.consent_purposes)
    answer = composer_for(language).how_to_stop([register.get(p, p) for p in purposes])
    dispatcher.utter_message(text=answer.text)
    client.record_answer(tracker.sender_id, answer.version, answer.topic, language)
    events: list[EventType] = [SlotSet("kb_version", answer.version), SlotSet("kb_version_seen", answer.version),
                               SlotSet("answer_topic", answer.topic)]
    if all(p in vocabulary.unlinked for p in purposes):
        dispatcher.utter_message(text=sentence("not_linked", language))
        return events + [SlotSet("pending_request", None)]
    dispatcher.utter_message(text=sentence("verify_first", language))
    return events + [SlotSet("pending_request", draft)]


def ask_to_confirm(dispatcher: CollectingDispatcher, tracker: Tracker, draft: dict[str, Any], language: str) -> list[EventType]:
    """Ask for what is still missing, or store the draft in the back office, show its summary and ask to confirm."""
    missing = draft.get("missing")
    if missing == "purpose":
        # "What would you like us to stop?" is asked by the form, so the next message is taken as the answer
        waiting = {k: draft[k] for k in ("type", "categories", "details", "missing") if k in draft}
        return [SlotSet("pending_request", waiting), SlotSet("stop_purpose", None), FollowupAction(STOP_PURPOSE_FORM)]
    if missing == "field":
        buttons = [{"title": FIELD_NAMES[f][language].capitalize(),
                    "payload": f'/request_correction{{"correction_field": "{f}"}}'}
                   for f in backoffice().vocabulary().correctable_fields]
        dispatcher.utter_message(text=sentence("which_field", language), buttons=buttons)
        return ask_for_value(draft)
    if missing == "value":
        field = draft["details"]["field"]
        word, example = FIELD_EXAMPLES[field][language]
        dispatcher.utter_message(text=sentence("type_value", language, field=FIELD_NAMES[field][language], word=word,
                                               example=example))
        return ask_for_value(draft)
    composer = composer_for(language)
    try:
        stored = backoffice().make_draft(tracker.sender_id, draft, composer.version_id, presence_of(tracker))
    except Refused as exc:
        logger.warning("the draft was refused: %s", exc)
        if exc.reason == "not_verified":
            dispatcher.utter_message(text=sentence("verify_first", language))
            return [SlotSet("pending_request", {k: draft[k] for k in ("type", "categories", "details") if k in draft})]
        dispatcher.utter_message(text=sentence("not_filed", language, detail=exc.body.get("detail") or exc.reason))
        return [SlotSet("pending_request", None)]
    dispatcher.utter_message(text=rights.summary(stored, composer, held_categories(composer)),
                             buttons=rights.confirm_buttons(language))
    return [SlotSet("pending_request", {"draft_id": stored["draft_id"]})]


class ActionShowMyData(CustomerAction):
    """Show a verified customer what the company holds about them (Art. 15), with download links."""

    def name(self) -> str:
        return "action_show_my_data"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        if self.customer(tracker) is None:
            events = answer_from_knowledge(dispatcher, tracker, INTENT_TOPICS["request_access"], "request_access")
            dispatcher.utter_message(text=sentence("verify_first", language))
            return events + [SlotSet("pending_request", {"type": "show_data"})]
        return [SlotSet("answer_topic", INTENT_TOPICS["request_access"])] + show_my_data(dispatcher, tracker, language)


class ActionRequestStatus(CustomerAction):
    """Answer "where is my request?" from the ledger."""

    def name(self) -> str:
        return "action_request_status"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        topic = [SlotSet("answer_topic", INTENT_TOPICS["request_status"])]
        if self.customer(tracker) is None:
            dispatcher.utter_message(text=sentence("verify_first", language))
            return topic + [SlotSet("pending_request", {"type": "status"})]
        return topic + request_status(dispatcher, tracker, language)


class ActionStartRequest(CustomerAction):
    """Turn "delete my data", "stop the newsletter", "new address: ..." into a request to confirm."""

    def name(self) -> str:
        return "action_start_request"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        topic = [SlotSet("answer_topic", INTENT_TOPICS.get(intent))]
        composer = composer_for(language)
        draft = rights.draft_request(intent, tracker.latest_message.get("text") or "", entity_values(tracker),
                                     language, held_categories(composer), backoffice().vocabulary(),
                                     rights.objection_words(composer.kb))
        if self.customer(tracker) is None:
            if draft["type"] in rights.STOP_TYPES and draft["details"].get("purposes"):
                return how_to_stop(dispatcher, tracker, draft, language)
            # What the right is and how it works, for everyone; filing waits for verification.
            events = answer_from_knowledge(dispatcher, tracker, INTENT_TOPICS.get(intent, "out_of_scope"), intent)
            dispatcher.utter_message(text=sentence("verify_first", language))
            return events + [SlotSet("pending_request", draft)]
        return topic + ask_to_confirm(dispatcher, tracker, draft, language)


class ActionConfirmRequest(CustomerAction):
    """ "Yes": file the confirmed request and give the receipt (the request is committed before we say so)."""

    def name(self) -> str:
        return "action_confirm_request"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        pending = tracker.get_slot("pending_request")
        draft_id = pending.get("draft_id") if isinstance(pending, dict) else None
        if not isinstance(draft_id, str) or not 0 < len(draft_id) <= MAX_DRAFT_ID:
            # Nothing was shown to confirm, so nothing is filed. An "ok" to the offer of a ticket takes it;
            # to a request still waiting for the customer to verify, it hears that step again; with nothing
            # waiting, it is an "ok" and hears what one can ask. Only a slot no summary explains (a crafted
            # one) gets "nothing was filed".
            if isinstance(pending, dict) and pending.get("type") == "ticket":
                return self.carry_on(dispatcher, tracker, language, pending)
            if not pending:
                dispatcher.utter_message(text=sentence("nothing_pending", language))
            elif self.customer(tracker) is None:
                dispatcher.utter_message(text=sentence("verify_first", language))
            else:
                dispatcher.utter_message(text=sentence("no_draft", language))
            return []
        try:
            filed = backoffice().file_draft(tracker.sender_id, draft_id, presence_of(tracker))
        except Refused as exc:
            logger.warning("filing draft %s refused: %s", draft_id[:14], exc)
            if exc.reason == "not_verified":
                dispatcher.utter_message(text=sentence("verify_first", language))
                return []
            key = {"no_draft": "no_draft", "draft_expired": "draft_expired"}.get(exc.reason)
            if key:
                dispatcher.utter_message(text=sentence(key, language))
                return [SlotSet("pending_request", None)]
            # a request the assistant cannot file: a person takes it from here
            dispatcher.utter_message(text=sentence("not_filed", language, detail=exc.body.get("detail") or exc.reason))
            return [SlotSet("pending_request", None), *hand_over(dispatcher, tracker, HandoffReason.CANNOT_FILE)]
        except BackOfficeError as exc:
            logger.error("filing draft %s: %s", draft_id[:14], exc)
            dispatcher.utter_message(text=sentence("filing_unsure", language))
            return []  # the draft id stays: "yes" again files it once
        names = {}
        if filed.get("type") == "objection":
            composer = composer_for(language)
            names = {p["id"]: composer.t(p["name"]) for p in composer.kb["purposes"]}
        dispatcher.utter_message(text=rights.receipt(filed, filed.get("draft") or {}, language, names))
        return [SlotSet("pending_request", None)]


class ActionCancelRequest(Action):
    """ "No": drop the request that was waiting for confirmation."""

    def name(self) -> str:
        return "action_cancel_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        language = conversation_language(tracker)
        if tracker.get_slot("pending_request"):
            dispatcher.utter_message(text=sentence("canceled", language))
            return [SlotSet("pending_request", None)]
        dispatcher.utter_message(text=sentence("nothing_to_cancel", language))
        return []


class ActionSendCode(CustomerAction):
    """Send a one-time code to the typed address, if the company knows it (the answer never says whether)."""

    def name(self) -> str:
        return "action_send_code"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        if self.already_verified(dispatcher, tracker, language):
            return []
        email = next(iter(entity_values(tracker).get("email", [])), None)
        if not email:
            dispatcher.utter_message(text=sentence("not_an_email", language))
            return []
        try:
            sent = backoffice().send_email_code(tracker.sender_id, email, language, presence_of(tracker))
        except Refused as exc:
            if exc.status == 422:
                dispatcher.utter_message(text=sentence("not_an_email", language))
            elif exc.reason == "not_sent":  # the address's limits held the code back: say so, and offer the login
                dispatcher.utter_message(text=sentence("code_not_sent", language))
            else:
                key = "code_locked" if exc.reason == "locked" else "too_many_codes"
                when = _clock(exc.body.get("locked_until"), exc.body.get("retry_after_seconds"), language)
                dispatcher.utter_message(text=sentence(key, language, when=when))
            return []
        dispatcher.utter_message(text=sentence("code_sent", language, minutes=sent.get("code_valid_minutes", 10)))
        return []


class ActionCheckCode(CustomerAction):
    """Check the typed code; once verified, carry on with what the customer had asked for."""

    def name(self) -> str:
        return "action_check_code"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        if self.already_verified(dispatcher, tracker, language):
            return []
        code = next(iter(entity_values(tracker).get("code", [])), "")
        try:
            backoffice().check_email_code(tracker.sender_id, code, presence_of(tracker))
        except Refused as exc:
            body = exc.body
            messages = {
                "wrong_code": lambda: (sentence("code_wrong_last", language) if body.get("attempts_left") == 1
                                       else sentence("code_wrong", language, left=body.get("attempts_left", 0))),
                "locked": lambda: sentence("code_locked", language, when=_clock(body.get("locked_until"), language=language)),
                "expired": lambda: sentence("code_expired", language),
                "no_code": lambda: sentence("no_code", language),
                "other_customer": lambda: sentence("other_customer", language),
            }
            dispatcher.utter_message(text=messages.get(exc.reason, lambda: sentence("code_used", language))())
            return []
        dispatcher.utter_message(text=sentence("verified", language))
        return self.carry_on(dispatcher, tracker, language, tracker.get_slot("pending_request"))


def _clock(moment: str | None, seconds: Any = None, language: str = "en") -> str:
    """When the customer may try again, as the clock in the Netherlands shows it ("14:05"); a quarter
    of an hour (the back office's lock) when the back office did not say."""
    try:
        at = dt.datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None
    except ValueError:
        at = None
    if at is None and isinstance(seconds, (int, float)) and 0 < seconds < 86400:
        at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    if at is None or at.tzinfo is None:
        return sentence("try_again_later", language)
    return at.astimezone(AMSTERDAM).strftime("%H:%M")


class ActionLeaveTicket(CustomerAction):
    """The customer takes the offer of a ticket."""

    def name(self) -> str:
        return "action_leave_ticket"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        return leave_ticket(dispatcher, tracker, language, ticket_reason(tracker.get_slot("pending_request")))


class ActionAskStopPurpose(CustomerAction):
    """The form's question "what would you like us to stop?", with a button for each thing that can be
    stopped: the consents, all marketing, and each processing on legitimate interest one can object to."""

    def name(self) -> str:
        return "action_ask_stop_purpose"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        buttons = rights.purpose_buttons(language, backoffice().vocabulary(), composer_for(language).kb)
        dispatcher.utter_message(text=sentence("which_purpose", language), buttons=buttons)
        return []


class ValidateStopPurposeForm(FormValidationAction):
    """Reads the answer to "what would you like us to stop?" as a purpose id ("fraudecontrole" is the fraud
    check). "No", or words that name nothing that can be stopped, end the question instead of asking again."""

    def name(self) -> str:
        return "validate_stop_purpose_form"

    def validate_stop_purpose(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        if slot_value is None:  # the form starts: nothing was answered yet, so the question is asked
            return {"stop_purpose": None}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "deny":
            return {"stop_purpose": None, "requested_slot": None}
        language = conversation_language(tracker)
        try:
            objectable = rights.objection_words(composer_for(language).kb)
            purpose = rights.named_purpose(str(slot_value or ""), entity_values(tracker), backoffice().vocabulary(), objectable)
        except BackOfficeError as exc:
            logger.error("reading the purpose to stop: back office unavailable: %s", exc)
            purpose = None
        return {"stop_purpose": purpose} if purpose else {"stop_purpose": None, "requested_slot": None}


class ActionStopPurposeGiven(CustomerAction):
    """The customer said what to stop: the request that stops it, to confirm (after verification), or,
    when nothing recognisable was named, the choices again."""

    def name(self) -> str:
        return "action_stop_purpose_given"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        purpose = tracker.get_slot("stop_purpose")
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        done = [SlotSet("stop_purpose", None)]
        if not isinstance(purpose, str) or not purpose:
            if intent == "deny":
                dispatcher.utter_message(text=sentence("canceled", language))
            else:
                buttons = rights.purpose_buttons(language, backoffice().vocabulary(), composer_for(language).kb)
                dispatcher.utter_message(text=sentence("stop_not_recognised", language), buttons=buttons)
            return done + [SlotSet("pending_request", None)]
        composer = composer_for(language)
        pending = tracker.get_slot("pending_request")
        wording = "toestemming consent" if isinstance(pending, dict) and pending.get("type") == "withdraw_consent" else ""
        draft = rights.draft_for_purpose(purpose, wording, language, backoffice().vocabulary(),
                                         rights.objection_words(composer.kb))
        if self.customer(tracker) is None:
            dispatcher.utter_message(text=sentence("verify_first", language))
            return done + [SlotSet("pending_request", draft)]
        topic = [SlotSet("answer_topic", INTENT_TOPICS.get("request_opt_out"))]
        return done + topic + ask_to_confirm(dispatcher, tracker, draft, language)
