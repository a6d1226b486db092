"""The real process, as the back office and `make run` start it: `python -m companysystems serve`."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from stack import Process, free_port, fresh_secret, serving

ROOT = Path(__file__).resolve().parents[1]
TOKEN = fresh_secret("process")


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
    process = Process(
        "companysystems",
        [sys.executable, "-m", "companysystems", "serve", "--port", str(port)],
        ROOT,
        env_for(tmp_path, COMPANY_SYSTEMS_FAULTS="1"),
        tmp_path / "serve.log",
        port,
        f"http://127.0.0.1:{port}/healthz",
    )
    with serving(process, timeout=60):
        yield port


def test_serve_seeds_on_first_start_and_answers_the_contract(server):
    status, found = call(server, "GET", "/systems/crm/customers/C0001/export")
    assert status == 200
    email = found["categories"]["contact_details"][0]["email"]
    assert call(server, "GET", f"/systems/crm/customers/lookup?email={email}") == (200, {"customer_id": "C0001"})
    first = call(server, "POST", "/systems/wifi/customers/C0001/erase", {"categories": None}, key="p-1")
    assert first[0] == 200 and first == call(
        server, "POST", "/systems/wifi/customers/C0001/erase", {"categories": None}, key="p-1"
    )
    assert call(server, "POST", "/_faults/crm", {"mode": "429", "retry_after": 2})[0] == 200
    assert call(server, "GET", "/systems/crm/customers/C0001/export")[0] == 429


def test_seed_command_is_idempotent(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "companysystems", *args]
        return subprocess.run(command, cwd=ROOT, env=env_for(tmp_path), capture_output=True, text=True, timeout=120)

    assert run("seed").stdout.strip() == "seeded 50 customers"
    assert run("seed").stdout.strip() == "already seeded; nothing added"
    assert run("seed", "--reset").stdout.strip() == "seeded 50 customers"
