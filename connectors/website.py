"""The website's chat channel: Rasa's socket.io channel, with sessions the server owns and the
website login checked by the back office.

The widget (web/static/chat.js) speaks Rasa's socket.io protocol with one addition: `session_request`
`{session_id, resume_secret}` -> `session_secret` `{session_id, resume_secret}` and `session_confirm`
"<id>", `user_uttered` `{message, session_id, customData}`, `bot_uttered` `{text, ...}`, at the
socket path /socket.io/. What this channel adds to `rasa.core.channels.socketio.SocketIOInput`:

1. **The server chooses the session id** (the Rasa sender id). An id is `<nonce>.<tag>`: 32 hex
   digits from `secrets`, a dot, and the first 32 hex digits of an HMAC-SHA256 of the nonce under a
   key derived from `CHAT_SESSION_ID_SECRET`. The session id a client puts in `user_uttered` is
   ignored: a connection speaks only in the session the server confirmed to it. (Rasa's own channel
   lets any client name any session id, another customer's included, and then receives that
   conversation's replies.)
   **A session is taken back only with its resume secret.** The id is no secret: it is the
   conversation's name in the tracker store, the back office, the console and the logs. So every
   confirmation is preceded by `session_secret`, to that connection only, with the session's resume
   secret (64 hex: an HMAC-SHA256 of the id under another key derived from CHAT_SESSION_ID_SECRET,
   so every replica knows it and nothing is stored). The widget keeps it in sessionStorage beside the
   id, and a reload or a reconnection proposes both; the secret is compared in constant time. A
   proposed id without its secret (or with a wrong one), or not issued here, gets a fresh session:
   nothing of the other conversation reaches that connection, and what it says goes to its own.
2. **The website login.** The widget connects with `io(url, {auth: {token}})` and repeats the token
   as `customData.session_token`. When the session is confirmed (and whenever a new token arrives
   in a message), the channel asks the back office to bind the conversation to the token's
   customer: `POST {BACKOFFICE_URL}/api/identity/session` with the service token. The back office
   alone checks the token (so this process does not need SESSION_TOKEN_SECRET, the key that can
   sign logins) and the actions read the binding from it. Refused (forged, expired, wrong audience),
   unreachable, or the conversation is already another customer's (then the connection gets a
   fresh session id and that one is bound): the customer is told so in their language
   (`customData.language`, nl or en, default en) on `bot_uttered`, before the answer to their
   message, and the conversation stays unverified. A connection without a token is anonymous, as
   before; a conversation verified earlier (by login or by e-mail code) keeps its binding in the
   back office, but it holds only on the connections that verified it (5.), not for whoever holds
   its server-issued id.
3. **No token reaches Rasa.** `session_token`, and any metadata key that looks like a credential
   (token, secret, password, authorization, cookie, jwt, api key), is removed from the metadata
   before the message goes to Rasa, so it is never stored in the tracker store.
4. `enter_room` / `leave_room` are awaited when python-socketio makes them coroutines (>= 5.10),
   so replies keep arriving beyond the 5.9.0 pin.
5. **The presence of every message.** Each socket connection gets a random reference (32 hex);
   every message carries it as the reserved metadata key `_connection`, with `_source`, the client's
   address as an HMAC-SHA256 under a key derived from `CHAT_SESSION_ID_SECRET` (16 hex: no raw
   address in the tracker). The address is the TCP peer's, or, when the peer is one of
   TRUSTED_PROXIES, the one its forwarding header names (connectors/proxies.py). Keys a client sends
   that start with `_` are dropped first. The login is bound with the connection's presence
   (`X-Chat-Channel: website`, `X-Chat-Connection`, `X-Chat-Source`), again on every new connection,
   and the back office answers with personal data only to messages of a connection so bound (or the
   one an e-mail code was typed on).
6. **Bounded input** (connectors/limits.py, shared with every channel): a message over
   `MAX_MESSAGE_CHARS` gets the "too long" answer in the page's language and never reaches Rasa;
   metadata that is not an object of at most 8 KiB is dropped; a socket.io packet over
   `MAX_REQUEST_BYTES` closes the connection. A page of an origin not in `allowed_origins`
   (CORS_ORIGINS) cannot connect: browsers do not apply CORS to websockets, so the channel checks
   the `Origin` itself (clients that send none, such as the tests, are not browsers on a page).

Configuration, all in bot/credentials.yml (secrets as `${VARIABLES}` from the environment):
`user_message_evt`, `bot_message_evt`, `session_persistence`, `metadata_key`, `socketio_path`
and `namespace` as for Rasa's channel, plus `backoffice_url`, `backoffice_service_token`,
`session_id_secret` and `allowed_origins` (space-separated). Rasa's `jwt_key` is not supported: the
back office checks the login.
One Rasa process keeps its connections in memory; several replicas need sticky sessions
(docs/architecture.md), and the same `CHAT_SESSION_ID_SECRET`. With `redis_url` (WEBSITE_REDIS_URL)
every replica shares socket.io's messages through Redis, so an agent's reply posted to one replica
reaches the customer's socket on another (`JsonRedisManager`).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer
from socketio.exceptions import ConnectionRefusedError as ConnectionRefused

import texts
from bot import logs
from chatprotocol import CONNECTION_KEY, SOURCE_KEY, Channel, Presence
from connectors.edge import keep_the_version_private
from connectors.limits import MAX_REQUEST_BYTES, Refused, client_metadata, is_too_long, too_long_answer, well_formed_text
from connectors.proxies import client_address

logger = logging.getLogger(__name__)

# Per back-office call: under the widget's 5 s wait for `session_confirm`, far under Rasa's 60 s lock.
IDENTITY_TIMEOUT_SECONDS = 4.0
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4096  # the longest token the back office accepts
SESSION_ID_LABEL = b"voltera website chat session id v1"
SOURCE_LABEL = b"voltera website chat source v1"
RESUME_LABEL = b"voltera website chat resume secret v1"
RESUME_SECRET_KEY = "resume_secret"  # in `session_secret` (server -> widget) and `session_request` (widget -> server)
SESSION_ID_PATTERN = re.compile(r"[0-9a-f]{32}\.[0-9a-f]{32}")
RESUME_SECRET_PATTERN = re.compile(r"[0-9a-f]{64}")
# The most one message shared between replicas through Redis (WEBSITE_REDIS_URL) may be. What crosses
# replicas is an agent's reply (2,000 characters, under 12 KB even JSON-escaped) or a turn's replies, a
# few KB; a bigger message is dropped before it is parsed, so a publisher to that Redis cannot make every
# replica parse megabytes.
MAX_SHARED_MESSAGE_BYTES = 64 * 1024

VERIFIED, REFUSED, OTHER_CUSTOMER, UNAVAILABLE = "verified", "refused", "other_customer", "unavailable"


def notice(key: str, language: Any) -> str:
    """The notice (`channels.website`, text catalogue) in the page's language (one the catalogue lacks: en)."""
    lang = language.strip().lower()[:2] if isinstance(language, str) else ""
    lang = lang if lang in texts.LANGUAGES else "en"
    return texts.text(lang, f"channels.website.{key}")


def _placeholder(secret: str | None) -> bool:
    return not secret or secret.startswith("change-me")


class SessionIds:
    """Session ids only this server can make: `<32 hex nonce>.<32 hex HMAC-SHA256 tag>`."""

    def __init__(self, secret: str | None) -> None:
        if _placeholder(secret):
            logger.warning("CHAT_SESSION_ID_SECRET is not set: website chat session ids are signed with a random key "
                           "of this process, so visitors start a new conversation whenever Rasa restarts")
            key = secrets.token_bytes(32)
        elif len(str(secret).encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"CHAT_SESSION_ID_SECRET must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 24`)")
        else:
            key = str(secret).encode()
        self._key = hmac.new(key, SESSION_ID_LABEL, hashlib.sha256).digest()
        self._source_key = hmac.new(key, SOURCE_LABEL, hashlib.sha256).digest()
        self._resume_key = hmac.new(key, RESUME_LABEL, hashlib.sha256).digest()

    def source_of(self, address: str) -> str:
        """The client's address as 16 hex digits of a keyed hash: limits per source without the address."""
        return hmac.new(self._source_key, address.encode(), hashlib.sha256).hexdigest()[:16]

    def issue(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{nonce}.{self._tag(nonce)}"

    def issued_here(self, candidate: Any) -> bool:
        if not isinstance(candidate, str) or not SESSION_ID_PATTERN.fullmatch(candidate):
            return False
        nonce, tag = candidate.split(".")
        return hmac.compare_digest(tag, self._tag(nonce))

    def _tag(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def resume_secret(self, session_id: str) -> str:
        """The second secret of a session (64 hex): given only to the connection the session is
        confirmed to, and asked for when a connection proposes the session again."""
        return hmac.new(self._resume_key, session_id.encode(), hashlib.sha256).hexdigest()

    def may_resume(self, session_id: Any, secret: Any) -> bool:
        """A server-issued session id with its resume secret (compared in constant time)."""
        if not self.issued_here(session_id) or not isinstance(secret, str) or not RESUME_SECRET_PATTERN.fullmatch(secret):
            return False
        return hmac.compare_digest(secret, self.resume_secret(session_id))


@dataclass(frozen=True)
class Verdict:
    outcome: str  # VERIFIED | REFUSED | OTHER_CUSTOMER | UNAVAILABLE
    reason: str = ""  # the back office's word: expired, bad_signature, wrong_audience, malformed, ...
    customer_id: str | None = None

    @property
    def notice_key(self) -> str | None:
        if self.outcome == REFUSED:
            return "expired" if self.reason == "expired" else "invalid"
        return "unavailable" if self.outcome == UNAVAILABLE else None


class IdentityClient:
    """The back office's `POST /api/identity/session`: bind a conversation to a login token's customer."""

    def __init__(self, base_url: str | None, service_token: str | None, timeout: float = IDENTITY_TIMEOUT_SECONDS) -> None:
        self.url = f"{(base_url or '').rstrip('/')}/api/identity/session"
        self.service_token = service_token or ""
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.configured = bool(base_url) and not _placeholder(self.service_token)
        if not self.configured:
            logger.error("website logins cannot be checked: set BACKOFFICE_URL and BACKOFFICE_SERVICE_TOKEN "
                         "(backoffice_url / backoffice_service_token in bot/credentials.yml)")

    async def bind(self, conversation_id: str, token: str, connection: str, source: str) -> Verdict:
        """Bind the conversation to the token's customer, on this connection (its presence)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return Verdict(REFUSED, "malformed")
        if not self.configured:
            return Verdict(UNAVAILABLE, "not_configured")
        headers = {"Authorization": f"Bearer {self.service_token}", **Presence(WebsiteInput.name(), connection, source).headers()}
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                async with http.post(self.url, json={"conversation_id": conversation_id, "token": token},
                                     headers=headers) as answer:
                    status = answer.status
                    body = await answer.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            logger.warning("the back office could not be asked about a website login: %s", type(exc).__name__)
            return Verdict(UNAVAILABLE, "unreachable")
        body = body if isinstance(body, dict) else {}
        reason = body.get("reason") if isinstance(body.get("reason"), str) else ""
        if status == 200 and body.get("verified") is True and isinstance(body.get("customer_id"), str):
            return Verdict(VERIFIED, customer_id=body["customer_id"])
        if status == 409 and reason == "other_customer":
            return Verdict(OTHER_CUSTOMER, reason)
        if status == 401 and reason:  # the token's fault (without a reason: our service token's)
            return Verdict(REFUSED, reason)
        logger.error("the back office answered %s (%s) to a website login check: check BACKOFFICE_URL and "
                     "BACKOFFICE_SERVICE_TOKEN", status, reason or body.get("detail"))
        return Verdict(UNAVAILABLE, reason or f"status {status}")


class PresenceNotices:
    """Tell the back office when a conversation's last chat window closes and when one opens again, so
    that an agent sees a customer who left, and a waiting one who stays away leaves the queue. Sent in
    the background (a closing socket waits for nobody); a notice that fails is logged and dropped."""

    def __init__(self, base_url: str | None, service_token: str | None, timeout: float = IDENTITY_TIMEOUT_SECONDS) -> None:
        self.base_url = (base_url or "").rstrip("/")
        self.service_token = service_token or ""
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.sending: set[asyncio.Task] = set()

    def tell(self, conversation_id: str, here: bool) -> None:
        if not self.base_url or _placeholder(self.service_token):
            return
        task = asyncio.get_running_loop().create_task(self._send(conversation_id, here))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _send(self, conversation_id: str, here: bool) -> None:
        url = f"{self.base_url}/api/conversations/{conversation_id}/handoff/presence"
        headers = {"Authorization": f"Bearer {self.service_token}"}
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                async with http.post(url, json={"here": here}, headers=headers) as answer:
                    if answer.status >= 400:
                        logger.warning("the back office answered %s to a chat window's presence", answer.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("the back office could not be told of a chat window's presence: %s", type(exc).__name__)


async def _maybe_await(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


def presence_metadata(metadata: dict[str, Any], conn: _Connection) -> dict[str, Any]:
    """The message's metadata with the server's presence keys, after dropping any a client sent (`_...`)."""
    own = {k: v for k, v in metadata.items() if not (isinstance(k, str) and k.startswith("_"))}
    return {**own, CONNECTION_KEY: conn.reference, SOURCE_KEY: conn.source}


@dataclass
class _Connection:
    """What the server knows about one socket connection."""

    reference: str = field(default_factory=lambda: secrets.token_hex(16))  # this connection's presence (`_connection`)
    source: str = ""  # the client's keyed address hash (`_source`)
    token: str | None = None  # the login token it presents (auth.token, or the newest customData.session_token)
    session_id: str | None = None  # the session confirmed to it
    checked: tuple[str, str] | None = None  # (session id, token) of the last login check
    verdict: Verdict | None = None
    notice: str | None = None  # to tell with the next message (when its language is known)
    told: set[tuple[str, str]] = field(default_factory=set)  # (token, notice) told already
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _token(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class JsonRedisManager(AsyncRedisManager):
    """python-socketio's Redis manager, speaking JSON only.

    The pinned python-socketio 5.9.0 (newer ones break Rasa 3.6's `enter_room`, DESIGN) publishes
    pickles and unpickles whatever arrives on the channel, so anyone able to publish to that Redis
    could run code in every Rasa replica (CVE-2025-61765; 5.14 moved to JSON). Here what is published
    is JSON, and only a JSON object is handed on: a pickle, or anything else, is dropped unread, and so
    is a message longer than MAX_SHARED_MESSAGE_BYTES.

    A message to this replica's own sockets is sent at once, then published for the others (the
    parent class sends it only when it comes back from Redis, which would let a turn's
    acknowledgement overtake its replies); this replica skips its own message when it comes back."""

    async def emit(self, event: str, data: Any, namespace: str | None = None, room: str | None = None,
                   skip_sid: Any = None, callback: Any = None, **kwargs: Any) -> Any:
        if callback is not None or kwargs.get("ignore_queue"):
            return await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
        await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, ignore_queue=True)
        await self._publish({"method": "emit", "event": event, "data": data, "namespace": namespace or "/", "room": room,
                             "skip_sid": skip_sid, "callback": None, "host_id": self.host_id})

    async def _publish(self, data: Any) -> Any:
        try:
            return await self.redis.publish(self.channel, json.dumps(data))
        except RedisError:  # once more on a new connection, as the parent class does
            self._redis_connect()
            return await self.redis.publish(self.channel, json.dumps(data))

    async def _listen(self) -> Any:
        async for message in super()._listen():
            size = len(message) if isinstance(message, bytes) else len(str(message).encode())
            if size > MAX_SHARED_MESSAGE_BYTES:
                logger.warning("a message of %d bytes on the socket.io channel was dropped unread: more than %d",
                               size, MAX_SHARED_MESSAGE_BYTES)
                continue
            try:
                data = json.loads(message)
            except (ValueError, UnicodeDecodeError):
                data = None
            if isinstance(data, dict):
                if data.get("method") == "emit" and data.get("host_id") == self.host_id:
                    continue  # sent to this replica's sockets already
                yield data
            else:
                logger.warning("a message on the socket.io channel that is not JSON was dropped")


class WebsiteInput(SocketIOInput):
    """The website chat widget's channel (socket.io): server-issued sessions, verified logins."""

    @classmethod
    def name(cls) -> str:
        return Channel.WEBSITE.value

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        if credentials.get("jwt_key"):
            raise ValueError("connectors.website.WebsiteInput does not take a jwt_key: the back office checks the login token")
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            session_persistence=credentials.get("session_persistence", True),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            metadata_key=credentials.get("metadata_key", "customData"),
            backoffice_url=credentials.get("backoffice_url"),
            backoffice_service_token=credentials.get("backoffice_service_token"),
            session_id_secret=credentials.get("session_id_secret"),
            allowed_origins=credentials.get("allowed_origins"),
            redis_url=credentials.get("redis_url"),
        )

    def __init__(
        self,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        namespace: str | None = None,
        session_persistence: bool = True,
        socketio_path: str | None = "/socket.io",
        metadata_key: str | None = "customData",
        backoffice_url: str | None = None,
        backoffice_service_token: str | None = None,
        session_id_secret: str | None = None,
        allowed_origins: str | None = None,
        redis_url: str | None = None,
    ) -> None:
        super().__init__(user_message_evt, bot_message_evt, namespace, session_persistence, socketio_path,
                         jwt_key=None, metadata_key=metadata_key)
        self.session_ids = SessionIds(session_id_secret)
        self.identity = IdentityClient(backoffice_url, backoffice_service_token)
        self.presence = PresenceNotices(backoffice_url, backoffice_service_token)
        self.connections: dict[str, _Connection] = {}
        self.redis_url = redis_url or None
        self.allowed_origins = frozenset((allowed_origins or "").replace(",", " ").split())
        if not self.allowed_origins:
            logger.error("no website origin may use the chat from a browser: "
                         "set CORS_ORIGINS (allowed_origins in bot/credentials.yml)")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # cors_allowed_origins=[]: Sanic's CORS headers (`rasa run --cors`) apply, as in Rasa's channel (with
        # python-socketio's own list, both would send the header, and browsers refuse it twice); the origin
        # is checked at `connect`.
        manager = JsonRedisManager(self.redis_url) if self.redis_url else None
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[], max_http_buffer_size=MAX_REQUEST_BYTES,
                          client_manager=manager)
        website = keep_the_version_private(SocketBlueprint(sio, self.socketio_path, "website_webhook", __name__))
        self.sio = sio
        output = SocketIOOutput(sio, self.bot_message_evt)

        @website.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: dict, auth: dict | None = None) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if origin is not None and origin not in self.allowed_origins:
                logger.info("website chat %s refused: a page of %r is not one of CORS_ORIGINS", sid, origin[:100])
                raise ConnectionRefused("this website may not use the chat")
            request = environ.get("sanic.request")
            peer = str(getattr(request, "ip", "") or environ.get("REMOTE_ADDR", ""))
            address = client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), environ.get("HTTP_FORWARDED"))
            self.connections[sid] = _Connection(source=self.session_ids.source_of(address),
                                                token=_token(auth.get("token")) if isinstance(auth, dict) else None)
            logger.debug("website chat %s connected (%s)", sid, "with a login" if self.connections[sid].token else "anonymous")
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str) -> None:
            gone = self.connections.pop(sid, None)
            if gone is not None and gone.session_id and not self._open_windows(gone.session_id):
                self.presence.tell(gone.session_id, here=False)
            logger.debug("website chat %s disconnected", sid)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            try:
                conn = self.connections.setdefault(sid, _Connection())
                proposed = data.get("session_id") if isinstance(data, dict) and self.session_persistence else None
                secret = data.get(RESUME_SECRET_KEY) if isinstance(data, dict) else None
                async with conn.lock:
                    await self._open_session(sid, conn, proposed, secret)
            except Exception:  # never let one connection's trouble take the channel down
                logger.exception("website chat %s: the session request failed", sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            try:
                message = await self._prepare(sid, data, output)
            except Exception:
                logger.exception("website chat %s: a message could not be taken in; it is dropped", sid)
                return
            if message is None:
                return
            try:
                logs.about(message.sender_id)
                await on_new_message(message)
            except Exception:
                logger.exception("website chat %s: Rasa could not handle a message", sid)

        return website

    # --- sessions and logins (called with the connection's lock held) ---

    async def _open_session(self, sid: str, conn: _Connection, proposed: Any, secret: Any = None) -> str:
        """Confirm a session to the connection (and return its id): the proposed one if this server
        issued it and the connection holds its resume secret, else a fresh one."""
        if self.session_ids.may_resume(proposed, secret):
            session_id = proposed
        else:
            session_id = self.session_ids.issue()
            if self.session_ids.issued_here(proposed):
                logger.info("website chat %s proposed a session without its resume secret: a fresh one is issued", sid)
            elif proposed:
                logger.info("website chat %s proposed a session id this server did not issue: a fresh one is issued", sid)
        session_id = await self._check_login(conn, session_id)
        await self._join(sid, conn, session_id)
        return session_id

    async def _check_login(self, conn: _Connection, session_id: str) -> str:
        """Bind `session_id` to the connection's login, if it has one; the session id to use (a fresh one
        if the conversation is someone else's)."""
        token = conn.token
        if token is None:
            return session_id
        verdict = await self.identity.bind(session_id, token, conn.reference, conn.source)
        if verdict.outcome == OTHER_CUSTOMER:
            logger.info("website chat: conversation %s belongs to another customer; a new one is started",
                        logs.reference(session_id))
            session_id = self.session_ids.issue()
            verdict = await self.identity.bind(session_id, token, conn.reference, conn.source)
            if verdict.outcome == VERIFIED:
                self._remember_notice(conn, token, "new_conversation")
            elif verdict.outcome == OTHER_CUSTOMER:  # a fresh id cannot be bound already; treat as a fault
                verdict = Verdict(UNAVAILABLE, "other_customer_again")
        conn.checked, conn.verdict = (session_id, token), verdict
        if verdict.outcome == VERIFIED:
            logger.info("website chat: conversation %s verified by the website login", logs.reference(session_id))
        else:
            logger.info("website chat: the login of conversation %s was not confirmed (%s)", logs.reference(session_id),
                        verdict.reason)
        if verdict.notice_key:
            self._remember_notice(conn, token, verdict.notice_key)
        return session_id

    def _open_windows(self, session_id: str) -> int:
        """The connections of this replica in the session (the tabs of one customer)."""
        return sum(1 for c in self.connections.values() if c.session_id == session_id)

    @staticmethod
    def _remember_notice(conn: _Connection, token: str, key: str) -> None:
        if (token, key) not in conn.told:
            conn.told.add((token, key))
            conn.notice = key

    async def _join(self, sid: str, conn: _Connection, session_id: str) -> None:
        """Put the connection in the session's room (Rasa's replies go to the room named by the sender
        id) and confirm the session to it, its resume secret first (to this connection only)."""
        assert self.sio is not None
        if conn.session_id and conn.session_id != session_id:
            await _maybe_await(self.sio.leave_room(sid, conn.session_id))
        await _maybe_await(self.sio.enter_room(sid, session_id))
        conn.session_id = session_id
        if self._open_windows(session_id) == 1:
            self.presence.tell(session_id, here=True)
        await self.sio.emit("session_secret", {"session_id": session_id,
                                               RESUME_SECRET_KEY: self.session_ids.resume_secret(session_id)}, room=sid)
        await self.sio.emit("session_confirm", session_id, room=sid)

    async def _prepare(self, sid: str, data: Any, output: SocketIOOutput) -> UserMessage | None:
        """The message for Rasa, in the connection's own session, with no credentials in its metadata."""
        if not isinstance(data, dict):
            logger.warning("website chat %s sent a message that is not an object; ignored", sid)
            return None
        metadata = data.get(self.metadata_key) or {}
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except (ValueError, RecursionError):
                metadata = {}
        if not isinstance(metadata, dict):
            metadata = {}
        try:
            kept = client_metadata(metadata)
        except Refused as refused:
            logger.warning("website chat %s sent metadata that is refused (%s); the message goes without it", sid, refused.reason)
            metadata, kept = {}, {}
        language = metadata.get("language")
        text = well_formed_text(data.get("message"))
        if is_too_long(text):
            logger.info("website chat %s: a message of %d characters is answered as too long", sid, len(text))
            await output.send_text_message(sid, too_long_answer(text, language))
            return None
        conn = self.connections.setdefault(sid, _Connection())
        async with conn.lock:
            newer = _token(metadata.get("session_token"))
            if newer is not None and newer != conn.token:
                conn.token = newer
            if conn.session_id is None:  # no session_request first: start one
                session_id = await self._open_session(sid, conn, None)
            else:
                session_id = conn.session_id
                if conn.token is not None and (conn.checked != (session_id, conn.token)
                                               or (conn.verdict is not None and conn.verdict.outcome == UNAVAILABLE)):
                    bound_id = await self._check_login(conn, session_id)
                    if bound_id != session_id:  # the conversation was someone else's: a fresh one
                        await self._join(sid, conn, bound_id)
                        session_id = bound_id
            pending, conn.notice = conn.notice, None
        claimed = data.get("session_id")
        if claimed and claimed != session_id:
            logger.info("website chat %s named a session other than its own; its message goes to its own", sid)
        if pending:
            await output.send_text_message(sid, notice(pending, language))
        return UserMessage(
            text,
            output,
            session_id,
            input_channel=self.name(),
            metadata=presence_metadata(kept, conn),
        )
