"""Where a turn's time goes: `python -m bench.profile [--messages 200]`.

Starts the back office, its worker, the mail sink, the company systems and the action server of our stack (free
ports, SQLite, var/bench/profile-<time>/), with a counting proxy (bench/proxy.py) between the action server and
the back office, loads our model in this process with bot/endpoints.yml (our SQL tracker store, the action server)
and hands it the bench's messages as the REST channel would, in conversations of 10 turns with fresh sender ids.
It times, per message: every node of Rasa's graph (each NLU component and policy), the processor's stages
(tracker fetch and session start, NLU, prediction loop, saving), the tracker store's reads and writes, each call
of the action server; and counts what the action server asks the back office per turn (the proxy's log). A
cProfile of the loop in this process and one of the action server (bench/profiled.py) go to the results as well:
bench/results/profile-<time>.json, .pstats and -actions.pstats.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import json
import logging
import os
import pstats
import re
import signal
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from bench.__main__ import RASA_BIN, RESULTS, ROOT, Process, Stack, free_port, our_env, script
from bench.stats import percentile

TIMES: dict[str, list[float]] = defaultdict(list)
# What the action server's handlers run, for its profile (its start-up and idle loop left out).
ACTION_SERVER_CODE = (r"actions/(actions|answers|backoffice|customer_actions|handoff|rights|sentences)"
                      r"|rasa_sdk/(executor|endpoint|interfaces)|requests/(sessions|adapters)|json/")


def timed_sync(owner: Any, name: str, key: Callable[..., str]) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[key(*args, **kwargs)].append(time.perf_counter() - started)

    setattr(owner, name, wrapper)


def timed_async(owner: Any, name: str, key: Callable[..., str]) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            TIMES[key(*args, **kwargs)].append(time.perf_counter() - started)

    setattr(owner, name, wrapper)


def instrument() -> None:
    """Wrap Rasa's graph nodes, processor stages, tracker store and remote actions with timers."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.engine.graph import GraphNode

    timed_sync(GraphNode, "__call__", lambda node, *_, **__: f"node {node._node_name}")
    timed_async(Agent, "handle_message", lambda *_, **__: "turn (Agent.handle_message)")
    for stage in ("fetch_tracker_and_update_session", "parse_message", "_run_prediction_loop", "save_tracker", "_run_action"):
        timed_async(MessageProcessor, stage, lambda *_, stage=stage, **__: f"stage {stage}")
    timed_sync(MessageProcessor, "predict_next_with_tracker_if_should", lambda *_, **__: "stage predict (policies)")
    timed_async(SQLTrackerStore, "retrieve", lambda *_, **__: "tracker store retrieve")
    timed_async(SQLTrackerStore, "save", lambda *_, **__: "tracker store save")
    timed_async(RemoteAction, "run", lambda action, *_, **__: f"action server {action.name()}")


def path_template(path: str) -> str:
    """/api/conversations/bench-x/answers -> /api/conversations/{id}/answers, so calls count per endpoint."""
    path = re.sub(r"/conversations/[^/]+", "/conversations/{id}", path)
    return re.sub(r"/versions/[^/]+", "/versions/{version}", path)


async def drive(messages: int, warmup: int, profiler: cProfile.Profile) -> dict[str, Any]:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "bot" / "endpoints.yml"))
    started = time.perf_counter()
    agent = await load_agent(model_path=str(ROOT / "models" / "current.tar.gz"), endpoints=endpoints)
    loaded = time.perf_counter() - started

    async def say(sender: str, text: str) -> None:
        await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender, input_channel="rest"))

    for _, text in script(warmup):
        await say(f"profile-warmup-{uuid.uuid4().hex[:8]}", text)
    TIMES.clear()
    turns = 10
    loop_started = time.time()
    profiler.enable()
    wall = time.perf_counter()
    for n in range(messages // turns):
        who = f"profile-{uuid.uuid4().hex[:12]}"
        for _, text in script(turns, n):
            await say(who, text)
    wall = time.perf_counter() - wall
    profiler.disable()
    return {"model_load_s": loaded, "wall_s": wall, "loop_started": loop_started, "messages": messages // turns * turns,
            "turns_per_conversation": turns}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    var = ROOT / "var" / "bench" / f"profile-{run_id}"
    env = our_env(var)
    proxy_port = free_port()
    proxy_log = var / "backoffice-calls.jsonl"
    back = Stack(env, log_dir=var / "log")
    proxy = Process("proxy", [str(RASA_BIN / "python"), "-m", "bench.proxy", "--port", str(proxy_port), "--target",
                              env["BACKOFFICE_URL"], "--log", str(proxy_log)], ROOT, env, var / "log" / "proxy.log", proxy_port)
    actions_pstats = RESULTS / f"profile-{run_id}-actions.pstats"
    RESULTS.mkdir(parents=True, exist_ok=True)
    # the action server, calling the back office through the proxy, under cProfile: its statistics are written
    # when it is sent SIGUSR1, after the loop
    actions = Process("actions", [str(RASA_BIN / "python"), "-m", "bench.profiled", str(actions_pstats), "actions.server"], ROOT,
                      {**env, "BACKOFFICE_URL": f"http://127.0.0.1:{proxy_port}"}, var / "log" / "actions.log",
                      int(env["ACTIONS_PORT"]), back.health_urls()["actions"])
    profiler = cProfile.Profile()
    try:
        back.start(["companysystems", "mailsink", "backoffice", "worker"])
        proxy.start()
        actions.start()
        back.wait_ready(timeout=300)
        actions.wait_ready(300)
        proxy.wait_ready(timeout=60)
        os.environ.update({k: v for k, v in env.items() if isinstance(v, str)})
        instrument()
        figures = asyncio.run(drive(args.messages, args.warmup, profiler))
        os.kill(actions.pid, signal.SIGUSR1)
        time.sleep(2)
    finally:
        actions.stop()
        proxy.stop()
        back.stop()
    measured = figures["messages"]
    calls = [json.loads(line) for line in proxy_log.read_text().splitlines()] if proxy_log.exists() else []
    # the proxy logs a call when it ends: the calls of the measured loop ended after it began
    in_loop = [c for c in calls if c["at"] >= figures["loop_started"]]
    per_endpoint: Counter[str] = Counter(f"{c['method']} {path_template(c['path'])}" for c in in_loop)
    seconds: Counter[str] = Counter()
    for c in in_loop:
        seconds[f"{c['method']} {path_template(c['path'])}"] += c["s"]
    rows = sorted(((k, sum(v) / measured * 1000, len(v) / measured, percentile(v, 0.5) * 1000) for k, v in TIMES.items()),
                  key=lambda row: (-row[1]))
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    if actions_pstats.exists():
        served = pstats.Stats(str(actions_pstats), stream=stream)
        stream.write("\n=== the action server (whole run, warm-up included) ===\n")
        # what its handlers call (start-up and the idle loop left out)
        served.sort_stats("cumulative").print_stats(ACTION_SERVER_CODE, 40)
        served.sort_stats("tottime").print_stats(30)
    profiler.dump_stats(str(RESULTS / f"profile-{run_id}.pstats"))
    out = {
        **figures, "timers": {k: {"ms_per_message": ms, "calls_per_message": n, "p50_ms": p50} for k, ms, n, p50 in rows},
        "backoffice_calls_per_message": {k: n / measured for k, n in per_endpoint.most_common()},
        "backoffice_ms_per_message": {k: s / measured * 1000 for k, s in seconds.most_common()},
        "cprofile": stream.getvalue().splitlines(),
    }
    (RESULTS / f"profile-{run_id}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"{measured} messages in {figures['wall_s']:.1f} s ({figures['wall_s'] / measured * 1000:.0f} ms each); "
          f"model loaded in {figures['model_load_s']:.1f} s")
    print(f"\n{'timer':60} {'ms/message':>10} {'calls/msg':>9} {'p50 ms':>8}")
    for key, ms, n, p50 in rows:
        print(f"{key[:60]:60} {ms:10.1f} {n:9.2f} {p50:8.1f}")
    print(f"\nback office calls per message (action server -> back office), {len(in_loop)} in all:")
    for key, n in per_endpoint.most_common():
        print(f"  {n / measured:5.2f}  {seconds[key] / measured * 1000:6.1f} ms/message  {key}")
    print(f"\nfigures: {(RESULTS / f'profile-{run_id}.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
