"""The custom actions on real Tracker objects, against the real back office process."""
import asyncio
import datetime as dt
import re
import uuid

import jwt
import pytest
import requests
from conftest import claim_customers
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import actions as actions_module
from actions import rights
from actions.actions import ActionAnswerDataQuestion, ActionDefaultFallback, ActionSessionStart
from actions.backoffice import BackOfficeClient
from actions.customer_actions import ActionAskStopPurpose, _clock, ask_to_confirm
from actions.handoff import ActionClarify
from actions.sentences import sentence
from bot import typed_values

claim_customers(__name__, "C0041")


def use_backoffice(monkeypatch, client: BackOfficeClient) -> BackOfficeClient:
    """Point the actions' one back-office client at `client` for this test; monkeypatch puts the
    process's own back in place afterwards, so no other test runs against this one."""
    monkeypatch.setattr(actions_module, "_client", client)
    return client


def unreachable_backoffice() -> BackOfficeClient:
    return BackOfficeClient("http://localhost:9", "x", timeout=0.5)


@pytest.fixture
def client(backoffice_url, stack, monkeypatch):
    return use_backoffice(monkeypatch, BackOfficeClient(backoffice_url, stack.env["BACKOFFICE_SERVICE_TOKEN"]))


def tracker(text, intent, slots=None, entities=(), sender="test-user", ranking=()):
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": list(entities),
            "intent_ranking": [{"name": n, "confidence": 0.1} for n in ranking],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}, events


def test_dutch_retention_answer_records_topic_and_version(client, published):
    current = published[-1]
    category = {"entity": "data_category", "value": "purchase_history"}
    messages, slots, _ = run(
        ActionAnswerDataQuestion(),
        tracker("hoe lang bewaren jullie mijn aankoopgeschiedenis?", "ask_retention", {"language": "nl"}, [category],
                sender="c-nl"),
    )
    assert len(messages) == 1
    text = messages[0]["text"]
    purchase = next(c for c in current["categories"] if c["id"] == "purchase_history")
    assert purchase["retention"]["period"]["nl"] in text and f"versie {current['version']['id']}" in text
    assert slots == {"kb_version": current["version"]["id"], "kb_version_seen": current["version"]["id"],
                     "answer_topic": "retention"}
    recorded = requests.get(
        f"{client.base_url}/api/conversations/c-nl/answers",
        headers={"Authorization": client.session.headers["Authorization"]}, timeout=5
    ).json()["answers"]
    assert recorded[-1]["topic"] == "retention" and recorded[-1]["language"] == "nl"


def test_returning_customer_is_told_once_what_changed(client, published):
    old, current = published[0], published[-1]
    t = tracker("what do you use my data for?", "ask_why_data_used", {"language": "en", "kb_version_seen": old["version"]["id"]})
    messages, slots, _ = run(ActionAnswerDataQuestion(), t)
    assert len(messages) == 2
    assert f"Since your last visit (version {old['version']['id']})" in messages[0]["text"]
    assert current["version"]["changelog"][0]["text"]["en"].split(". ")[0] in messages[0]["text"]
    assert slots["kb_version_seen"] == current["version"]["id"]
    again, _, _ = run(ActionAnswerDataQuestion(), tracker("and why?", "ask_why_data_used", {"language": "en", **slots}))
    assert len(again) == 1


def test_new_session_tells_a_returning_customer_and_carries_slots(client, published):
    old = published[0]["version"]["id"]
    returning_slots = {"language": "nl", "kb_version_seen": old, "answer_topic": "retention"}
    messages, slots, events = run(ActionSessionStart(), tracker("", "greet", returning_slots))
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    assert "Sinds je vorige bezoek" in messages[0]["text"]
    assert slots["language"] == "nl" and "answer_topic" not in slots


def test_a_customer_writing_another_language_is_told_which_we_speak(client):
    messages, slots, _ = run(ActionAnswerDataQuestion(),
                             tracker("Quelles données avez-vous?", "ask_what_data_collected", {"language": "other"}))
    assert "Dutch" in messages[0]["text"] and slots["answer_topic"] == "what_data_collected"


def test_clarify_offers_buttons(client):
    messages, slots, _ = run(ActionClarify(), tracker("data?", "nlu_fallback", {"language": "en"},
                                                      ranking=["nlu_fallback", "ask_security", "ask_retention"]))
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_security", "/ask_retention"]
    assert slots["answer_topic"] == "clarify"


def test_clarify_on_an_empty_message_says_what_the_assistant_can_do(client):
    messages, slots, _ = run(ActionClarify(), tracker("  ", "nlu_fallback", {"language": "nl"}))
    assert "persoonsgegevens" in messages[0]["text"] and not messages[0].get("buttons")


def test_clarify_in_another_language_says_which_languages_we_speak(client):
    messages, _, _ = run(ActionClarify(), tracker("Bonjour, quelles données?", "nlu_fallback", {"language": "other"}))
    assert "I speak English and Dutch" in messages[0]["text"] and not messages[0].get("buttons")


def test_fallback_says_what_the_assistant_can_do(client):
    messages, _, events = run(ActionDefaultFallback(), tracker('/intent{"x":"y"}', "intent", {"language": "nl"}))
    assert "persoonsgegevens" in messages[0]["text"]
    assert events[-1]["event"] == "rewind"


def test_back_office_down_gives_a_clear_answer(monkeypatch):
    use_backoffice(monkeypatch, unreachable_backoffice())
    messages, slots, _ = run(ActionAnswerDataQuestion(),
                             tracker("what do you collect?", "ask_what_data_collected", {"language": "en"}))
    assert "can't reach our privacy register" in messages[0]["text"]
    assert slots == {"answer_topic": None}


def test_published_versions_are_fetched_once(client, published):
    current = published[-1]["version"]["id"]
    first = client.version(current)
    assert client.version(current) is first


# --- drafts and presence: the customer actions against the real back office -----------------------

TAB = "c1" * 16  # the website connection that logged in
OTHER_TAB = "c2" * 16


def presence_tracker(text, intent, slots, sender, channel="website", connection=TAB):
    """A tracker whose latest user message came through `channel` (and, for the website, `connection`)."""
    t = tracker(text, intent, {"language": "en", **slots}, sender=sender)
    metadata = {"_connection": connection, "_source": "0f" * 8} if connection else {}
    t.events = [{"event": "user", "text": text, "input_channel": channel, "metadata": metadata}]
    return t


def website_login(stack, sender, customer_id):
    """Bind the conversation to the customer as the website channel does for a logged-in connection."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    token = jwt.encode({"sub": customer_id, "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 1800, "aud": "chat",
                        "iss": "voltera-website"}, stack.env["SESSION_TOKEN_SECRET"], algorithm="HS256")
    response = requests.post(f"{stack.env['BACKOFFICE_URL']}/api/identity/session",
                             json={"conversation_id": sender, "token": token},
                             headers={"Authorization": f"Bearer {stack.env['BACKOFFICE_SERVICE_TOKEN']}",
                                      "X-Chat-Channel": "website", "X-Chat-Connection": TAB}, timeout=10)
    assert response.status_code == 200, response.text


def ledger_of(stack, customer_id):
    response = requests.get(f"{stack.env['BACKOFFICE_URL']}/api/customers/{customer_id}/requests",
                            headers={"Authorization": f"Bearer {stack.env['BACKOFFICE_SERVICE_TOKEN']}"}, timeout=10)
    return response.json()["requests"]


def test_yes_files_the_shown_draft_once_only_where_verified_and_a_crafted_slot_files_nothing(client, stack, monkeypatch):
    from actions.customer_actions import ActionConfirmRequest, ActionStartRequest

    sender = f"drafts-{uuid.uuid4().hex[:10]}"
    website_login(stack, sender, "C0041")
    messages, slots, _ = run(ActionStartRequest(), presence_tracker("delete my data", "request_deletion", {}, sender))
    assert "Shall I file it?" in messages[-1]["text"]
    pending = slots["pending_request"]
    assert list(pending) == ["draft_id"]  # the slot holds only the draft's id

    def yes(slot, **where):
        return run(ActionConfirmRequest(), presence_tracker("yes", "affirm", {"pending_request": slot}, sender, **where))

    for where in ({"channel": "rest", "connection": ""}, {"channel": "rest"}, {"connection": OTHER_TAB}, {"connection": ""}):
        answered, _, _ = yes(pending, **where)
        assert "first need to know it's you" in answered[0]["text"], where
    crafted = {"type": "erasure", "categories": None, "details": {}, "confirm": True, "client_request_id": "chat-crafted"}
    for slot in (crafted, {"draft_id": "DRAFT-" + "0" * 24}, {"draft_id": ["not", "text"]}, {"draft_id": "x" * 500}):
        answered, _, _ = yes(slot)
        assert "nothing was filed" in answered[0]["text"], slot
    assert ledger_of(stack, "C0041") == []

    use_backoffice(monkeypatch, unreachable_backoffice())  # the back office does not answer
    unsure, _, events = yes(pending)
    assert "never be filed twice" in unsure[0]["text"] and events == []  # the draft id stays for "yes" again
    use_backoffice(monkeypatch, client)
    receipt, slots, _ = yes(pending)
    request_id = re.search(r"REQ-[0-9A-Z-]+", receipt[0]["text"]).group(0)
    assert "Filed" in receipt[0]["text"] and slots == {"pending_request": None}
    repeat, _, _ = yes(pending)
    assert f"filed already ({request_id})" in repeat[0]["text"]
    [filed] = ledger_of(stack, "C0041")
    assert ((filed["id"], filed["type"], filed["conversation_id"], filed["channel"])
            == (request_id, "erasure", sender, "assistant:website"))


def test_a_code_held_back_by_the_address_limits_is_said_so_with_the_website_login(client, stack):
    """The back office's 429 `not_sent` becomes "no code was sent, log in on the website", in the
    customer's language; never "a code is on its way". The same words for an address that is no customer's."""
    from actions.customer_actions import ActionSendCode

    export = requests.get(f"{stack.env['COMPANY_SYSTEMS_URL']}/systems/crm/customers/C0041/export",
                          headers={"Authorization": f"Bearer {stack.env['COMPANY_SYSTEMS_TOKEN']}"}, timeout=10).json()
    known = export["categories"]["contact_details"][0]["email"]
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.nl"

    def ask_four_times(address, language):
        sender = f"codes-{uuid.uuid4().hex[:10]}"
        source = uuid.uuid4().hex[:16]  # a source of its own: these asks spend no other test's source limit
        said = []
        for _ in range(4):
            t = tracker(address, "give_email", {"language": language}, [{"entity": "email", "value": address}], sender=sender)
            t.events = [{"event": "user", "text": address, "input_channel": "website",
                         "metadata": {"_connection": uuid.uuid4().hex, "_source": source}}]
            messages, _, _ = run(ActionSendCode(), t)
            said.append(messages[0]["text"])
        return said

    for language in ("en", "nl"):
        told = ask_four_times(unknown, language)
        assert told == [sentence("code_sent", language, minutes=10)] * 3 + [sentence("code_not_sent", language)]
    assert ask_four_times(known, "en") == ask_four_times(unknown.replace("nobody", "noone"), "en")
    not_sent = {language: sentence("code_not_sent", language) for language in ("en", "nl")}
    assert "not sent a code" in not_sent["en"] and "Log in on the website" in not_sent["en"]
    assert "geen code gestuurd" in not_sent["nl"] and "Log in op de website" in not_sent["nl"]


def test_the_time_to_try_again_is_the_clock_in_the_netherlands():
    assert _clock("2026-01-31T13:05:00Z") == "14:05"  # winter time, UTC+1
    assert _clock("2026-07-01T12:00:00+00:00") == "14:00"  # summer time, UTC+2
    assert _clock(None) == "15 min" and _clock("garbage") == "15 min"
    dutch = sentence("too_many_codes", "nl", when=_clock("2026-01-31T13:05:00Z"))
    assert dutch == "Er zijn te veel codes aangevraagd. Probeer het na 14:05 opnieuw, of log in op de website."


def test_the_actions_recognise_only_ids_the_back_office_serves(client):
    """The words that recognise rights, consents, fields and an address's parts are keyed by served ids."""
    served = client.vocabulary()
    assert set(rights.INTENT_RIGHTS.values()) <= set(served.rights)
    assert set(rights.PURPOSE_WORDS) <= set(served.consents)
    assert set(rights.FIELD_WORDS) <= set(served.correctable_fields)
    assert set(typed_values.FIELD_NAMES.values()) <= set(served.correctable_fields)
    assert list(rights.ADDRESS.groupindex) == list(served.address_parts)
    assert client.vocabulary() is served  # asked once per process


def test_what_to_stop_or_correct_is_offered_from_the_served_ids(client, published):
    served = client.vocabulary()
    asking = tracker("I want to opt out", "request_opt_out")
    events = ask_to_confirm(CollectingDispatcher(), asking, {"missing": "purpose"}, "en")
    assert any(e["event"] == "followup" and e["name"] == "stop_purpose_form" for e in events)  # the next message answers
    messages, _, _ = run(ActionAskStopPurpose(), asking)
    objectable = [p["id"] for p in published[-1]["purposes"] if p.get("legal_basis") == "legitimate_interest"]
    assert objectable  # the register has processings on legitimate interest to object to
    assert [b["payload"] for b in messages[0]["buttons"]] == (
        [f'/request_opt_out{{"purpose": "{c}"}}' for c in [*served.consents, "all_marketing", *objectable]])
    dispatcher = CollectingDispatcher()
    ask_to_confirm(dispatcher, tracker("correct my data", "request_correction"), {"missing": "field"}, "nl")
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        f'/request_correction{{"correction_field": "{f}"}}' for f in served.correctable_fields]
