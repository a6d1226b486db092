"""The Rasa server's readiness (connectors/health.py): live as soon as it serves, ready only with a
model loaded. With a model, every stack of the suites waits for it (scripts/stack.py)."""
from __future__ import annotations

from pathlib import Path

import requests
from stack import Stack, isolated_env, load_env, serving


def test_a_rasa_server_without_a_model_is_live_but_not_ready(tmp_path: Path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    stack = Stack(load_env({**isolated_env(tmp_path), "RASA_MODEL": str(empty)}), log_dir=tmp_path / "log")
    rasa = stack.process("rasa")
    base = f"http://localhost:{stack.env['RASA_PORT']}"
    rasa.health_url = f"{base}/"  # liveness: Rasa's own root answers once the server runs
    with serving(rasa, timeout=300):
        answer = requests.get(f"{base}/webhooks/health/ready", timeout=10)
        assert answer.status_code == 503 and answer.json()["ready"] is False
        assert requests.get(f"{base}/", timeout=10).status_code == 200


def test_the_assistant_with_its_model_is_ready(assistant: Stack):
    rasa = f"http://localhost:{assistant.env['RASA_PORT']}"
    assert requests.get(f"{rasa}/webhooks/health/ready", timeout=10).json() == {"ready": True}
    backoffice = assistant.env["BACKOFFICE_URL"]
    assert requests.get(f"{backoffice}/health/ready", timeout=10).json() == {"ready": True}
    assert requests.get(f"{backoffice}/health/live", timeout=10).status_code == 200
    actions = f"http://localhost:{assistant.env['ACTIONS_PORT']}/health/ready"
    assert requests.get(actions, timeout=10).json() == {"ready": True}  # its back office answers
