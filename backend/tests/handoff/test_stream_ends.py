"""A console's live stream ends with the staff session that opened it: after the agent signs out, once
the session has expired, or when the account is disabled, it sends nothing more (no customer's
message reaches a browser that is no longer signed in) and closes. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backoffice.staff.tables import StaffMember

from .conftest import Clock, browser
from .test_queue import agent_online, hand_over

ENDED = "<the stream ended>"


def sign_out(app: FastAPI, agent: TestClient, _clock: Clock | None = None) -> None:
    """From another tab of the same browser, as the console's sign-out button does."""
    tab = browser(app)
    tab.cookies.set("console_session", agent.cookies["console_session"])
    answer = tab.post("/console/logout", data={"csrf_token": agent.headers["X-CSRF-Token"]}, follow_redirects=False)
    assert answer.status_code == 303


def expire(_app: FastAPI, _agent: TestClient, clock: Clock) -> None:
    clock.now += dt.timedelta(minutes=31)  # idle past the session's 30 minutes


def disable(app: FastAPI, agent: TestClient, _clock: Clock) -> None:
    staff_id = agent.get("/api/console/me").json()["id"]
    with app.state.process.sessions() as session:
        session.get(StaffMember, staff_id).active = False
        session.commit()


def read_until_closed(response: httpx2.Response, lines: queue.Queue[str]) -> None:
    """Every line the stream sends, then ENDED when the back office closes it (the test closing it first is no end)."""
    try:
        for line in response.iter_lines():
            lines.put(line)
    except Exception as exc:  # noqa: BLE001  (the test left the stream: told to the test, not lost in this thread)
        lines.put(f"<closed by the test: {exc!r}>")
        return
    lines.put(ENDED)


def received_until(lines: queue.Queue[str], wanted: Callable[[str], bool]) -> list[str]:
    seen: list[str] = []
    while not seen or not wanted(seen[-1]):
        seen.append(lines.get(timeout=60))
    return seen


@pytest.mark.parametrize("end", [sign_out, expire, disable])
def test_a_stream_opened_before_the_session_ended_stops_and_closes(app, signed_in, clock, end):
    agent, _ = agent_online(app, signed_in)
    before = hand_over(app, "conv-before")["entry"]
    with agent.stream("GET", "/api/console/stream") as response:
        assert response.status_code == 200
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=read_until_closed, args=(response, lines), daemon=True)
        reader.start()
        received_until(lines, lambda line: before in line)  # the stream is live

        end(app, agent, clock)
        agent_online(app, signed_in, "Bram")  # a colleague on duty, so the next chat is queued
        after_entry = hand_over(app, "conv-after")["entry"]  # a customer's chat that must not reach this browser any more
        after = received_until(lines, lambda line: line == ENDED)  # a stream that went on times out here
    assert not any(after_entry in line for line in after), after
    assert agent.get("/api/console/stream").status_code == 401  # and it cannot be opened again


def test_a_stream_of_a_live_session_goes_on(app, signed_in):
    """The check does not end a stream whose session is alive: a colleague's sign-out leaves it be."""
    agent, _ = agent_online(app, signed_in)
    colleague, _ = agent_online(app, signed_in, "Bram")
    with agent.stream("GET", "/api/console/stream") as response:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=read_until_closed, args=(response, lines), daemon=True).start()
        received_until(lines, lambda line: line.startswith("event: queue"))
        sign_out(app, colleague)
        later = hand_over(app, "conv-later")["entry"]
        assert received_until(lines, lambda line: later in line or line == ENDED)[-1] != ENDED
