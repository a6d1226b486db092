"""The website widget as one script tag, in Debian's Chromium driven by Playwright: a
plain HTML page of another origin (served here, not by the back office) with nothing but the tag. The
widget opens, answers, its buttons work, a long reply is shown from its start, a reload and a dropped
connection keep the conversation, axe-core finds nothing serious, and at phone width the launcher leaves
the input free. And on the demo website, under the console's strict Content-Security-Policy, it still
connects and answers."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import TEST_VAR
from playwright.sync_api import Browser, Page, expect, sync_playwright
from stack import Stack
from test_console import CHROMIUM_ARGS, serious_violations

ANSWER = 60_000  # ms: the real assistant answers through NLU, the action server and the back office


def plain_page(env: dict[str, str]) -> bytes:
    """Someone else's page: English, no styles or scripts of Voltera's but the one tag, which asks for Dutch."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>A shop that is not Voltera</title></head>'
        "<body><main><h1>A shop that is not Voltera</h1><p>This page has one script tag of the assistant's.</p></main>"
        f'<script src="{env["BACKOFFICE_URL"]}/static/widget.js" data-socket-url="{env["PUBLIC_SOCKET_URL"]}"'
        ' data-language="nl"></script></body></html>'
    ).encode()


@pytest.fixture(scope="module")
def page_url(assistant: Stack) -> Iterator[str]:
    """A tiny http server of its own on the port the shared stack's CORS_ORIGINS allows (scripts/stack.py)."""
    body = plain_page(assistant.env)

    class PlainPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            found = self.path == "/"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            """Quiet: the test says what it saw."""

    port = int(assistant.env["WIDGET_TEST_PAGE_PORT"])
    server = ThreadingHTTPServer(("127.0.0.1", port), PlainPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(assistant: Stack) -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def styled(page: Page) -> None:
    """The widget is there (once its words came from the back office) and its style arrived (chat.css, from beside the script)."""
    page.wait_for_function("(root => root !== null && getComputedStyle(root).position === 'fixed')"
                           "(document.getElementById('voltera-chat'))", timeout=ANSWER)


def ask(page: Page, text: str, expected: str) -> int:
    """Type a question; wait for the reply containing `expected`; return the index of the reply's first message."""
    before = page.get_by_test_id("bot-message").count()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").press("Enter")
    expect(page.get_by_test_id("bot-message").nth(before)).to_be_visible(timeout=ANSWER)
    expect(page.get_by_test_id("bot-message").last).to_contain_text(expected, timeout=ANSWER)
    return before


def starts_in_view(page: Page, index: int) -> bool:
    """The top of bot message `index` is inside the chat log's visible area."""
    log = page.get_by_test_id("chat-log").bounding_box()
    first = page.get_by_test_id("bot-message").nth(index).bounding_box()
    assert log and first
    return log["y"] - 1 <= first["y"] <= log["y"] + log["height"] - 20


def test_one_script_tag_answers_keeps_the_conversation_over_a_reload_and_is_accessible(browser: Browser, page_url: str):
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 560})  # a log of a few lines
    page = context.new_page()
    try:
        page.goto(page_url)
        styled(page)
        launcher = page.get_by_test_id("chat-launcher")
        expect(launcher).to_have_attribute("aria-label", "Open de privacy-assistent")  # data-language, not the page's
        launcher.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("chat-panel")).to_be_visible()
        expect(page.get_by_test_id("chat-input")).to_be_focused()
        expect(page.get_by_test_id("chat-log")).to_have_attribute("aria-live", "polite")

        first = ask(page, "Welke gegevens hebben jullie van mij?", "versie")
        expect(page.get_by_test_id("chat-status")).to_contain_text("Online")
        log = page.get_by_test_id("chat-log").bounding_box()
        reply = page.get_by_test_id("bot-message").nth(first).bounding_box()
        assert log and reply and reply["height"] > log["height"], "the reply is longer than the log shows at once"
        assert starts_in_view(page, first), "a long reply is shown from its start"
        assert page.evaluate("(() => { const l = document.querySelector('[data-testid=chat-log]');"
                             " return l.scrollHeight - l.clientHeight - l.scrollTop > 20; })()"), "the log is not at its end"

        ask(page, "Met wie delen jullie mijn gegevens?", "versie")
        button = page.get_by_test_id("chat-button").last
        label = button.inner_text()
        before = page.get_by_test_id("bot-message").count()
        button.click()
        expect(page.get_by_test_id("user-message").last).to_have_text(label)
        expect(page.get_by_test_id("bot-message").nth(before)).to_be_visible(timeout=ANSWER)
        expect(page.get_by_test_id("bot-message").last).to_contain_text("versie", timeout=ANSWER)

        said = page.get_by_test_id("bot-message").all_inner_texts()
        asked = page.get_by_test_id("user-message").all_inner_texts()
        session = page.evaluate("volteraChat.getSessionId()")
        page.reload()
        styled(page)
        expect(page.get_by_test_id("chat-panel")).to_be_visible()  # it was open
        assert page.get_by_test_id("bot-message").all_inner_texts() == said
        assert page.get_by_test_id("user-message").all_inner_texts() == asked
        page.wait_for_function("volteraChat.isConnected()", timeout=ANSWER)
        assert page.evaluate("volteraChat.getSessionId()") == session
        expect(page.get_by_test_id("chat-button").filter(has_text=label)).to_be_disabled()  # answered before

        context.set_offline(True)  # the connection drops: the widget says so, and comes back by itself
        expect(page.get_by_test_id("chat-status")).to_contain_text("Offline", timeout=ANSWER)
        context.set_offline(False)
        page.wait_for_function("volteraChat.isConnected()", timeout=ANSWER)
        ask(page, "Hoe lang bewaren jullie mijn aankoopgeschiedenis?", "versie")
        assert page.evaluate("volteraChat.getSessionId()") == session
        assert serious_violations(page, "the widget on a plain page") == []
    finally:
        context.close()


def test_on_a_phone_the_launcher_leaves_the_input_free(browser: Browser, page_url: str):
    context = browser.new_context(locale="nl-NL", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(page_url)
        styled(page)
        page.get_by_test_id("chat-launcher").tap()
        expect(page.get_by_test_id("chat-input")).to_be_visible()
        ask(page, "Met wie delen jullie mijn gegevens?", "versie")
        page.screenshot(path=str(TEST_VAR / "widget-phone.png"))

        field = page.get_by_test_id("chat-input").bounding_box()
        send = page.get_by_test_id("chat-send").bounding_box()
        assert field and send
        for box in (field, send):
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] >= 0 and box["y"] + box["height"] <= 844, box
        launcher = page.get_by_test_id("chat-launcher").bounding_box()  # None while it steps aside
        if launcher is not None:
            for box in (field, send):
                apart = (launcher["x"] >= box["x"] + box["width"] or box["x"] >= launcher["x"] + launcher["width"]
                         or launcher["y"] >= box["y"] + box["height"] or box["y"] >= launcher["y"] + launcher["height"])
                assert apart, (launcher, box)
        # What is on top at the input's centre is the input itself.
        centre = (field["x"] + field["width"] / 2, field["y"] + field["height"] / 2)
        assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).dataset.testid", list(centre)) == "chat-input"

        page.get_by_test_id("chat-close").tap()
        expect(page.get_by_test_id("chat-launcher")).to_be_visible()
        expect(page.get_by_test_id("chat-launcher")).to_be_focused()
    finally:
        context.close()


def test_the_demo_website_chats_under_the_consoles_strict_policy_with_nothing_refused(browser: Browser, assistant: Stack):
    """The demo website (the back office's `/`) has the console's Content-Security-Policy plus the chat
    server: the widget connects and answers, and Chromium refuses nothing on the page."""
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    try:
        shown = page.goto(f"{assistant.env['BACKOFFICE_URL']}/")
        assert shown is not None and "frame-ancestors 'none'" in shown.headers["content-security-policy"]
        styled(page)
        page.get_by_test_id("chat-launcher").click()
        ask(page, "Welke gegevens hebben jullie van mij?", "versie")
        page.wait_for_function("volteraChat.isConnected()", timeout=ANSWER)
        assert refused == []
    finally:
        context.close()
