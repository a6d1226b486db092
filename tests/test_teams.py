"""The Teams channel (connectors/teams.py) in a Sanic process of its own, against a local fake of
Microsoft's side (a real HTTP server on localhost): the OpenID metadata and a JWKS with a test RSA
key for the Bot Connector and for the tenant, the tenant's token endpoint, and the Bot Connector's
conversation API, recording what it receives. Activities and tokens in the shape Microsoft sends
(https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from stack import ROOT, Process, eventually, free_port, serving

from connectors.teams import TeamsInput

APP_ID = str(uuid.UUID(int=0xA11))
TENANT = "3f1c2b4a-0d5e-4c6f-9a8b-7e6d5c4b3a21"
OTHER_TENANT = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FORGERS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "test-signing-key"


class FakeMicrosoft:
    """Microsoft's endpoints as far as the channel uses them; records token requests and activities.
    Activities to a conversation in `failing` are recorded and answered 502."""

    def __init__(self, port: int = 0, tenant: str = TENANT) -> None:
        self.tenant = tenant
        self.token_requests: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []
        self.failing: set[str] = set()
        fake = self
        jwk = json.loads(RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
        jwks = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/botframework/v1/.well-known/openidconfiguration":
                    self.reply(
                        200,
                        json.dumps(
                            {"issuer": "https://api.botframework.com", "jwks_uri": f"{fake.url}/botframework/keys"}
                        ).encode(),
                    )
                elif self.path == f"/{fake.tenant}/v2.0/.well-known/openid-configuration":
                    self.reply(
                        200,
                        json.dumps(
                            {
                                "issuer": f"https://login.microsoftonline.com/{fake.tenant}/v2.0",
                                "jwks_uri": f"{fake.url}/{fake.tenant}/discovery/v2.0/keys",
                            }
                        ).encode(),
                    )
                elif self.path in ("/botframework/keys", f"/{fake.tenant}/discovery/v2.0/keys"):
                    self.reply(200, jwks)
                else:
                    self.reply(404, b"{}")

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                raw = self.rfile.read(length)
                if self.path.endswith("/oauth2/v2.0/token"):
                    fake.token_requests.append({"path": self.path, "form": {k: v[0] for k, v in parse_qs(raw.decode()).items()}})
                    self.reply(
                        200, json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": "tenant-bot-token"}).encode()
                    )
                elif "/v3/conversations/" in self.path:
                    fake.activities.append(
                        {"path": self.path, "authorization": self.headers.get("Authorization"), "body": json.loads(raw)}
                    )
                    if any(f"/v3/conversations/{c}/" in self.path for c in fake.failing):
                        self.reply(502, b'{"error": {"code": "ServiceError"}}')
                    else:
                        self.reply(201, json.dumps({"id": str(len(fake.activities))}).encode())
                else:
                    self.reply(404, b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.service_url = f"{self.url}/teams/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def sent_to(self, conversation_id: str) -> list[dict[str, Any]]:
        return [a for a in self.activities if f"/v3/conversations/{conversation_id}/activities" in a["path"]]

    def texts_to(self, conversation_id: str, count: int) -> list[str]:
        """The conversation's texts once `count` have arrived (the channel sends in the background)."""
        return eventually(
            lambda: [a["body"].get("text") for a in self.sent_to(conversation_id)],
            15,
            f"{count} messages in {conversation_id}",
            until=lambda texts: len(texts) >= count,
        )


SERVE_THE_CHANNEL_ALONE = """
import json, logging, sys
from sanic import Sanic, response
from connectors.teams import TeamsInput

logging.basicConfig(level=logging.INFO)
port, fake, app_id, tenant, received = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

async def stand_in_assistant(message):
    with open(received, "a") as log:
        log.write(json.dumps({"sender": message.sender_id, "text": message.text, "channel": message.input_channel}) + "\\n")
    await message.output_channel.send_text_message(message.sender_id, "echo: " + message.text)

channel = TeamsInput(app_id=app_id, app_password="client-secret" if tenant else "", tenant_id=tenant, login_url=fake,
                     openid_metadata_url=fake + "/botframework/v1/.well-known/openidconfiguration")
app = Sanic("teams_channel_alone")
app.blueprint(channel.blueprint(stand_in_assistant), url_prefix="/webhooks/teams")

@app.post("/push")
async def push(request):
    # what Rasa does with an agent's reply: the input channel's output channel, no activity in hand
    await channel.get_output_channel().send_text_message(request.json["recipient"], request.json["text"])
    return response.json({})

app.run(host="127.0.0.1", port=port, access_log=False)
"""


class Channel:
    def __init__(self, url: str, received: Path) -> None:
        self.url, self.received = url, received
        self.log = received.parent / "teams.log"

    def reached_the_assistant(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.received.read_text().splitlines()] if self.received.exists() else []


def serve_channel(tmp: Path, fake: FakeMicrosoft, tenant: str) -> Process:
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/teams"
    return Process(
        "teams channel",
        [sys.executable, "-c", SERVE_THE_CHANNEL_ALONE, str(port), fake.url, APP_ID, tenant, str(tmp / "received.jsonl")],
        ROOT,
        dict(os.environ),
        tmp / "teams.log",
        port,
        f"{url}/",
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeMicrosoft]:
    microsoft = FakeMicrosoft()
    microsoft.thread.start()
    yield microsoft
    microsoft.server.shutdown()
    microsoft.server.server_close()


@pytest.fixture(scope="module")
def channel(fake: FakeMicrosoft, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Channel]:
    tmp = tmp_path_factory.mktemp("teams")
    with serving(serve_channel(tmp, fake, TENANT), timeout=120) as process:
        yield Channel(f"http://127.0.0.1:{process.port}/webhooks/teams", tmp / "received.jsonl")


def token(
    fake: FakeMicrosoft,
    issuer: str = "https://api.botframework.com",
    audience: str = APP_ID,
    key: Any = SIGNING_KEY,
    expires_in: int = 3600,
    **extra: Any,
) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "nbf": now - 10, "iat": now - 10, "exp": now + expires_in, **extra}
    if issuer == "https://api.botframework.com":
        claims.setdefault("serviceurl", fake.service_url)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def activity(
    fake: FakeMicrosoft,
    text: str,
    tenant: str = TENANT,
    conversation_type: str = "personal",
    user_object_id: str = "5b2c3d4e-6f70-4a81-92b3-c4d5e6f70819",
) -> dict[str, Any]:
    conversation_id = f"a:1{uuid.uuid4().hex}"
    return {
        "type": "message",
        "id": uuid.uuid4().hex[:16],
        "timestamp": "2026-12-01T20:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": fake.service_url,
        "locale": "en-US",
        "text": text,
        "from": {"id": f"29:1{uuid.uuid4().hex}", "name": "Eva de Vries", "aadObjectId": user_object_id},
        "conversation": {"id": conversation_id, "conversationType": conversation_type, "tenantId": tenant},
        "recipient": {"id": f"28:{APP_ID}", "name": "Voltera privacy"},
        "channelData": {"tenant": {"id": tenant}},
    }


def post(channel: Channel, body: dict[str, Any], bearer: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return requests.post(f"{channel.url}/webhook", json=body, headers=headers, timeout=20)


def test_a_bot_connector_token_for_this_bot_passes_and_the_reply_uses_the_tenants_token(channel, fake):
    sent = activity(fake, "What data do you keep? 😀")
    answer = post(channel, sent, token(fake))
    assert answer.status_code == 200
    fake.texts_to(sent["conversation"]["id"], 1)
    assert {
        "sender": "teams-5b2c3d4e-6f70-4a81-92b3-c4d5e6f70819",
        "text": "What data do you keep? 😀",
        "channel": "teams",
    } in channel.reached_the_assistant()
    [reply] = fake.sent_to(sent["conversation"]["id"])
    assert reply["body"]["text"] == "echo: What data do you keep? 😀" and reply["authorization"] == "Bearer tenant-bot-token"
    assert reply["body"]["recipient"] == {"id": sent["from"]["id"]} and reply["body"]["from"] == sent["recipient"]
    # the single tenant's token endpoint, never botframework.com's multi-tenant one
    assert fake.token_requests and all(r["path"] == f"/{TENANT}/oauth2/v2.0/token" for r in fake.token_requests)
    assert fake.token_requests[0]["form"] == {
        "grant_type": "client_credentials",
        "client_id": APP_ID,
        "client_secret": "client-secret",
        "scope": "https://api.botframework.com/.default",
    }


@pytest.mark.parametrize("issuer", [f"https://login.microsoftonline.com/{TENANT}/v2.0", f"https://sts.windows.net/{TENANT}/"])
def test_a_token_of_the_bots_own_tenant_passes(channel, fake, issuer):
    sent = activity(fake, f"hello from {issuer}")
    assert post(channel, sent, token(fake, issuer=issuer)).status_code == 200
    assert fake.texts_to(sent["conversation"]["id"], 1) == [f"echo: hello from {issuer}"]


@pytest.mark.parametrize(
    "bad",
    [
        {"issuer": f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"},
        {"issuer": f"https://sts.windows.net/{OTHER_TENANT}/"},
        {"issuer": "https://login.botframework.com"},
        {"issuer": "https://api.botframework.com.evil.example"},
        {"audience": str(uuid.UUID(int=0xBAD))},
        {"key": FORGERS_KEY},
        {"expires_in": -3600},
        {"serviceurl": "https://attacker.example/"},
    ],
)
def test_a_token_from_another_tenant_or_issuer_or_otherwise_not_ours_is_refused(channel, fake, bad):
    sent = activity(fake, f"should not pass {bad}")
    answer = post(channel, sent, token(fake, **bad))
    assert answer.status_code == 401
    assert all(m["text"] != sent["text"] for m in channel.reached_the_assistant())
    assert fake.sent_to(sent["conversation"]["id"]) == []


@pytest.mark.parametrize("bearer", [None, "", "not-a-jwt", "x" * 5_000], ids=["none", "empty", "not-a-jwt", "over-4096"])
def test_a_missing_or_malformed_token_is_refused(channel, fake, bearer):
    sent = activity(fake, "no token")
    assert post(channel, sent, bearer).status_code == 401
    assert fake.sent_to(sent["conversation"]["id"]) == []


@pytest.mark.parametrize(
    "tenant_fields",
    [
        {"channelData": {"tenant": {"id": OTHER_TENANT}}, "conversation_tenant": OTHER_TENANT},
        {"channelData": {"tenant": {"id": OTHER_TENANT}}, "conversation_tenant": TENANT},
        {"channelData": {}, "conversation_tenant": None},
    ],
)
def test_an_activity_from_another_tenant_is_refused(channel, fake, tenant_fields):
    sent = activity(fake, "from elsewhere")
    sent["channelData"] = tenant_fields["channelData"]
    if tenant_fields["conversation_tenant"] is None:
        del sent["conversation"]["tenantId"]
    else:
        sent["conversation"]["tenantId"] = tenant_fields["conversation_tenant"]
    answer = post(channel, sent, token(fake))
    assert answer.status_code == 403 and "tenant" in answer.json()["reason"]
    assert fake.sent_to(sent["conversation"]["id"]) == []


def test_a_group_chat_gets_a_pointer_and_nothing_reaches_the_bot(channel, fake):
    before = len(channel.reached_the_assistant())
    for kind in ("groupChat", "channel"):
        sent = activity(fake, "<at>Voltera privacy</at> what is my address?", conversation_type=kind)
        assert post(channel, sent, token(fake)).status_code == 200
        [reply] = fake.texts_to(sent["conversation"]["id"], 1)
        assert "chat with me privately" in reply
    assert len(channel.reached_the_assistant()) == before


def test_activities_that_are_not_messages_are_ignored(channel, fake):
    sent = activity(fake, "")
    sent.update({"type": "conversationUpdate", "membersAdded": [{"id": sent["recipient"]["id"]}]})
    assert post(channel, sent, token(fake)).status_code == 200
    assert fake.sent_to(sent["conversation"]["id"]) == []


def test_an_activity_delivered_twice_is_answered_once(channel, fake):
    sent = activity(fake, "once, please", user_object_id="1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
    for _ in range(2):  # the Bot Connector sends an activity again when it got no answer in time
        assert post(channel, sent, token(fake)).status_code == 200
    following = {**sent, "id": uuid.uuid4().hex[:16], "text": "and then"}
    assert post(channel, following, token(fake)).status_code == 200
    assert fake.texts_to(sent["conversation"]["id"], 2) == ["echo: once, please", "echo: and then"]
    reached = [m["text"] for m in channel.reached_the_assistant() if m["sender"] == "teams-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"]
    assert reached == ["once, please", "and then"]


def test_a_reply_the_bot_connector_answered_with_a_5xx_is_not_sent_again_and_is_logged(channel, fake):
    sent = activity(fake, "are you there?", user_object_id="2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a")
    fake.failing.add(sent["conversation"]["id"])
    assert post(channel, sent, token(fake)).status_code == 200
    failure = re.compile(r"a teams message to conversation [0-9a-f]{16} was not delivered: the Bot Connector answered 502")
    log = eventually(channel.log.read_text, 15, "the failure in the channel's log", until=failure.search)
    assert "2d3e4f" not in log  # the conversation by its reference (bot/logs.py), no part of the account's id
    # it may have arrived: a repeat could show the user the message twice
    assert [a["body"]["text"] for a in fake.sent_to(sent["conversation"]["id"])] == ["echo: are you there?"]


def test_an_agents_reply_reaches_the_users_conversation_with_no_activity_in_hand(channel, fake):
    sent = activity(fake, "I want to speak to a person", user_object_id="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    assert post(channel, sent, token(fake)).status_code == 200
    pushed = requests.post(
        channel.url.replace("/webhooks/teams", "/push"),
        timeout=20,
        json={"recipient": "teams-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "text": "Anna here: I will help you."},
    )
    assert pushed.status_code == 200
    texts = eventually(
        lambda: [a["body"].get("text") for a in fake.sent_to(sent["conversation"]["id"])],
        10,
        "the agent's reply",
        until=lambda t: "Anna here: I will help you." in t,
    )
    assert texts[0] == "echo: I want to speak to a person"


def test_the_channel_is_off_without_its_settings(fake, tmp_path):
    with serving(serve_channel(tmp_path, fake, ""), timeout=120) as process:
        url = f"http://127.0.0.1:{process.port}/webhooks/teams"
        assert requests.get(f"{url}/", timeout=5).json() == {"status": "off"}
        answer = requests.post(
            f"{url}/webhook", json=activity(fake, "hi"), headers={"Authorization": f"Bearer {token(fake)}"}, timeout=5
        )
        assert answer.status_code == 404 and "TEAMS" not in answer.text  # a plain 404: the log names the settings
    assert "the Teams channel is off: set TEAMS_APP_PASSWORD, TEAMS_TENANT_ID" in (tmp_path / "teams.log").read_text()


def test_a_tenant_id_that_is_not_a_guid_stops_the_channel():
    with pytest.raises(ValueError):
        TeamsInput.from_credentials({"app_id": APP_ID, "app_password": "p", "tenant_id": "contoso.onmicrosoft.com"})
    assert not TeamsInput.from_credentials(None).on


def test_after_a_restart_an_agents_reply_finds_the_users_conversation_in_the_tracker():
    """A process that never saw the user (restarted, another replica) reads where they wrote from in
    the latest message's `_teams` metadata, as the channel stores it."""
    sender = "teams-0a1b2c3d-4e5f-4a6b-8c7d-000000000001"
    older = {"service_url": "https://smba.trafficmanager.net/emea/", "conversation_id": "a:1old", "bot": {}, "user": {}}
    newest = {"service_url": "https://smba.trafficmanager.net/emea/", "conversation_id": "a:1new", "bot": {}, "user": {}}
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker.from_events(
        sender, [UserUttered("hi", metadata={"_teams": older}), UserUttered("again", metadata={"_teams": newest})]
    )
    channel = TeamsInput(app_id=APP_ID, app_password="p", tenant_id=TENANT)
    channel._blueprint = SimpleNamespace(apps=[SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))])

    async def look_up() -> tuple[Any, Any]:
        await store.save(tracker)
        return await channel.reference_of(sender), await channel.reference_of("teams-someone-else")

    assert asyncio.run(look_up()) == (newest, None)


def test_the_assistant_answers_on_teams_and_an_agents_reply_reaches_the_chat(assistant):
    """Through the real assistant on the shared test stack, whose Rasa has the channel on against a
    fake of Microsoft on the port scripts/stack.py gave it."""
    env = assistant.env
    rasa = f"http://localhost:{env['RASA_PORT']}"
    microsoft = FakeMicrosoft(port=int(env["TEAMS_LOGIN_URL"].rsplit(":", 1)[1]), tenant=env["TEAMS_TENANT_ID"])
    microsoft.thread.start()
    try:
        sent = activity(microsoft, "hello", tenant=env["TEAMS_TENANT_ID"], user_object_id="7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d")
        sender = "teams-7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
        foreign = activity(microsoft, "hello", tenant=OTHER_TENANT)
        good = token(microsoft, audience=env["TEAMS_APP_ID"])
        assert (
            requests.post(
                f"{rasa}/webhooks/teams/webhook", json=foreign, headers={"Authorization": f"Bearer {good}"}, timeout=30
            ).status_code
            == 403
        )
        assert (
            requests.post(
                f"{rasa}/webhooks/teams/webhook", json=sent, headers={"Authorization": f"Bearer {token(microsoft)}"}, timeout=30
            ).status_code
            == 401
        )  # another app's audience
        answer = requests.post(
            f"{rasa}/webhooks/teams/webhook", json=sent, headers={"Authorization": f"Bearer {good}"}, timeout=60
        )
        assert answer.status_code == 200
        eventually(lambda: microsoft.sent_to(sent["conversation"]["id"]), 30, "the assistant's answer in Teams")
        tracker = requests.get(
            f"{rasa}/conversations/{sender}/tracker", params={"token": env["RASA_API_TOKEN"]}, timeout=10
        ).json()
        assert [e.get("input_channel") for e in tracker["events"] if e["event"] == "user"] == ["teams"]
        said = requests.post(
            f"{rasa}/conversations/{sender}/tracker/events",
            params={
                "token": env["RASA_API_TOKEN"],
                "output_channel": "teams",
                "execute_side_effects": "true",
                "include_events": "NONE",
            },
            json=[{"event": "bot", "text": "Anna here: I will look into it."}],
            timeout=10,
        )
        assert said.status_code == 200
        eventually(
            lambda: [a["body"].get("text") for a in microsoft.sent_to(sent["conversation"]["id"])],
            30,
            "the agent's reply in Teams",
            until=lambda texts: "Anna here: I will look into it." in texts,
        )
    finally:
        microsoft.server.shutdown()
        microsoft.server.server_close()
