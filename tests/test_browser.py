"""The demo website's chat, in Debian's Chromium driven by Playwright."""
import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(assistant):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(locale="nl-NL")
        page.goto(f"http://localhost:{assistant.env['BACKOFFICE_PORT']}/")
        yield page
        browser.close()


def ask(page, text):
    before = page.get_by_test_id("bot-message").count()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("bot-message")).to_have_count(before + 1, timeout=60_000)
    return page.get_by_test_id("bot-message").nth(before).inner_text()


def test_chat_answers_dutch_and_english_questions(page, published):
    current = published[-1]
    page.get_by_test_id("chat-launcher").click()
    dutch = ask(page, "Welke gegevens hebben jullie van mij?")
    for category in current["categories"]:
        assert category["name"]["nl"] in dutch
    assert f"versie {current['version']['id']}" in dutch

    english = ask(page, "How long do you keep my purchase history?")
    purchase = next(c for c in current["categories"] if c["id"] == "purchase_history")
    assert purchase["retention"]["period"]["en"] in english
    page.screenshot(path="var/test/chat.png")
