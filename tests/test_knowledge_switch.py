"""A knowledge-base version that takes effect while the assistant runs.

A stack of its own whose back office and worker run on a clock (libfaketime) that reaches midnight in
Amsterdam two days from today, when a planned version takes effect, about a minute after they start;
the clock then runs on as usual. The switch is dated from the real date (never a fixed day that the
calendar overtakes), and the planned version is written with that date into a knowledge folder of
the test's own. Before midnight the answers name the old version and a customer is shown
an erasure summary from it; after midnight the next answer names the new version at once (not after
the action server's 30 s cache), and the customer's "yes" files the request the summary showed: on
the old version, with what that version said is kept.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import ROOT
from stack import BACKOFFICE_PY, Stack, eventually, isolated_env, load_env
from test_privacy_requests import REQUEST_ID, backoffice, email_of, new_conversation, say, verify_by_email

from actions.rights import long_date

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def midnight_in_two_days() -> dt.datetime:
    """Midnight in Amsterdam two days after today there: ahead of the clock, whatever today is."""
    today = dt.datetime.now(AMSTERDAM).date()
    return dt.datetime.combine(today + dt.timedelta(days=2), dt.time(), tzinfo=AMSTERDAM)


def one_month_after(day: dt.date) -> dt.date:
    """The same day a month later, or that month's last day (how the ledger counts GDPR's month)."""
    year, month = divmod(day.year * 12 + day.month, 12)
    next_month = dt.date(year, month + 1, 1)
    following = dt.date(year + (month == 11), (month + 1) % 12 + 1, 1)
    return next_month.replace(day=min(day.day, (following - dt.timedelta(days=1)).day))


OLD = "2026-12"
SWITCH = midnight_in_two_days()
NEW = f"{SWITCH:%Y-%m-%d}"  # a version named by its day: no published version has such a name
LEAD = 75  # seconds of the back office's clock before the switch: time to verify and see the summary
CUSTOMER = "C0001"  # a stack of its own, so any customer: this one has data in every system


def knowledge_with_a_planned_version(folder: Path) -> Path:
    """The published versions, and NEW published ahead of its date (SWITCH): invoices kept 10 years."""
    shutil.copytree(ROOT / "knowledge", folder, ignore=shutil.ignore_patterns("draft"))
    planned = folder / NEW
    shutil.copytree(folder / OLD, planned)
    version = yaml.safe_load((planned / "version.yml").read_text())
    version.update(id=NEW, effective_date=SWITCH.date(), previous=OLD, changelog=[{"id": "invoices_ten_years", "text": {
        "nl": "Facturen bewaren we nu 10 jaar.", "en": "We now keep invoices for 10 years."}}])
    (planned / "version.yml").write_text(yaml.safe_dump(version, allow_unicode=True))
    categories = yaml.safe_load((planned / "categories.yml").read_text())
    invoices = next(c for c in categories["categories"] if c["id"] == "invoices")
    invoices["retention"]["months"] = 120
    invoices["retention"]["period"] = {"nl": "10 jaar na aankoop", "en": "10 years after purchase"}
    invoices["kept_after_erasure"] = {"nl": "Facturen moeten we 10 jaar bewaren.", "en": "We must keep invoices for 10 years."}
    (planned / "categories.yml").write_text(yaml.safe_dump(categories, allow_unicode=True))
    subprocess.run([str(BACKOFFICE_PY), "-m", "backoffice", "publish"], cwd=ROOT / "backend", check=True,
                   env={"PATH": "/usr/bin:/bin", "KNOWLEDGE_DIR": str(folder)}, capture_output=True)
    return folder


class ClockedStack(Stack):
    """The back office and its worker on a clock `offset` seconds ahead of the machine's."""

    offset = 0.0

    def commands(self):
        commands = super().commands()
        for name in ("backoffice", "worker"):
            commands[name] = ["faketime", "-f", f"+{self.offset:.3f}s", *commands[name]]
        return commands


@pytest.fixture(scope="module")
def assistant() -> Iterator[ClockedStack]:
    var = ROOT / "var" / f"test-switch-{os.getpid()}"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    env = isolated_env(var)
    env["KNOWLEDGE_DIR"] = str(knowledge_with_a_planned_version(var / "knowledge"))
    running = ClockedStack(load_env(env), log_dir=var / "log")
    try:
        running.start(["companysystems", "mailsink", "actions", "rasa"])
        running.wait_ready(timeout=400)
        running.offset = (SWITCH - dt.timedelta(seconds=LEAD) - dt.datetime.now(dt.timezone.utc)).total_seconds()
        running.start(["backoffice", "worker"])
        running.wait_ready(timeout=60)
        yield running
    finally:
        running.stop()


def cites(answer: str, version: str) -> bool:
    """The answer names this version as its source ("version 2026-12" is not "version 2026-12-09")."""
    return re.search(rf"version {re.escape(version)}(?![\w-])", answer) is not None


def version_in_effect(assistant) -> str:
    return backoffice(assistant, "/healthz")["knowledge_version"]


def test_answers_switch_at_midnight_and_a_summary_is_filed_on_the_version_it_came_from(assistant):
    listed = backoffice(assistant, "/api/knowledge/versions")
    assert listed["current"] == OLD and listed["current_until"] == SWITCH.astimezone(dt.timezone.utc).isoformat()

    before = new_conversation(assistant, "en")
    assert cites(say(assistant, before, "which personal data do you collect?"), OLD)
    customer = new_conversation(assistant, "en")
    say(assistant, customer, "delete my data")
    summary = verify_by_email(assistant, customer, email_of(assistant, CUSTOMER))
    assert "Shall I file it?" in summary and "7 years" in summary and "10 years" not in summary
    assert version_in_effect(assistant) == OLD, f"the summary took over {LEAD} s: the clock passed midnight before it"

    eventually(lambda: version_in_effect(assistant), LEAD + 30, f"{NEW} taking effect", until=lambda v: v == NEW, interval=0.5)
    after = new_conversation(assistant, "en")
    answer = say(assistant, after, "which personal data do you collect?")
    assert cites(answer, NEW) and not cites(answer, OLD)  # at once, not after the 30 s cache

    receipt = say(assistant, customer, "yes")
    found = REQUEST_ID.search(receipt)
    assert found, receipt
    filed = backoffice(assistant, f"/api/requests/{found.group(0)}")
    assert filed["knowledge_version"] == OLD
    # Received just after midnight in Amsterdam (the evening before in UTC): due one month after the switch day.
    due = one_month_after(SWITCH.date()).isoformat()
    assert filed["received_at"].startswith(f"{SWITCH.astimezone(dt.timezone.utc):%Y-%m-%dT%H:}") and filed["due_on"] == due
    assert f"by {long_date(due, 'en')}" in receipt
    kept = {entry["category"]: entry for entry in filed["kept_after_erasure"]}
    assert "7 years" in str(kept["invoices"]) and "10 years" not in str(kept["invoices"])
