"""HTTP client of the back office, used by the actions.

Published knowledge-base versions never change, so each is fetched once and kept; only "which
version is current" is asked again, every `current_ttl` seconds and at the moment the back office
says a newer version takes effect, so no answer names the old one after it. Every call has a timeout
well under Rasa's 60 s conversation lock, and idempotent GETs are retried with backoff.

The ids both sides use (rights, request statuses, consents, correctable fields, address parts) are
the back office's: `vocabulary()` fetches them once, and the actions keep only their wording
(text-catalogue/texts/<language>.yml, read by actions/sentences.py) and the words that recognise them.

Every call about a conversation's customer carries the `Presence` of the message being answered
(chatprotocol): the back office answers (and binds) only where the conversation was verified. Every
call carries the action call's request id and conversation reference too (bot/logs.py), so the back
office's log lines for it name the same; a call that fails is counted against the running action
(actions/metrics.py). What an error of this client says names the route, never a conversation's id
or what the back office repeated of the input.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from actions import metrics
from bot import logs
from chatprotocol import CONNECTION_KEY, CONVERSATION_REF_HEADER, REQUEST_ID_HEADER, SOURCE_KEY, HandoffReason, Presence

logger = logging.getLogger(__name__)
# The path segments that follow these are ids: an error names the route, with "{id}" in their place.
ID_AFTER = frozenset({"conversations", "drafts", "requests", "customers", "versions", "topics"})


def route_of(path: str) -> str:
    """/api/conversations/whatsapp-316.../drafts/D-1/file -> /api/conversations/{id}/drafts/{id}/file"""
    parts = path.split("?", 1)[0].split("/")
    return "/".join("{id}" if i and parts[i - 1] in ID_AFTER else part for i, part in enumerate(parts))


def call_headers(presence: Presence | None = None) -> dict[str, str]:
    """The presence's headers (if any), and the current action call's request id and conversation reference."""
    headers = presence.headers() if presence is not None else {}
    request_id, conversation = logs.request_id.get(), logs.conversation.get()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    if conversation:
        headers[CONVERSATION_REF_HEADER] = conversation
    return headers


def presence_of(tracker: Any) -> Presence:
    """The presence of the tracker's latest user message: Rasa's input channel, and the website channel's
    reserved metadata (the socket connection's reference and the client's keyed address hash), set
    server-side on the latest user event (rasa_sdk's `latest_message` has no metadata)."""
    latest: dict[str, Any] = next(
        (e for e in reversed(tracker.events or []) if isinstance(e, dict) and e.get("event") == "user"), {})
    metadata = latest.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return Presence.shaped(latest.get("input_channel"), metadata.get(CONNECTION_KEY), metadata.get(SOURCE_KEY))


@dataclass(frozen=True)
class Vocabulary:
    """The ids the back office defines and the actions use (`GET /api/vocabulary`), each in its order."""

    rights: tuple[str, ...]
    statuses: tuple[str, ...]
    consents: tuple[str, ...]
    # the consents an objection to direct marketing stops (at once, Art. 21(3)): "all marketing"
    direct_marketing: tuple[str, ...]
    correctable_fields: tuple[str, ...]
    address_parts: tuple[str, ...]
    # the register's purpose of each consent, for its own instruction to switch it off
    consent_purposes: tuple[tuple[str, str], ...] = ()
    # the consents whose data is not linked to the customer: switched off without verifying anyone
    unlinked: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Vocabulary:
        consents = body["consents"]
        return cls(rights=tuple(body["rights"]), statuses=tuple(body["statuses"]),
                   consents=tuple(c["id"] for c in consents),
                   direct_marketing=tuple(c["id"] for c in consents if c["direct_marketing"]),
                   correctable_fields=tuple(body["correctable_fields"]), address_parts=tuple(body["address_parts"]),
                   consent_purposes=tuple((c["id"], c["purpose"]) for c in consents),
                   unlinked=tuple(c["id"] for c in consents if c.get("linked_to_customer") is False))


class BackOfficeError(Exception):
    """The back office could not be reached or refused the call."""


class Refused(Exception):
    """The back office answered, but said no: `status` and its JSON (`reason`, `detail`, ...) say why."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        # the reason's id only: a 422's detail repeats the input (an e-mail address the customer typed)
        super().__init__(f"{status}: {body.get('reason') or 'refused'}")
        self.status = status
        self.body = body

    @property
    def reason(self) -> str:
        return str(self.body.get("reason") or "")


class BackOfficeClient:
    def __init__(self, base_url: str, service_token: str, timeout: float = 3.0, current_ttl: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.current_ttl = current_ttl
        self.session = requests.Session()
        retry = Retry(total=2, backoff_factor=0.2, status_forcelist=(502, 503, 504), allowed_methods=("GET",))
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["Authorization"] = f"Bearer {service_token}"
        self._versions: dict[str, dict[str, Any]] = {}
        self._current: str | None = None
        self._current_until = 0.0
        self._categories: dict[str, Any] | None = None
        self._vocabulary: Vocabulary | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> BackOfficeClient:
        return cls(
            os.getenv("BACKOFFICE_URL", "http://localhost:8000"),
            os.getenv("BACKOFFICE_SERVICE_TOKEN", ""),  # the action server does not start without it (server.py)
        )

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None, params: dict[str, str] | None = None,
              presence: Presence | None = None) -> dict[str, Any]:
        """One call; `Refused` for a 4xx answer (with its reason), `BackOfficeError` when there is no answer."""
        try:
            response = self.session.request(method, self.base_url + path, json=json, params=params,
                                            headers=call_headers(presence), timeout=self.timeout)
        except requests.RequestException as exc:
            metrics.backoffice_error("unavailable")
            raise BackOfficeError(f"{method} {route_of(path)}: no answer ({type(exc).__name__})") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {"detail": body}
        if 400 <= response.status_code < 500:
            metrics.backoffice_error("refused")
            raise Refused(response.status_code, body)
        if response.status_code >= 500:
            metrics.backoffice_error("unavailable")
            raise BackOfficeError(f"{method} {route_of(path)} answered {response.status_code}")
        return body

    def _get(self, path: str) -> dict[str, Any]:
        try:
            response = self.session.get(self.base_url + path, timeout=self.timeout, headers=call_headers())
            response.raise_for_status()
            return response.json()
        except requests.RequestException as exc:
            metrics.backoffice_error("unavailable")
            status = exc.response.status_code if exc.response is not None else None
            said = f"answered {status}" if status else "no answer"
            raise BackOfficeError(f"GET {route_of(path)}: {said} ({type(exc).__name__})") from exc

    def current_version_id(self) -> str:
        """The version in effect, asked again after `current_ttl` seconds, or sooner when the back
        office says a newer version takes effect before then (at midnight in Amsterdam)."""
        with self._lock:
            fresh = self._current and time.monotonic() < self._current_until
        if not fresh:
            listed = self._get("/api/knowledge/versions")
            ends_in = listed.get("current_for_seconds")
            keep = self.current_ttl if ends_in is None else min(self.current_ttl, ends_in)
            with self._lock:
                self._current, self._current_until = listed["current"], time.monotonic() + keep
        return self._current  # type: ignore[return-value]

    def version(self, version_id: str) -> dict[str, Any]:
        """The whole version in both languages; cached for good, since published versions are frozen."""
        if version_id not in self._versions:
            data = self._get(f"/api/knowledge/versions/{version_id}")
            with self._lock:
                self._versions[version_id] = data
        return self._versions[version_id]

    def versions(self) -> dict[str, Any]:
        return self._get("/api/knowledge/versions")

    def record_answer(self, conversation_id: str, version_id: str, topic: str, language: str) -> None:
        """Tell the back office which version answered this conversation (best effort, logged on failure)."""
        try:
            self.session.post(
                f"{self.base_url}/api/conversations/{quote(conversation_id, safe='')}/answers",
                json={"knowledge_version": version_id, "topic": topic, "language": language},
                timeout=self.timeout, headers=call_headers(),
            ).raise_for_status()
        except requests.RequestException as exc:
            metrics.backoffice_error("unavailable")
            logger.warning("could not record the answer of conversation %s (%s)", logs.reference(conversation_id),
                           type(exc).__name__)

    # --- identity: who this conversation is (never taken from what the customer typed) ---

    def identity(self, conversation_id: str, presence: Presence) -> dict[str, Any]:
        """`{verified, customer_id, method, expires_at}` for this conversation, as seen from where the message is."""
        return self._call("GET", f"/api/identity/conversations/{quote(conversation_id, safe='')}", presence=presence)

    def verified_customer(self, conversation_id: str, presence: Presence) -> str | None:
        found = self.identity(conversation_id, presence)
        return found.get("customer_id") if found.get("verified") else None

    def send_email_code(self, conversation_id: str, email: str, language: str, presence: Presence) -> dict[str, Any]:
        return self._call("POST", "/api/identity/email-code",
                          json={"conversation_id": conversation_id, "email": email, "language": language}, presence=presence)

    def check_email_code(self, conversation_id: str, code: str, presence: Presence) -> dict[str, Any]:
        return self._call("POST", "/api/identity/email-code/verify", json={"conversation_id": conversation_id, "code": code},
                          presence=presence)

    # --- the customer's own data ---

    def my_data(self, conversation_id: str, language: str, presence: Presence) -> dict[str, Any]:
        return self._call("GET", f"/api/conversations/{quote(conversation_id, safe='')}/my-data", params={"language": language},
                          presence=presence)

    def export_links(self, conversation_id: str, language: str, presence: Presence) -> dict[str, Any]:
        """Download links whose files are in the customer's language."""
        return self._call("POST", f"/api/conversations/{quote(conversation_id, safe='')}/exports", params={"language": language},
                          presence=presence)

    # --- the request ledger: drafts the customer confirms, and their requests ---

    def make_draft(self, conversation_id: str, draft: dict[str, Any], knowledge_version: str,
                   presence: Presence) -> dict[str, Any]:
        """Store the request the summary shows (`{draft_id, ...}`); "yes" files exactly that."""
        return self._call("POST", f"/api/conversations/{quote(conversation_id, safe='')}/drafts", json={
            "type": draft["type"], "categories": draft.get("categories"), "details": draft.get("details") or {},
            "knowledge_version": knowledge_version,
        }, presence=presence)

    def file_draft(self, conversation_id: str, draft_id: str, presence: Presence) -> dict[str, Any]:
        """File the confirmed draft (idempotent on the draft: a retry returns the first filing)."""
        return self._call("POST", f"/api/conversations/{quote(conversation_id, safe='')}/drafts/{quote(draft_id, safe='')}/file",
                          presence=presence)

    def conversation_requests(self, conversation_id: str, presence: Presence) -> dict[str, Any]:
        """The requests of the customer this conversation is verified as (where the message is)."""
        return self._call("GET", f"/api/conversations/{quote(conversation_id, safe='')}/requests", presence=presence)

    # --- handing the chat to a person ---

    def hand_over(self, conversation_id: str, reason: HandoffReason, language: str, summary: dict[str, list[str]],
                  presence: Presence) -> dict[str, Any]:
        """Queued (`position`, `expected_wait_minutes`) or not (`opens_at`, `ticket_answered_by`)."""
        return self._call("POST", f"/api/conversations/{quote(conversation_id, safe='')}/handoff",
                          json={"reason": reason.value, "language": language, "summary": summary}, presence=presence)

    def record_ticket(self, conversation_id: str, reason: HandoffReason, language: str, presence: Presence) -> dict[str, Any]:
        """`{ticket, answer_by}`; `Refused` with reason `not_verified` until the conversation is verified here."""
        return self._call("POST", f"/api/conversations/{quote(conversation_id, safe='')}/tickets",
                          json={"reason": reason.value, "language": language}, presence=presence)

    def request_categories(self) -> dict[str, Any]:
        """Category -> the systems holding it: what a request can cover (changes only with a deployment)."""
        if self._categories is None:
            self._categories = self._call("GET", "/api/request-categories")["categories"]
        return self._categories

    def vocabulary(self) -> Vocabulary:
        """The rights, statuses, consents, correctable fields and address parts (change only with a deployment)."""
        if self._vocabulary is None:
            self._vocabulary = Vocabulary.from_json(self._call("GET", "/api/vocabulary"))
        return self._vocabulary
