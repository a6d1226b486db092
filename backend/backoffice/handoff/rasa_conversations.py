"""The back office's client of Rasa's HTTP API, for what an agent says and does in a conversation.

Rasa keeps the conversation; an agent's reply is a `bot` event appended with the customer's own
output channel and `execute_side_effects`, so a channel that can push (the website's socket.io) shows
it at once, and a channel that cannot (REST) finds it in the tracker. Handing back appends `resume`
(docs/architecture.md). Every call carries the API's token (`rasa run --auth-token`) and a timeout well
under Rasa's 60-second conversation lock.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx2

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not be reached or refused the call; the message is safe to show an agent."""


class RasaConversations:
    def __init__(self, base_url: str, api_token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_token = api_token
        transport = httpx2.HTTPTransport(retries=2)  # connection failures only: an append is not repeated once sent
        self.http = httpx2.Client(timeout=httpx2.Timeout(timeout), transport=transport)

    def close(self) -> None:
        self.http.close()

    def say(self, conversation_id: str, channel: str, text: str, metadata: dict[str, Any] | None = None,
            resume: bool = False) -> None:
        """Send `text` to the customer as the conversation's next bot message on their channel (after
        resuming the bot first when `resume`)."""
        # After `resume` the bot listens again: without the `action_listen`, Rasa predicts the customer's
        # next message from a turn that never ended (and answers it with a fallback).
        events: list[dict[str, Any]] = [{"event": "resume"}, {"event": "action", "name": "action_listen"}] if resume else []
        events.append({"event": "bot", "text": text, "metadata": metadata or {}})
        self._append(conversation_id, channel, events)

    def _append(self, conversation_id: str, channel: str, events: list[dict[str, Any]]) -> None:
        if not self.api_token:
            raise RasaUnavailable("RASA_API_TOKEN is not set: the back office cannot reach the conversation")
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        params = {"token": self.api_token, "include_events": "NONE", "output_channel": channel or "latest",
                  "execute_side_effects": "true"}
        try:
            answer = self.http.post(url, params=params, json=events)
        except httpx2.HTTPError as exc:
            raise RasaUnavailable(f"the assistant (Rasa) cannot be reached ({type(exc).__name__}); try again") from None
        if answer.status_code >= 400:
            log.error("Rasa refused events for %s…: %s %s", conversation_id[:8], answer.status_code, answer.text[:200])
            raise RasaUnavailable(f"the assistant (Rasa) refused the message ({answer.status_code}); try again")
