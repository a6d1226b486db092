"""The demo website's chat, in Debian's Chromium driven by Playwright."""
import re

import pytest
from conftest import TEST_VAR, claim_customers
from playwright.sync_api import expect, sync_playwright
from test_privacy_requests import wait_for_status

claim_customers(__name__, "C0010")  # erased by the logged-in test
claim_customers(__name__, "C0001")  # a demo login asked for a new address, which is shown and not filed

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def browser(assistant):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, assistant):
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    page.goto(f"http://localhost:{assistant.env['BACKOFFICE_PORT']}/")
    yield page
    context.close()


def ask(page, text, expected):
    """Type a question like a customer; return the bot's replies once one contains `expected`."""
    before = page.get_by_test_id("bot-message").count()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("bot-message").nth(before)).to_be_visible(timeout=60_000)  # a new reply, not an old one
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
    page.screenshot(path=str(TEST_VAR / "chat.png"))
    print(dutch, english, sep="\n----\n")


def test_logged_in_customer_sees_data_erases_it_and_tracks_it(assistant, browser, page):
    """The logged-in path: show my data, erase, fulfilled, the overview's audit trail."""
    env = assistant.env
    base = f"http://localhost:{env['BACKOFFICE_PORT']}"
    page.get_by_test_id("demo-login").click()
    page.get_by_test_id("demo-customer-C0010").click()
    expect(page.get_by_test_id("demo-user")).to_be_visible()
    name = page.get_by_test_id("demo-user").inner_text().split("\n")[-1].replace("Ingelogd als", "").strip()

    page.get_by_test_id("chat-launcher").click()
    shown = ask(page, "laat mijn gegevens zien", "Alles downloaden")
    assert name.split()[0] in shown and "Waarvoor" in shown and "Bewaard" in shown
    assert "code van 6 cijfers" not in shown  # the website's login verified the customer: no e-mail code

    summary = ask(page, "verwijder mijn gegevens", "Zal ik het indienen?")
    assert "7 jaar" in summary
    page.get_by_test_id("chat-button").filter(has_text="Ja, dien in").click()
    expect(page.get_by_test_id("bot-message").last).to_contain_text("Ingediend", timeout=60_000)
    receipt = page.get_by_test_id("bot-message").last.inner_text()
    request_id = re.search(r"REQ-[0-9A-Z-]+", receipt).group(0)
    assert "uiterlijk" in receipt

    wait_for_status(assistant, request_id, "fulfilled")
    status = ask(page, "wat is de status van mijn verzoek?", "Je privacyverzoeken")
    assert f"{request_id}" in status and "afgerond" in status
    page.screenshot(path=str(TEST_VAR / "chat-logged-in.png"))

    team = browser.new_context()
    overview = team.new_page()
    overview.goto(f"{base}/console/privacy/requests/{request_id}")  # not signed in: the console's sign-in form first
    overview.get_by_label("E-mail address").fill(env["DEMO_PRIVACY_OFFICER_EMAIL"])
    overview.get_by_label("Password").fill(env["DEMO_PRIVACY_OFFICER_PASSWORD"])
    overview.get_by_role("button", name="Sign in").click()
    expect(overview).to_have_url(f"{base}/console/privacy/requests/{request_id}")
    expect(overview.locator("main")).to_contain_text("fulfilled")
    trail = overview.locator("body").inner_text()
    assert "filed" in trail and "C0010" in trail
    overview.screenshot(path=str(TEST_VAR / "privacy-request.png"), full_page=True)
    team.close()


@pytest.mark.parametrize("language, first_question, answer_word", [
    ("nl", "Welke gegevens hebben jullie van mij?", "versie"),
    ("en", "What data do you have about me?", "version"),
])
def test_an_empty_chat_offers_example_questions_that_one_keypress_sends(page, published, language, first_question,
                                                                          answer_word):
    """The empty chat shows example questions in the page's language, as buttons; choosing one with the
    keyboard sends it, an answer comes back, and the examples make way for the conversation."""
    page.get_by_test_id(f"lang-{language}").click()
    page.get_by_test_id("chat-launcher").click()
    examples = page.get_by_test_id("chat-example")
    expect(examples).to_have_count(3)
    expect(examples.first).to_have_text(first_question)
    expect(page.get_by_role("group", name="bijvoorbeeld" if language == "nl" else "for example")).to_be_visible()

    examples.first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user-message")).to_have_text([first_question])
    expect(page.get_by_test_id("bot-message").last).to_contain_text(f"{answer_word} {published[-1]['version']['id']}",
                                                                    timeout=60_000)
    expect(page.get_by_test_id("chat-examples")).to_be_hidden()
    expect(examples.first).to_be_hidden()


def test_an_address_typed_without_a_prefix_after_the_question_is_taken_as_the_address(page):
    """Issue 20, item 4: after "Typ je juiste adres zo: 'nieuw adres: ...'" the bare address is the answer."""
    page.get_by_test_id("demo-login").click()
    page.get_by_test_id("demo-customer-C0001").click()
    expect(page.get_by_test_id("demo-user")).to_be_visible()
    page.get_by_test_id("chat-launcher").click()
    ask(page, "mijn adres klopt niet", "nieuw adres:")
    summary = ask(page, "Prinsengracht 263, 1016 GV Amsterdam", "Zal ik het indienen?")
    assert "Prinsengracht 263, 1016 GV Amsterdam" in summary  # a correction to confirm (topic correct_my_data)
    ask(page, "nee", "Goed, ik heb niets ingediend.")


def test_questions_with_a_concrete_answer_in_the_register_get_it(page, published):
    """Questions the register answers concretely, typed as a customer would, each in its language; the
    answer's topic judged by what it shows."""
    current = published[-1]
    contact = next(c for c in current["categories"] if c["id"] == "contact_details")
    page.get_by_test_id("chat-launcher").click()

    store = ask(page, "ik wil niet meer gevolgd worden in de winkel", "hoef niet te weten wie je bent")  # opt_out
    assert "Winkelbezoek tellen" in store and "code van 6 cijfers" not in store  # not linked to a person

    mails = ask(page, "I want to stop getting marketing emails", "know it's you")  # opt_out
    assert "'unsubscribe'" in mails and "Count my store visits" not in mails

    gain = ask(page, "wat krijg ik ervoor terug", "Wat je ervoor terugkrijgt")  # why_data_used: the benefit
    assert "boekhouding" not in gain.lower()

    ask(page, "Do you share my data with Facebook or Google?",
        "does not list Facebook or Google as a recipient")  # sharing_third_parties

    typo = ask(page, "waarvoor gebruiken jullie mijn telefonnummer?", "versie")  # why_data_used, one category
    assert f"Waarvoor we je {contact['name']['nl']} gebruiken" in typo

    again = ask(page, "laat mijn gegevens nog eens zien", "Log in")  # access_my_data
    assert current["topics"]["rights"]["access"]["nl"][:40] in again and "Wie je gegevens ontvangt" not in again

