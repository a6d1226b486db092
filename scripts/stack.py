"""Start, watch and stop the assistant's processes on one machine (the embedded default).

`python scripts/stack.py run` migrates the back office's database (`python -m backoffice migrate`), starts
the back office, the action server and the Rasa server, waits until each answers, prints the demo
website's address and stays until Ctrl-C or `stop`.
The end-to-end tests use the same `Stack` class, so they test the assistant as `make run` starts it;
every test that starts a process of its own does so with `Process` (logs, free ports, fresh secrets,
and readiness only of the process it started), and waits with `eventually` instead of sleeping.
Tests import it through pytest's `pythonpath` (scripts/), from either environment (it needs only python-dotenv).
"""
from __future__ import annotations

import fcntl
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
RASA_BIN = ROOT / ".venv" / "rasa" / "bin"
BACKOFFICE_PY = ROOT / ".venv" / "backoffice" / "bin" / "python"
# Python packages run from their own folder; the Rasa processes from the project root.
WORKDIRS = {"companysystems": "companysystems", "backoffice": "backend", "worker": "backend", "mailsink": "backend"}
PORT_SETTINGS = {"companysystems": "COMPANY_SYSTEMS_PORT", "backoffice": "BACKOFFICE_PORT", "mailsink": "SMTP_PORT",
                 "actions": "ACTIONS_PORT", "rasa": "RASA_PORT"}
T = TypeVar("T")
# Rasa's web server (Sanic) closes a connection whose request header stalls longer than this between two
# reads (SANIC_REQUEST_TIMEOUT, unless set): Sanic's 60 s let one client hold a connection open for
# good by sending a header line every 10 s.
RASA_REQUEST_TIMEOUT_SECONDS = "5"
# Rasa's own loggers (LOG_LEVEL, Rasa's setting) print what customers type at DEBUG: the stack runs them
# at INFO unless told a quieter level (docs/operations.md).
QUIET_ENOUGH = ("INFO", "WARNING", "ERROR", "CRITICAL")


def load_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the processes: .env.example's defaults, then .env, then the real environment."""
    env = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    if (ROOT / ".env").exists():
        env.update({k: v or "" for k, v in dotenv_values(ROOT / ".env").items()})
    env.update({k: v for k, v in os.environ.items() if k in env})
    env.update(overrides or {})
    env["CORS_ORIGINS"] = " ".join(website_origins(env))
    return {**os.environ, **env}


def website_origins(env: dict[str, str]) -> list[str]:
    """The origins whose pages may use the chat (Rasa's CORS, the socket.io channel's origin check):
    CORS_ORIGINS, else the back office's public address, where the demo website is served."""
    if env.get("CORS_ORIGINS", "").strip():
        return env["CORS_ORIGINS"].replace(",", " ").split()
    public = urlsplit(env.get("BACKOFFICE_PUBLIC_URL") or env.get("BACKOFFICE_URL") or "http://localhost:8000")
    return [f"{public.scheme}://{public.netloc}"]


# Ports handed out by `free_port`, shared by every process on this machine that starts stacks (the suites
# run side by side): a port is handed out once an hour at most, so two suites never pick the same one.
PORT_LEDGER = Path(tempfile.gettempdir()) / "transparency-assistant-ports"
PORT_LEDGER_SECONDS = 3600
FIRST_PORT = 20000


@lru_cache(maxsize=1)
def _ports_outside_the_ephemeral_range() -> list[int]:
    """Ports the kernel never gives a connection's own end (ip_local_port_range): a port picked here
    stays free until its process binds it, however many connections open meanwhile."""
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return [port for port in range(FIRST_PORT, 65536) if not low <= port <= high]


def free_port() -> int:
    """A port nothing listens on now, outside the ephemeral range and not handed out to any other
    process in the last hour (PORT_LEDGER), so a stray process from an earlier run, another suite's
    stack or a connection's own end can never take it before the process meant for it binds it."""
    with open(PORT_LEDGER, "a+", encoding="ascii") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)
        ledger.seek(0)
        now = time.time()
        recent: dict[int, float] = {}
        for line in ledger.read().splitlines():
            number, _, at = line.partition(" ")
            if number.isdigit() and at.replace(".", "", 1).isdigit() and now - float(at) < PORT_LEDGER_SECONDS:
                recent[int(number)] = float(at)
        for port in random.sample(_ports_outside_the_ephemeral_range(), 500):
            if port in recent:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            recent[port] = now
            ledger.seek(0)
            ledger.truncate()
            ledger.write("".join(f"{p} {at}\n" for p, at in recent.items()))
            return port
    raise RuntimeError("no free port found outside the ephemeral range")


def fresh_secret(name: str) -> str:
    """A secret made for this run only, so nothing left over from another run knows it."""
    return f"{name}-{secrets.token_hex(20)}"


def isolated_env(var_dir: Path) -> dict[str, str]:
    """Settings for a stack of its own (tests, evaluation): free ports, own databases, and secrets
    made fresh for this run."""
    ports = {name: free_port() for name in ("backoffice", "actions", "rasa", "company", "smtp",
                                            "telegram_api", "whatsapp_graph", "microsoft", "widget_page")}
    return {
        "COMPANY_SYSTEMS_PORT": str(ports["company"]),
        "COMPANY_SYSTEMS_URL": f"http://localhost:{ports['company']}",
        "COMPANY_SYSTEMS_TOKEN": fresh_secret("systems"),
        "COMPANY_DATABASE_URL": f"sqlite:///{var_dir / 'companysystems.db'}",
        # The demo's staff accounts (made by the back office in demo mode), signed in to over plain http.
        "DEMO_AGENT_1_PASSWORD": fresh_secret("agent-1"),
        "DEMO_AGENT_2_PASSWORD": fresh_secret("agent-2"),
        "DEMO_PRIVACY_OFFICER_PASSWORD": fresh_secret("privacy-officer"),
        "CONSOLE_INSECURE_COOKIES": "true",
        "SESSION_TOKEN_SECRET": fresh_secret("session"),
        "OTP_SECRET": fresh_secret("otp"),
        "EXPORT_LINK_SECRET": fresh_secret("export"),
        "CHAT_SESSION_ID_SECRET": fresh_secret("chat-session"),
        "SMTP_PORT": str(ports["smtp"]),
        "MAIL_SINK_DIR": str(var_dir / "mail"),
        "DEMO_MODE": "1",
        # Logs as a deployment writes them: one JSON object per line (docs/operations.md).
        "LOG_FORMAT": "json",
        # Agents may take chats at any hour in the tests (the office hours' own tests set theirs).
        "HANDOFF_OFFICE_HOURS": "mon-sun 00:00-24:00",
        "HANDOFF_HOLIDAYS_COUNTRY": "",
        # Tests make company systems fail on purpose, and a failing task give up after a few quick tries.
        "COMPANY_SYSTEMS_FAULTS": "1",
        "WORKER_MAX_ATTEMPTS": "3",
        "WORKER_BACKOFF_BASE_SECONDS": "0.5",
        "BACKOFFICE_PORT": str(ports["backoffice"]),
        "ACTIONS_PORT": str(ports["actions"]),
        "ACTION_SERVER_TOKEN": fresh_secret("actions"),
        "RASA_PORT": str(ports["rasa"]),
        "BACKOFFICE_URL": f"http://localhost:{ports['backoffice']}",
        "ACTION_ENDPOINT_URL": f"http://localhost:{ports['actions']}/webhook",
        "PUBLIC_SOCKET_URL": f"http://localhost:{ports['rasa']}",
        "RASA_API_TOKEN": fresh_secret("rasa"),
        "REST_CHANNEL_TOKEN": fresh_secret("rest"),
        # The messaging channels' incoming ids, shared by the Rasa processes (connectors/delivery.py).
        "CHANNEL_REDIS_URL": "redis://localhost:6379/0",
        # WhatsApp on, against a fake Graph API a test starts on this port (tests/test_whatsapp.py).
        "WHATSAPP_APP_SECRET": fresh_secret("whatsapp-app"),
        "WHATSAPP_VERIFY_TOKEN": fresh_secret("whatsapp-verify"),
        "WHATSAPP_ACCESS_TOKEN": fresh_secret("whatsapp-access"),
        "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
        "WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{ports['whatsapp_graph']}/v26.0",
        # Telegram on, against a fake Bot API a test starts on this port (tests/test_telegram.py).
        "TELEGRAM_TOKEN": f"123456:{fresh_secret('telegram-bot')}",
        "TELEGRAM_SECRET_TOKEN": fresh_secret("telegram-webhook"),
        "TELEGRAM_BOT_NAME": "VolteraPrivacyBot",
        "TELEGRAM_API_URL": f"http://127.0.0.1:{ports['telegram_api']}",
        # Teams on, against a fake of Microsoft's login, keys and Bot Connector a test starts on this port (tests/test_teams.py).
        "TEAMS_APP_ID": str(uuid.uuid4()),
        "TEAMS_APP_PASSWORD": fresh_secret("teams-app"),
        "TEAMS_TENANT_ID": str(uuid.uuid4()),
        "TEAMS_LOGIN_URL": f"http://127.0.0.1:{ports['microsoft']}",
        "TEAMS_OPENID_METADATA_URL": f"http://127.0.0.1:{ports['microsoft']}/botframework/v1/.well-known/openidconfiguration",
        # The demo website (the back office) and the plain page of another origin that tests/test_widget.py serves.
        "WIDGET_TEST_PAGE_PORT": str(ports["widget_page"]),
        "CORS_ORIGINS": f"http://localhost:{ports['backoffice']} http://localhost:{ports['widget_page']}",
        "BACKOFFICE_SERVICE_TOKEN": fresh_secret("service"),
        "TRACKER_DB_DIALECT": "sqlite",
        "TRACKER_DB": str(var_dir / "rasa-tracker.db"),
        "BACKOFFICE_DATABASE_URL": f"sqlite:///{var_dir / 'backoffice.db'}",
    }


def eventually(read: Callable[[], T], timeout: float, what: str, until: Callable[[T], object] = bool,
               interval: float = 0.1, retry_on: tuple[type[BaseException], ...] = ()) -> T:
    """Wait for a condition instead of sleeping for a guess: call `read` until what it returns meets
    `until` (by default: is true), and return that. After `timeout` seconds fail, saying `what` was
    awaited and what `read` returned last (or raised last, of the errors in `retry_on`); any other
    error fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            seen: object = read()
        except retry_on as exc:
            seen = exc
        else:
            if until(seen):  # type: ignore[arg-type]
                return seen  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s; last seen: {seen!r}")
        time.sleep(interval)


def listening_sockets(port: int) -> set[str] | None:
    """The inodes of the sockets listening on this TCP port (IPv4 and IPv6), from the kernel's tables;
    None where there are no such tables (not Linux)."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    found = set()
    for table in (t for t in tables if t.exists()):
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.add(fields[9])
    return found


def sockets_of_session(session: int) -> set[str]:
    """The inodes of the sockets open in the processes of one process session (setsid): a process started in a
    session of its own, and its children."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # /proc/<pid>/stat: pid (name) state ppid pgrp session ...; the name may hold spaces.
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) != session:
                continue
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    found.add(target[len("socket:["):-1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return found


class Process:
    """One process the stack or a test starts: in a session of its own (it and its children stop
    together), its output in its own log, and ready only when it is alive, every socket listening
    on its port is its own, and its health URL answers 200. So a process left over from another run
    (or anything else on that port) never passes for this one."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str], log_path: Path,
                 port: int | None = None, health_url: str | None = None) -> None:
        self.name, self.command, self.cwd, self.env, self.log_path = name, command, cwd, env, log_path
        self.port, self.health_url = port, health_url
        self.popen: subprocess.Popen | None = None
        self.waiting_for = "not started"

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    def start(self) -> Process:
        """Start it; refuse when its port is taken (another process would answer in its place)."""
        if self.port is not None and not port_free(self.port):
            raise RuntimeError(f"port in use by another process: {self.name} ({self.port}) (an earlier run? `make stop`)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        return self

    def ready(self) -> bool:
        """True once it serves; fails at once (with its log) when it has exited."""
        code = self.poll()
        if code is not None:
            raise RuntimeError(f"{self.name} exited with {code}:\n{self.tail()}")
        if self.port is not None and not self.holds_port():
            return False
        if self.health_url is not None:
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as response:
                    if response.status != 200:
                        self.waiting_for = f"{self.health_url} answered {response.status}"
                        return False
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                self.waiting_for = f"{self.health_url}: {exc}"
                return False
        self.waiting_for = ""
        return True

    def holds_port(self) -> bool:
        """Something listens on its port, and every socket listening there is this process's own. Where
        the kernel does not say whose a socket is (not Linux), that the port was free at start has to do."""
        assert self.port is not None, f"{self.name} has no port"
        listening = listening_sockets(self.port)
        if listening is None:
            held = port_answers(self.port)
        elif listening - sockets_of_session(self.pid):
            self.waiting_for = f"another process listens on port {self.port}"
            return False
        else:
            held = bool(listening)
        if not held:
            self.waiting_for = f"nothing listens on port {self.port} yet"
        return held

    def wait_ready(self, timeout: float) -> Process:
        try:
            eventually(self.ready, timeout, f"{self.name} ready", interval=0.2)
        except TimeoutError:
            raise TimeoutError(f"{self.name} not up after {timeout:.0f} s: {self.waiting_for}\n{self.tail()}") from None
        return self

    def wait(self, timeout: float) -> int:
        """Its exit code, once it has exited by itself."""
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, no clean shutdown (it and its children)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait(10)

    def stop(self) -> None:
        if self.popen is not None:
            terminate(self.popen.pid, self.popen)

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def serving(process: Process, timeout: float = 90.0) -> Iterator[Process]:
    """Start the process, wait until it is ready, and stop it afterwards."""
    process.start()
    try:
        process.wait_ready(timeout)
        yield process
    finally:
        process.stop()


@contextmanager
def own_redis(log_dir: Path) -> Iterator[str]:
    """A redis-server of its own on a free port, nothing saved to disk, for a test that shares Redis
    between processes without assuming one runs on this machine; its URL."""
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("this test needs redis-server (Debian: apt-get install redis-server)")
    port = free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with serving(Process("redis", command, log_dir, dict(os.environ), log_dir / "redis.log", port), timeout=30):
        yield f"redis://127.0.0.1:{port}/0"


def migrate_back_office(python: str | Path, env: dict[str, str], log_path: Path) -> None:
    """`python -m backoffice migrate`, the step of its own before any back office or worker starts (they
    refuse a database behind their migrations); RuntimeError with its output when it fails."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        code = subprocess.call([str(python), "-m", "backoffice", "migrate"], cwd=ROOT / "backend", env=env, stdout=log,
                               stderr=subprocess.STDOUT, timeout=300)
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"the back office's migrate step exited with {code}:\n{tail}")


class Stack:
    def __init__(self, env: dict[str, str], log_dir: Path = VAR / "log", pid_dir: Path | None = None) -> None:
        """`pid_dir`: where to record the process ids for `make stop` (only `make run` does)."""
        self.env = env
        self.log_dir = log_dir
        self.pid_dir = pid_dir
        self.procs: dict[str, Process] = {}

    def commands(self) -> dict[str, list[str]]:
        """RASA_MODEL names the model file or folder to load (default: the newest in `models/`)."""
        e = self.env
        return {
            "companysystems": [str(BACKOFFICE_PY), "-m", "companysystems", "serve", "--port", e["COMPANY_SYSTEMS_PORT"]],
            "backoffice": [str(BACKOFFICE_PY), "-m", "backoffice", "serve", "--port", e["BACKOFFICE_PORT"]],
            "worker": [str(BACKOFFICE_PY), "-m", "backoffice", "worker"],
            "mailsink": [str(BACKOFFICE_PY), "-m", "backoffice", "mailsink", "--port", e["SMTP_PORT"]],
            "actions": [str(RASA_BIN / "python"), "-m", "actions.server"],
            "rasa": [
                str(RASA_BIN / "rasa"), "run", "--model", e.get("RASA_MODEL") or "models", "--endpoints", "bot/endpoints.yml",
                "--credentials", "bot/credentials.yml", "--port", e["RASA_PORT"], "--enable-api",
                "--auth-token", e["RASA_API_TOKEN"], "--cors", *website_origins(e),
            ],
        }

    def health_urls(self) -> dict[str, str]:
        e = self.env
        return {
            "companysystems": f"http://localhost:{e['COMPANY_SYSTEMS_PORT']}/healthz",
            # readiness: the database answers and is migrated; the model is loaded (connectors/health.py)
            "backoffice": f"http://localhost:{e['BACKOFFICE_PORT']}/health/ready",
            "actions": f"http://localhost:{e['ACTIONS_PORT']}/health",
            "rasa": f"http://localhost:{e['RASA_PORT']}/webhooks/health/ready",
        }

    def process(self, name: str) -> Process:
        port = int(self.env[PORT_SETTINGS[name]]) if name in PORT_SETTINGS else None
        level = self.env.get("LOG_LEVEL", "").upper()
        env = {**self.env, "LOG_LEVEL": level if level in QUIET_ENOUGH else "INFO"} if name in ("rasa", "actions") else self.env
        if name == "rasa":
            env = {"SANIC_REQUEST_TIMEOUT": RASA_REQUEST_TIMEOUT_SECONDS, **env}
        return Process(name, self.commands()[name], ROOT / WORKDIRS.get(name, "."), env, self.log_dir / f"{name}.log",
                       port, self.health_urls().get(name))

    def start(self, names: list[str] | None = None) -> None:
        """Start the processes; refuse when one's port is taken (another process would answer its health check).
        The back office's database is migrated first when a back office or worker is among them."""
        processes = [self.process(name) for name in names or list(self.commands())]
        taken = [f"{p.name} ({p.port})" for p in processes if p.port is not None and not port_free(p.port)]
        if taken:
            raise RuntimeError(f"port in use by another process: {', '.join(taken)} (an earlier run? `make stop`)")
        if {"backoffice", "worker"} & {p.name for p in processes}:
            migrate_back_office(BACKOFFICE_PY, self.env, self.log_dir / "migrate.log")
        for process in processes:
            self.procs[process.name] = process.start()
            if self.pid_dir is not None:
                (self.pid_dir / f"{process.name}.pid").write_text(str(process.pid))

    def wait_ready(self, timeout: float = 300.0, progress: bool = False) -> None:
        """Wait until every started process is ready (`Process.ready`); fail with its log if one dies."""
        pending = list(self.procs.values())

        def all_ready() -> bool:
            for process in list(pending):
                if process.ready():
                    pending.remove(process)
                    if progress:
                        print(f"  {process.name} is up", flush=True)
            for process in self.procs.values():
                if process.poll() is not None:
                    raise RuntimeError(f"{process.name} exited with {process.poll()}:\n{process.tail()}")
            return not pending

        try:
            eventually(all_ready, timeout, "the stack ready", interval=0.5)
        except TimeoutError:
            waiting = "; ".join(f"{p.name} ({p.waiting_for})" for p in pending)
            raise TimeoutError(f"not up after {timeout:.0f} s: {waiting}") from None

    def stop(self, names: list[str] | None = None) -> None:
        for name in names or list(self.procs):
            process = self.procs.pop(name, None)
            if process is None:
                continue
            process.stop()
            if self.pid_dir is not None:
                (self.pid_dir / f"{name}.pid").unlink(missing_ok=True)


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def terminate(pid: int, proc: subprocess.Popen | None = None, grace: float = 10.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_recorded() -> None:
    """`make stop`: end the processes a `make run` (in another terminal) started."""
    for pid_file in VAR.glob("*.pid"):
        try:
            pid = int(pid_file.read_text())
        except (FileNotFoundError, ValueError):
            continue  # `make run` is stopping that one itself
        terminate(pid)
        pid_file.unlink(missing_ok=True)
        print(f"stopped {pid_file.stem}")


DEMO_OFFICE_HOURS = "mon-sun 00:00-24:00"


def demo_env() -> dict[str, str]:
    """The local demo's environment: demo mode on (the demo login and the demo inbox, the demo's
    staff accounts) unless the caller's own environment says DEMO_MODE (.env.example keeps it off for
    a deployment), the staff console's cookies sent over the demo's plain http, and agents taking
    chats at any hour unless HANDOFF_OFFICE_HOURS is set (in the environment or .env)."""
    overrides = {"DEMO_MODE": os.environ.get("DEMO_MODE", "1"),
                 "CONSOLE_INSECURE_COOKIES": os.environ.get("CONSOLE_INSECURE_COOKIES", "true")}
    if not load_env().get("HANDOFF_OFFICE_HOURS"):
        overrides["HANDOFF_OFFICE_HOURS"] = DEMO_OFFICE_HOURS
    return load_env(overrides)


DEMO_STAFF = (("agent", "DEMO_AGENT_1"), ("agent", "DEMO_AGENT_2"), ("privacy officer", "DEMO_PRIVACY_OFFICER"))


def console_notice(env: dict[str, str]) -> str:
    """Where the staff console is, and the demo's logins to it (the back office makes them in demo mode)."""
    hours = env.get("HANDOFF_OFFICE_HOURS") or "mon-fri 09:00-17:00"
    lines = [f"  Staff console:              http://localhost:{env['BACKOFFICE_PORT']}/console "
             f"(agents take chats {'at any hour' if hours == DEMO_OFFICE_HOURS else hours}; HANDOFF_OFFICE_HOURS)"]
    if env.get("DEMO_MODE") != "1":
        return lines[0] + " (accounts: cd backend && python -m backoffice staff add --help)"
    for role, prefix in DEMO_STAFF:
        password = env.get(f"{prefix}_PASSWORD", "")
        shown = password if password and not password.startswith("change-me") else f"none: set {prefix}_PASSWORD in .env"
        lines.append(f"    {role + ':':17} {env.get(f'{prefix}_EMAIL', '')}  password {shown}")
    return "\n".join(lines)


def demo_notice(env: dict[str, str]) -> str:
    if env.get("DEMO_MODE") == "1":
        return ("Demo mode is on (DEMO_MODE=1): log in as a demo customer on the website, one-time codes at "
                f"http://localhost:{env['BACKOFFICE_PORT']}/demo/inbox. For this machine only (DEMO_MODE=0 make run: off).")
    return "Demo mode is off (DEMO_MODE=0): no demo login, no demo inbox."


def run() -> int:
    env = demo_env()
    print(demo_notice(env), flush=True)
    stack = Stack(env, pid_dir=VAR)
    print("starting the company systems, the mail sink, the back office and its worker, the action server and Rasa\n"
          "(Rasa takes about a minute to load)...", flush=True)
    try:
        stack.start()
        stack.wait_ready(progress=True)
    except (RuntimeError, TimeoutError) as exc:
        print(f"failed to start: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    rest_channel = (f"http://localhost:{env['RASA_PORT']}/webhooks/rest/webhook (Bearer REST_CHANNEL_TOKEN)"
                    if env.get("REST_CHANNEL_TOKEN") else "off (set REST_CHANNEL_TOKEN in .env to turn it on)")
    print(f"\nThe assistant is running.\n  Demo website with the chat: http://localhost:{env['BACKOFFICE_PORT']}/\n"
          f"{console_notice(env)}\n"
          f"  REST channel:               {rest_channel}\n"
          f"  Logs: {stack.log_dir}\nStop with Ctrl-C or `make stop`.", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while all(p.poll() is None for p in stack.procs.values()):
            time.sleep(1)
        dead = [n for n, p in stack.procs.items() if p.poll() is not None]
        print(f"{', '.join(dead)} stopped; see {stack.log_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def shell() -> int:
    """Chat in the terminal: the back office and action server in the background, Rasa's shell in front."""
    env = demo_env()
    print(demo_notice(env), flush=True)
    stack = Stack(env)
    try:
        stack.start(["companysystems", "mailsink", "backoffice", "worker", "actions"])
        stack.wait_ready(timeout=120)
        command = [str(RASA_BIN / "rasa"), "shell", "--model", "models", "--endpoints", "bot/endpoints.yml"]
        return subprocess.call(command, cwd=ROOT, env=env)
    finally:
        stack.stop()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command == "stop":
        stop_recorded()
        sys.exit(0)
    sys.exit(shell() if command == "shell" else run())
