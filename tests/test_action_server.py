"""The action server as `make run` starts it (`python -m actions.server`), a real process: it answers
only Rasa (the shared secret in `X-Action-Token`), only on localhost, and refuses what is not an
action call with a clear status instead of a 500."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from stack import RASA_BIN, Stack, isolated_env, load_env

from chatprotocol import conversation_reference

ROOT = Path(__file__).resolve().parents[1]

VAR = ROOT / "var" / f"test-actions-{os.getpid()}"
LIMIT = 64 * 1024  # a small body limit, so the test need not send megabytes


@pytest.fixture(scope="module")
def server() -> Iterator[Stack]:
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    running = Stack(load_env({**isolated_env(VAR), "ACTION_SERVER_MAX_BODY_BYTES": str(LIMIT)}), log_dir=VAR / "log")
    running.start(["actions"])
    try:
        running.wait_ready(timeout=120)
        yield running
    finally:
        running.stop()
        shutil.rmtree(VAR, ignore_errors=True)


def webhook(server: Stack) -> str:
    return f"http://127.0.0.1:{server.env['ACTIONS_PORT']}/webhook"


def token(server: Stack) -> dict:
    return {"X-Action-Token": server.env["ACTION_SERVER_TOKEN"]}


def action_call(action: str, sender: str = "verified-website-conversation") -> dict:
    """What Rasa sends to run `action`, as an attacker could craft it for a verified sender id."""
    return {
        "next_action": action, "sender_id": sender, "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": sender, "slots": {"language": "en"}, "latest_message": {"text": "show my data", "metadata": {}},
                    "events": [{"event": "user", "text": "show my data", "input_channel": "rest", "metadata": {}}],
                    "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"},
    }


def test_without_the_secret_no_action_runs(server):
    for headers, status in (({}, 401), ({"X-Action-Token": "forged"}, 403),
                            ({"X-Action-Token": server.env["ACTION_SERVER_TOKEN"] + "x"}, 403),
                            ({"X-Action-Token": server.env["ACTION_SERVER_TOKEN"][:-1]}, 403)):
        for action in ("action_show_my_data", "action_default_fallback"):
            response = requests.post(webhook(server), json=action_call(action), headers=headers, timeout=10)
            assert response.status_code == status, (headers, action, response.text)
            body = response.json()
            assert set(body) == {"error"} and "X-Action-Token" in body["error"]  # no events, no responses: nothing ran
        listing = requests.get(f"http://127.0.0.1:{server.env['ACTIONS_PORT']}/actions", headers=headers, timeout=10)
        assert listing.status_code == status  # not even the list of actions


def test_with_the_secret_the_action_runs(server):
    response = requests.post(webhook(server), json=action_call("action_default_fallback"), headers=token(server), timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["events"] == [{"event": "rewind", "timestamp": None}] and body["responses"][0]["text"]


def test_rasa_sends_the_secret_from_endpoints_yml(server):
    """Rasa 3.6's own endpoint client, configured from bot/endpoints.yml with ${ACTION_SERVER_TOKEN}
    substituted from the environment, gets through."""
    script = (
        "import asyncio, json, sys\n"
        "from rasa.utils.endpoints import read_endpoint_config\n"
        "endpoint = read_endpoint_config('bot/endpoints.yml', 'action_endpoint')\n"
        "answer = asyncio.run(endpoint.request(json=json.loads(sys.stdin.read()), method='post'))\n"
        "print(json.dumps(answer))\n"
    )
    done = subprocess.run([str(RASA_BIN / "python"), "-c", script], cwd=ROOT, env=server.env, capture_output=True, text=True,
                          input=json.dumps(action_call("action_default_fallback")), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"event": "rewind"' in done.stdout


def test_get_webhook_and_unknown_paths_are_not_server_errors(server):
    get = requests.get(webhook(server), headers=token(server), timeout=10)
    assert get.status_code == 405 and "not allowed" in get.json()["error"]
    assert requests.get(webhook(server), timeout=10).status_code == 401  # without the secret: refused first
    unknown_path = f"http://127.0.0.1:{server.env['ACTIONS_PORT']}/nothing"
    assert requests.get(unknown_path, headers=token(server), timeout=10).status_code == 404


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"next_action": 3}',
                                  b'{"next_action": "action_default_fallback"}'])
def test_a_body_that_is_not_an_action_call_gets_400(server, body):
    response = requests.post(webhook(server), data=body, headers={**token(server), "Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 400 and response.json()["error"]


def test_a_body_over_the_limit_gets_413_before_any_action_runs(server):
    big = action_call("action_default_fallback")
    big["tracker"]["slots"]["padding"] = "x" * LIMIT
    response = requests.post(webhook(server), json=big, headers=token(server), timeout=10)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    # A compressed body is measured once inflated: a small deflate "bomb" is refused too.
    bomb = zlib.compress(b" " * (LIMIT * 100))
    assert len(bomb) < LIMIT
    inflated = requests.post(webhook(server), data=bomb, headers={**token(server), "Content-Encoding": "deflate"}, timeout=10)
    assert inflated.status_code == 413
    # The same call, small, compressed as Rasa does with COMPRESS_ACTION_SERVER_REQUEST: works.
    small = zlib.compress(json.dumps(action_call("action_default_fallback")).encode())
    ok = requests.post(webhook(server), data=small, headers={**token(server), "Content-Encoding": "deflate"}, timeout=10)
    assert ok.status_code == 200, ok.text


def this_machines_address() -> str:
    """The address other machines reach this one at (the interface of the default route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.254", 9))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
    assert not address.startswith("127."), address
    return address


def test_it_listens_on_localhost_only(server):
    port = int(server.env["ACTIONS_PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((this_machines_address(), port), timeout=5).close()


def test_a_connection_rasa_has_not_written_to_yet_stays_open_past_sanics_5_s(server):
    """A busy Rasa may connect and write its call seconds later; Sanic's default closed such a
    connection after 5 s (KEEP_ALIVE_TIMEOUT), and Rasa lost the turn's answer ("Cannot write to
    closing transport": 7 of 562 turns in the soak probe, tests/test_soak.py)."""
    with socket.create_connection(("127.0.0.1", int(server.env["ACTIONS_PORT"])), timeout=5) as connection:
        connection.settimeout(8)
        with pytest.raises(socket.timeout):
            assert connection.recv(1) != b"", "the action server closed a connection that had sent nothing yet"
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert connection.recv(64).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("variable, secret", [
    *[("ACTION_SERVER_TOKEN", s) for s in (None, "", "change-me", "too-short-0123456789")],
    *[("BACKOFFICE_SERVICE_TOKEN", s) for s in (None, "", "change-me", "change-me-service-token")],
])
def test_it_refuses_to_start_without_a_real_secret(variable, secret):
    """Neither the secret Rasa sends it nor the token it calls the back office with may be missing or a placeholder."""
    env = load_env(isolated_env(VAR))
    env.pop(variable, None)
    if secret is not None:
        env[variable] = secret
    done = subprocess.run([str(RASA_BIN / "python"), "-m", "actions.server"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert f"the action server does not start: {variable}" in done.stderr


def test_rasa_and_the_action_server_share_the_secret_fresh_per_stack():
    first, second = isolated_env(VAR), isolated_env(VAR)
    assert first["ACTION_SERVER_TOKEN"] != second["ACTION_SERVER_TOKEN"] and len(first["ACTION_SERVER_TOKEN"]) >= 32
    assert "X-Action-Token: ${ACTION_SERVER_TOKEN}" in (ROOT / "bot" / "endpoints.yml").read_text()


def figures(server: Stack) -> dict[str, float]:
    """The samples of the action server's /metrics, asked without the token (the scraper holds none)."""
    answer = requests.get(f"http://127.0.0.1:{server.env['ACTIONS_PORT']}/metrics", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain"), answer.text
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


def test_metrics_show_each_actions_latency_and_its_failed_back_office_calls(server):
    fallback = 'actions_action_duration_seconds_count{action="action_default_fallback"}'
    my_data_errors = 'actions_backoffice_errors_total{action="action_show_my_data",kind="unavailable"}'
    before = figures(server)
    phone = f"+3161{uuid.uuid4().int % 10 ** 7:07d}"  # a WhatsApp sender id is the customer's phone number

    assert requests.post(webhook(server), json=action_call("action_default_fallback"), headers=token(server), timeout=10).ok
    # No back office runs beside this action server: the action's calls fail, and it says so to the customer.
    shown = requests.post(webhook(server), json=action_call("action_show_my_data", sender=phone), headers=token(server),
                          timeout=30)
    assert shown.ok
    made_up = requests.post(webhook(server), json=action_call("action_made_up_by_a_caller"), headers=token(server), timeout=10)
    assert made_up.status_code == 404

    after = figures(server)
    assert after[fallback] == before.get(fallback, 0) + 1
    assert after['actions_action_duration_seconds_sum{action="action_default_fallback"}'] > 0
    assert after[my_data_errors] > before.get(my_data_errors, 0)
    assert 'actions_action_duration_seconds_count{action="unknown"}' in after  # never a caller's own name
    scraped = requests.get(f"http://127.0.0.1:{server.env['ACTIONS_PORT']}/metrics", timeout=10).text
    assert "action_made_up_by_a_caller" not in scraped and phone not in scraped
    # The action server's log names the conversation by its reference, never by the phone number.
    log = (server.log_dir / "actions.log").read_text()
    assert phone not in log and phone[1:] not in log
    assert conversation_reference(phone, server.env["BACKOFFICE_SERVICE_TOKEN"]) in log


def test_readiness_follows_the_back_office(server):
    ready = f"http://127.0.0.1:{server.env['ACTIONS_PORT']}/health/ready"
    refused = requests.get(ready, timeout=10)  # no back office yet; no token needed
    assert refused.status_code == 503 and refused.json()["ready"] is False
    server.start(["backoffice"])
    try:
        server.wait_ready(timeout=120)
        answer = requests.get(ready, timeout=10)
        assert answer.status_code == 200 and answer.json() == {"ready": True}
    finally:
        server.stop(["backoffice"])
    assert requests.get(ready, timeout=10).status_code == 503
    assert requests.get(f"http://127.0.0.1:{server.env['ACTIONS_PORT']}/health", timeout=10).status_code == 200  # live all along
