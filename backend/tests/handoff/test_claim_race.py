"""Two moves on one chat at the same instant: the database decides, and exactly one happens. On
SQLite and PostgreSQL (`db_url`). Both claims are released together (a barrier), after each agent's
own session has read the chat as waiting, so the check in Python passes for both and only the
conditional UPDATE in `service.claim` stands between them and two holders. (Replace it with a plain
UPDATE, and both win.) An agent's hand-back sent twice at once (two clicks, two back offices) is
raced the same way: `service.held` reads the entry again under its row's lock, so the customer hears
the bot is back once. (Without it, both pass and the customer is told twice.)"""
from __future__ import annotations

import threading

from sqlalchemy import select

from backoffice.handoff import service
from backoffice.handoff.rules import Refused, State
from backoffice.handoff.tables import HandoffAudit, QueueEntry
from backoffice.sentences import texts

from .conftest import FakeRasa, assistant, browser

ROUNDS = 5


def test_two_agents_claiming_at_the_same_instant_one_wins(app, signed_in, clock, rasa: FakeRasa):
    agents = []
    for name in ("Anna", "Bram"):
        client = browser(app)
        agents.append(signed_in(client, first_name=name))
        assert client.get("/api/console/queue").status_code == 200
    sessions, parts = app.state.process.sessions, app.state.handoff

    for round_ in range(ROUNDS):
        conversation = f"conv-race-{round_}"
        entry_id = assistant(app).post(f"/api/conversations/{conversation}/handoff", json={"reason": "asked_for_person"}).json()["entry"]
        together = threading.Barrier(2, timeout=30)
        outcome: dict[str, str] = {}

        def take(agent, entry_id=entry_id, together=together, outcome=outcome) -> None:
            try:
                with sessions() as session:
                    entry = session.get(QueueEntry, entry_id)
                    outcome[agent.first_name] = f"read it {entry.state if entry else 'missing'}"
                    session.commit()  # the read's transaction ends (on SQLite it holds the write lock), the entry stays read
                    together.wait()
                    try:
                        service.claim(session, parts.rasa, entry, agent, clock())
                        outcome[agent.first_name] = "won"
                    except Refused:
                        outcome[agent.first_name] = "refused"
            except Exception as exc:  # reported below: an exception in a thread would otherwise pass silently
                outcome[agent.first_name] += f", then failed: {exc!r}"

        threads = [threading.Thread(target=take, args=(agent,)) for agent in agents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(outcome.values()) == ["refused", "won"], outcome  # both read it waiting, then the database chose
        winner = next(name for name, result in outcome.items() if result == "won")
        with sessions() as session:
            entry = session.get(QueueEntry, entry_id)
            claims = session.scalars(select(HandoffAudit.actor).where(HandoffAudit.entry_id == entry_id,
                                                                      HandoffAudit.action == "claimed")).all()
        assert entry.state == "claimed" and entry.claimed_by_name == winner
        assert len(claims) == 1, "one claim on record"
        assert rasa.said(conversation) == [f"You are now talking to {winner} from Voltera's team."], "the customer hears one name"


def test_a_hand_back_sent_twice_at_the_same_instant_happens_once(app, signed_in, clock, rasa: FakeRasa):
    client = browser(app)
    anna = signed_in(client, first_name="Anna")
    assert client.get("/api/console/queue").status_code == 200
    sessions, parts = app.state.process.sessions, app.state.handoff

    for round_ in range(ROUNDS):
        conversation = f"conv-back-{round_}"
        entry_id = assistant(app).post(f"/api/conversations/{conversation}/handoff", json={"reason": "asked_for_person"}).json()["entry"]
        assert client.post(f"/api/console/conversations/{entry_id}/claim").status_code == 200
        together = threading.Barrier(2, timeout=30)
        outcome: list[str] = []

        def hand_back(entry_id=entry_id, together=together, outcome=outcome) -> None:
            try:
                with sessions() as session:
                    entry = session.get(QueueEntry, entry_id)
                    assert entry is not None and entry.state == "claimed"
                    session.commit()  # the read's transaction ends (on SQLite it holds the write lock), the entry stays read
                    together.wait()
                    try:
                        service.end(session, parts.rasa, entry, anna, State.HANDED_BACK, clock())
                        outcome.append("handed back")
                    except Refused:
                        outcome.append("refused")
            except Exception as exc:  # reported below: an exception in a thread would otherwise pass silently
                outcome.append(f"failed: {exc!r}")

        threads = [threading.Thread(target=hand_back) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(outcome) == ["handed back", "refused"], outcome
        with sessions() as session:
            backs = session.scalars(select(HandoffAudit.action).where(HandoffAudit.entry_id == entry_id,
                                                                      HandoffAudit.action == "handed_back")).all()
        assert len(backs) == 1, "one hand-back on record"
        bot_is_back = texts("Voltera")("en", "back_office.handoff.bot_is_back")
        assert rasa.said(conversation)[1:] == [bot_is_back], "the customer hears once that the bot is back"
