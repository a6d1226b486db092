"""Start, watch and stop the assistant's processes on one machine (the embedded default).

`python scripts/stack.py run` starts the back office, the action server and the Rasa server, waits
until each answers, prints the demo website's address and stays until Ctrl-C or `stop`.
The end-to-end tests use the same `Stack` class, so they test the assistant as `make run` starts it.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import urlsplit

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
RASA_BIN = ROOT / ".venv" / "rasa" / "bin"
BACKOFFICE_PY = ROOT / ".venv" / "backoffice" / "bin" / "python"
# Python packages run from their own folder; the Rasa processes from the project root.
WORKDIRS = {"companysystems": "companysystems", "backoffice": "backend", "worker": "backend", "mailsink": "backend"}


def load_env(overrides: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of the processes: .env.example's defaults, then .env, then the real environment."""
    env = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    if (ROOT / ".env").exists():
        env.update({k: v or "" for k, v in dotenv_values(ROOT / ".env").items()})
    env.update({k: v for k, v in os.environ.items() if k in env})
    env.update(overrides or {})
    env["CORS_ORIGINS"] = " ".join(website_origins(env))
    return {**os.environ, **env}


def website_origins(env: Dict[str, str]) -> List[str]:
    """The origins whose pages may use the chat (Rasa's CORS, the socket.io channel's origin check):
    CORS_ORIGINS, else the back office's public address, where the demo website is served."""
    if env.get("CORS_ORIGINS", "").strip():
        return env["CORS_ORIGINS"].replace(",", " ").split()
    public = urlsplit(env.get("BACKOFFICE_PUBLIC_URL") or env.get("BACKOFFICE_URL") or "http://localhost:8000")
    return [f"{public.scheme}://{public.netloc}"]


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick), so a stray process from an earlier run can
    never answer in place of the one a stack starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def isolated_env(var_dir: Path) -> Dict[str, str]:
    """Settings for a stack of its own (tests, evaluation): free ports, own databases, and secrets
    made fresh for this run."""
    ports = {name: free_port() for name in ("backoffice", "actions", "rasa", "company", "smtp")}

    def secret(name: str) -> str:
        return f"{name}-{secrets.token_hex(20)}"

    return {
        "COMPANY_SYSTEMS_PORT": str(ports["company"]),
        "COMPANY_SYSTEMS_URL": f"http://localhost:{ports['company']}",
        "COMPANY_SYSTEMS_TOKEN": secret("systems"),
        "COMPANY_DATABASE_URL": f"sqlite:///{var_dir / 'companysystems.db'}",
        "PRIVACY_TEAM_PASSWORD": secret("privacy"),
        "SESSION_TOKEN_SECRET": secret("session"),
        "OTP_SECRET": secret("otp"),
        "EXPORT_LINK_SECRET": secret("export"),
        "CHAT_SESSION_ID_SECRET": secret("chat-session"),
        "SMTP_PORT": str(ports["smtp"]),
        "MAIL_SINK_DIR": str(var_dir / "mail"),
        "DEMO_MODE": "1",
        # Tests make company systems fail on purpose, and a failing task give up after a few quick tries.
        "COMPANY_SYSTEMS_FAULTS": "1",
        "WORKER_MAX_ATTEMPTS": "3",
        "WORKER_BACKOFF_BASE_SECONDS": "0.5",
        "BACKOFFICE_PORT": str(ports["backoffice"]),
        "ACTIONS_PORT": str(ports["actions"]),
        "ACTION_SERVER_TOKEN": secret("actions"),
        "RASA_PORT": str(ports["rasa"]),
        "BACKOFFICE_URL": f"http://localhost:{ports['backoffice']}",
        "ACTION_ENDPOINT_URL": f"http://localhost:{ports['actions']}/webhook",
        "PUBLIC_SOCKET_URL": f"http://localhost:{ports['rasa']}",
        "RASA_API_TOKEN": secret("rasa"),
        "REST_CHANNEL_TOKEN": secret("rest"),
        "CORS_ORIGINS": f"http://localhost:{ports['backoffice']}",
        "BACKOFFICE_SERVICE_TOKEN": secret("service"),
        "TRACKER_DB_DIALECT": "sqlite",
        "TRACKER_DB": str(var_dir / "rasa-tracker.db"),
        "BACKOFFICE_DATABASE_URL": f"sqlite:///{var_dir / 'backoffice.db'}",
    }


class Stack:
    def __init__(self, env: Dict[str, str], log_dir: Path = VAR / "log", pid_dir: Optional[Path] = None) -> None:
        """`pid_dir`: where to record the process ids for `make stop` (only `make run` does)."""
        self.env = env
        self.log_dir = log_dir
        self.pid_dir = pid_dir
        self.procs: Dict[str, subprocess.Popen] = {}

    def commands(self) -> Dict[str, List[str]]:
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

    def health_urls(self) -> Dict[str, str]:
        e = self.env
        return {
            "companysystems": f"http://localhost:{e['COMPANY_SYSTEMS_PORT']}/healthz",
            "backoffice": f"http://localhost:{e['BACKOFFICE_PORT']}/healthz",
            "actions": f"http://localhost:{e['ACTIONS_PORT']}/health",
            "rasa": f"http://localhost:{e['RASA_PORT']}/status?token={e['RASA_API_TOKEN']}",
        }

    def ports(self) -> Dict[str, int]:
        e = self.env
        return {"companysystems": int(e["COMPANY_SYSTEMS_PORT"]), "backoffice": int(e["BACKOFFICE_PORT"]),
                "mailsink": int(e["SMTP_PORT"]), "actions": int(e["ACTIONS_PORT"]), "rasa": int(e["RASA_PORT"])}

    def start(self, names: Optional[List[str]] = None) -> None:
        """Start the processes; refuse when one's port is taken (another process would answer its health check)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        commands = self.commands()
        names = names or list(commands)
        taken = [f"{name} ({port})" for name, port in self.ports().items() if name in names and not port_free(port)]
        if taken:
            raise RuntimeError(f"port in use by another process: {', '.join(taken)} (an earlier run? `make stop`)")
        for name in names:
            cwd = ROOT / WORKDIRS.get(name, ".")
            log = open(self.log_dir / f"{name}.log", "ab")
            self.procs[name] = subprocess.Popen(
                commands[name], cwd=cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            if self.pid_dir is not None:
                (self.pid_dir / f"{name}.pid").write_text(str(self.procs[name].pid))

    def wait_ready(self, timeout: float = 300.0, progress: bool = False) -> None:
        """Wait until every started process answers its health check; fail with its log if one dies."""
        pending = {name: url for name, url in self.health_urls().items() if name in self.procs}
        deadline = time.monotonic() + timeout
        while pending:
            for name, proc in self.procs.items():
                if name not in pending and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")
            for name, url in list(pending.items()):
                if self.procs[name].poll() is not None:
                    raise RuntimeError(f"{name} exited with {self.procs[name].returncode}:\n{self.tail(name)}")
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            pending.pop(name)
                            if progress:
                                print(f"  {name} is up", flush=True)
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"not up after {timeout:.0f} s: {', '.join(pending)}")
            time.sleep(1)

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, names: Optional[List[str]] = None) -> None:
        for name in names or list(self.procs):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            terminate(proc.pid, proc)
            if self.pid_dir is not None:
                (self.pid_dir / f"{name}.pid").unlink(missing_ok=True)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def terminate(pid: int, proc: Optional[subprocess.Popen] = None, grace: float = 10.0) -> None:
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


def demo_env() -> Dict[str, str]:
    """The local demo's environment: demo mode on (the demo login and the demo inbox) unless the
    caller's own environment says DEMO_MODE (.env.example keeps it off for a deployment)."""
    return load_env({"DEMO_MODE": os.environ.get("DEMO_MODE", "1")})


def demo_notice(env: Dict[str, str]) -> str:
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
    stack.start()
    try:
        stack.wait_ready(progress=True)
    except (RuntimeError, TimeoutError) as exc:
        print(f"failed to start: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    rest_channel = (f"http://localhost:{env['RASA_PORT']}/webhooks/rest/webhook (Bearer REST_CHANNEL_TOKEN)"
                    if env.get("REST_CHANNEL_TOKEN") else "off (set REST_CHANNEL_TOKEN in .env to turn it on)")
    print(f"\nThe assistant is running.\n  Demo website with the chat: http://localhost:{env['BACKOFFICE_PORT']}/\n"
          f"  Privacy team overview:      http://localhost:{env['BACKOFFICE_PORT']}/privacy/requests"
          f" (user {env['PRIVACY_TEAM_USER']}, password PRIVACY_TEAM_PASSWORD in .env)\n"
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
    stack.start(["companysystems", "mailsink", "backoffice", "worker", "actions"])
    try:
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
