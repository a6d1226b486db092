"""The Microsoft Teams channel: Rasa's Bot Framework channel (`BotFrameworkInput`), extended for a
single-tenant Azure bot (Microsoft makes only those since mid-2025). Rasa 3.6's channel takes its
token from the multi-tenant endpoint, checks the incoming token's audience but not its issuer or
tenant, and talks to Microsoft with blocking `requests` calls. What this one does:

- **Tokens checked in full** before anything else: `Authorization: Bearer <JWT>` signed (RS256) by a
  key of the issuer's OpenID metadata (Bot Connector: `TEAMS_OPENID_METADATA_URL`, default
  login.botframework.com's; the tenant's: `<login>/<tenant>/v2.0/.well-known/openid-configuration`,
  keys through PyJWT's `PyJWKClient`, cached for a day), audience `TEAMS_APP_ID`, an issuer of this
  bot only (`https://api.botframework.com`, `https://login.microsoftonline.com/<tenant>/v2.0` or
  `https://sts.windows.net/<tenant>/`), not expired (5 minutes' clock skew), and a Bot Connector
  token's `serviceurl` equal to the activity's `serviceUrl` (where the reply, with our own token,
  goes). Otherwise 401, and nothing reaches the bot.
- **One tenant.** An activity whose `channelData.tenant.id` or `conversation.tenantId` is not
  `TEAMS_TENANT_ID` (or that names none) gets 403.
- **Personal chats only.** A message in a group chat or a team's channel never reaches the assistant:
  it is answered with a fixed pointer to a personal chat (`channels.teams` in text-catalogue/texts/<language>.yml), so no answer
  with personal data is ever shown to a group. A user's conversation (Rasa's sender id) is
  `teams-<Entra object id>`.
- **Replies with the tenant's token**: client credentials at `<login>/<tenant>/oauth2/v2.0/token`
  (scope `https://api.botframework.com/.default`), cached until shortly before it expires; buttons as
  a hero card of `imBack` actions. An agent's reply in a chat handed over to a person (no activity
  in hand) goes to the conversation the user last wrote from: this process remembers it, and else
  reads it from the tracker (the latest message's `_teams` metadata, set here).
- **Bounded input** (connectors/limits.py): body size, the "too long" answer, text well formed.
- **Each activity once**, also when Microsoft sends it again and across replicas (its conversation
  and activity id), and replies sent per user in order in the background, repeated only where that
  is harmless (connectors/delivery.py: never a message after a 5xx or a timeout).

A Teams user id is not proof of identity: verification is the e-mail code, as on every channel.
Settings: `TEAMS_APP_ID`, `TEAMS_APP_PASSWORD`, `TEAMS_TENANT_ID`; off (a plain 404) while one is empty;
`CHANNEL_REDIS_URL` (the activity ids every replica shares). For tests only: `TEAMS_LOGIN_URL` (default
https://login.microsoftonline.com) and `TEAMS_OPENID_METADATA_URL`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jwt
from rasa.core.channels.botframework import BotFrameworkInput
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import texts
from bot import logs
from chatprotocol import Channel
from connectors import delivery
from connectors.edge import keep_the_version_private, not_found
from connectors.limits import MAX_REQUEST_BYTES, is_sender_id, is_too_long, too_long_answer, well_formed_text

logger = logging.getLogger(__name__)

DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
DEFAULT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_CONNECTOR_ISSUER = "https://api.botframework.com"
TOKEN_SCOPE = "https://api.botframework.com/.default"
TENANT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
OBJECT_ID = TENANT_ID
CLOCK_SKEW_SECONDS = 300
KEYS_LIFESPAN_SECONDS = 24 * 3600
HTTP_TIMEOUT_SECONDS = 10.0  # per call to Microsoft: well under Rasa's 60 s conversation lock
TOKEN_RENEW_MARGIN_SECONDS = 300
MAX_TOKEN_CHARS = 4096  # Microsoft's tokens are 1-3 KB
REMEMBERED_CONVERSATIONS = 10_000
SENDER_PREFIX = "teams-"
SEEN_SECONDS = 24 * 3600  # the Bot Connector sends an activity again within minutes, not days


class TeamsRefused(Exception):
    """An activity this channel does not take: the HTTP status and the reason to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def an_object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one: a field of another type reads as absent."""
    return value if isinstance(value, dict) else {}


def user_language(activity: dict[str, Any]) -> str:
    locale = activity.get("locale")
    return "nl" if isinstance(locale, str) and locale.lower().startswith("nl") else "en"


class TeamsOutput(OutputChannel):
    """Messages into the Teams conversation each user last wrote from, with the tenant's bot token."""

    @classmethod
    def name(cls) -> str:
        return Channel.TEAMS.value

    def __init__(self, channel: TeamsInput) -> None:
        self.channel = channel

    def send(self, recipient_id: str, activity: dict[str, Any]) -> None:
        """In the background, after the user's earlier messages (connectors/delivery.py), to the
        conversation the user wrote from when it was said."""
        reference = self.channel.remembered(recipient_id)
        self.channel.outbox.send(recipient_id, functools.partial(self.channel.send_activity, recipient_id, activity, reference))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in [p for p in text.strip().split("\n\n") if p.strip()] or [text]:
            self.send(recipient_id, {"type": "message", "text": part})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        actions = [
            {
                "type": "imBack",
                "title": str(b.get("title") or b.get("payload"))[:80],
                "value": str(b.get("payload") or b.get("title")),
            }
            for b in buttons
            if b.get("title") or b.get("payload")
        ]
        card = {"contentType": "application/vnd.microsoft.card.hero", "content": {"text": text, "buttons": actions}}
        self.send(recipient_id, {"type": "message", "attachments": [card]})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        card = {"contentType": "application/vnd.microsoft.card.hero", "content": {"images": [{"url": image}]}}
        self.send(recipient_id, {"type": "message", "attachments": [card]})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        self.send(recipient_id, {"type": "message", **json_message})


class TeamsInput(BotFrameworkInput):
    """Rasa's Bot Framework channel for one tenant's Teams, with every token and tenant checked."""

    @classmethod
    def name(cls) -> str:
        return Channel.TEAMS.value

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TeamsInput:
        credentials = credentials or {}
        return cls(
            app_id=credentials.get("app_id"),
            app_password=credentials.get("app_password"),
            tenant_id=credentials.get("tenant_id"),
            login_url=credentials.get("login_url"),
            openid_metadata_url=credentials.get("openid_metadata_url"),
            redis_url=credentials.get("redis_url"),
        )

    def __init__(
        self,
        app_id: str | None = None,
        app_password: str | None = None,
        tenant_id: str | None = None,
        login_url: str | None = None,
        openid_metadata_url: str | None = None,
        redis_url: str | None = None,
    ) -> None:
        # Rasa's __init__ fetches the multi-tenant keys at start with a blocking call: not used.
        self.app_id = (app_id or "").strip()
        self.app_password = (app_password or "").strip()
        self.tenant_id = (tenant_id or "").strip().lower()
        if self.tenant_id and not TENANT_ID.fullmatch(self.tenant_id):
            raise ValueError("TEAMS_TENANT_ID must be the Directory (tenant) ID, a GUID, as Azure shows it")
        self.login_url = ((login_url or "").strip() or DEFAULT_LOGIN_URL).rstrip("/")
        tenant_metadata_url = f"{self.login_url}/{self.tenant_id}/v2.0/.well-known/openid-configuration"
        # the issuers this bot takes tokens from, each with the OpenID metadata naming its signing keys
        self.metadata_urls = {
            BOT_CONNECTOR_ISSUER: (openid_metadata_url or "").strip() or DEFAULT_OPENID_METADATA_URL,
            f"https://login.microsoftonline.com/{self.tenant_id}/v2.0": tenant_metadata_url,
            f"https://sts.windows.net/{self.tenant_id}/": tenant_metadata_url,
        }
        self._key_clients: dict[str, tuple[float, jwt.PyJWKClient]] = {}
        self._conversations: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._bot_token: tuple[float, str] = (0.0, "")
        self._blueprint: Blueprint | None = None
        self.outbox = delivery.Outbox(Channel.TEAMS.value)
        self.seen = delivery.SeenIds(Channel.TEAMS.value, (redis_url or "").strip(), SEEN_SECONDS) if self.on else None
        if not self.on:
            missing = ", ".join(
                n
                for n, v in (
                    ("TEAMS_APP_ID", self.app_id),
                    ("TEAMS_APP_PASSWORD", self.app_password),
                    ("TEAMS_TENANT_ID", self.tenant_id),
                )
                if not v
            )
            logger.info("the Teams channel is off: set %s to use it (docs/teams.md)", missing)

    @property
    def on(self) -> bool:
        return bool(self.app_id and self.app_password and self.tenant_id)

    def get_output_channel(self) -> TeamsOutput:
        return TeamsOutput(self)

    # --- incoming: the token, the tenant ---------------------------------------------------------------

    async def _key_client(self, issuer: str) -> jwt.PyJWKClient:
        cached = self._key_clients.get(issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS)) as http:
            async with http.get(self.metadata_urls[issuer]) as answer:
                answer.raise_for_status()
                metadata = await answer.json(content_type=None)
        client = jwt.PyJWKClient(
            str(metadata["jwks_uri"]), cache_keys=True, lifespan=KEYS_LIFESPAN_SECONDS, timeout=HTTP_TIMEOUT_SECONDS
        )
        self._key_clients[issuer] = (time.monotonic() + KEYS_LIFESPAN_SECONDS, client)
        return client

    async def verified_claims(self, authorization: str, activity: dict[str, Any]) -> dict[str, Any]:
        """The token's claims when it is this bot's, from an issuer of this bot; `TeamsRefused` (401) otherwise."""
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
            raise TeamsRefused(401, "send Microsoft's token as 'Authorization: Bearer <JWT>'")
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if issuer not in self.metadata_urls:
                raise TeamsRefused(401, "the token is not from an issuer of this bot")
            client = await self._key_client(issuer)
            key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except TeamsRefused:
            raise
        except (jwt.PyJWTError, aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError, TypeError) as error:
            logger.warning("a Teams token was refused: %s", type(error).__name__)
            raise TeamsRefused(401, "the token could not be verified") from None
        service_url = claims.get("serviceurl") or claims.get("serviceUrl")
        if issuer == BOT_CONNECTOR_ISSUER and service_url != activity.get("serviceUrl"):
            raise TeamsRefused(401, "the token was issued for another service URL")
        return claims

    def check_tenant(self, activity: dict[str, Any]) -> None:
        channel_data = an_object(activity.get("channelData"))
        tenant = an_object(channel_data.get("tenant"))
        conversation = an_object(activity.get("conversation"))
        named = {str(t).lower() for t in (tenant.get("id"), conversation.get("tenantId")) if t is not None}
        if not named or named != {self.tenant_id}:
            raise TeamsRefused(403, "the activity is not from this bot's tenant")

    # --- outgoing -----------------------------------------------------------------------------------

    async def bot_token(self) -> str:
        """The tenant's token for the Bot Connector (client credentials), renewed 5 minutes before it expires."""
        expires, token = self._bot_token
        if token and expires > time.monotonic():
            return token
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self.app_password,
            "scope": TOKEN_SCOPE,
        }
        answer = await delivery.call(Channel.TEAMS.value, f"{self.login_url}/{self.tenant_id}/oauth2/v2.0/token", form=form,
                                     idempotent=True)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status != 200 or not body.get("access_token"):
            raise delivery.Undelivered(f"the tenant's token endpoint answered {answer.status} ({str(body.get('error'))[:80]})")
        lifetime = max(int(body.get("expires_in") or 0) - TOKEN_RENEW_MARGIN_SECONDS, 0)
        self._bot_token = (time.monotonic() + lifetime, str(body["access_token"]))
        return self._bot_token[1]

    def remember(self, sender: str, reference: dict[str, Any]) -> None:
        self._conversations[sender] = reference
        self._conversations.move_to_end(sender)
        while len(self._conversations) > REMEMBERED_CONVERSATIONS:
            self._conversations.popitem(last=False)

    def remembered(self, sender: str) -> dict[str, Any] | None:
        return self._conversations.get(sender)

    async def reference_of(self, sender: str) -> dict[str, Any] | None:
        """Where the user last wrote from: remembered here, else the latest message's `_teams` in the tracker."""
        if sender in self._conversations:
            return self._conversations[sender]
        app = next(iter(self._blueprint.apps), None) if self._blueprint else None
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        tracker = await agent.tracker_store.retrieve(sender) if agent and agent.tracker_store else None
        for event in reversed(tracker.events if tracker else []):
            reference = (
                (getattr(event, "metadata", None) or {}).get("_teams") if getattr(event, "type_name", "") == "user" else None
            )
            if isinstance(reference, dict):
                return reference
        return None

    async def send_activity(self, recipient_id: str, activity: dict[str, Any], reference: dict[str, Any] | None = None) -> None:
        """Post one activity, once: a repeat after a 5xx or a timeout may show it twice. Without a
        reference, to where the user last wrote from."""
        reference = reference or await self.reference_of(recipient_id)
        if reference is None:
            raise delivery.Undelivered("no Teams conversation is known for the user")
        url = f"{str(reference['service_url']).rstrip('/')}/v3/conversations/{reference['conversation_id']}/activities"
        body = {
            **activity,
            "from": reference.get("bot") or {"id": self.app_id},
            "conversation": {"id": reference["conversation_id"]},
            "recipient": reference.get("user") or {},
        }
        headers = {"Authorization": f"Bearer {await self.bot_token()}"}
        answer = await delivery.call(Channel.TEAMS.value, url, json=body, headers=headers, idempotent=False)
        if not answer.ok:
            raise delivery.Undelivered(f"the Bot Connector answered {answer.status or 'nothing'}")

    async def first_time(self, activity: dict[str, Any]) -> bool:
        """False for an activity taken before (activity ids are unique within a conversation only)."""
        activity_id, conversation_id = activity.get("id"), an_object(activity.get("conversation")).get("id")
        if self.seen is None or not isinstance(activity_id, str) or not isinstance(conversation_id, str):
            return True
        return await self.seen.first_time(f"{conversation_id}/{activity_id}")

    # --- the webhook -------------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        teams = keep_the_version_private(Blueprint(f"teams_webhook_{type(self).__name__}"))
        self._blueprint = teams

        @teams.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.on else "off"})

        @teams.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.on:
                not_found(request)
            body = request.body or b""
            try:
                if len(body) > MAX_REQUEST_BYTES:
                    raise TeamsRefused(413, f"an activity must be at most {MAX_REQUEST_BYTES} bytes")
                try:
                    activity = json.loads(body)
                except (ValueError, RecursionError):
                    activity = None
                if not isinstance(activity, dict):
                    raise TeamsRefused(400, "an activity is a JSON object")
                await self.verified_claims(request.headers.get("Authorization", ""), activity)
                self.check_tenant(activity)
            except TeamsRefused as refused:
                return response.json({"error": "refused", "reason": refused.reason}, status=refused.status)
            try:
                if not await self.first_time(activity):
                    return response.json({"ok": True})
            except delivery.Unavailable:
                return delivery.try_again_later()
            try:
                await self.handle(activity, on_new_message)
            except Exception:
                logger.exception("a Teams activity could not be handled")
            return response.json({"ok": True})

        return teams

    async def handle(self, activity: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """One authorised activity: a personal chat's message reaches the assistant."""
        if activity.get("type") != "message":
            return  # conversationUpdate, typing, reactions, installs: nothing to answer
        user = an_object(activity.get("from"))
        conversation = an_object(activity.get("conversation"))
        object_id = str(user.get("aadObjectId") or "")
        if (
            not OBJECT_ID.fullmatch(object_id)
            or not isinstance(conversation.get("id"), str)
            or not isinstance(activity.get("serviceUrl"), str)
        ):
            return
        sender = f"{SENDER_PREFIX}{object_id.lower()}"
        reference = {
            "service_url": activity["serviceUrl"],
            "conversation_id": conversation["id"],
            "bot": activity.get("recipient") if isinstance(activity.get("recipient"), dict) else {"id": self.app_id},
            "user": {"id": str(user.get("id") or "")},
        }
        language = user_language(activity)
        output = self.get_output_channel()
        text = activity.get("text")
        if isinstance(activity.get("value"), dict) and not text:
            text = str(activity["value"].get("payload") or "")
        if conversation.get("conversationType", "personal") != "personal":
            group = f"{SENDER_PREFIX}group-{object_id.lower()}"
            self.remember(group, reference)
            await output.send_text_message(group, texts.text(language, "channels.teams.group_chat"))
            return
        if not is_sender_id(sender):
            return
        self.remember(sender, reference)
        text = well_formed_text(text)
        if not text.strip():
            await output.send_text_message(sender, texts.text(language, "channels.teams.text_only"))
            return
        if is_too_long(text):
            await output.send_text_message(sender, too_long_answer(text, language))
            return
        logs.about(sender)
        await on_new_message(
            UserMessage(text, output, sender, input_channel=self.name(), metadata={"language": language, "_teams": reference})
        )
