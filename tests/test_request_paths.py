"""Every kind of request a verified customer files in the chat, checked where it takes effect: in the
company system that holds the data, not in the wording. Real processes, the SQLite stack.

Each test has a customer of its own (C0032-C0039 and C0046, claimed: no other module uses them).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from conftest import claim_customers
from stack import Stack, eventually
from test_privacy_requests import (
    REQUEST_ID,
    backoffice,
    company_export,
    email_of,
    new_conversation,
    say,
    verify_by_email,
    wait_for_status,
)

claim_customers(__name__, "C0032", "C0033", "C0034", "C0035", "C0036", "C0037", "C0038", "C0039", "C0046")
# Hop-by-hop headers, and those the proxy's own answer sets.
NOT_FORWARDED = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


def verified(assistant, customer_id: str, language: str = "en") -> str:
    sender = new_conversation(assistant, language)
    assert "verified" in verify_by_email(assistant, sender, email_of(assistant, customer_id))
    return sender


def filed_request(assistant, receipt: str) -> dict:
    found = REQUEST_ID.search(receipt)
    assert found, receipt
    return backoffice(assistant, f"/api/requests/{found.group(0)}")


def preference(assistant, customer_id: str, purpose: str) -> bool | None:
    """The marketing system's newest choice of the customer for a purpose (None: never asked)."""
    records = company_export(assistant, "marketing", customer_id)["categories"]["marketing_preferences"]
    chosen = sorted((r for r in records if r["purpose"] == purpose), key=lambda r: r["changed_at"])
    return chosen[-1]["granted"] if chosen else None


def task_of(assistant, request_id: str, system: str) -> dict:
    return next(t for t in backoffice(assistant, f"/api/requests/{request_id}")["tasks"] if t["system"] == system)


def marketing_task_done(assistant, request_id: str, timeout: float = 60.0) -> dict:
    return eventually(lambda: task_of(assistant, request_id, "marketing"), timeout,
                      f"the marketing system carries out {request_id}", until=lambda task: task["state"] == "done",
                      interval=0.5)


def test_a_corrected_address_reaches_the_crm_in_its_parts(assistant):
    sender = verified(assistant, "C0032")
    assert "new address:" in say(assistant, sender, "my address is wrong")
    summary = say(assistant, sender, "new address: Kerkstraat 5, 1234 AB Utrecht")
    assert "Kerkstraat 5, 1234 AB Utrecht" in summary and "Shall I file it?" in summary
    request = filed_request(assistant, say(assistant, sender, "yes"))
    assert request["type"] == "rectification"
    wait_for_status(assistant, request["id"], "fulfilled")
    [contact] = company_export(assistant, "crm", "C0032")["categories"]["contact_details"]
    address = contact["address"]
    assert (address["street"], address["house_number"], address["postcode"], address["city"]) == \
        ("Kerkstraat", "5", "1234 AB", "Utrecht")


def test_a_restriction_marks_every_system_that_holds_the_customers_data(assistant):
    sender = verified(assistant, "C0033")
    assert "restriction of processing" in say(assistant, sender, "restrict the processing of my data")
    request = filed_request(assistant, say(assistant, sender, "yes"))
    assert request["type"] == "restriction"
    fulfilled = wait_for_status(assistant, request["id"], "fulfilled")
    for task in fulfilled["tasks"]:
        if task["system"] == "assistant":
            continue
        restricted = {r["category"] for r in company_export(assistant, task["system"], "C0033")["restricted"]}
        assert set(task["categories"]) <= restricted, task["system"]


@pytest.mark.parametrize("customer_id, message, purpose, kind", [
    ("C0034", "I want to opt out of wifi counting", "wifi_counting", "opt_out"),
    ("C0035", "I withdraw my consent for personalised offers", "personalised_offers", "withdraw_consent"),
    ("C0036", "I don't want your newsletter anymore", "newsletter", "objection_direct_marketing"),
])
def test_an_opt_out_a_withdrawal_and_an_objection_reach_the_marketing_system_without_an_approval_step(
        assistant, customer_id, message, purpose, kind):
    sender = verified(assistant, customer_id)
    assert "at once" in say(assistant, sender, message)
    request = filed_request(assistant, say(assistant, sender, "yes"))
    assert request["type"] == kind and request["status"] in ("in_progress", "fulfilled")  # no one has to approve it
    marketing_task_done(assistant, request["id"])
    assert preference(assistant, customer_id, purpose) is False


def test_no_at_the_summary_files_nothing(assistant):
    sender = verified(assistant, "C0037")
    assert "Shall I file it?" in say(assistant, sender, "delete my data")
    assert "not filed anything" in say(assistant, sender, "no")
    assert "Filed" not in say(assistant, sender, "yes")  # nothing is waiting for a yes any more
    assert backoffice(assistant, "/api/customers/C0037/requests")["requests"] == []


def test_yes_again_after_an_unsure_filing_files_once(assistant):
    """The back office stops between the summary and "yes": the customer hears it is not confirmed,
    says "yes" again once it is back, and exactly one request is filed."""
    sender = verified(assistant, "C0038")
    assert "Shall I file it?" in say(assistant, sender, "delete my data")
    assistant.stop(["backoffice"])
    try:
        assert "could not confirm the filing" in say(assistant, sender, "yes")
    finally:
        assistant.start(["backoffice"])
        assistant.wait_ready(timeout=120)
    receipt = say(assistant, sender, "yes")
    assert filed_request(assistant, receipt)["customer_id"] == "C0038"
    assert len(backoffice(assistant, "/api/customers/C0038/requests")["requests"]) == 1


class LosingProxy:
    """A proxy between the action server and the back office that forwards every call; armed, it
    forwards the next filing, lets the back office answer (the request is committed), and drops the
    connection instead of passing the answer on, as a network or a proxy timing out would."""

    def __init__(self, backoffice_url: str) -> None:
        self.armed = False
        self.lost: list[dict[str, Any]] = []  # the answers that never reached the action server
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
                answer = requests.request(self.command, backoffice_url + self.path, data=body, headers=headers, timeout=30)
                if self.command == "POST" and self.path.endswith("/file") and proxy.armed:
                    proxy.armed = False
                    proxy.lost.append({"status": answer.status_code, "body": answer.json()})
                    self.close_connection = True
                    return  # the socket closes with no answer
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in NOT_FORWARDED:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LosingProxy:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def actions_calling(assistant: Stack, backoffice_url: str) -> Iterator[None]:
    """The action server restarted to call the back office at another address; the stack's own afterwards."""
    assistant.stop(["actions"])
    actions = assistant.process("actions")
    actions.env = {**assistant.env, "BACKOFFICE_URL": backoffice_url}
    assistant.procs["actions"] = actions.start()
    try:
        actions.wait_ready(120)
        yield
    finally:
        assistant.stop(["actions"])
        assistant.start(["actions"])
        assistant.wait_ready(timeout=120)


def test_yes_again_after_a_filing_whose_answer_was_lost_gives_the_receipt_of_the_one_request(assistant):
    """The back office files and commits the request, but its answer never reaches the action server:
    the customer hears the filing is not confirmed, says "yes" again, and gets the receipt of that
    same request; exactly one is filed."""
    with LosingProxy(assistant.env["BACKOFFICE_URL"]) as proxy, actions_calling(assistant, proxy.url):
        sender = verified(assistant, "C0046")
        assert "Shall I file it?" in say(assistant, sender, "delete my data")
        proxy.armed = True
        assert "could not confirm the filing" in say(assistant, sender, "yes")
        [lost] = proxy.lost
        assert lost["status"] == 201, json.dumps(lost)
        assert [r["id"] for r in backoffice(assistant, "/api/customers/C0046/requests")["requests"]] == [lost["body"]["id"]]
        receipt = say(assistant, sender, "yes")
    request = filed_request(assistant, receipt)
    assert (request["id"], request["customer_id"], request["type"]) == (lost["body"]["id"], "C0046", "erasure")
    assert len(backoffice(assistant, "/api/customers/C0046/requests")["requests"]) == 1


def test_a_system_that_fails_for_good_is_told_to_the_customer_as_being_looked_into(assistant):
    """The service desk's system is down for good: the task fails after its tries, the request stays
    open, and the customer asking "where is it?" hears that the privacy team is on it."""
    faults = f"{assistant.env['COMPANY_SYSTEMS_URL']}/_faults/service"
    headers = {"Authorization": f"Bearer {assistant.env['COMPANY_SYSTEMS_TOKEN']}"}
    sender = verified(assistant, "C0039")
    assert "Shall I file it?" in say(assistant, sender, "delete my data")
    requests.post(faults, json={"mode": "down", "count": None, "retry_after": 0}, headers=headers, timeout=10).raise_for_status()
    try:
        request = filed_request(assistant, say(assistant, sender, "yes"))
        eventually(lambda: task_of(assistant, request["id"], "service"), 60, "the service task failed for good",
                   until=lambda task: task["state"] == "failed", interval=0.5)
    finally:
        requests.post(faults, json={"mode": "ok"}, headers=headers, timeout=10).raise_for_status()
    status = say(assistant, sender, "what is the status of my request?")
    assert request["id"] in status and "our privacy team is looking into it" in status
    assert backoffice(assistant, f"/api/requests/{request['id']}")["status"] == "in_progress"
