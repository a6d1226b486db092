"""Soak probe: SOAK_CONVERSATIONS (50) customers chat at once for SOAK_SECONDS (120) through the REST
channel, on a PostgreSQL stack of its own, while one process after another is disrupted: the back
office is killed (SIGKILL) and started again, the outbox worker is killed mid-delivery and started
again, the back office loses every database connection (pg_terminate_backend), and the Rasa server
is killed and started again (it loads its model afresh).

Each conversation is one seed customer (C0001, C0002, ...), in Dutch or English: knowledge
questions between requests; it verifies by e-mail code, files an opt-out, a restriction, a
correction, a withdrawal of consent and an objection (every fifth conversation: looks at its data
and files an erasure instead), says "yes" at each summary and asks the status. An honest "try again"
during an outage is no error: it is counted, and the customer waits until the back office answers
and says it again. While the Rasa server itself is down nothing on the server side can answer: the
REST call fails (connection refused or cut), which is the client's "try again"; such a failure is
excused only while the Rasa server is down, and the customer says it again once Rasa answers.
Afterwards every receipt must be in the ledger and fulfilled with all its tasks done, no customer
may have a request they were not given a receipt for, and no system may have carried out a task
twice (the company systems' action log, the ledger's tasks and audit).

The test asserts 0 errors, 0 lost, 0 doubled, every outage taken, and a minimum of work done (turns
answered, requests filed, tasks delivered: counts well below what a slow machine does in the run),
never a time; its figures (turns, latency, answers told "try again") go to the terminal and to
var/soak-figures.txt.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import requests
from conftest import PG_ADMIN, ROOT, postgresql_stack, privacy_officer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from stack import Stack, eventually
from test_end_to_end import ONE_QUESTION_PER_TOPIC, rest_auth
from test_privacy_requests import CODE, REQUEST_ID, email_of

from actions.sentences import SENTENCES

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
SOAK_CONVERSATIONS = int(os.environ.get("SOAK_CONVERSATIONS", "50"))
FIGURES_FILE = ROOT / "var" / "soak-figures.txt"
TURN_TIMEOUT = 180.0  # generous: 50 conversations share 2 cores; a slow answer is a figure, not an error
RETRIES_PER_TURN = 6
BACK_OFFICE_WAIT = 120.0
RASA_WAIT = 600.0  # the Rasa server loading its model again, on cores the whole stack shares
DRAIN_SECONDS = 240.0  # after the run, for the worker to finish every task filed
# When each outage begins, as a fraction of SOAK_SECONDS.
KILL_BACK_OFFICE_AT, KILL_WORKER_AT, TERMINATE_AT, KILL_RASA_AT = 0.2, 0.35, 0.5, 0.65
SEED_CUSTOMERS = 50
# The least work a run must do, per conversation: a machine several times slower than the one the
# figures were measured on (about 36 turns, 4 requests and 10 tasks per conversation) still does it.
MIN_TURNS_PER_CONVERSATION = 6
MIN_REQUESTS_PER_TWO_CONVERSATIONS = 1

# Questions whose answer comes from the knowledge base (and names its version), in both languages.
KNOWLEDGE_TOPICS = ("why_data_used", "sharing_third_parties", "retention", "security", "policy_changes",
                    "children_and_specific_audiences", "international_transfers", "cookies_tracking", "contact_dpo")
QUESTIONS = {lang: [ONE_QUESTION_PER_TOPIC[t][i] for t in KNOWLEDGE_TOPICS] for i, lang in enumerate(("nl", "en"))}
VERSION_WORD = {"nl": "versie", "en": "version"}
TYPED = {
    "hello": {"nl": "hallo", "en": "hello"},
    "yes": {"nl": "ja", "en": "yes"},
    "status": {"nl": "wat is de status van mijn verzoek?", "en": "what is the status of my request?"},
    "show": {"nl": "laat mijn gegevens zien", "en": "show me my data"},
    "opt_out": {"nl": "ik wil me afmelden voor wifi tellen", "en": "I want to opt out of wifi counting"},
    "withdrawal": {"nl": "ik trek mijn toestemming voor gepersonaliseerde aanbiedingen in",
                   "en": "I withdraw my consent for personalised offers"},
    "objection": {"nl": "ik wil jullie nieuwsbrief niet meer", "en": "I don't want your newsletter anymore"},
    "restriction": {"nl": "beperk de verwerking van mijn gegevens", "en": "restrict the processing of my data"},
    "erasure": {"nl": "verwijder mijn gegevens", "en": "delete my data"},
    "wrong_address": {"nl": "mijn adres klopt niet", "en": "my address is wrong"},
    "new_address": {"nl": "nieuw adres: Kerkstraat {n}, 1234 AB Utrecht", "en": "new address: Kerkstraat {n}, 1234 AB Utrecht"},
}
TRY_AGAIN = {lang: (SENTENCES["unavailable"][lang], SENTENCES["filing_unsure"][lang]) for lang in ("nl", "en")}


def before_placeholder(phrase: str) -> str:
    """The fixed start of a phrase with values in it ("Filed. Your request number is {id}...")."""
    return phrase.split("{")[0]


class Unexpected(AssertionError):
    """The assistant answered, but not what this point of the conversation calls for."""


@dataclass
class Conversation:
    """One customer's chat: the script of their turns and what each answer must hold."""

    stack: Stack
    number: int
    customer_id: str
    email: str
    deadline: float
    version: str
    language: str = field(init=False)
    sender: str = field(init=False)
    verified: bool = False
    latencies: list[float] = field(default_factory=list)
    told_try_again: int = 0
    receipts: list[str] = field(default_factory=list)
    error: str | None = None
    asked: int = 0
    answered: int = 0  # turns the assistant answered
    rasa_unreachable: int = 0  # turns that failed because the Rasa server was down
    rasa_down: RasaOutages | None = None

    def __post_init__(self) -> None:
        self.language = ("nl", "en")[self.number % 2]
        self.sender = f"soak-{self.customer_id}-{uuid.uuid4().hex[:8]}"
        self.http = requests.Session()
        self.http.headers.update(rest_auth(self.stack))
        self.webhook = f"http://localhost:{self.stack.env['RASA_PORT']}/webhooks/rest/webhook"

    def words(self, key: str, **values: object) -> str:
        return TYPED[key][self.language].format(**values)

    def run(self) -> None:
        try:
            self.turn(self.words("hello"), "Hoi!" if self.language == "nl" else "Hi!")
            self.question()
            for step in self.plan():
                if time.monotonic() >= self.deadline:
                    return
                step()
                if time.monotonic() < self.deadline:
                    self.question()
            while time.monotonic() < self.deadline:
                self.question()
        except Exception as exc:  # every kind of failure is a figure of the run; the test asserts there were none
            self.error = f"{self.customer_id} ({self.sender}): {type(exc).__name__}: {exc}"

    def plan(self) -> list[Callable[[], None]]:
        """Every fifth conversation sees its data, then files an erasure; the others file the other
        kinds, each conversation starting at another one."""
        if self.number % 5 == 4:
            return [self.show_my_data, lambda: self.file([(self.words("erasure"), SENTENCES["summary_question"][self.language])])]
        summary = SENTENCES["summary_question"][self.language]
        kinds = [
            [(self.words("restriction"), summary)],
            [(self.words("wrong_address"), before_placeholder(SENTENCES["type_value"][self.language])),
             (self.words("new_address", n=self.number + 1), summary)],
            [(self.words("withdrawal"), summary)],
            [(self.words("objection"), summary)],
        ]
        filings: list[Callable[[], None]] = [lambda typed=typed: self.file(typed) for typed in kinds]
        steps = [self.stop_wifi_counts, *filings]
        start = (self.number + self.number // 5) % len(steps)
        return steps[start:] + steps[:start]

    # --- the turns -------------------------------------------------------------------------------

    def send(self, message: str) -> str | None:
        """The assistant's answer; None when the call failed while the Rasa server was down (the
        client's "try again"); a failure while it was up is an error."""
        started = time.monotonic()
        try:
            response = self.http.post(self.webhook, json={"sender": self.sender, "message": message}, timeout=TURN_TIMEOUT)
        except requests.ConnectionError:
            if self.rasa_down is not None and self.rasa_down.overlaps(started, time.monotonic()):
                return None
            raise
        self.latencies.append(time.monotonic() - started)
        if response.status_code != 200:
            raise Unexpected(f"HTTP {response.status_code} from Rasa for {message!r}: {response.text[:300]}")
        texts = [m.get("text") or "" for m in response.json()]
        if not any(texts):
            raise Unexpected(f"no answer to {message!r}")
        self.answered += 1
        return "\n".join(texts)

    def turn(self, message: str, *expected: str) -> str:
        """Say it; told to try again (an outage), wait for the back office or Rasa and say it again."""
        for _ in range(RETRIES_PER_TURN):
            answer = self.send(message)
            if answer is None:
                self.rasa_unreachable += 1
                wait_for_rasa(self.stack)
                continue
            if not any(phrase in answer for phrase in TRY_AGAIN[self.language]):
                missing = [e for e in expected if e not in answer]
                if missing:
                    raise Unexpected(f"{message!r} was answered without {missing}: {answer[:400]!r}")
                return answer
            self.told_try_again += 1
            wait_for_back_office(self.stack)
        raise Unexpected(f"{message!r}: still 'try again' after {RETRIES_PER_TURN} tries")

    def question(self) -> None:
        questions = QUESTIONS[self.language]
        asked = questions[(self.number + self.asked) % len(questions)]
        self.asked += 1
        self.turn(asked, f"{VERSION_WORD[self.language]} {self.version}")

    def verified_turn(self, message: str, *expected: str) -> str:
        """A turn that needs the customer verified: the first one asks for the e-mail code first."""
        if self.verified:
            return self.turn(message, *expected)
        self.turn(message, SENTENCES["verify_first"][self.language])
        mails_before = len(inbox(self.stack, self.email))
        self.turn(self.email, before_placeholder(SENTENCES["code_sent"][self.language]))
        answer = self.turn(newest_code(self.stack, self.email, mails_before))
        self.verified = True
        if SENTENCES["already_verified"][self.language] in answer:
            # The back office took the code but went down before it answered: ask again.
            return self.turn(message, *expected)
        missing = [e for e in (SENTENCES["verified"][self.language], *expected) if e not in answer]
        if missing:
            raise Unexpected(f"the code was answered without {missing}: {answer[:400]!r}")
        return answer

    def file(self, typed: list[tuple[str, str]]) -> None:
        """Ask for a request (in one or more messages), say yes at its summary, ask its status."""
        (first, expected), *rest = typed
        self.verified_turn(first, expected)
        for message, expected in rest:
            self.turn(message, expected)
        receipt = self.turn(self.words("yes"))
        found = REQUEST_ID.search(receipt)
        told = (before_placeholder(SENTENCES["receipt"][self.language]), before_placeholder(SENTENCES["repeat"][self.language]))
        if found is None or not any(t in receipt for t in told):
            raise Unexpected(f"'yes' at the summary gave no receipt: {receipt[:400]!r}")
        self.receipts.append(found.group(0))
        self.turn(self.words("status"), SENTENCES["status_intro"][self.language], found.group(0))

    def stop_wifi_counts(self) -> None:
        """The Wi-Fi counts are linked to no one: before verification the register's instruction, with no
        code asked; once verified, an opt-out to file like the others."""
        if self.verified:
            self.file([(self.words("opt_out"), SENTENCES["summary_question"][self.language])])
        else:
            self.turn(self.words("opt_out"), SENTENCES["how_to_stop"][self.language], SENTENCES["not_linked"][self.language])

    def show_my_data(self) -> None:
        self.verified_turn(self.words("show"), SENTENCES["data_intro"][self.language], self.email)  # their own data


# --- the back office as the customers and the probe see it --------------------------------------------


def service_get(stack: Stack, path: str, **params: str) -> dict:
    response = requests.get(stack.env["BACKOFFICE_URL"] + path, params=params, timeout=30,
                            headers={"Authorization": f"Bearer {stack.env['BACKOFFICE_SERVICE_TOKEN']}"})
    response.raise_for_status()
    return response.json()


def back_office_answers(stack: Stack) -> bool:
    try:
        return requests.get(f"{stack.env['BACKOFFICE_URL']}/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def wait_for_back_office(stack: Stack) -> None:
    """Until the back office answers its health check: what a customer told "try again" waits for."""
    eventually(lambda: back_office_answers(stack), BACK_OFFICE_WAIT, "the back office answering", interval=0.5)


def rasa_answers(stack: Stack) -> bool:
    try:
        url = f"http://localhost:{stack.env['RASA_PORT']}/status"
        return requests.get(url, params={"token": stack.env["RASA_API_TOKEN"]}, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def wait_for_rasa(stack: Stack) -> None:
    """Until the Rasa server answers again (its model loaded): what a client whose call failed waits for."""
    eventually(lambda: rasa_answers(stack), RASA_WAIT, "the Rasa server answering", interval=0.5)


def inbox(stack: Stack, email: str) -> list[dict]:
    """The demo inbox of this address, newest first; read again while the back office is down."""
    return eventually(lambda: service_get(stack, "/api/demo/inbox", to=email)["messages"], BACK_OFFICE_WAIT,
                      f"the inbox of {email}", until=lambda _: True, interval=0.5, retry_on=(requests.RequestException,))


def newest_code(stack: Stack, email: str, mails_before: int) -> str:
    def code_mailed() -> str | None:
        messages = inbox(stack, email)
        found = CODE.search(messages[0]["text"]) if len(messages) > mails_before else None
        return found.group(1) + found.group(2) if found else None

    return eventually(code_mailed, 60, f"a new code mailed to {email}", interval=0.5)


# --- the outages ---------------------------------------------------------------------------------------


@dataclass
class RasaOutages:
    """When the Rasa server was down: from just before its kill until it answered again."""

    spans: list[list[float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self) -> None:
        with self.lock:
            self.spans.append([time.monotonic(), float("inf")])

    def end(self) -> None:
        with self.lock:
            self.spans[-1][1] = time.monotonic()

    def overlaps(self, started: float, failed: float) -> bool:
        """A call made at `started` that failed at `failed` met the Rasa server down."""
        with self.lock:
            return any(begin <= failed and started <= end for begin, end in self.spans)


@dataclass
class Outages:
    """One process after another disrupted at set moments: the back office killed and started
    again, the outbox worker killed and started again, the back office's database connections cut,
    the Rasa server killed and started again."""

    stack: Stack
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    log: list[str] = field(default_factory=list)
    error: str | None = None
    rasa_down: RasaOutages = field(default_factory=RasaOutages)

    def run(self) -> None:
        try:
            schedule = ((KILL_BACK_OFFICE_AT, self.kill_and_restart_back_office), (KILL_WORKER_AT, self.kill_and_restart_worker),
                        (TERMINATE_AT, self.terminate_back_office_connections), (KILL_RASA_AT, self.kill_and_restart_rasa))
            for at, disrupt in schedule:
                if self.done.wait(max(0.0, self.started + at * SOAK_SECONDS - time.monotonic())):
                    return
                disrupt()
        except Exception as exc:  # reported as an error of the run
            self.error = f"outage: {type(exc).__name__}: {exc}"

    def at(self) -> str:
        return f"{time.monotonic() - self.started:.0f} s"

    def kill_and_restart_back_office(self) -> None:
        self.stack.procs.pop("backoffice").kill()
        killed, at = time.monotonic(), self.at()
        self.stack.start(["backoffice"])
        self.stack.wait_ready(timeout=BACK_OFFICE_WAIT)
        self.log.append(f"back office SIGKILLed at {at}, answering again {time.monotonic() - killed:.1f} s later")

    def kill_and_restart_worker(self) -> None:
        """Killed while the run files requests all the time: what it had taken and not finished is
        delivered by the next worker, once."""
        waiting = tasks_not_done(self.stack)
        self.stack.procs.pop("worker").kill()
        at = self.at()
        self.stack.start(["worker"])
        self.log.append(f"outbox worker SIGKILLed at {at} ({waiting} tasks not yet done), started again")

    def kill_and_restart_rasa(self) -> None:
        self.rasa_down.begin()
        try:
            self.stack.procs.pop("rasa").kill()
            killed, at = time.monotonic(), self.at()
            self.stack.start(["rasa"])
            self.stack.wait_ready(timeout=RASA_WAIT)
        finally:
            self.rasa_down.end()
        self.log.append(f"Rasa server SIGKILLed at {at}, answering again {time.monotonic() - killed:.1f} s later")

    def terminate_back_office_connections(self) -> None:
        database = make_url(self.stack.env["BACKOFFICE_DATABASE_URL"]).database
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as db:
                ended = db.execute(text("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database}).scalar()
        finally:
            admin.dispose()
        self.log.append(f"{ended} connections of the back office's database terminated at {self.at()}")


def tasks_not_done(stack: Stack) -> int:
    """The ledger's system tasks not yet done (read straight from its database)."""
    engine = create_engine(make_url(stack.env["BACKOFFICE_DATABASE_URL"]).set(drivername="postgresql"))
    try:
        with engine.connect() as db:
            return int(db.execute(text("SELECT count(*) FROM system_tasks WHERE state <> 'done'")).scalar() or 0)
    finally:
        engine.dispose()


# --- what the ledger and the company systems hold afterwards -------------------------------------------


def customer_requests(stack: Stack, customer_id: str) -> list[dict]:
    return service_get(stack, f"/api/customers/{customer_id}/requests")["requests"]


def finished(request: dict) -> bool:
    return request["status"] == "fulfilled" and all(t["state"] == "done" for t in request["tasks"])


def drain(stack: Stack, customer_ids: list[str]) -> dict[str, dict]:
    """Every request of these customers once all are fulfilled, or as they are after DRAIN_SECONDS."""
    def ledger() -> dict[str, dict]:
        return {r["id"]: r for cid in customer_ids for r in customer_requests(stack, cid)}

    try:
        return eventually(ledger, DRAIN_SECONDS, "every request fulfilled", interval=2,
                          until=lambda now: all(finished(r) for r in now.values()))
    except TimeoutError:
        return ledger()


def privacy_view(officer: requests.Session, stack: Stack, request_id: str) -> dict:
    response = officer.get(f"{stack.env['BACKOFFICE_URL']}/api/privacy/requests/{request_id}", timeout=30)
    response.raise_for_status()
    return response.json()


def company_actions(stack: Stack, customer_ids: list[str]) -> Counter:
    """How often each company system carried out each idempotency key for these customers (its action log)."""
    engine = create_engine(make_url(stack.env["COMPANY_DATABASE_URL"]).set(drivername="postgresql"))
    try:
        with engine.connect() as db:
            rows = db.execute(text("SELECT system, idempotency_key, count(*) FROM actions_log "
                                   "WHERE customer_id = ANY(:ids) GROUP BY system, idempotency_key"), {"ids": customer_ids})
            return Counter({(system, key): n for system, key, n in rows})
    finally:
        engine.dispose()


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    tasks: int = 0
    delivered: int = 0
    replayed: int = 0


def judge(stack: Stack, conversations: list[Conversation], ledger: dict[str, dict]) -> Verdict:
    """Lost: a receipt not in the ledger or not carried out. Doubled: a request no summary was
    confirmed for, one receipt for two summaries, a task twice in the ledger or in a system's log."""
    verdict = Verdict()
    for c in conversations:
        given = Counter(c.receipts)
        held = {rid for rid, r in ledger.items() if r["customer_id"] == c.customer_id}
        verdict.lost += [f"{rid} ({c.customer_id}): receipt given, not in the ledger" for rid in given if rid not in held]
        verdict.doubled += [f"{rid} ({c.customer_id}): one receipt for {n} summaries" for rid, n in given.items() if n > 1]
        verdict.doubled += [f"{rid} ({c.customer_id}): in the ledger, never confirmed" for rid in held - set(given)]
    carried_out = company_actions(stack, [c.customer_id for c in conversations])
    asked = set()
    officer = privacy_officer(stack)
    for rid, request in sorted(ledger.items()):
        if not finished(request):
            unfinished = [(t["system"], t["state"], t["last_error"]) for t in request["tasks"] if t["state"] != "done"]
            verdict.lost.append(f"{rid}: still {request['status']}, tasks {unfinished}")
        view = privacy_view(officer, stack, rid)
        done_audits = Counter(a["detail"]["system"] for a in view["audit"] if a["action"] == "task_done")
        verdict.replayed += sum(1 for a in view["audit"] if a["action"] == "task_done" and a["detail"].get("replayed"))
        for system, n in Counter(t["system"] for t in view["tasks"]).items():
            if n > 1 or done_audits[system] > 1:
                verdict.doubled.append(f"{rid}: {n} tasks and {done_audits[system]} 'done' entries for {system}")
        for task in view["tasks"]:
            verdict.tasks += 1
            verdict.delivered += task["state"] == "done"
            if task["system"] == "assistant" or task["operation"] == "export":
                continue  # carried out in the back office itself / changes nothing: no action log
            asked.add((task["system"], task["idempotency_key"]))
            times = carried_out[(task["system"], task["idempotency_key"])]
            if task["state"] == "done" and times != 1:
                (verdict.lost if times == 0 else verdict.doubled).append(f"{rid}: {task['system']} carried it out {times} times")
    verdict.doubled += [f"{system} carried out {key} that no task asked for" for system, key in set(carried_out) - asked]
    return verdict


# --- the probe -----------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def figures(conversations: list[Conversation], outages: Outages, ledger: dict[str, dict], errors: list[str],
            verdict: Verdict, ran: float, drained: float) -> str:
    latencies = [x for c in conversations for x in c.latencies]
    filed = sum(len(set(c.receipts)) for c in conversations)
    kinds = ", ".join(f"{kind} {n}" for kind, n in Counter(r["type"] for r in ledger.values()).most_common())
    lines = [
        f"soak probe (tests/test_soak.py): {len(conversations)} conversations at once for {SOAK_SECONDS:.0f} s, "
        f"PostgreSQL, REST channel",
        f"  turns                {len(latencies)}: median {statistics.median(latencies):.2f} s, "
        f"95th percentile {percentile(latencies, 0.95):.2f} s, longest {max(latencies):.2f} s",
        f"  requests filed       {filed}: {kinds}",
        f"  system tasks         {verdict.tasks}, {verdict.delivered} delivered "
        f"({verdict.replayed} answered by a replay of the first call)",
        f"  knowledge questions  {sum(c.asked for c in conversations)} (Dutch and English)",
        f"  told \"try again\"     {sum(c.told_try_again for c in conversations)} answers during the outages, "
        f"{sum(c.rasa_unreachable for c in conversations)} calls while the Rasa server was down",
        *(f"  outage               {entry}" for entry in outages.log),
        f"  errors {len(errors)}, lost {len(verdict.lost)}, doubled {len(verdict.doubled)}",
        f"  duration             {ran:.0f} s of conversations, every task done {drained:.0f} s after",
        *(f"  error: {e}" for e in errors[:10]),
        *(f"  lost: {e}" for e in verdict.lost[:10]),
        *(f"  doubled: {e}" for e in verdict.doubled[:10]),
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def soak_stack() -> Iterator[Stack]:
    """A PostgreSQL stack of its own: the probe kills and cuts its back office, and uses every seed customer."""
    with postgresql_stack("test-soak") as stack:
        yield stack


def test_soak_many_conversations_across_outages_lose_and_double_nothing(soak_stack, published, capsys):
    assert 0 < SOAK_CONVERSATIONS <= SEED_CUSTOMERS, f"SOAK_CONVERSATIONS: 1 to {SEED_CUSTOMERS} (one seed customer each)"
    customer_ids = [f"C{n:04d}" for n in range(1, SOAK_CONVERSATIONS + 1)]
    emails = {cid: email_of(soak_stack, cid) for cid in customer_ids}
    started = time.monotonic()
    conversations = [Conversation(soak_stack, n, cid, emails[cid], started + SOAK_SECONDS, published[-1]["version"]["id"])
                     for n, cid in enumerate(customer_ids)]
    outages = Outages(soak_stack, started)
    for conversation in conversations:
        conversation.rasa_down = outages.rasa_down
    threads = [threading.Thread(target=c.run, name=c.customer_id) for c in conversations]
    chaos = threading.Thread(target=outages.run, name="outages")
    for thread in [chaos, *threads]:
        thread.start()
    for thread in threads:
        thread.join()
    outages.done.set()
    chaos.join()
    ran = time.monotonic() - started

    ledger = drain(soak_stack, customer_ids)
    drained = time.monotonic() - started - ran
    verdict = judge(soak_stack, conversations, ledger)
    errors = [e for e in [outages.error, *(c.error for c in conversations)] if e]
    report = figures(conversations, outages, ledger, errors, verdict, ran, drained)
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    FIGURES_FILE.write_text(report + "\n")
    with capsys.disabled():
        print(f"\n{report}\n", flush=True)

    assert errors == []
    assert verdict.lost == []
    assert verdict.doubled == []
    assert len(outages.log) == 4, outages.log  # every outage happened during the run
    assert sum(c.rasa_unreachable for c in conversations) > 0, "no conversation met the Rasa server down"
    answered, filed = sum(c.answered for c in conversations), sum(len(set(c.receipts)) for c in conversations)
    assert answered >= MIN_TURNS_PER_CONVERSATION * SOAK_CONVERSATIONS, f"only {answered} turns answered"
    assert filed >= MIN_REQUESTS_PER_TWO_CONVERSATIONS * SOAK_CONVERSATIONS // 2, f"only {filed} requests filed"
    assert verdict.delivered >= filed, f"only {verdict.delivered} tasks delivered for {filed} requests"
