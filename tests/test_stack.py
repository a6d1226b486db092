"""The one process helper every test starts its processes with (scripts/stack.py): a process is ready
only when the one that answers is the one started, a taken port is refused, and waits are on conditions."""
import multiprocessing
import re
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from stack import DEMO_OFFICE_HOURS, Process, Stack, console_notice, eventually, free_port, isolated_env, load_env

IDLE = [sys.executable, "-c", "import signal; signal.pause()"]  # alive, listening on nothing


class AnswersEverything(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def stray_listener(port: int = 0) -> Iterator[int]:
    """A process left over on a port (here a server in the test itself) that answers 200 to anything;
    yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", port), AnswersEverything)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_stray_process_on_the_port_never_passes_for_the_one_started(tmp_path: Path):
    port = free_port()
    process = Process("idle", IDLE, tmp_path, {}, tmp_path / "idle.log", port, f"http://127.0.0.1:{port}/healthz").start()
    try:
        with stray_listener(port):  # takes the port after the start
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                assert answer.status == 200  # the stray answers the health URL
            with pytest.raises(TimeoutError, match=f"another process listens on port {port}"):
                process.wait_ready(3)
    finally:
        process.stop()
    assert process.poll() is not None


def test_the_process_that_answers_its_health_url_is_ready(tmp_path: Path):
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    process = Process("http", command, tmp_path, {}, tmp_path / "http.log", port, f"http://127.0.0.1:{port}/")
    try:
        assert process.start().wait_ready(60) is process
        assert process.waiting_for == ""
    finally:
        process.stop()


def test_a_taken_port_is_refused_at_start(tmp_path: Path):
    with stray_listener() as port:
        with pytest.raises(RuntimeError, match=rf"port in use by another process: idle \({port}\)"):
            Process("idle", IDLE, tmp_path, {}, tmp_path / "idle.log", port).start()
        stack = Stack(load_env({**isolated_env(tmp_path), "BACKOFFICE_PORT": str(port)}), log_dir=tmp_path / "log")
        with pytest.raises(RuntimeError, match=rf"port in use by another process: backoffice \({port}\)"):
            stack.start(["companysystems", "backoffice"])
        assert stack.procs == {}  # nothing was started


def test_a_stack_migrates_a_new_back_office_database_before_its_back_office_and_worker_start(tmp_path: Path):
    stack = Stack(load_env(isolated_env(tmp_path)), log_dir=tmp_path / "log")
    try:
        stack.start(["backoffice", "worker"])  # both refuse a database that is not migrated
        stack.wait_ready(timeout=120)
    finally:
        stack.stop()
    assert "Running upgrade" in (tmp_path / "log" / "migrate.log").read_text()


def test_a_process_that_exits_fails_at_once_with_its_log(tmp_path: Path):
    command = [sys.executable, "-c", "import sys; print('cannot bind'); sys.exit(3)"]
    process = Process("failing", command, tmp_path, {}, tmp_path / "failing.log", free_port()).start()
    with pytest.raises(RuntimeError, match="failing exited with 3:\ncannot bind"):
        process.wait_ready(60)


def test_eventually_returns_what_met_the_condition():
    calls = count(1)
    assert eventually(lambda: next(calls), 10, "the third call", until=lambda n: n == 3, interval=0) == 3
    answers = iter([ConnectionError("not yet"), ConnectionError("not yet"), "up"])

    def read() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert eventually(read, 10, "an answer", interval=0, retry_on=(ConnectionError,)) == "up"


def test_eventually_fails_with_what_it_waited_for_and_saw_last():
    with pytest.raises(TimeoutError, match=r"the status fulfilled: not within 0.2 s; last seen: 'in_progress'"):
        eventually(lambda: "in_progress", 0.2, "the status fulfilled", until=lambda s: s == "fulfilled", interval=0.05)
    with pytest.raises(ValueError):  # an error not named in retry_on is not waited out
        eventually(lambda: int("x"), 10, "a number", retry_on=(ConnectionError,))


def test_the_readme_counts_the_processes_make_run_starts(tmp_path: Path):
    words = {"five": 5, "six": 6, "seven": 7, "eight": 8}
    said = re.search(r"`make run` starts (\w+) processes", (Path(__file__).resolve().parents[1] / "README.md").read_text())
    assert said and words[said.group(1)] == len(Stack(load_env(isolated_env(tmp_path))).commands())


def test_make_run_names_the_staff_console_and_the_demo_logins_beside_the_website():
    env = {"DEMO_MODE": "1", "BACKOFFICE_PORT": "8000",
           "DEMO_AGENT_1_EMAIL": "anna@voltera.example", "DEMO_AGENT_1_PASSWORD": "anna-pass",
           "DEMO_AGENT_2_EMAIL": "bram@voltera.example", "DEMO_AGENT_2_PASSWORD": "change-me",
           "DEMO_PRIVACY_OFFICER_EMAIL": "sanne@voltera.example", "DEMO_PRIVACY_OFFICER_PASSWORD": "sanne-pass"}
    notice = console_notice(env)
    assert "Staff console:              http://localhost:8000/console (agents take chats mon-fri 09:00-17:00;" in notice
    assert "(agents take chats at any hour;" in console_notice({**env, "HANDOFF_OFFICE_HOURS": DEMO_OFFICE_HOURS})
    assert "anna@voltera.example  password anna-pass" in notice and "sanne@voltera.example  password sanne-pass" in notice
    assert "bram@voltera.example  password none: set DEMO_AGENT_2_PASSWORD in .env" in notice
    assert "password" not in console_notice({**env, "DEMO_MODE": "0"})  # no demo accounts without demo mode


def _pick_ports(start: Any, how_many: int, found: Any) -> None:
    start.wait()
    found.put([free_port() for _ in range(how_many)])


def test_suites_picking_ports_at_once_never_get_the_same_one_nor_one_a_connection_may_take(tmp_path, monkeypatch):
    """Four processes (suites side by side) each pick 100 ports, released together: no port twice (a
    random pick among the ~12,000 non-ephemeral ports would repeat one in nearly every run), none in the
    range the kernel gives a connection's own end."""
    monkeypatch.setattr("stack.PORT_LEDGER", tmp_path / "ports")
    context = multiprocessing.get_context("fork")
    start, found = context.Barrier(4), context.Queue()
    pickers = [context.Process(target=_pick_ports, args=(start, 100, found)) for _ in range(4)]
    for picker in pickers:
        picker.start()
    ports = [port for _ in pickers for port in found.get(timeout=120)]
    for picker in pickers:
        picker.join(timeout=30)
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert len(ports) == 400 and len(set(ports)) == 400
    assert not [port for port in ports if low <= port <= high]
