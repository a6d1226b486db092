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


def ask(page, text, expected):
    """Type a question like a customer; return the bot's replies once one contains `expected`."""
    before = page.get_by_test_id("bot-message").count()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("bot-message").last).to_contain_text(expected, timeout=60_000)
    return "\n".join(page.get_by_test_id("bot-message").all_inner_texts()[before:])


def test_chat_answers_dutch_and_english_questions(page, published):
    current = published[-1]
    page.get_by_test_id("chat-launcher").click()
    dutch = ask(page, "Welke gegevens hebben jullie van mij?", f"versie {current['version']['id']}")
    for category in current["categories"]:
        assert category["name"]["nl"] in dutch

    purchase = next(c for c in current["categories"] if c["id"] == "purchase_history")
    english = ask(page, "How long do you keep my purchase history?", f"version {current['version']['id']}")
    assert purchase["retention"]["period"]["en"] in english
    page.screenshot(path="var/test/chat.png")
    print(dutch, english, sep="\n----\n")
