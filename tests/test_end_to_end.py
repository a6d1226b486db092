"""The whole assistant (trained model, action server, back office) through its real channels."""
import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio
from conftest import privacy_officer


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
    answers = requests.get(url, headers={"Authorization": f"Bearer {assistant.env['BACKOFFICE_SERVICE_TOKEN']}"},
                           timeout=10).json()["answers"]
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


@pytest.mark.parametrize("text", BAD_INPUT, ids=["empty", "spaces", "10k", "emoji", "html", "french", "intent-json",
                                                 "entity-injection", "sql"])
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


# --- bounded input at the REST channel (connectors/rest.py, connectors/limits.py) -------------------

TOO_LONG_EN = "Your message is too long for me: at most 2,000 characters."
TOO_LONG_NL = "Je bericht is te lang voor mij: maximaal 2.000 tekens."


def rest_webhook(assistant):
    return f"http://localhost:{assistant.env['RASA_PORT']}/webhooks/rest/webhook"


def test_a_100000_character_message_is_told_too_long_and_freezes_no_one(assistant):
    long_senders = [f"long-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    hello_sender = f"hello-{uuid.uuid4().hex[:10]}"

    def send_long(sender):
        return requests.post(rest_webhook(assistant), headers=rest_auth(assistant), timeout=120,
                             json={"sender": sender, "message": "x" * 100_000, "metadata": {"language": "en"}})

    with ThreadPoolExecutor(max_workers=4) as pool:
        longs = [pool.submit(send_long, sender) for sender in long_senders]
        # Before the fix each long message held the server for about 20 s, every conversation waiting.
        _, hello = rest(assistant, "hello", hello_sender)
        answers = [future.result() for future in longs]
    assert hello and hello[0]["text"].startswith("Hi!")
    for sender, answer in zip(long_senders, answers, strict=False):
        assert answer.status_code == 200
        assert answer.json() == [{"recipient_id": sender, "text": answer.json()[0]["text"]}]
        assert TOO_LONG_EN in answer.json()[0]["text"] and TOO_LONG_NL not in answer.json()[0]["text"]
        assert not [e for e in tracker(assistant, sender)["events"] if e["event"] == "user"], "it reached the NLU"


def test_a_too_long_message_without_a_page_language_is_told_in_the_language_it_starts_in(assistant):
    _, dutch = rest(assistant, "Welke gegevens hebben jullie van mij en waarom bewaren jullie die zo lang? " * 40)
    assert TOO_LONG_NL in joined(dutch) and TOO_LONG_EN not in joined(dutch)
    _, unknown = rest(assistant, "x" * 2_001)
    assert TOO_LONG_NL in joined(unknown) and TOO_LONG_EN in joined(unknown)


def test_a_30_mb_body_is_refused_before_it_is_read(assistant):
    answer = requests.post(rest_webhook(assistant), data=b"x" * 30_000_000, headers=rest_auth(assistant), timeout=60)
    assert answer.status_code == 413 and "size limit" in answer.json()["message"]
    for body in ({"sender": "big", "message": "x" * 1_100_000},
                 {"sender": "big", "message": "hi", "metadata": {"blob": "x" * 5_000_000}}):
        answer = requests.post(rest_webhook(assistant), json=body, headers=rest_auth(assistant), timeout=60)
        assert answer.status_code == 413
    _, after = rest(assistant, "hello")
    assert after[0]["text"].startswith("Hi!")


@pytest.mark.parametrize("body, status, reason", [
    (b"", 400, "the body is empty"),
    (b"{", 400, "not JSON"),
    (b'"hello"', 400, "JSON object"),
    (b'{"sender": "a/b", "message": "hello"}', 400, "'sender' must be"),
    (b'{"sender": "../../model", "message": "hello"}', 400, "'sender' must be"),
    (b'{"sender": "ok-id", "message": {"text": "hello"}}', 400, "'message' must be a string"),
    (b'{"sender": "ok-id", "message": "hello", "metadata": "nl"}', 400, "metadata must be a JSON object"),
    (b'{"sender": "ok-id", "message": "hello", "metadata": [1, 2]}', 400, "metadata must be a JSON object"),
    (json.dumps({"sender": "ok-id", "message": "hello", "metadata": {"blob": "x" * 9_000}}).encode(), 413,
     "metadata must be at most"),
], ids=["empty", "not-json", "not-object", "slash-in-sender", "path-in-sender", "message-object", "metadata-string",
        "metadata-list", "metadata-9kb"])
def test_malformed_rest_requests_get_a_clean_answer_with_the_reason(assistant, body, status, reason):
    answer = requests.post(rest_webhook(assistant), data=body, headers=rest_auth(assistant), timeout=30)
    assert answer.status_code == status
    assert reason in answer.json()["reason"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer forged-token-of-the-same-shape"},
                                     {"Authorization": "Basic cmVzdDpyZXN0"}], ids=["none", "forged", "basic"])
def test_the_rest_channel_refuses_a_caller_without_its_token(assistant, headers):
    sender = f"no-token-{uuid.uuid4().hex[:8]}"
    answer = requests.post(rest_webhook(assistant), json={"sender": sender, "message": "hello"}, headers=headers, timeout=30)
    assert answer.status_code == 401 and "Bearer" in answer.json()["reason"]
    assert not [e for e in tracker(assistant, sender)["events"] if e["event"] == "user"]


def test_rest_metadata_keeps_no_credential_or_reserved_key_and_the_channel_is_rest(assistant):
    sender = f"meta-{uuid.uuid4().hex[:8]}"
    answer = requests.post(rest_webhook(assistant), headers=rest_auth(assistant), timeout=60, json={
        "sender": sender, "message": "hello", "input_channel": "website",
        "metadata": {"language": "en", "_connection": "f" * 32, "_source": "0" * 16, "session_token": "secret-jwt", "page": "/"}})
    assert answer.status_code == 200
    conversation = tracker(assistant, sender)
    user = next(e for e in conversation["events"] if e["event"] == "user")
    sent = {k: v for k, v in user["metadata"].items() if k not in ("model_id", "assistant_id")}  # Rasa's own
    assert sent == {"language": "en", "page": "/"} and user["input_channel"] == "rest"
    assert conversation["latest_input_channel"] == "rest"


@pytest.mark.parametrize("path, method", [("/webhooks/rest/webhook", "POST"), ("/conversations/x/tracker", "GET"),
                                          ("/socket.io/", "GET")])
def test_cors_answers_only_the_website_origin(assistant, path, method):
    url = f"http://localhost:{assistant.env['RASA_PORT']}{path}"
    website = assistant.env["BACKOFFICE_URL"]
    assert website in assistant.env["CORS_ORIGINS"].split()
    for origin, allowed in [(website, True), ("http://evil.example", False), ("null", False)]:
        preflight = requests.options(url, timeout=10, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                               "Access-Control-Request-Headers": "authorization,content-type"})
        assert preflight.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None), origin


def test_socketio_channel_answers_in_the_page_language(assistant, published):
    async def conversation():
        client = socketio.AsyncClient()
        replies = asyncio.Queue()
        confirmed = asyncio.get_running_loop().create_future()
        client.on("bot_uttered", lambda data: replies.put_nowait(data))
        client.on("session_confirm", lambda data: confirmed.done() or confirmed.set_result(data))
        await client.connect(f"http://localhost:{assistant.env['RASA_PORT']}", socketio_path="/socket.io/",
                             transports=["websocket"])
        # The server issues the session id (connectors/website.py): a new visitor proposes none.
        await client.emit("session_request", {"session_id": None})
        session_id = await asyncio.wait_for(confirmed, 30)
        # "ok" alone does not tell the language: the page language (Dutch) decides
        await client.emit("user_uttered", {"message": "hoi", "session_id": session_id, "customData": {"language": "nl"}})
        greeting = await asyncio.wait_for(replies.get(), 60)
        await client.emit("user_uttered", {"message": "Welke gegevens hebben jullie van mij?", "session_id": session_id,
                                           "customData": {"language": "nl"}})
        answer = await asyncio.wait_for(replies.get(), 60)
        await client.disconnect()
        return session_id, greeting, answer

    session_id, greeting, answer = asyncio.run(conversation())
    assert greeting["text"].startswith("Hoi!")
    assert f"versie {published[-1]['version']['id']}" in answer["text"]
    assert tracker(assistant, session_id)["slots"]["language"] == "nl"


ONE_QUESTION_PER_TOPIC = {
    "what_data_collected": ("Welke gegevens hebben jullie van mij?", "What data do you have about me?"),
    "why_data_used": ("Waarvoor gebruiken jullie mijn gegevens?", "What do you use my data for?"),
    "sharing_third_parties": ("Met wie delen jullie mijn gegevens?", "Who do you share my data with?"),
    "retention": ("Hoe lang bewaren jullie mijn gegevens?", "How long do you keep my data?"),
    "security": ("Hoe beveiligen jullie mijn gegevens?", "How do you protect my data?"),
    "access_my_data": ("Ik wil een inzageverzoek doen", "Can I get a copy of my data?"),
    "correct_my_data": ("Mijn gegevens kloppen niet, hoe pas ik ze aan?", "How do I correct my data?"),
    "delete_my_data": ("Verwijder mijn gegevens", "Delete my data"),
    "opt_out": ("Ik trek mijn toestemming in", "I withdraw my consent"),
    "policy_changes": ("Wat is er veranderd in jullie privacybeleid?", "What changed in your privacy policy?"),
    "children_and_specific_audiences": ("Mag mijn kind van 12 een account maken?", "Can my 12 year old make an account?"),
    "international_transfers": ("Gaan mijn gegevens naar landen buiten de EU?", "Does my data leave the EU?"),
    "cookies_tracking": ("Welke cookies gebruiken jullie?", "What cookies do you use?"),
    "contact_dpo": ("Wie is jullie functionaris gegevensbescherming?", "Who is your data protection officer?"),
    "out_of_scope": ("Wanneer wordt mijn pakket bezorgd?", "When will my parcel arrive?"),
}


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("topic", list(ONE_QUESTION_PER_TOPIC))
def test_every_first_answer_fits_a_chat_screen(assistant, topic, language):
    """Issue 10: no message of the first answer to a question is longer than 600 characters."""
    question = ONE_QUESTION_PER_TOPIC[topic][0 if language == "nl" else 1]
    _, messages = rest(assistant, question)
    assert messages and all(len(m.get("text", "")) <= 600 for m in messages), messages


def test_all_details_button_gives_everything_in_short_messages(assistant, published):
    profiling = next(p for p in published[-1]["purposes"] if p["automated_decision"]["applies"])
    sender, first = rest(assistant, "What do you use my data for?")
    [details_button] = [b for m in first for b in m.get("buttons", []) if "answer_detail" in b["payload"]]
    _, details = rest(assistant, details_button["payload"], sender)
    assert len(details) > 1 and all(len(m["text"]) <= 600 for m in details)
    assert " ".join(profiling["automated_decision"]["logic"]["en"].split()) in " ".join(joined(details).split())
    assert tracker(assistant, sender)["slots"]["answer_topic"] == "why_data_used"


# --- the public edge: the client's address, the demo website's headers -----------------------------


def test_a_forwarding_header_names_no_address_without_a_trusted_proxy(assistant):
    """As `make run` starts it, TRUSTED_PROXIES is empty: whatever a client writes in X-Forwarded-For or
    Forwarded, its source (the per-source limits' key) is that of its TCP peer (connectors/proxies.py)."""
    assert not assistant.env.get("TRUSTED_PROXIES")

    async def source(headers):
        client = socketio.AsyncClient(reconnection=False)
        confirmed = asyncio.get_running_loop().create_future()
        client.on("session_confirm", lambda data: confirmed.done() or confirmed.set_result(data))
        await client.connect(f"http://localhost:{assistant.env['RASA_PORT']}", socketio_path="/socket.io/",
                             transports=["websocket"], headers=headers)
        await client.emit("session_request", {"session_id": None})
        session_id = await asyncio.wait_for(confirmed, 30)
        await client.call("user_uttered", {"message": "hello", "customData": {"language": "en"}}, timeout=120)
        await client.disconnect()
        [metadata] = [e["metadata"] for e in tracker(assistant, session_id)["events"] if e["event"] == "user"]
        return metadata["_source"]

    async def sources():
        return [await source(headers) for headers in (
            {}, {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.1, 203.0.113.8"},
            {"Forwarded": "for=198.51.100.9"}, {"X-Real-IP": "198.51.100.10"})]

    seen = asyncio.run(sources())
    assert len(set(seen)) == 1, seen


def csp(headers):
    return {name: set(sources.split()) for name, _, sources in
            (d.strip().partition(" ") for d in headers["Content-Security-Policy"].split(";"))}


def test_the_demo_website_has_the_consoles_strict_headers(stack, backoffice_url):
    """The page that hosts the chat widget: no script from elsewhere, never framed, no referrer; besides
    the console's policy only the chat server (socket.io over http and ws) and a data: icon."""
    page, console = requests.get(f"{backoffice_url}/", timeout=10), requests.get(f"{backoffice_url}/console/login", timeout=10)
    assert page.status_code == 200 and 'data-socket-url="' in page.text
    assert page.headers["X-Frame-Options"] == console.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == console.headers["Referrer-Policy"] == "no-referrer"
    site, strict = csp(page.headers), csp(console.headers)
    chat = stack.env["PUBLIC_SOCKET_URL"]
    assert site == {**strict, "connect-src": strict["connect-src"] | {chat, chat.replace("http", "ws", 1)},
                    "img-src": strict["img-src"] | {"data:"}}
    assert site["script-src"] == {"'self'"} and site["default-src"] == {"'none'"} and site["frame-ancestors"] == {"'none'"}


@pytest.mark.parametrize("question, source", [("Wanneer wordt mijn pakket bezorgd?", "Bron:"),
                                              ("When will my parcel arrive?", "Source:")])
def test_an_off_topic_reply_does_not_cite_the_register(assistant, question, source):
    sender, messages = rest(assistant, question)
    assert tracker(assistant, sender)["slots"]["answer_topic"] == "out_of_scope"
    assert joined(messages) and source not in joined(messages)


def test_the_dpo_answer_ends_the_company_name_with_one_full_stop(assistant, published):
    company = published[-1]["company"]["name"]
    _, messages = rest(assistant, "Wie is jullie functionaris gegevensbescherming?")
    assert f"Verantwoordelijk voor je gegevens is {company} Onze functionaris" in joined(messages)


def test_the_assistant_and_the_console_name_the_same_privacy_officer(assistant, published):
    """The register names the DPO; the console's privacy officer is that person, not a second name."""
    named = published[-1]["company"]["dpo"]["name"]
    _, messages = rest(assistant, "Who is your data protection officer?")
    assert named in joined(messages)
    me = privacy_officer(assistant).get(f"{assistant.env['BACKOFFICE_URL']}/api/console/me", timeout=10).json()
    assert me["full_name"] == named


@pytest.mark.parametrize("question, reply", [
    ("Welke gegevens hebben jullie van mij?", "Prima. Wat wil je weten over je gegevens?"),
    ("What data do you have about me?", "Great. What would you like to know about your data?"),
])
def test_ok_with_nothing_waiting_is_taken_as_ok(assistant, question, reply):
    sender, _ = rest(assistant, question)
    _, messages = rest(assistant, "ok", sender)
    assert reply in joined(messages), messages
    assert "geen verzoek klaar" not in joined(messages) and "no request waiting" not in joined(messages)


@pytest.mark.parametrize("ask, reminder", [
    ("laat mijn gegevens zien", "Daarvoor moet ik eerst weten dat jij het bent"),
    ("show me my data", "For that I first need to know it's you"),
])
def test_ok_to_a_request_waiting_for_verification_says_what_comes_next(assistant, ask, reminder):
    """An "ok" after "first I need to know it's you" carries on with what was asked: the step still to take."""
    sender, first = rest(assistant, ask)
    assert reminder in joined(first)
    _, messages = rest(assistant, "ok", sender)
    assert reminder in joined(messages), messages
    assert "geen verzoek klaar" not in joined(messages) and "no request waiting" not in joined(messages)
    assert tracker(assistant, sender)["slots"]["pending_request"] == {"type": "show_data"}
