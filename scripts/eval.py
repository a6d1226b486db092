"""Measure how well the whole assistant routes questions to the right topic.

usage: python scripts/eval.py QUESTIONS.tsv [MORE.tsv ...]
       (columns `question` and `topic`, tab-separated, unquoted)

Each question is the first message of a fresh conversation sent through the REST channel of a
freshly started assistant (NLU, dialogue policy, custom action); the topic of the answer is read
from the conversation (slot `answer_topic`). One assistant answers every file. Prints per file the
per-topic accuracy and the worst confusions, then as its last lines, one per file in the order given:
topic-accuracy overall=<0.xxx> macro=<0.xxx> n=<N>
The model loaded is the newest in `models/`, or the file or folder named by RASA_MODEL.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from stack import ROOT, Stack, isolated_env, load_env  # scripts/ is on the path: run as `python scripts/eval.py`

EVAL_VAR = ROOT / "var" / f"eval-{os.getpid()}"
EVAL_ENV = isolated_env(EVAL_VAR)
MIN_FOR_MACRO = 5


def read_questions(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["question"], r["topic"]) for r in rows if r.get("question")]


def ask(env: dict, question: str) -> str:
    """Send one question as a new conversation; return the topic the answer was given under."""
    sender = f"eval-{uuid.uuid4().hex}"
    base = f"http://localhost:{env['RASA_PORT']}"
    session = requests.Session()
    session.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": question},
                 headers={"Authorization": f"Bearer {env['REST_CHANNEL_TOKEN']}"}, timeout=60).raise_for_status()
    tracker = session.get(f"{base}/conversations/{sender}/tracker", params={"token": env["RASA_API_TOKEN"]}, timeout=60).json()
    return tracker["slots"].get("answer_topic") or "(no topic)"


def report(results: list[tuple[str, str, str]]) -> str:
    per_topic: dict[str, list[bool]] = defaultdict(list)
    confusions: Counter = Counter()
    for _, gold, predicted in results:
        per_topic[gold].append(gold == predicted)
        if gold != predicted:
            confusions[(gold, predicted)] += 1
    lines = [f"{'topic':34} {'n':>5} {'accuracy':>9}"]
    for topic, hits in sorted(per_topic.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"{topic:34} {len(hits):5d} {sum(hits) / len(hits):9.3f}")
    lines.append("\nworst confusions (expected -> answered: count)")
    for (gold, predicted), count in confusions.most_common(10):
        lines.append(f"  {gold} -> {predicted}: {count}")
    lines.append(f"\n{score_line(results)}")
    return "\n".join(lines)


def score_line(results: list[tuple[str, str, str]]) -> str:
    """`topic-accuracy overall=<0.xxx> macro=<0.xxx> n=<N>`: macro over topics with enough questions."""
    per_topic: dict[str, list[bool]] = defaultdict(list)
    for _, gold, predicted in results:
        per_topic[gold].append(gold == predicted)
    n = len(results)
    overall = sum(g == p for _, g, p in results) / n
    macro_topics = [hits for hits in per_topic.values() if len(hits) >= MIN_FOR_MACRO]
    macro = sum(sum(h) / len(h) for h in macro_topics) / len(macro_topics)
    return f"topic-accuracy overall={overall:.3f} macro={macro:.3f} n={n}"


def main() -> int:
    paths = [Path(arg) for arg in sys.argv[1:]]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    question_sets = {path: read_questions(path) for path in paths}
    for path, questions in question_sets.items():
        print(f"{len(questions)} questions from {path}", flush=True)
    shutil.rmtree(EVAL_VAR, ignore_errors=True)
    EVAL_VAR.mkdir(parents=True)
    stack = Stack(load_env(EVAL_ENV), log_dir=EVAL_VAR / "log")
    print("starting the assistant (about a minute)...", flush=True)
    stack.start()
    results_per_file: dict[Path, list[tuple[str, str, str]]] = {}
    try:
        stack.wait_ready(timeout=400)
        with ThreadPoolExecutor(max_workers=4) as pool:
            for path, questions in question_sets.items():
                predicted = []
                for i, topic in enumerate(pool.map(lambda q: ask(stack.env, q[0]), questions), 1):
                    predicted.append(topic)
                    if i % 100 == 0:
                        print(f"  {path.name}: {i}/{len(questions)}", flush=True)
                results_per_file[path] = [(q, gold, p) for (q, gold), p in zip(questions, predicted, strict=False)]
    finally:
        stack.stop()
    for path, results in results_per_file.items():
        (EVAL_VAR / f"{path.stem}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
        print(f"\n== {path}\n{report(results)}")
    print(f"\nper file, in the order given: {' '.join(str(p) for p in results_per_file)}")
    for results in results_per_file.values():
        print(score_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
