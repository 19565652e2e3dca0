"""The demo storefront of `make dev` (/_local/shop), driven in headless Chromium as a person
would use it: the consent banner, browsing, the cart, a checkout, a sign-up — each reaching
Storeflows only through the snippet and POST /collect, and the flows' emails in the outbox.

Debian's chromium (`make test` installs it where it can, as root); without it these tests say
they were skipped."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator

import pytest
from conftest import local_stack

from storeflows_local.waiting import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package chromium)")

# As the environment's probe starts it: without the background-networking flags Chromium
# tries Google's hosts at every start, and this machine's closed network refuses them.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# A person's pages, in Chromium on a busy 2-core machine, can be seconds apart: the e2e
# stacks' 2-second session would end between two product views and split the visit in two.
SESSION_TIMEOUT = 8


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with local_stack(tmp_path_factory, STOREFLOWS_SESSION_TIMEOUT=str(SESSION_TIMEOUT)) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def collected(page) -> list[int]:
    """Answers of POST /collect seen by the page (so a test waits for its batches)."""
    answers: list[int] = []
    page.on("response", lambda response: answers.append(response.status) if "/collect/" in response.url else None)
    return answers


def test_nothing_is_sent_before_the_visitor_accepts_and_then_the_visit_reaches_the_contact(stack, page, email):
    answers = collected(page)
    shop = f"{stack.api_url}/_local/shop"
    page.goto(shop)
    page.click(f"a[href='{shop}/product/venise-dress']")
    page.wait_for_load_state()
    assert page.evaluate("localStorage.getItem('sf_vid')") is None
    assert "sf_vid" not in page.evaluate("document.cookie")
    assert answers == []

    page.click("#accept")
    page.fill("#login input", email)
    page.click("#login button")
    page.wait_for_function("document.getElementById('said').textContent.length > 0")
    wait_for(lambda: answers, what="the snippet's first batch")
    assert set(answers) == {202}

    contact = wait_for(lambda: stack.contact(email), what="the visitor's contact")
    assert contact["email"] == email


def test_a_sign_up_is_confirmed_by_its_link_then_browsing_three_products_brings_one_email_about_them(
    stack, page, email
):
    shop = f"{stack.api_url}/_local/shop"
    page.goto(shop)
    page.click("#accept")
    page.fill("#signup input", email)
    page.click("#signup button")
    page.wait_for_function("document.getElementById('said').textContent.includes('confirm')")

    [confirmation] = wait_for(lambda: stack.outbox(email), what="the sign-up's confirmation email")
    assert confirmation["subject"] == "One click to join Demo Store"
    link = re.search(r"https?://\S+/subscriptions/confirm\?token=[\w.~%-]+", confirmation["text"])
    assert link is not None, confirmation["text"]
    time.sleep(1)  # a welcome series would start at once: nothing may come before the click
    assert [sent["subject"] for sent in stack.outbox(email)] == [confirmation["subject"]]

    page.goto(link.group(0))
    page.click("button[type=submit]")
    page.wait_for_load_state()
    wait_for(
        lambda: any(sent["subject"].startswith("Welcome to Demo Store") for sent in stack.outbox(email)),
        what="the welcome series' first email, once the link was followed",
    )

    page.goto(shop)
    page.fill("#login input", email)
    page.click("#login button")
    viewed = ["venise-dress", "nice-sandals", "cassis-hat"]
    for product_id in viewed:
        page.goto(f"{shop}/product/{product_id}")
        page.wait_for_load_state()
    page.goto("about:blank")  # the visitor leaves; the snippet sends what is left

    def browse_emails() -> list[dict]:
        return [sent for sent in stack.outbox(email) if sent["subject"] == "Still thinking it over?"]

    [browse] = wait_for(browse_emails, what="the browse abandonment email, once the session ended")
    for name in ("Venise linen dress", "Nice leather sandals", "Cassis straw hat"):
        assert name in browse["html"]
    time.sleep(2)
    assert len(browse_emails()) == 1
