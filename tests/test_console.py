"""The staff console in Debian's Chromium, driven by Playwright, against the whole assistant: a customer
asks for a person through the REST channel, an agent signs in, takes the conversation, reads it,
replies and hands it back; a colleague's claim is refused; a customer's HTML shows as text; and
axe-core (web/node_modules, injected into the page) finds nothing serious on the console's pages."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import ROOT, TEST_VAR
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from stack import Stack, eventually

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
BOT_IS_BACK = "You are talking to Voltera's assistant again"
LIVE = 30_000  # ms: what the console shows follows the back office's stream, which looks every second


@pytest.fixture(scope="module")
def browser(assistant: Stack) -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def console_url(stack: Stack, path: str = "") -> str:
    return f"http://localhost:{stack.env['BACKOFFICE_PORT']}/console{path}"


def agent_login(stack: Stack, number: int) -> tuple[str, str]:
    """A demo agent's e-mail address and password (the back office makes the accounts in demo mode)."""
    return stack.env[f"DEMO_AGENT_{number}_EMAIL"], stack.env[f"DEMO_AGENT_{number}_PASSWORD"]


def sign_in(page: Page, stack: Stack, login: tuple[str, str]) -> None:
    """From the console's address through the sign-in form to the live queue."""
    page.goto(console_url(stack))
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console$"))
    page.get_by_label("E-mail address").fill(login[0])
    page.get_by_label("Password").fill(login[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(console_url(stack))
    expect(page.locator("#live-status")).to_have_text("Live", timeout=LIVE)


@pytest.fixture
def contexts(browser: Browser, assistant: Stack) -> Iterator[list[BrowserContext]]:
    """Browsers of their own (own cookies) for each person a test signs in, signed out and closed
    afterwards: an agent left signed in would count as available to the next modules' customers."""
    made: list[BrowserContext] = []
    yield made
    for context in made:
        me = context.request.get(console_url(assistant).replace("/console", "/api/console/me"))
        if me.ok:
            context.request.post(console_url(assistant, "/logout"), headers={"X-CSRF-Token": me.json()["csrf_token"]})
        context.close()


def new_page(browser: Browser, contexts: list[BrowserContext]) -> Page:
    context = browser.new_context(locale="en-GB")
    contexts.append(context)
    return context.new_page()


def customer_says(stack: Stack, sender: str, text: str) -> list[dict[str, Any]]:
    """A message through the REST channel (its bearer token); the assistant's replies."""
    answer = requests.post(f"http://localhost:{stack.env['RASA_PORT']}/webhooks/rest/webhook",
                           json={"sender": sender, "message": text},
                           headers={"Authorization": f"Bearer {stack.env['REST_CHANNEL_TOKEN']}"}, timeout=60)
    answer.raise_for_status()
    return answer.json()


def said_to_customer(stack: Stack, sender: str) -> list[str]:
    """Every bot message in the customer's conversation, from Rasa's API (with its token)."""
    answer = requests.get(f"http://localhost:{stack.env['RASA_PORT']}/conversations/{sender}/tracker",
                          params={"token": stack.env["RASA_API_TOKEN"]}, timeout=30)
    answer.raise_for_status()
    return [e.get("text") or "" for e in answer.json()["events"] if e["event"] == "bot"]


def asks_for_a_person(stack: Stack, first_message: str) -> str:
    """A new REST conversation that asks a question, then for a person, and is handed over (an agent's
    console must be open, so that someone is available); its sender id."""
    sender = f"console-{uuid.uuid4().hex[:12]}"
    assert customer_says(stack, sender, first_message), "the assistant answered nothing"
    handing_over = " ".join(m.get("text", "") for m in customer_says(stack, sender, "I want to talk to a person"))
    assert "handing you over" in handing_over and "number" in handing_over, handing_over
    return sender


def queue_row(page: Page, marker: str):
    return page.locator("#queue tbody tr", has_text=marker)


def serious_violations(page: Page, what: str) -> list[str]:
    """axe-core's violations of impact serious or critical on the page as it is now (all of them printed).
    The console's CSP runs only the back office's scripts, so axe is evaluated through the browser's
    DevTools protocol (as Playwright's evaluate does), from the pinned file in web/node_modules."""
    page.evaluate(AXE.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"]][:5]
        print(f"axe on {what}: {violation['impact']} {violation['id']}: {violation['help']} at {targets}")
        if violation["impact"] in SERIOUS:
            found.append(f"{what}: {violation['id']} ({violation['impact']}) at {targets}")
    return found


def test_agent_takes_a_conversation_replies_and_hands_it_back(assistant: Stack, browser: Browser, contexts: list[BrowserContext]):
    """Issue 8's browser test: log in, the queue, claim, the transcript, reply, hand back; a second
    agent's claim refused; the customer's HTML shown as text, never run."""
    marker = uuid.uuid4().hex[:8]
    hostile = f"<b>bold {marker}</b><script>window.injected = true</script><img src=x onerror=\"window.injected = true\">"
    anna = new_page(browser, contexts)
    sign_in(anna, assistant, agent_login(assistant, 1))

    sender = asks_for_a_person(assistant, f"{hostile} Which personal data do you keep about me?")
    row = queue_row(anna, marker)
    expect(row).to_be_visible(timeout=LIVE)
    expect(row).to_contain_text("asked for a person")
    expect(row).to_contain_text("REST")
    expect(row).to_contain_text("not verified")
    expect(row).to_contain_text("I want to talk to a person")  # the summary's last messages
    expect(row).to_contain_text(f"<b>bold {marker}</b><script>")  # as text
    expect(row).to_contain_text("waiting")
    expect(row.locator("b, script, img")).to_have_count(0)
    anna.screenshot(path=str(TEST_VAR / "console-queue.png"), full_page=True)

    bram = new_page(browser, contexts)
    sign_in(bram, assistant, agent_login(assistant, 2))
    queue_row(bram, marker).get_by_role("link", name=re.compile("^Open")).click()
    expect(bram.locator("#facts")).to_contain_text("waiting", timeout=LIVE)

    row.get_by_role("link", name=re.compile("^Open")).click()
    expect(anna).to_have_url(re.compile(r"/console/conversations/H-[0-9a-f]+$"))
    transcript = anna.locator("#transcript")
    expect(transcript).to_contain_text("I want to talk to a person", timeout=LIVE)
    expect(transcript).to_contain_text(f"<b>bold {marker}</b><script>window.injected = true</script>")
    expect(transcript).to_contain_text("handing you over")  # the assistant's side too
    expect(transcript.locator("li").first).to_contain_text("Customer")
    expect(transcript.locator("b, script, img")).to_have_count(0)

    anna.get_by_role("button", name="Take this conversation").click()
    expect(anna.locator("#facts")).to_contain_text("taken by you", timeout=LIVE)
    expect(anna.locator("#outcome")).to_contain_text("You have taken this conversation")
    expect(anna.get_by_label("Reply to the customer")).to_be_focused()
    assert eventually(lambda: [t for t in said_to_customer(assistant, sender) if "You are now talking to Anna" in t], 30,
                      "the customer told who took the chat")

    expect(bram.locator("#outcome")).to_contain_text("no longer in the queue nor yours", timeout=LIVE)
    bram.get_by_role("button", name="Take this conversation").click()
    expect(bram.locator("#problem")).to_have_text("no such conversation in the queue or yours", timeout=LIVE)

    reply = f"Hello, I am looking at your data now ({marker})."
    anna.get_by_label("Reply to the customer").fill(reply)
    anna.get_by_role("button", name="Send", exact=True).click()
    expect(anna.locator("#outcome")).to_have_text("Reply sent to the customer.", timeout=LIVE)
    expect(anna.get_by_label("Reply to the customer")).to_have_value("")
    expect(transcript).to_contain_text(f"Anna: {reply}", timeout=LIVE)
    assert f"Anna: {reply}" in said_to_customer(assistant, sender)

    assert customer_says(assistant, sender, f"Thank you, I will wait ({marker}).") == []  # paused: the bot says nothing
    expect(transcript).to_contain_text(f"Thank you, I will wait ({marker}).", timeout=LIVE)

    anna.get_by_label("Add a private note (never shown to the customer)").fill(f"Asked about their data ({marker}).")
    anna.get_by_role("button", name="Save note").click()
    expect(anna.locator("#notes")).to_contain_text(f"Asked about their data ({marker}).", timeout=LIVE)
    expect(anna.locator("#notes")).to_contain_text("Anna de Vries")
    anna.screenshot(path=str(TEST_VAR / "console-conversation.png"), full_page=True)
    assert anna.evaluate("window.injected") is None and bram.evaluate("window.injected") is None

    anna.get_by_role("button", name="Hand back to the assistant").click()
    expect(anna).to_have_url(console_url(assistant), timeout=LIVE)
    expect(anna.locator("#live-status")).to_have_text("Live", timeout=LIVE)
    expect(queue_row(anna, marker)).to_have_count(0, timeout=LIVE)
    assert any(BOT_IS_BACK in t for t in said_to_customer(assistant, sender))  # answering again: tests/test_agent_handoff.py


def test_agent_inserts_a_canned_reply_and_transfers_to_a_colleague(assistant: Stack, browser: Browser,
                                                                    contexts: list[BrowserContext]):
    """A suggestion put into the reply (to edit or send as it is), then the conversation passed to Bram,
    who holds it at once: the customer is told who takes over."""
    marker = uuid.uuid4().hex[:8]
    bram = new_page(browser, contexts)
    sign_in(bram, assistant, agent_login(assistant, 2))  # his console is open: he is available for a transfer
    anna = new_page(browser, contexts)
    sign_in(anna, assistant, agent_login(assistant, 1))
    sender = asks_for_a_person(assistant, f"Which personal data do you keep about me? ({marker})")
    queue_row(anna, marker).get_by_role("link", name=re.compile("^Open")).click()
    anna.get_by_role("button", name="Take this conversation").click()
    expect(anna.locator("#facts")).to_contain_text("taken by you", timeout=LIVE)

    anna.get_by_label("Suggested answers").select_option(label="Greeting")
    anna.get_by_role("button", name="Insert into the reply").click()
    greeting = "Hello, I'm happy to help. What is your question about?"
    expect(anna.get_by_label("Reply to the customer")).to_have_value(greeting)
    anna.get_by_role("button", name="Send", exact=True).click()
    expect(anna.locator("#transcript")).to_contain_text(f"Anna: {greeting}", timeout=LIVE)

    entry_id = anna.url.rsplit("/", 1)[-1]
    anna.get_by_label("Transfer to").select_option(label="Bram Jansen (available)")
    anna.get_by_role("button", name="Transfer", exact=True).click()
    expect(anna).to_have_url(console_url(assistant), timeout=LIVE)
    # Anna's queue lists Bram's chat, but no longer what the customer said in it
    expect(anna.locator(f'#queue tbody tr[data-entry="{entry_id}"]')).to_contain_text("taken by Bram", timeout=LIVE)
    expect(queue_row(anna, marker)).to_have_count(0)
    expect(queue_row(bram, marker)).to_contain_text("taken by you", timeout=LIVE)
    told = said_to_customer(assistant, sender)
    assert "Anna is passing your chat to a colleague. One moment, please." in told
    assert "You are now talking to Bram from Voltera's team." in told

    queue_row(bram, marker).get_by_role("link", name=re.compile("^Open")).click()
    expect(bram.locator("#facts")).to_contain_text("taken by you", timeout=LIVE)
    bram.get_by_role("button", name="Hand back to the assistant").click()
    expect(bram).to_have_url(console_url(assistant), timeout=LIVE)
    assert any(BOT_IS_BACK in t for t in said_to_customer(assistant, sender))


def test_the_console_pages_have_no_serious_accessibility_violations(assistant: Stack, browser: Browser,
                                                                      contexts: list[BrowserContext]):
    """axe-core on the sign-in form, the queue with a conversation in it, and that conversation taken."""
    marker = uuid.uuid4().hex[:8]
    page = new_page(browser, contexts)
    page.goto(console_url(assistant))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    found = serious_violations(page, "the sign-in form")

    sign_in(page, assistant, agent_login(assistant, 1))
    asks_for_a_person(assistant, f"Which personal data do you keep about me? ({marker})")
    row = queue_row(page, marker)
    expect(row).to_be_visible(timeout=LIVE)
    found += serious_violations(page, "the queue")

    row.get_by_role("link", name=re.compile("^Open")).click()
    expect(page.locator("#transcript")).to_contain_text(marker, timeout=LIVE)
    page.get_by_role("button", name="Take this conversation").click()
    expect(page.locator("#facts")).to_contain_text("taken by you", timeout=LIVE)
    found += serious_violations(page, "a conversation")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page).to_have_url(console_url(assistant), timeout=LIVE)
    assert found == []
