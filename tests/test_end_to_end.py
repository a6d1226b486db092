"""The whole assistant (trained model, action server, back office) through its real channels."""
import asyncio
import uuid

import pytest
import requests
import socketio


def rest_auth(stack):
    """The REST channel's token (connectors/rest.py), fresh for each test stack."""
    return {"Authorization": f"Bearer {stack.env['REST_CHANNEL_TOKEN']}"}


def rest(assistant, text, sender=None):
    sender = sender or f"e2e-{uuid.uuid4().hex[:10]}"
    url = f"http://localhost:{assistant.env['RASA_PORT']}/webhooks/rest/webhook"
    response = requests.post(url, json={"sender": sender, "message": text}, headers=rest_auth(assistant), timeout=60)
    response.raise_for_status()
    return sender, response.json()


def tracker(assistant, sender):
    url = f"http://localhost:{assistant.env['RASA_PORT']}/conversations/{sender}/tracker"
    return requests.get(url, params={"token": assistant.env["RASA_API_TOKEN"]}, timeout=30).json()


def joined(messages):
    return "\n".join(m.get("text", "") for m in messages)


def test_dutch_question_gets_dutch_overview_with_version(assistant, published):
    current = published[-1]
    sender, messages = rest(assistant, "Welke gegevens hebben jullie van mij?")
    text = joined(messages)
    for category in current["categories"]:
        assert category["name"]["nl"] in text
    assert f"versie {current['version']['id']}" in text
    slots = tracker(assistant, sender)["slots"]
    assert slots["answer_topic"] == "what_data_collected" and slots["kb_version"] == current["version"]["id"]
    assert slots["language"] == "nl"


def test_english_retention_question_gets_the_period(assistant, published):
    current = published[-1]
    purchase = next(c for c in current["categories"] if c["id"] == "purchase_history")
    sender, messages = rest(assistant, "How long do you keep my purchase history?")
    text = joined(messages)
    assert purchase["retention"]["period"]["en"] in text and f"version {current['version']['id']}" in text
    assert tracker(assistant, sender)["slots"]["answer_topic"] == "retention"


def test_conversation_follows_the_customers_language(assistant):
    sender, first = rest(assistant, "do you sell my data to advertisers?")
    assert "We never sell" in joined(first)
    _, second = rest(assistant, "hoe lang bewaren jullie mijn gegevens?", sender)
    assert "bewaren" in joined(second)


def test_what_changed_is_answered_from_the_changelog(assistant, published):
    current = published[-1]
    _, messages = rest(assistant, "what has changed in your privacy policy?")
    assert current["version"]["changelog"][0]["text"]["en"].split(". ")[0] in joined(messages)


def test_dutch_what_changed_is_answered_in_dutch_from_the_changelog(assistant, published):
    current = published[-1]
    _, messages = rest(assistant, "wat is er veranderd?")
    assert current["version"]["changelog"][0]["text"]["nl"].split(". ")[0] in joined(messages)


def test_question_outside_personal_data_gets_an_honest_pointer(assistant):
    sender, messages = rest(assistant, "what are the opening hours of your store in Utrecht?")
    assert "only help with questions about your personal data" in joined(messages)
    assert tracker(assistant, sender)["slots"]["answer_topic"] == "out_of_scope"


def test_returning_customer_hears_what_changed_since_last_visit(assistant, published):
    old, current = published[0]["version"]["id"], published[-1]["version"]["id"]
    sender = f"returning-{uuid.uuid4().hex[:8]}"
    base = f"http://localhost:{assistant.env['RASA_PORT']}/conversations/{sender}/tracker/events"
    rest(assistant, "hello", sender)
    # Their last answer came from the old version (as if this conversation dates from before).
    requests.post(base, params={"token": assistant.env["RASA_API_TOKEN"]}, timeout=30,
                  json=[{"event": "slot", "name": "kb_version_seen", "value": old}]).raise_for_status()
    _, messages = rest(assistant, "which data do you collect about me?", sender)
    assert f"Since your last visit (version {old})" in joined(messages)
    _, again = rest(assistant, "which data do you collect about me?", sender)
    assert "Since your last visit" not in joined(again)
    assert tracker(assistant, sender)["slots"]["kb_version_seen"] == current


def test_back_office_can_tell_which_version_answered(assistant, published):
    sender, _ = rest(assistant, "how do you protect my data?")
    url = f"{assistant.env['BACKOFFICE_URL']}/api/conversations/{sender}/answers"
    answers = requests.get(url, headers={"Authorization": f"Bearer {assistant.env['BACKOFFICE_SERVICE_TOKEN']}"}, timeout=10).json()["answers"]
    assert answers[-1]["knowledge_version"] == published[-1]["version"]["id"]
    assert answers[-1]["topic"] == "security"


BAD_INPUT = [
    "",
    "   ",
    "a" * 10_000,
    "😀🙈🔥",
    "<script>alert('x')</script><b>hi</b>",
    "Quelles données personnelles avez-vous sur moi ?",
    '/intent{"x":"y"}',
    '/ask_retention{"data_category":"../../etc/passwd"}',
    "'; DROP TABLE events; --",
]


@pytest.mark.parametrize("text", BAD_INPUT, ids=["empty", "spaces", "10k", "emoji", "html", "french", "intent-json", "entity-injection", "sql"])
def test_bad_input_gets_a_clear_answer(assistant, text):
    sender, messages = rest(assistant, text)
    assert messages, "the customer got no answer"
    assert all(m.get("text") for m in messages)
    # the assistant keeps working for this customer afterwards
    _, after = rest(assistant, "how long do you keep my invoices?", sender)
    assert "invoices" in joined(after).lower()


@pytest.mark.parametrize("text", ["", "   "], ids=["empty", "spaces"])
def test_empty_message_is_told_what_the_assistant_can_do(assistant, text):
    _, messages = rest(assistant, text)
    assert "I can help with questions about your personal data" in joined(messages)


def test_french_message_is_told_which_languages_we_speak(assistant):
    _, messages = rest(assistant, "Quelles données personnelles avez-vous sur moi ?")
    assert "I speak English and Dutch" in joined(messages)


def test_api_without_token_is_refused(assistant):
    url = f"http://localhost:{assistant.env['RASA_PORT']}/conversations/someone/tracker"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"token": "forged"}, timeout=10).status_code == 401


def test_socketio_channel_answers_in_the_page_language(assistant, published):
    async def conversation():
        client = socketio.AsyncClient()
        replies = asyncio.Queue()
        confirmed = asyncio.get_running_loop().create_future()
        client.on("bot_uttered", lambda data: replies.put_nowait(data))
        client.on("session_confirm", lambda data: confirmed.done() or confirmed.set_result(data))
        await client.connect(f"http://localhost:{assistant.env['RASA_PORT']}", socketio_path="/socket.io/", transports=["websocket"])
        # The server issues the session id (connectors/website.py): a new visitor proposes none.
        await client.emit("session_request", {"session_id": None})
        session_id = await asyncio.wait_for(confirmed, 30)
        # "ok" alone does not tell the language: the page language (Dutch) decides
        await client.emit("user_uttered", {"message": "hoi", "session_id": session_id, "customData": {"language": "nl"}})
        greeting = await asyncio.wait_for(replies.get(), 60)
        await client.emit("user_uttered", {"message": "Welke gegevens hebben jullie van mij?", "session_id": session_id, "customData": {"language": "nl"}})
        answer = await asyncio.wait_for(replies.get(), 60)
        await client.disconnect()
        return session_id, greeting, answer

    session_id, greeting, answer = asyncio.run(conversation())
    assert greeting["text"].startswith("Hoi!")
    assert f"versie {published[-1]['version']['id']}" in answer["text"]
    assert tracker(assistant, session_id)["slots"]["language"] == "nl"
