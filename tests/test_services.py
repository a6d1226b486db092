"""`make test` brings the services the tests share (scripts/services.sh, after the Makefile has installed
them): one that does not answer on its port is started, one that answers is left alone. Tried on Redis
on a free port, so the machine's own services are never stopped or touched."""
import os
import subprocess
from pathlib import Path

import redis
from stack import free_port

ROOT = Path(__file__).resolve().parents[1]


def services(redis_port: int) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/services.sh"], cwd=ROOT, env={**os.environ, "REDIS_PORT": str(redis_port)},
                          capture_output=True, text=True, timeout=120)


def test_a_service_not_running_is_started_and_one_running_is_left_alone():
    port = free_port()
    started = redis.Redis(host="127.0.0.1", port=port)
    try:
        first = services(port)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"Redis: starting on port {port}" in first.stdout
        assert started.ping()
        again = services(port)
        assert again.returncode == 0 and f"Redis: running on port {port}" in again.stdout and "starting" not in again.stdout
    finally:
        try:
            started.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # never started
        started.close()
