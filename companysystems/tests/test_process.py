"""The real process, as the back office and `make run` start it: `python -m companysystems serve`."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "process-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(tmp_path: Path, **extra: str) -> dict:
    env = {**os.environ, "COMPANY_DATABASE_URL": f"sqlite:///{tmp_path / 'company.db'}", "COMPANY_SYSTEMS_TOKEN": TOKEN}
    env.pop("COMPANY_SYSTEMS_FAULTS", None)
    return {**env, **extra}


def call(port: int, method: str, path: str, body=None, key=None):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def server(tmp_path: Path):
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "companysystems", "serve", "--port", str(port)],
        cwd=ROOT, env=env_for(tmp_path, COMPANY_SYSTEMS_FAULTS="1"), stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("serve did not start:\n" + (tmp_path / "serve.log").read_text())
        time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def test_serve_seeds_on_first_start_and_answers_the_contract(server):
    status, found = call(server, "GET", "/systems/crm/customers/C0001/export")
    assert status == 200
    email = found["categories"]["contact_details"][0]["email"]
    assert call(server, "GET", f"/systems/crm/customers/lookup?email={email}") == (200, {"customer_id": "C0001"})
    first = call(server, "POST", "/systems/wifi/customers/C0001/erase", {"categories": None}, key="p-1")
    assert first[0] == 200 and first == call(server, "POST", "/systems/wifi/customers/C0001/erase", {"categories": None}, key="p-1")
    assert call(server, "POST", "/_faults/crm", {"mode": "429", "retry_after": 2})[0] == 200
    assert call(server, "GET", "/systems/crm/customers/C0001/export")[0] == 429


def test_seed_command_is_idempotent(tmp_path):
    run = lambda *args: subprocess.run([sys.executable, "-m", "companysystems", *args], cwd=ROOT, env=env_for(tmp_path), capture_output=True, text=True, timeout=120)  # noqa: E731
    assert run("seed").stdout.strip() == "seeded 50 customers"
    assert run("seed").stdout.strip() == "already seeded; nothing added"
    assert run("seed", "--reset").stdout.strip() == "seeded 50 customers"
