"""Two back offices follow the same queue: each chat's change happens once. On SQLite and PostgreSQL
(`db_url`). Two upkeeps, each with its own connections, tracker reader and Rasa client as two back
offices have, are released together (a barrier) on a queue where every entry is due for a change: a
customer who pressed "stop waiting", one whose chat window stayed closed, one who restarted, and a
claim whose agent's console went away. Each change, its audit line and the customer's notice must
exist once. (Without the entry's row lock in `Upkeep._hold`, both upkeeps read the entries open and
both act: the customer is told twice and the audit has two lines.)"""
from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

from sqlalchemy import select

from backoffice.handoff import service
from backoffice.handoff.tables import HandoffAudit, QueueEntry
from backoffice.sentences import texts
from backoffice.shared.database import open_database
from backoffice.shared.tracker_store import TrackerStore

from .conftest import RASA_TOKEN, FakeRasa, assistant
from .test_queue import agent_online, hand_over

ROUNDS = 3

VOLTERA = texts("Voltera")
STOPPED_WAITING = VOLTERA("en", "back_office.handoff.stopped_waiting")


def test_two_back_offices_following_one_queue_change_each_chat_once(app, signed_in, clock, rasa: FakeRasa, tracker, db_url):
    anna, _ = agent_online(app, signed_in)
    config = app.state.handoff.config
    for round_ in range(ROUNDS):
        assert anna.get("/api/console/queue").status_code == 200  # her console is open: she is available
        stopped, away, restarted, lapsed = (f"conv-{kind}-{round_}" for kind in ("stop", "away", "restart", "lapse"))
        entries = {conversation: hand_over(app, conversation)["entry"] for conversation in (stopped, away, restarted, lapsed)}
        assert anna.post(f"/api/console/conversations/{entries[lapsed]}/claim").status_code == 200
        assert assistant(app).post(f"/api/conversations/{away}/handoff/presence", json={"here": False}).status_code == 204
        tracker.customer_says(stopped, "/cancel_handoff", intent="cancel_handoff")
        tracker.add(restarted, "restart")
        clock.now += config.claim_timeout + dt.timedelta(minutes=3)  # past the claim's timeout and the away grace

        back_offices = [open_database(db_url) for _ in range(2)]
        upkeeps = [service.Upkeep(sessions, TrackerStore(tracker.url), service.RasaConversations(rasa.url, RASA_TOKEN, VOLTERA), config)
                   for _, sessions in back_offices]
        together = threading.Barrier(2, timeout=30)
        failed: list[str] = []

        def follow(upkeep: service.Upkeep, together=together, failed=failed) -> None:
            try:
                together.wait()
                upkeep.run_once(clock())
            except Exception as exc:  # reported below: an exception in a thread would otherwise pass silently
                failed.append(repr(exc))

        threads = [threading.Thread(target=follow, args=(upkeep,)) for upkeep in upkeeps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for upkeep, (engine, _) in zip(upkeeps, back_offices, strict=True):
            upkeep.rasa.close()
            upkeep.store.close()
            engine.dispose()
        assert failed == []

        with app.state.process.sessions() as session:
            states = {conversation: session.get(QueueEntry, entry_id).state for conversation, entry_id in entries.items()}
            audited = Counter((entry_id, action) for entry_id, action in session.execute(
                select(HandoffAudit.entry_id, HandoffAudit.action).where(HandoffAudit.entry_id.in_(entries.values()))))
        assert states == {stopped: "cancelled", away: "left", restarted: "left", lapsed: "waiting"}
        changes = {(entries[stopped], "cancelled"), (entries[away], "left"), (entries[restarted], "left"),
                   (entries[lapsed], "returned_to_queue")}
        assert {change: audited[change] for change in changes} == dict.fromkeys(changes, 1), "one audit line per change"
        assert rasa.said(stopped) == [STOPPED_WAITING] and rasa.said(away) == [STOPPED_WAITING], "told once"
        assert rasa.said(restarted) == [], "a restarted chat is not told it stopped waiting"
        resumed = Counter(call.conversation_id for call in rasa.calls
                          if call.conversation_id in entries and call.events[0] == {"event": "resume"})
        assert resumed == {stopped: 1, away: 1}, "the bot resumed once"
