"""Rasa's web server with the website channel, and a stand-in for the trained assistant: for the tests of
the channel and of the server's public edge that need no model (tests/test_website_channel.py).

It is Rasa's own app (`rasa.core.run.configure_app`: the HTTP API behind RASA_API_TOKEN, `/`,
`/version`, CORS) with the channels of bot/credentials.yml as Rasa reads them, run with the
environment scripts/stack.py gives the Rasa process. In place of the agent (the model and the
action server) a stand-in answers "echo: <text>", and for "email: <address>" asks the back office
for a one-time code the way actions/backoffice.py does, with the message's presence, and answers
"code: <status> <reason>". Two routes of its own, for the tests:

- `POST /stand-in/agent-says` `{session_id, text}`: what Rasa's API does with an agent's reply (a bot
  message out through the website channel, to the session's room);
- `GET /stand-in/heard`: the messages that reached the assistant, `[{sender, text, metadata}]`.

    PYTHONPATH=. python tests/website_channel_alone.py <port>
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
from rasa.core.channels.channel import UserMessage
from rasa.core.run import configure_app
from rasa.shared.utils.io import read_config_file
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.website import WebsiteInput

ROOT = Path(__file__).resolve().parents[1]


class StandIn:
    """The agent's `handle_message`, without a model."""

    def __init__(self) -> None:
        self.heard: list[dict[str, Any]] = []

    def is_ready(self) -> bool:
        return False

    async def handle_message(self, message: UserMessage) -> None:
        self.heard.append({"sender": message.sender_id, "text": message.text, "metadata": message.metadata})
        text = message.text or ""
        if text.startswith("email: "):
            answer = await self.ask_code(message, text[len("email: "):])
        else:
            answer = f"echo: {text}"
        await message.output_channel.send_text_message(message.sender_id, answer)

    @staticmethod
    async def ask_code(message: UserMessage, email: str) -> str:
        metadata = message.metadata or {}
        headers = {"Authorization": f"Bearer {os.environ['BACKOFFICE_SERVICE_TOKEN']}", "X-Chat-Channel": "website",
                   "X-Chat-Connection": metadata.get("_connection", ""), "X-Chat-Source": metadata.get("_source", "")}
        body = {"conversation_id": message.sender_id, "email": email, "language": "en"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            async with http.post(f"{os.environ['BACKOFFICE_URL']}/api/identity/email-code", json=body, headers=headers) as got:
                answer = await got.json(content_type=None)
        return f"code: {got.status} {answer.get('reason', '') if isinstance(answer, dict) else ''}".strip()


def main(port: int) -> None:
    settings = read_config_file(str(ROOT / "bot" / "credentials.yml"))["connectors.website.WebsiteInput"]
    website = WebsiteInput.from_credentials(settings)
    app = configure_app([website], cors=os.environ["CORS_ORIGINS"].split(), auth_token=os.environ["RASA_API_TOKEN"],
                        enable_api=True, port=port)
    stand_in = StandIn()
    app.ctx.agent = stand_in

    @app.post("/stand-in/agent-says")
    async def agent_says(request: Request) -> HTTPResponse:
        output = website.get_output_channel()
        assert output is not None
        await output.send_text_message(request.json["session_id"], request.json["text"])
        return response.json({"sent": True})

    @app.get("/stand-in/heard")
    async def heard(_: Request) -> HTTPResponse:
        return response.json(stand_in.heard)

    app.run(host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main(int(sys.argv[1]))
