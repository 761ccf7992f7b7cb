"""With JavaScript switched off in the browser, every flow still works: JS only makes it nicer.

Sign (as a guest, through the emailed confirmation link and its Confirm button, and as a
member), reply, report a post and a moderator hiding it, all in contexts created with
``java_script_enabled=False``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.a11y_kit import Site, fail_on_server_errors, log_in, new_context, running_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("nojs")) as site:
        yield site


@pytest.fixture(autouse=True)
def _server_errors_fail(site: Site) -> Iterator[None]:
    yield from fail_on_server_errors(site)


@pytest.fixture
def nojs(browser: Any) -> Iterator[Any]:
    """A context with JavaScript disabled."""
    context = new_context(browser, java_script_enabled=False)
    try:
        yield context
    finally:
        context.close()


def _need(site: Site, name: str) -> str:
    if name not in site.pages:
        pytest.skip(site.skipped.get(name, f"no {name} page (its area is not ready)"))
    return site(site.pages[name])


def _assert_js_is_off(page: Any) -> None:
    # app.js adds a live region and reveals JS-only buttons; with JS off neither happens.
    assert page.locator("body > div[role=status][aria-live]").count() == 0
    copy = page.locator("[data-copy]")
    if copy.count():
        assert copy.first.is_hidden()


def _click(page: Any, locator: Any) -> None:
    with page.expect_navigation():
        locator.click()


def test_guest_signs_and_confirms_without_js(site, nojs):
    url = _need(site, "petition-flow-1")
    page = nojs.new_page()
    page.goto(url)
    _assert_js_is_off(page)
    page.get_by_label("Your name").fill("No Script Fan")
    page.get_by_label(re.compile(r"^Email")).fill("noscript.fan@example.com")
    page.locator("input#consent").check()
    _click(page, page.get_by_role("button", name="Sign the petition"))
    assert "/signed" in page.url

    link = site.server.wait_for_link(r"/signatures/confirm/")
    page.goto(link)
    _click(page, page.get_by_role("button", name="Confirm"))
    assert "Your signature has been confirmed" in page.content()
    bar = page.get_by_role("progressbar", name="Signatures towards the goal")
    assert bar.get_attribute("value") == "1"


def test_member_signs_without_js(site, nojs):
    url = _need(site, "petition-flow-2")
    page = nojs.new_page()
    log_in(page, site, "zapan")
    page.goto(url)
    _click(page, page.get_by_role("button", name="Sign the petition"))
    assert "Thank you for signing" in page.content()
    assert page.get_by_text("You signed this petition").count() == 1


def test_form_errors_come_back_without_js(site, nojs):
    page = nojs.new_page()
    page.goto(site("/register"))
    _click(page, page.get_by_role("button", name="Create account"))
    summary = page.locator(".error-summary")
    assert summary.count() == 1
    first = summary.locator("a").first
    target = first.get_attribute("href")
    assert target and target.startswith("#")
    # Without JS the summary link is a plain in-page link to the field.
    first.click()
    assert page.url.endswith(target)


def test_reply_report_and_moderate_without_js(site, browser, nojs):
    thread_url = _need(site, "flow-thread")
    from fancampaign.extensions import db
    from fancampaign.forum.models import Post

    page = nojs.new_page()
    log_in(page, site, "koyomi")
    page.goto(thread_url)
    _assert_js_is_off(page)

    page.get_by_role("textbox", name=re.compile(r"^Your reply")).fill(
        "Replying with JavaScript switched off."
    )
    _click(page, page.get_by_role("button", name="Post reply"))
    assert "Replying with JavaScript switched off." in page.content()

    db.session.rollback()
    post = db.session.scalar(
        sa.select(Post).where(Post.body.contains("Berserker body")).order_by(Post.id)
    )
    assert post is not None
    page.goto(thread_url)
    article = page.locator(f"#post-{post.id}")
    article.locator("summary").filter(has_text="Report").click()  # <details> opens natively
    article.get_by_label("Abuse or harassment").check()
    article.get_by_label(re.compile(r"^Anything moderators should know")).fill("Not nice.")
    _click(page, article.get_by_role("button", name="Send report"))
    assert "your report was sent" in page.content()

    moderator = new_context(browser, java_script_enabled=False)
    try:
        mod = moderator.new_page()
        log_in(mod, site, "gelda")
        mod.goto(site("/moderation"))
        item = mod.locator(f"article#post-{post.id}")
        assert item.count() == 1, "the reported post is not in the review queue"
        item.get_by_label(re.compile(r"^Reason")).fill("Hidden without JavaScript.")
        _click(mod, item.get_by_role("button", name="Hide", exact=True))
        assert mod.locator(".flash--success").count() == 1
        mod.goto(site("/moderation/log"))
        assert "Hidden without JavaScript." in mod.content()
    finally:
        moderator.close()
    db.session.rollback()
    hidden = db.session.get(Post, post.id)
    assert hidden is not None and hidden.is_hidden
