"""The handoff in the back office: the queue, claiming, replying, handing back, what the customer
does meanwhile, and who may see what. On SQLite and PostgreSQL (`db_url`)."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from backoffice.handoff.routes import TransferIn
from backoffice.handoff.tables import HandoffAudit, QueueEntry, Ticket
from backoffice.identity.tables import ConversationIdentity
from backoffice.my_data.service import carry_out, staff_notes
from backoffice.requests.tables import AuditEntry, Request
from backoffice.staff.rules import MAX_STAFF_ID

from .conftest import CONNECTION, Clock, FakeRasa, assistant, browser, turn_stored

SUMMARY = {"topics": ["what_data_collected"], "requests": ["request_deletion"],
           "last_messages": ["what do you keep about me?", "I want to talk to a person"]}


def hand_over(app: FastAPI, conversation_id: str, reason: str = "asked_for_person", language: str = "en", source: str = "",
              summary: dict | None = None) -> dict:
    """The assistant's hand-over, and then Rasa storing its turn (the pause last) when it was queued."""
    answer = assistant(app).post(f"/api/conversations/{conversation_id}/handoff", headers={"X-Chat-Source": source} if source else {},
                                 json={"reason": reason, "language": language, "summary": summary or SUMMARY})
    assert answer.status_code == 200, answer.text
    if answer.json()["queued"]:
        turn_stored(app, conversation_id)
    return answer.json()


def agent_online(app: FastAPI, signed_in, first_name: str = "Anna", role: str = "agent"):
    client = browser(app)
    staff = signed_in(client, role=role, first_name=first_name)
    assert client.get("/api/console/queue").status_code == 200  # the console is open: the agent is available
    return client, staff


def verify(app: FastAPI, conversation_id: str, customer_id: str, clock: Clock) -> None:
    with app.state.process.sessions() as session:
        session.add(ConversationIdentity(conversation_id=conversation_id, customer_id=customer_id, method="session",
                                         verified_at=clock(), expires_at=clock() + dt.timedelta(hours=1), channel="website",
                                         connections=[hashlib.sha256(CONNECTION.encode()).hexdigest()]))
        session.commit()


def test_within_office_hours_the_conversation_joins_the_queue_with_its_summary(app, signed_in, clock, tracker):
    anna, _ = agent_online(app, signed_in)
    verify(app, "conv-queued", "C-1001", clock)
    placed = hand_over(app, "conv-queued")
    assert placed["queued"] is True and placed["position"] == 1 and placed["expected_wait_minutes"] >= 1
    assert hand_over(app, "conv-other")["position"] == 2
    assert hand_over(app, "conv-queued")["entry"] == placed["entry"], "asking again keeps the place"

    clock.now += dt.timedelta(minutes=3)
    queue = anna.get("/api/console/queue").json()["queue"]
    assert [e["id"] for e in queue][0] == placed["entry"]
    entry = queue[0]
    assert entry["reason"] == "asked_for_person" and entry["language"] == "en" and entry["channel"] == "website"
    assert entry["verified"] == {"customer_id": "C-1001", "by": "session"}
    assert entry["summary"] == SUMMARY and entry["waiting_seconds"] == 180 and entry["state"] == "waiting"


def test_without_an_agent_or_outside_office_hours_a_ticket_is_offered(app, signed_in, clock):
    nobody = hand_over(app, "conv-nobody")
    assert nobody["queued"] is False and nobody["ticket_answered_by"] == "2026-12-03"

    agent_online(app, signed_in)
    clock.now = dt.datetime(2026, 12, 4, 17, 30, tzinfo=dt.UTC)  # Friday 18:30 in Amsterdam
    evening = hand_over(app, "conv-evening")
    assert evening["queued"] is False
    assert evening["opens_at"] == "2026-12-07T09:00:00+01:00", "back on Monday morning"
    assert evening["ticket_answered_by"] == "2026-12-08", "two working days: Monday and Tuesday"

    clock.now = dt.datetime(2026, 12, 25, 10, 0, tzinfo=dt.UTC)  # Christmas Day, a Friday
    assert hand_over(app, "conv-christmas")["opens_at"] == "2026-12-28T09:00:00+01:00"


def test_a_ticket_is_recorded_with_the_transcript_only_for_a_verified_customer(app, clock, tracker):
    tracker.customer_says("conv-ticket", "who sees my order history?")
    refused = assistant(app).post("/api/conversations/conv-ticket/tickets", json={"reason": "asked_for_person", "language": "nl"})
    assert refused.status_code == 403 and refused.json()["reason"] == "not_verified"

    verify(app, "conv-ticket", "C-1002", clock)
    recorded = assistant(app).post("/api/conversations/conv-ticket/tickets", json={"reason": "asked_for_person", "language": "nl"})
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["answer_by"] == "2026-12-03"
    with app.state.process.sessions() as session:
        ticket = session.get(Ticket, recorded.json()["ticket"])
        assert ticket.customer_id == "C-1002" and ticket.language == "nl"
        assert [m["text"] for m in ticket.transcript] == ["who sees my order history?"]


def test_two_agents_cannot_claim_the_same_conversation(app, signed_in, rasa: FakeRasa):
    anna, _ = agent_online(app, signed_in, "Anna")
    bram, _ = agent_online(app, signed_in, "Bram")
    entry = hand_over(app, "conv-claim")["entry"]

    taken = anna.post(f"/api/console/conversations/{entry}/claim")
    assert taken.status_code == 200, taken.text
    assert taken.json()["state"] == "claimed" and taken.json()["claimed_by_name"] == "Anna"
    assert rasa.said("conv-claim") == ["You are now talking to Anna from Voltera's team."]
    assert rasa.calls[-1].params["output_channel"] == "website" and rasa.calls[-1].params["execute_side_effects"] == "true"

    second = bram.post(f"/api/console/conversations/{entry}/claim")
    assert second.status_code in (404, 409)
    assert bram.get(f"/api/console/conversations/{entry}").status_code == 404, "not in the queue and not Bram's"
    assert bram.post(f"/api/console/conversations/{entry}/reply", json={"text": "hello"}).status_code == 404


def test_a_privacy_officer_reads_any_conversation(app, signed_in):
    anna, _ = agent_online(app, signed_in, "Anna")
    officer, _ = agent_online(app, signed_in, "Olga", role="privacy_officer")
    entry = hand_over(app, "conv-officer")["entry"]
    anna.post(f"/api/console/conversations/{entry}/claim")
    seen = officer.get(f"/api/console/conversations/{entry}")
    assert seen.status_code == 200 and seen.json()["claimed_by_name"] == "Anna"


def test_the_agent_replies_reads_what_the_customer_types_and_hands_back(app, signed_in, rasa, tracker, clock):
    anna, staff = agent_online(app, signed_in, "Anna")
    entry = hand_over(app, "conv-talk", language="nl")["entry"]
    tracker.customer_says("conv-talk", "ik wil een mens spreken", intent="ask_human")
    tracker.add("conv-talk", "pause")
    assert anna.post(f"/api/console/conversations/{entry}/claim").status_code == 200
    assert rasa.said("conv-talk") == ["Je praat nu met Anna van het team van Voltera."]

    replied = anna.post(f"/api/console/conversations/{entry}/reply", json={"text": "Waarmee kan ik helpen?"})
    assert replied.status_code == 200, replied.text
    assert rasa.said("conv-talk")[-1] == "Anna: Waarmee kan ik helpen?"
    tracker.customer_says("conv-talk", "Mijn adres klopt niet <script>alert(1)</script>", intent="request_correction")
    anna.post(f"/api/console/conversations/{entry}/notes", json={"text": "Klant wil adres wijzigen"})

    view = anna.get(f"/api/console/conversations/{entry}").json()
    texts = [(m["from"], m["text"]) for m in view["transcript"]]
    assert ("customer", "ik wil een mens spreken") in texts
    assert ("agent", "Anna: Waarmee kan ik helpen?") in texts
    assert texts[-1] == ("customer", "Mijn adres klopt niet <script>alert(1)</script>")
    assert [n["text"] for n in view["notes"]] == ["Klant wil adres wijzigen"]

    back = anna.post(f"/api/console/conversations/{entry}/hand-back")
    assert back.status_code == 200 and back.json()["state"] == "handed_back"
    assert rasa.calls[-1].events[0] == {"event": "resume"}
    assert rasa.said("conv-talk")[-1] == "Je praat weer met de assistent van Voltera. Waarmee kan ik je helpen?"
    assert anna.get("/api/console/queue").json()["queue"] == []
    with app.state.process.sessions() as session:
        trail = [(a.actor, a.action) for a in session.scalars(select(HandoffAudit).where(HandoffAudit.entry_id == entry)
                                                                .order_by(HandoffAudit.id))]
    actor = f"agent:{staff.email}"
    assert trail == [("assistant", "queued"), (actor, "claimed"), (actor, "replied"), (actor, "noted"), (actor, "handed_back")]


def test_a_reply_rasa_did_not_take_is_reported_to_the_agent(app, signed_in, rasa):
    anna, _ = agent_online(app, signed_in)
    entry = hand_over(app, "conv-down")["entry"]
    anna.post(f"/api/console/conversations/{entry}/claim")
    rasa.refuse = True
    failed = anna.post(f"/api/console/conversations/{entry}/reply", json={"text": "hello"})
    assert failed.status_code == 502 and "has not received it" in failed.json()["detail"]
    assert anna.post(f"/api/console/conversations/{entry}/reply", json={"text": " "}).status_code == 422


def test_a_customer_who_restarts_or_stops_waiting_leaves_the_queue(app, signed_in, rasa, tracker, clock):
    anna, _ = agent_online(app, signed_in)
    restarted = hand_over(app, "conv-restart")["entry"]
    stopped = hand_over(app, "conv-stop")["entry"]
    tracker.add("conv-restart", "restart")
    tracker.customer_says("conv-stop", "/cancel_handoff", intent="cancel_handoff")
    app.state.handoff.upkeep.run_once(clock())

    assert anna.get("/api/console/queue").json()["queue"] == []
    with app.state.process.sessions() as session:
        assert session.get(QueueEntry, restarted).ended_because == "the customer restarted the chat"
        assert session.get(QueueEntry, stopped).state == "cancelled"
    assert rasa.calls[-1].events[0] == {"event": "resume"}
    assert rasa.said("conv-stop") == ["You are no longer waiting for a member of staff. You are talking to the assistant again."]


def test_a_claim_whose_console_went_away_returns_to_the_queue(app, signed_in, clock):
    anna, _ = agent_online(app, signed_in)
    entry = hand_over(app, "conv-lapse")["entry"]
    anna.post(f"/api/console/conversations/{entry}/claim")
    clock.now += dt.timedelta(seconds=60)
    app.state.handoff.upkeep.run_once(clock())
    with app.state.process.sessions() as session:
        assert session.get(QueueEntry, entry).state == "claimed", "within the timeout it stays Anna's"
    clock.now += dt.timedelta(seconds=121)
    app.state.handoff.upkeep.run_once(clock())
    with app.state.process.sessions() as session:
        assert session.get(QueueEntry, entry).state == "waiting"


def test_the_console_api_refuses_without_a_session_a_forged_one_or_the_csrf_token(app, signed_in):
    anna, _ = agent_online(app, signed_in)
    entry = hand_over(app, "conv-refuse")["entry"]
    stranger = browser(app)
    assert stranger.get("/api/console/queue").status_code == 401
    assert stranger.get(f"/api/console/conversations/{entry}").status_code == 401
    assert stranger.post(f"/api/console/conversations/{entry}/claim").status_code == 401
    stranger.cookies.set("console_session", "forged-" + "x" * 40)
    assert stranger.get("/api/console/queue").status_code == 401
    assert stranger.get("/console", follow_redirects=False).status_code in (303, 307)

    del anna.headers["X-CSRF-Token"]
    assert anna.post(f"/api/console/conversations/{entry}/claim").status_code == 403
    anna.headers["X-CSRF-Token"] = "wrong"
    assert anna.post(f"/api/console/conversations/{entry}/claim").status_code == 403


def test_the_assistant_side_needs_the_service_token_and_bounded_input(app):
    no_token = browser(app).post("/api/conversations/c/handoff", json={"reason": "asked_for_person"})
    assert no_token.status_code == 401
    too_long = assistant(app).post("/api/conversations/c/handoff", json={
        "reason": "asked_for_person", "summary": {"last_messages": ["x" * 301]}})
    assert too_long.status_code == 422
    unknown = assistant(app).post("/api/conversations/c/handoff", json={"reason": "because"})
    assert unknown.status_code == 422


def test_an_agent_files_a_request_for_the_verified_customer_and_the_ledger_names_them(app, signed_in, rasa, clock):
    anna, staff = agent_online(app, signed_in)
    entry = hand_over(app, "conv-file")["entry"]
    anna.post(f"/api/console/conversations/{entry}/claim")
    asked = {"type": "access", "client_request_id": "console-0001"}
    unverified = anna.post(f"/api/console/conversations/{entry}/requests", json=asked)
    assert unverified.status_code == 409 and "not verified" in unverified.json()["detail"]

    verify(app, "conv-file", "C-3003", clock)
    filed = anna.post(f"/api/console/conversations/{entry}/requests", json=asked)
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["request"]
    assert rasa.said("conv-file")[-1] == f"Anna has filed your request {request_id}. We complete it by 1 January 2027."
    again = anna.post(f"/api/console/conversations/{entry}/requests", json=asked)
    assert again.status_code == 200 and again.json()["request"] == request_id, "a retry of the console files once"

    with app.state.process.sessions() as session:
        filed_entry = session.scalar(select(AuditEntry).where(AuditEntry.request_id == request_id, AuditEntry.action == "filed"))
        request = session.get(Request, request_id)
    assert filed_entry.actor == f"agent:{staff.email}" and request.customer_id == "C-3003"
    assert filed_entry.detail["on_behalf_of"] == "C-3003"


def test_notes_are_in_the_customers_transcript_and_go_with_an_erasure(app, signed_in, tracker, clock):
    anna, _ = agent_online(app, signed_in)
    verify(app, "conv-notes", "C-4004", clock)
    tracker.customer_says("conv-notes", "please delete everything")
    entry = hand_over(app, "conv-notes")["entry"]
    anna.post(f"/api/console/conversations/{entry}/claim")
    anna.post(f"/api/console/conversations/{entry}/notes", json={"text": "asked for erasure by phone too"})

    store = app.state.handoff.store
    with app.state.process.sessions() as session:
        notes = staff_notes(session, ["conv-notes"])
    transcript = store.transcripts(["conv-notes"])[0].with_notes(notes["conv-notes"])
    assert {"from": "staff note", "text": "asked for erasure by phone too"} in [
        {k: m[k] for k in ("from", "text")} for m in transcript.messages]

    carry_out("erase", "C-4004", app.state.process.sessions, store, clock())
    with app.state.process.sessions() as session:
        assert staff_notes(session, ["conv-notes"]) == {}
        assert session.get(QueueEntry, entry).summary == {}


def test_suggestions_are_in_the_customers_language_with_the_knowledge_version(app, signed_in):
    anna, _ = agent_online(app, signed_in)
    entry = hand_over(app, "conv-suggest", language="nl")["entry"]
    found = anna.get(f"/api/console/conversations/{entry}/suggestions").json()
    assert found["language"] == "nl" and found["knowledge_version"] == "2026-09"
    assert {"title": "Even geduld", "text": "Een moment, ik zoek het voor je uit."} in found["canned"]
    security = next(a for a in found["knowledge"] if a["title"] == "security")
    assert security["text"].startswith("We beschermen je gegevens")


def test_a_waiting_customer_whose_chat_stays_closed_leaves_the_queue(app, signed_in, rasa, clock):
    anna, _ = agent_online(app, signed_in)
    entry = hand_over(app, "conv-away")["entry"]
    said = assistant(app)
    assert said.post("/api/conversations/conv-away/handoff/presence", json={"here": False}).status_code == 204
    clock.now += dt.timedelta(seconds=30)
    app.state.handoff.upkeep.run_once(clock())
    waiting = anna.get("/api/console/queue").json()["queue"][0]
    assert waiting["id"] == entry and waiting["customer_away_since"] is not None, "the agent sees the window closed"

    said.post("/api/conversations/conv-away/handoff/presence", json={"here": True})  # a reload: back again
    clock.now += dt.timedelta(minutes=5)
    app.state.handoff.upkeep.run_once(clock())
    assert anna.get("/api/console/queue").json()["queue"][0]["customer_away_since"] is None

    said.post("/api/conversations/conv-away/handoff/presence", json={"here": False})
    clock.now += dt.timedelta(minutes=3)
    app.state.handoff.upkeep.run_once(clock())
    assert anna.get("/api/console/queue").json()["queue"] == []
    assert rasa.calls[-1].events[0] == {"event": "resume"}, "the bot is back for when they return"


def test_an_agent_transfers_a_conversation_to_an_available_colleague(app, signed_in, rasa):
    anna, anna_staff = agent_online(app, signed_in, "Anna")
    bram, bram_staff = agent_online(app, signed_in, "Bram")
    entry = hand_over(app, "conv-transfer")["entry"]
    anna.post(f"/api/console/conversations/{entry}/claim")
    listed = anna.get("/api/console/colleagues").json()["colleagues"]
    assert {"id": bram_staff.id, "available": True} in [{k: c[k] for k in ("id", "available")} for c in listed]
    assert anna_staff.id not in [c["id"] for c in listed]

    moved = anna.post(f"/api/console/conversations/{entry}/transfer", json={"to": bram_staff.id})
    assert moved.status_code == 200 and moved.json()["claimed_by_name"] == "Bram"
    assert rasa.said("conv-transfer")[-2:] == ["Anna is passing your chat to a colleague. One moment, please.",
                                               "You are now talking to Bram from Voltera's team."]
    assert bram.post(f"/api/console/conversations/{entry}/reply", json={"text": "Bram here"}).status_code == 200
    assert anna.get(f"/api/console/conversations/{entry}").status_code == 404, "no longer Anna's"


def test_a_colleague_id_beyond_a_database_integer_is_refused():
    assert TransferIn.model_validate({"to": MAX_STAFF_ID}).to == MAX_STAFF_ID
    with pytest.raises(ValueError):
        TransferIn.model_validate({"to": MAX_STAFF_ID + 1})


def test_outside_office_hours_a_ticket_is_recorded_with_the_transcript_and_its_answer_date(app, signed_in, clock, tracker):
    agent_online(app, signed_in)  # an agent still signed in on Friday evening does not open the office
    clock.now = dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.UTC)  # Friday 19:00 in Amsterdam
    verify(app, "conv-friday", "C-5005", clock)
    tracker.customer_says("conv-friday", "mijn bestelling is naar een verkeerd adres gestuurd")
    offer = hand_over(app, "conv-friday", language="nl")
    assert offer == {"queued": False, "opens_at": "2026-12-07T09:00:00+01:00", "ticket_answered_by": "2026-12-08"}
    recorded = assistant(app).post("/api/conversations/conv-friday/tickets", json={"reason": "asked_for_person", "language": "nl"})
    assert recorded.status_code == 201 and recorded.json()["answer_by"] == "2026-12-08"
    with app.state.process.sessions() as session:
        ticket = session.get(Ticket, recorded.json()["ticket"])
    assert [m["text"] for m in ticket.transcript] == ["mijn bestelling is naar een verkeerd adres gestuurd"]


def test_twenty_chats_from_one_source_are_capped_and_other_sources_keep_their_place(app, signed_in):
    """One address cannot fill the queue: beyond HANDOFF_WAITING_PER_SOURCE (2) chats waiting from it,
    it is offered a ticket, and a customer from elsewhere is number 3, not number 21."""
    anna, _ = agent_online(app, signed_in)
    flood = "f" * 16
    answers = [hand_over(app, f"conv-flood-{n}", source=flood) for n in range(20)]
    assert [a["queued"] for a in answers] == [True] * 2 + [False] * 18
    assert [a["position"] for a in answers[:2]] == [1, 2]
    assert answers[2] == {"queued": False, "opens_at": None, "ticket_answered_by": "2026-12-03"}, "a ticket, answered by e-mail"

    elsewhere = hand_over(app, "conv-elsewhere", source="e" * 16)
    assert elsewhere["queued"] is True and elsewhere["position"] == 3
    assert hand_over(app, "conv-no-source")["position"] == 4, "channels without a source are not limited by it"
    assert hand_over(app, "conv-flood-0", source=flood)["position"] == 1, "asking again keeps the place"

    queue = anna.get("/api/console/queue").json()["queue"]
    assert [e["same_source_as"] for e in queue] == [1, 1, 0, 0], "the agent sees two chats from one place"
    first = queue[0]["id"]
    assert anna.post(f"/api/console/conversations/{first}/claim").status_code == 200
    assert hand_over(app, "conv-flood-20", source=flood)["queued"] is True, "a place frees up when an agent takes one"
    assert hand_over(app, "conv-flood-21", source=flood)["queued"] is False
    assert anna.get(f"/api/console/conversations/{first}").json()["same_source_as"] == 2, "the open chats from that source"


def test_a_verified_customer_has_one_chat_waiting_at_a_time(app, signed_in, clock):
    agent_online(app, signed_in)
    for n in range(2):
        verify(app, f"conv-same-customer-{n}", "C-6006", clock)
    placed = [hand_over(app, f"conv-same-customer-{n}", source=f"{n + 1:016x}") for n in range(2)]
    assert [p["queued"] for p in placed] == [True, False]
    assert placed[1]["ticket_answered_by"] == "2026-12-03"


def test_a_hand_over_in_the_conversations_first_turn_stays_in_the_queue(app, signed_in, tracker, clock):
    """Rasa stores a turn when it has ended: the first message's turn, which begins with the session's
    start, reaches the tracker store after the hand-over. That start is not the customer leaving."""
    anna, _ = agent_online(app, signed_in)
    answer = assistant(app).post("/api/conversations/conv-first/handoff", json={
        "reason": "asked_for_person", "language": "nl", "summary": {"last_messages": ["ik wil een medewerker spreken"]}})
    assert answer.json()["queued"] is True and answer.json()["position"] == 1
    tracker.hand_over_turn("conv-first", "ik wil een medewerker spreken", first=True)
    app.state.handoff.upkeep.run_once(clock())
    [entry] = anna.get("/api/console/queue").json()["queue"]
    assert entry["summary"]["last_messages"] == ["ik wil een medewerker spreken"] and entry["state"] == "waiting"

    tracker.add("conv-first", "session_started")  # a session that starts after the hand-over's turn: the customer left
    app.state.handoff.upkeep.run_once(clock())
    assert anna.get("/api/console/queue").json()["queue"] == []
    with app.state.process.sessions() as session:
        assert session.get(QueueEntry, entry["id"]).ended_because == "the customer's chat session ended"


def test_the_queue_shows_what_customers_said_only_for_waiting_chats_and_the_agents_own(app, signed_in):
    anna, _ = agent_online(app, signed_in, "Anna")
    bram, _ = agent_online(app, signed_in, "Bram")
    annas = hand_over(app, "conv-annas")["entry"]
    waiting = hand_over(app, "conv-waiting")["entry"]
    assert anna.post(f"/api/console/conversations/{annas}/claim").status_code == 200

    def previews(client) -> dict[str, list[str]]:
        return {e["id"]: e["summary"]["last_messages"] for e in client.get("/api/console/queue").json()["queue"]}

    assert previews(anna) == {annas: SUMMARY["last_messages"], waiting: SUMMARY["last_messages"]}
    assert previews(bram) == {annas: [], waiting: SUMMARY["last_messages"]}, "Anna's chat shows Bram nothing of it"


def test_notes_only_by_the_agent_holding_the_chat(app, signed_in):
    anna, _ = agent_online(app, signed_in, "Anna")
    officer, _ = agent_online(app, signed_in, "Olga", role="privacy_officer")
    entry = hand_over(app, "conv-noted")["entry"]
    untaken = anna.post(f"/api/console/conversations/{entry}/notes", json={"text": "a note on nobody's chat"})
    assert untaken.status_code == 409 and "take the conversation first" in untaken.json()["detail"]
    assert anna.post(f"/api/console/conversations/{entry}/claim").status_code == 200
    assert officer.post(f"/api/console/conversations/{entry}/notes", json={"text": "not Olga's"}).status_code == 409
    noted = anna.post(f"/api/console/conversations/{entry}/notes", json={"text": "holding it now"})
    assert noted.status_code == 200 and [n["text"] for n in noted.json()["notes"]] == ["holding it now"]


def test_the_console_transcript_masks_a_typed_code_an_export_link_and_tokens(app, signed_in, tracker):
    """Staff read what the customer said, never their credentials: the transcript API (and the queue's
    preview) masks one-time codes, export links and tokens; the customer's own copy is untouched."""
    anna, _ = agent_online(app, signed_in)
    link = "http://localhost:8123/exports/0Hq3xN7b-K2mZpVd9sWcRt4YuEa1LfGo6jXiBh5nTkA.json"
    session_token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDMDAwMSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
    tracker.customer_says("conv-secret", "my code is 482 913")
    tracker.add("conv-secret", "bot", text=f"Here is your download link: {link} (15 minutes)")
    tracker.customer_says("conv-secret", f"my login token {session_token} and order 42")
    summary = {"last_messages": ["my code is 482913", f"the link {link} does not open"]}
    entry = hand_over(app, "conv-secret", summary=summary)["entry"]

    answer = anna.get(f"/api/console/conversations/{entry}")
    assert answer.status_code == 200
    texts = [m["text"] for m in answer.json()["transcript"]]
    assert texts == ["my code is [hidden]", "Here is your download link: http://localhost:8123/exports/[hidden] (15 minutes)",
                     "my login token [hidden] and order 42"]
    assert answer.json()["summary"]["last_messages"] == ["my code is [hidden]", "the link http://localhost:8123/exports/[hidden] does "
                                                         "not open"]
    queue = anna.get("/api/console/queue").text
    for secret in ("482913", "482 913", "0Hq3xN7b", session_token[:20]):
        assert secret not in answer.text and secret not in queue, secret
    assert anna.post(f"/api/console/conversations/{entry}/claim").status_code == 200
    assert "482 913" not in anna.get(f"/api/console/conversations/{entry}").text, "nor once the agent holds the chat"
    assert [m["text"] for m in app.state.handoff.store.transcripts(["conv-secret"])[0].messages][0] == "my code is 482 913"
