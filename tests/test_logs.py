"""What the processes log holds no customer's personal data: a verified customer files a request and
then talks to an agent, through the real stack (Rasa with the trained model, the action server, the
back office and its worker, the company systems, the mail sink); afterwards no log line of any of them
holds the customer's e-mail address, name, one-time code, conversation id (a phone number here) or
anything they typed. The stack logs as a deployment does (LOG_FORMAT=json): every line of ours is a
JSON object naming the conversation by its keyed reference."""
from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import requests
from conftest import claim_customers
from stack import Stack, eventually
from test_agent_handoff import Console
from test_privacy_requests import CODE, REQUEST_ID, company_export, inbox, wait_for_status

from chatprotocol import conversation_reference

[CUSTOMER] = claim_customers(__name__, "C0045")
# The processes whose every line is written by our log set-up (Rasa's and the company systems' are not all ours).
OURS = ("backoffice.log", "worker.log", "actions.log")
FIELDS = {"time", "level", "logger", "message"}


def test_no_log_line_holds_the_customers_data_after_a_request_and_a_handover(assistant: Stack):
    contact = company_export(assistant, "crm", CUSTOMER)["categories"]["contact_details"][0]
    customer = {"email": contact["email"], "name": f"{contact['first_name']} {contact['last_name']}"}
    phone = f"+3162{uuid.uuid4().int % 10 ** 7:07d}"  # the sender id: shaped like a WhatsApp customer's phone number
    marker = uuid.uuid4().hex[:10]
    webhook = f"http://localhost:{assistant.env['RASA_PORT']}/webhooks/rest/webhook"
    auth = {"Authorization": f"Bearer {assistant.env['REST_CHANNEL_TOKEN']}"}
    typed: list[str] = []

    def say(text: str) -> str:
        typed.append(text)
        answer = requests.post(webhook, json={"sender": phone, "message": text, "metadata": {"language": "en"}}, headers=auth,
                               timeout=60)
        answer.raise_for_status()
        return "\n".join(m.get("text", "") for m in answer.json())

    say("hello")
    assert "e-mail" in say("please delete all my personal data")
    mailed = len(inbox(assistant, customer["email"]))
    assert "code" in say(customer["email"]).lower()
    messages = eventually(lambda: inbox(assistant, customer["email"]), 20, "the code e-mail",
                          until=lambda found: len(found) > mailed, interval=0.5)
    found = CODE.search(messages[0]["text"])
    assert found
    code = found.group(1) + found.group(2)
    assert "Shall I file it?" in say(code)
    receipt = say("yes")
    request_id = REQUEST_ID.search(receipt)
    assert request_id, receipt
    wait_for_status(assistant, request_id.group(0), "fulfilled")  # the worker delivered it to every system

    agent = Console(assistant, "Sem")
    try:
        agent.queue()  # present: the chat is queued, not left as a ticket
        assert "handing you over" in say(f"I want to talk to a person about parcel {marker}")
        waiting = f"my parcel {marker} never arrived at my house"
        assert say(waiting) == ""  # paused: stored for the agent, no answer from the bot
        def queued() -> dict | None:
            return next((e for e in agent.queue() if any(marker in said for said in e["summary"]["last_messages"])), None)

        entry = eventually(queued, 20, "the chat in the agents' queue")
        assert agent.do(entry["id"], "claim").status_code == 200
        assert agent.do(entry["id"], "reply", text="I am looking into it now.").status_code == 200
        assert agent.do(entry["id"], "hand-back").status_code == 200
    finally:
        agent.sign_out()
    time.sleep(2)  # the processes' last lines of this conversation (the upkeep, the worker's next pass)

    secrets = {"e-mail address": customer["email"], "name": customer["name"], "conversation id": phone,
               "phone number": phone[1:]} | {f"message {n}": text for n, text in enumerate(typed) if len(text) >= 8}
    secrets |= {f"last name part {n}": part for n, part in enumerate(customer["name"].split()[1:]) if len(part) >= 5}
    code_alone = re.compile(rf"(?<![0-9.:]){code}(?![0-9])")  # not inside a time's microseconds
    logs = {path.name: path.read_text(errors="replace") for path in sorted(Path(assistant.log_dir).glob("*.log"))}
    assert {"rasa.log", "actions.log", "backoffice.log", "worker.log", "companysystems.log", "mailsink.log"} <= set(logs)
    for name, text in logs.items():
        for line in text.splitlines():
            leaked = [what for what, value in secrets.items() if value.lower() in line.lower()]
            leaked += ["one-time code"] if code_alone.search(line) else []
            assert not leaked, f"{name} logged the customer's {', '.join(leaked)}: {line[:300]}"

    for name in OURS:
        lines = [json.loads(line) for line in logs[name].splitlines() if line.startswith("{")]
        assert lines and all(FIELDS <= set(line) for line in lines), name
    # The back office's lines of this conversation name it by the reference the action server's lines give it.
    reference = conversation_reference(phone, assistant.env["BACKOFFICE_SERVICE_TOKEN"])
    said = [json.loads(line) for line in logs["backoffice.log"].splitlines() if reference in line]
    assert any("verified by e-mail code" in line["message"] and line["conversation"] == reference for line in said), said
