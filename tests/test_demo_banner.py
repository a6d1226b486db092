"""The website says plainly when it runs in demo mode: a banner while DEMO_MODE=1, none without it.
The real back office and company systems (started as `make run` starts them), the page in Chromium."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from conftest import ROOT
from playwright.sync_api import expect, sync_playwright
from stack import Stack, isolated_env, load_env

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def website(demo_mode: str) -> Iterator[str]:
    var = ROOT / "var" / f"test-banner-{demo_mode}-{os.getpid()}"
    shutil.rmtree(var, ignore_errors=True)
    env = load_env({**isolated_env(var), "DEMO_MODE": demo_mode})
    stack = Stack(env, log_dir=var / "log")
    try:
        stack.start(["companysystems", "backoffice"])
        stack.wait_ready(timeout=120)
        yield f"http://localhost:{env['BACKOFFICE_PORT']}/"
    finally:
        stack.stop()
        shutil.rmtree(var, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def demo_site() -> Iterator[str]:
    yield from website("1")


@pytest.fixture(scope="module")
def production_site() -> Iterator[str]:
    yield from website("0")


def test_demo_mode_shows_a_banner_in_the_page_language(browser, demo_site):
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    page.goto(demo_site)
    banner = page.get_by_test_id("demo-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Demo")
    expect(banner).to_contain_text("demo-inbox")
    page.get_by_test_id("lang-en").click()
    expect(banner).to_contain_text("anyone can log in as a demo customer")
    expect(page.get_by_test_id("demo-login")).to_be_visible()
    context.close()


def test_without_demo_mode_there_is_no_banner_and_no_demo_login(browser, production_site):
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    page.goto(production_site)
    expect(page.get_by_test_id("lang-nl")).to_be_visible()
    page.wait_for_load_state("networkidle")  # the page has asked the back office whether it is a demo
    expect(page.get_by_test_id("demo-banner")).to_be_hidden()
    expect(page.get_by_test_id("demo-login")).to_be_hidden()
    context.close()
