"""`make bench`: our assistant side by side with a stock `rasa init` bot, through their REST channels.

One run trains our model if its inputs changed (the Makefile's model target, timed), creates a stock bot with
`rasa init --no-prompt` (Rasa's default config; it trains itself, timed), starts our whole stack on the embedded
default (scripts/stack.py's Stack: free ports, SQLite, a var/bench/<run>/ folder of its own) and the stock bot with
`rasa run --enable-api`, and sends both the same English messages. Every phase runs on ours, then on stock, so
both meet the same load of the machine. Each conversation has a fresh sender id and sends its next message only
after the answer to the last one. It prints a table (ours, stock, ours/stock), writes every figure to
bench/results/bench-<time>.json, and ends with the line
`bench p50_ratio=<x> thr8_ratio=<x> turn50_growth=<x> c50_p95_s=<x> startup_s=<x> rasa_rss_mb=<x>`.

`--quick` runs fewer messages per phase (a check that the bench works, not figures to compare);
`--stock-dir DIR` reuses a stock project trained by an earlier run (its training is then reported as cached).
Every process it starts is stopped at the end, on an error and on Ctrl-C.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import last_line, percentile, ratio, summary, table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from stack import RASA_BIN, Process, Stack, free_port, fresh_secret, isolated_env, load_env  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MODEL = "models/current.tar.gz"
REQUEST_TIMEOUT = 180.0  # a slow answer under load is a figure, not an error
START_TIMEOUT = 900.0  # Rasa loading its model on 2 busy cores

# Questions the knowledge base answers (the stock bot answers them badly: only the time counts) and greetings.
KNOWLEDGE = (
    "What data do you have about me?",
    "Why do you keep my address?",
    "How long do you keep my data?",
    "What do you use my data for?",
    "Who do you share my data with?",
    "How do you protect my data?",
    "Does my data leave the EU?",
    "What cookies do you use?",
    "Who is your data protection officer?",
    "How long do you keep my purchase history?",
)
GREETINGS = ("hello", "hi", "good morning", "hey there")
# The processes of ours whose peak resident memory is read (/proc/<pid>/status VmHWM).
OUR_PROCESSES = ("rasa", "actions", "backoffice", "worker", "companysystems")
# Our stack on the embedded default, as `make run` starts it: the messaging channels off (isolated_env
# turns them on against the tests' fake servers).
CHANNELS_OFF = {name: "" for name in (
    "CHANNEL_REDIS_URL", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_GRAPH_URL", "TELEGRAM_TOKEN", "TELEGRAM_SECRET_TOKEN", "TELEGRAM_API_URL", "TEAMS_APP_ID",
    "TEAMS_APP_PASSWORD", "TEAMS_TENANT_ID", "TEAMS_LOGIN_URL", "TEAMS_OPENID_METADATA_URL")}


@dataclass
class Sizes:
    """How many conversations and messages each phase sends, per bot."""

    single_conversations: int = 20  # of 6 messages: greeting, 2 questions, greeting, 2 questions
    throughput_turns: int = 8  # messages per conversation at 1, 8 and 32 at once (1 at once: 3 conversations)
    paused_conversations: int = 50
    paused_turns: int = 8
    pause_s: float = 2.0
    long_conversations: int = 3  # of 50 messages each
    long_turns: int = 50

    @classmethod
    def quick(cls) -> Sizes:
        return cls(single_conversations=4, throughput_turns=4, paused_turns=3, long_conversations=1)


@dataclass
class Bot:
    name: str
    url: str
    headers: dict[str, str]
    errors: list[str] = field(default_factory=list)

    async def say(self, http: aiohttp.ClientSession, sender: str, text: str) -> float | None:
        """Send one message and wait for the whole answer; its latency in seconds, None when it failed."""
        started = time.perf_counter()
        try:
            async with http.post(self.url, json={"sender": sender, "message": text}, headers=self.headers) as response:
                await response.read()
                if response.status != 200:
                    self.errors.append(f"HTTP {response.status} for {text!r}")
                    return None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.errors.append(f"{type(exc).__name__} for {text!r}: {exc}")
            return None
        return time.perf_counter() - started


def sender(bot: Bot, phase: str) -> str:
    """A sender id no conversation has used: each conversation starts with an empty tracker."""
    return f"bench-{bot.name}-{phase}-{uuid.uuid4().hex[:12]}"


def script(turns: int, offset: int = 0) -> list[tuple[str, str]]:
    """(kind, text) of a conversation: a greeting first and every tenth message, questions between."""
    said = []
    for turn in range(turns):
        if turn % 10 == 0:
            said.append(("greeting", GREETINGS[(turn // 10 + offset) % len(GREETINGS)]))
        else:
            said.append(("knowledge", KNOWLEDGE[(turn + offset) % len(KNOWLEDGE)]))
    return said


async def conversation(bot: Bot, http: aiohttp.ClientSession, phase: str, said: list[tuple[str, str]],
                       pause_s: float = 0.0) -> list[tuple[int, str, float]]:
    """One conversation, message after answer; (turn, kind, latency) of each answered message."""
    who = sender(bot, phase)
    out = []
    for turn, (kind, text) in enumerate(said, start=1):
        latency = await bot.say(http, who, text)
        if latency is not None:
            out.append((turn, kind, latency))
        if pause_s and turn < len(said):
            await asyncio.sleep(pause_s)
    return out


async def single(bot: Bot, http: aiohttp.ClientSession, sizes: Sizes) -> dict[str, Any]:
    """One conversation at a time: greeting, question, question, greeting, question, question."""
    latencies: dict[str, list[float]] = {"knowledge": [], "greeting": []}
    for n in range(sizes.single_conversations):
        said = [("greeting", GREETINGS[n % 4]), ("knowledge", KNOWLEDGE[(2 * n) % 10]),
                ("knowledge", KNOWLEDGE[(2 * n + 1) % 10]), ("greeting", GREETINGS[(n + 1) % 4]),
                ("knowledge", KNOWLEDGE[(2 * n + 5) % 10]), ("knowledge", KNOWLEDGE[(2 * n + 6) % 10])]
        for _, kind, latency in await conversation(bot, http, "single", said):
            latencies[kind].append(latency)
    every = latencies["knowledge"] + latencies["greeting"]
    return {"knowledge": summary(latencies["knowledge"]), "greeting": summary(latencies["greeting"]), "all": summary(every)}


async def at_once(bot: Bot, http: aiohttp.ClientSession, sizes: Sizes, concurrent: int) -> dict[str, Any]:
    """`concurrent` conversations at the same time, each sending its next message as soon as it is answered."""
    rounds = 3 if concurrent == 1 else 1

    async def client(n: int) -> list[tuple[int, str, float]]:
        out = []
        for r in range(rounds):
            out += await conversation(bot, http, f"c{concurrent}", script(sizes.throughput_turns, n + r))
        return out

    started = time.perf_counter()
    results = await asyncio.gather(*(client(n) for n in range(concurrent)))
    wall = time.perf_counter() - started
    latencies = [latency for result in results for _, _, latency in result]
    return {"concurrent": concurrent, "messages": len(latencies), "wall_s": wall,
            "messages_per_s": len(latencies) / wall if wall else math.nan, **summary(latencies)}


async def paused(bot: Bot, http: aiohttp.ClientSession, sizes: Sizes) -> dict[str, Any]:
    """Many conversations at once, each pausing between an answer and its next message (a quick typist).
    They begin spread over the first pause, as customers do not all press enter at the same moment."""
    spread = random.Random(24)

    async def client(n: int) -> list[tuple[int, str, float]]:
        await asyncio.sleep(spread.uniform(0, sizes.pause_s))
        return await conversation(bot, http, "c50", script(sizes.paused_turns, n), pause_s=sizes.pause_s)

    results = await asyncio.gather(*(client(n) for n in range(sizes.paused_conversations)))
    latencies = [latency for result in results for _, _, latency in result]
    return {"conversations": sizes.paused_conversations, "pause_s": sizes.pause_s, **summary(latencies)}


async def long_conversations(bot: Bot, http: aiohttp.ClientSession, sizes: Sizes) -> dict[str, Any]:
    """Conversations of 50 messages, one at a time: how a turn's time grows with the conversation.
    Turn 1 is read as turns 1-5 and turn 50 as turns 46-50, over every conversation."""
    by_turn: dict[int, list[float]] = {}
    for n in range(sizes.long_conversations):
        for turn, _, latency in await conversation(bot, http, "long", script(sizes.long_turns, n)):
            by_turn.setdefault(turn, []).append(latency)
    last = sizes.long_turns
    first_window = [x for t in range(1, 6) for x in by_turn.get(t, [])]
    last_window = [x for t in range(last - 4, last + 1) for x in by_turn.get(t, [])]
    return {"turns": last, "conversations": sizes.long_conversations,
            "first_turn_p50": percentile(by_turn.get(1, []), 0.5), "turn1_p50": percentile(first_window, 0.5),
            "turn50_p50": percentile(last_window, 0.5),
            "p50_by_turn": {t: percentile(v, 0.5) for t, v in sorted(by_turn.items())}}


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), in MB; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def first_answer(bot: Bot, started: float, timeout: float, alive: Callable[[], None]) -> float:
    """Seconds from `started` (time.monotonic) to the first 200 of the REST channel with an answer in it."""
    who = sender(bot, "startup")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        while time.monotonic() - started < timeout:
            alive()
            try:
                async with http.post(bot.url, json={"sender": who, "message": "hello"}, headers=bot.headers) as response:
                    if response.status == 200 and await response.json():
                        return time.monotonic() - started
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                pass
            await asyncio.sleep(0.25)
    raise TimeoutError(f"{bot.name}: no answer within {timeout:.0f} s of its start")


def train_ours() -> float | None:
    """Train our model with the Makefile's target when its inputs changed; the seconds it took, None when cached."""
    if subprocess.call(["make", "--no-print-directory", "-q", MODEL], cwd=ROOT) == 0:
        return None
    print("==> training our model (the Makefile's target)", flush=True)
    started = time.monotonic()
    subprocess.run(["make", "--no-print-directory", MODEL], cwd=ROOT, check=True)
    return time.monotonic() - started


def make_stock(folder: Path, env: dict[str, str], log: Path, started_processes: list[Process]) -> float:
    """`rasa init --no-prompt` into `folder` (it trains the model too); the seconds it took."""
    print(f"==> stock bot: rasa init --no-prompt --init-dir {folder} (trains it; a few minutes)", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    init = Process("stock-init", [str(RASA_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(folder)], folder, env, log)
    started_processes.append(init)
    started = time.monotonic()
    init.start()
    code = init.wait(3600)
    if code != 0 or not list((folder / "models").glob("*.tar.gz")):
        raise RuntimeError(f"rasa init exited with {code}:\n{init.tail()}")
    return time.monotonic() - started


def our_env(var: Path) -> dict[str, str]:
    return load_env({**isolated_env(var), **CHANNELS_OFF})


def stock_process(folder: Path, env: dict[str, str], log: Path) -> tuple[Process, Bot]:
    port, token = free_port(), fresh_secret("stock-rasa")
    command = [str(RASA_BIN / "rasa"), "run", "--enable-api", "--auth-token", token, "--port", str(port),
               "--model", str(folder / "models"), "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"]
    process = Process("stock-rasa", command, folder, env, log, port, f"http://localhost:{port}/status?token={token}")
    return process, Bot("stock", f"http://localhost:{port}/webhooks/rest/webhook", {})


async def measure(bots: list[Bot], sizes: Sizes) -> dict[str, dict[str, Any]]:
    """Every phase on each bot in turn (ours first), so both meet the same load of the machine."""
    out: dict[str, dict[str, Any]] = {bot.name: {} for bot in bots}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    phases: list[tuple[str, Callable[[Bot, aiohttp.ClientSession], Awaitable[dict[str, Any]]]]] = [
        ("single", lambda b, h: single(b, h, sizes)),
        ("c1", lambda b, h: at_once(b, h, sizes, 1)),
        ("c8", lambda b, h: at_once(b, h, sizes, 8)),
        ("c32", lambda b, h: at_once(b, h, sizes, 32)),
        ("c50_paused", lambda b, h: paused(b, h, sizes)),
        ("long", lambda b, h: long_conversations(b, h, sizes)),
    ]
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
        for phase, run in phases:
            for bot in bots:
                print(f"  {phase}: {bot.name}", flush=True)
                out[bot.name][phase] = await run(bot, http)
    return out


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def report(results: dict[str, Any]) -> tuple[str, str]:
    """The table and the last line from the run's figures."""
    ours, stock = results["ours"], results["stock"]

    def both(*path: str) -> tuple[float | None, float | None]:
        """The figure at `path` (keys into each side's results) for ours and stock; None where it is missing."""
        values: list[float | None] = []
        for side in (ours, stock):
            value: Any = side
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            values.append(value)
        return values[0], values[1]

    rows: list[tuple[str, float | None, float | None, str]] = []
    for kind in ("knowledge", "greeting", "all"):
        for p in ("p50", "p95", "p99"):
            rows.append((f"single conversation, {kind}, {p}", *both("single", kind, p), "s"))
    for c in (1, 8, 32):
        rows.append((f"{c} at once: messages/s", *both(f"c{c}", "messages_per_s"), "msg/s"))
        rows.append((f"{c} at once: p95", *both(f"c{c}", "p95"), "s"))
    for p in ("p50", "p95"):
        rows.append((f"50 at once, 2 s pauses: {p}", *both("c50_paused", p), "s"))
    rows.append(("first message of a conversation, p50", *both("long", "first_turn_p50"), "s"))
    rows.append(("turns 1-5, p50", *both("long", "turn1_p50"), "s"))
    rows.append(("turns 46-50, p50", *both("long", "turn50_p50"), "s"))
    rows.append(("start to first answer", *both("startup_s"), "s"))
    rows.append(("training", *both("training_s"), "s"))
    for name in OUR_PROCESSES:
        rows.append((f"peak resident memory: {name}", *both("peak_rss_mb", name), "MB"))
    text = table(rows)
    cached = [side for side in ("ours", "stock") if results[side].get("training_s") is None]
    if cached:
        text += f"\ntraining: cached for {' and '.join(cached)} (the model was up to date; not timed in this run)"
    text += (f"\n2 cores; load average before {results['load_before']}, after {results['load_after']}"
             f"; errors: ours {len(ours['errors'])}, stock {len(stock['errors'])}")
    growth = ratio(both("long", "turn50_p50")[0], both("long", "turn1_p50")[0])
    figures = {
        "p50_ratio": ratio(*both("single", "all", "p50")),
        "thr8_ratio": ratio(*both("c8", "messages_per_s")),
        "turn50_growth": growth,
        "c50_p95_s": both("c50_paused", "p95")[0],
        "startup_s": ours.get("startup_s"),
        "rasa_rss_mb": ours.get("peak_rss_mb", {}).get("rasa"),
    }
    return text, last_line(figures)


def interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages per phase: a check, not figures")
    parser.add_argument("--stock-dir", type=Path, help="reuse a stock project an earlier run trained")
    args = parser.parse_args()
    sizes = Sizes.quick() if args.quick else Sizes()
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    var = ROOT / "var" / "bench" / run_id
    var.mkdir(parents=True, exist_ok=True)
    # SIGTERM stops the run as Ctrl-C does: through the `finally` that stops every process.
    signal.signal(signal.SIGTERM, interrupted)
    started_processes: list[Process] = []
    stack: Stack | None = None
    results: dict[str, Any] = {"run": run_id, "cores": os.cpu_count(), "load_before": load_average(),
                               "sizes": vars(sizes), "ours": {}, "stock": {}}
    try:
        results["ours"]["training_s"] = train_ours()
        base_env = load_env({"RASA_TELEMETRY_ENABLED": "false"})
        if args.stock_dir:
            stock_dir, results["stock"]["training_s"] = args.stock_dir.resolve(), None
        else:
            stock_dir = var / "stock"
            results["stock"]["training_s"] = make_stock(stock_dir, base_env, var / "log" / "stock-init.log", started_processes)

        print("==> starting our stack (embedded default: SQLite, free ports)", flush=True)
        env = our_env(var / "ours")
        stack = Stack(env, log_dir=var / "log")
        ours = Bot("ours", f"http://localhost:{env['RASA_PORT']}/webhooks/rest/webhook",
                   {"Authorization": f"Bearer {env['REST_CHANNEL_TOKEN']}"})
        started = time.monotonic()
        stack.start()

        def ours_alive() -> None:
            for process in stack.procs.values() if stack else ():
                if process.poll() is not None:
                    raise RuntimeError(f"{process.name} exited with {process.poll()}:\n{process.tail()}")

        results["ours"]["startup_s"] = asyncio.run(first_answer(ours, started, START_TIMEOUT, ours_alive))
        stack.wait_ready(timeout=START_TIMEOUT)
        print(f"  ours answered {results['ours']['startup_s']:.1f} s after its start", flush=True)

        print("==> starting the stock bot: rasa run --enable-api", flush=True)
        stock_rasa, stock = stock_process(stock_dir, base_env, var / "log" / "stock-rasa.log")
        started_processes.append(stock_rasa)
        started = time.monotonic()
        stock_rasa.start()

        def stock_alive() -> None:
            if stock_rasa.poll() is not None:
                raise RuntimeError(f"the stock bot exited with {stock_rasa.poll()}:\n{stock_rasa.tail()}")

        results["stock"]["startup_s"] = asyncio.run(first_answer(stock, started, START_TIMEOUT, stock_alive))
        print(f"  stock answered {results['stock']['startup_s']:.1f} s after its start", flush=True)

        print("==> measuring (each phase on ours, then on stock)", flush=True)
        figures = asyncio.run(measure([ours, stock], sizes))
        for bot in (ours, stock):
            results[bot.name].update(figures[bot.name])
            results[bot.name]["errors"] = bot.errors[:50]
        results["ours"]["peak_rss_mb"] = {name: peak_rss_mb(stack.procs[name].pid) for name in OUR_PROCESSES}
        results["stock"]["peak_rss_mb"] = {"rasa": peak_rss_mb(stock_rasa.pid)}
        results["load_after"] = load_average()
    except KeyboardInterrupt:
        print("bench: interrupted; stopping what it started", file=sys.stderr, flush=True)
        return 130
    finally:
        if stack is not None:
            stack.stop()
        for process in started_processes:
            process.stop()

    text, line = report(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{run_id}.json"
    out.write_text(json.dumps({**results, "table": text.splitlines(), "last_line": line}, indent=1, default=str) + "\n")
    print(f"\n{text}\n\nfigures: {out.relative_to(ROOT)}\nlogs: {var.relative_to(ROOT)}/log")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
