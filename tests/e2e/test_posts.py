"""Posts in the browser: Reply per post by keyboard only, Markdown preview without JS and live
with it, @mention suggestions by keyboard (a listbox the textarea owns), bookmarks; axe finds
nothing serious on the pages and states these add."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.a11y_kit import Site, fail_on_server_errors, log_in, new_context, running_site
from tests.e2e.test_a11y import describe_violations, run_axe
from tests.e2e.test_keyboard import Keyboard


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("posts")) as site:
        yield site


@pytest.fixture(autouse=True)
def _server_errors_fail(site: Site) -> Iterator[None]:
    yield from fail_on_server_errors(site)


def _thread(site: Site, name: str = "flow-thread") -> str:
    if name not in site.pages:
        pytest.skip(site.skipped.get(name, f"no {name} page (its area is not ready)"))
    return site(site.pages[name])


@pytest.fixture
def member(browser: Any, site: Site) -> Iterator[Any]:
    context = new_context(browser)
    page = context.new_page()
    log_in(page, site, "hugo")
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def nojs_member(browser: Any, site: Site) -> Iterator[Any]:
    context = new_context(browser, java_script_enabled=False)
    page = context.new_page()
    log_in(page, site, "hugo")
    try:
        yield page
    finally:
        context.close()


def test_keyboard_only_reply_to_a_post(site, member):
    page = member
    page.goto(_thread(site))
    kb = Keyboard(page)
    kb.tab_to("a[data-reply-to]", "Reply")
    answered = page.evaluate("document.activeElement.getAttribute('data-reply-to')")
    kb.press("Enter")
    # The script moves the focus to the reply box, which now says whom it answers.
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    assert page.locator("[data-replying]").inner_text().startswith("Replying to @")
    page.keyboard.type("Answered with the keyboard alone.")
    kb.submit("Post reply")
    assert page.get_by_text("Your reply is posted.").is_visible()
    last = page.locator("article.post").last
    assert "Answered with the keyboard alone." in last.inner_text()
    link = last.locator("a.post__reply-to")
    assert link.inner_text().startswith("in reply to @")
    assert link.get_attribute("href") == f"/forum/p/{answered}"
    kb.assert_focus_was_visible()


def test_reply_link_without_js_opens_the_form_answering_that_post(site, nojs_member):
    page = nojs_member
    page.goto(_thread(site))
    link = page.locator("a[data-reply-to]").last
    answered = link.get_attribute("data-reply-to")
    with page.expect_navigation():
        link.click()
    assert page.locator("[data-replying]").is_visible()
    page.get_by_label("Your reply").fill("Answered without JS.")
    with page.expect_navigation():
        page.get_by_role("button", name="Post reply").click()
    last = page.locator("article.post").last
    assert "Answered without JS." in last.inner_text()
    assert last.locator("a.post__reply-to").get_attribute("href") == f"/forum/p/{answered}"


def test_preview_without_js(site, nojs_member):
    page = nojs_member
    page.goto(_thread(site))
    posts = page.locator("article.post").count()
    page.get_by_label("Your reply").fill("Some **bold** words and a [link](https://example.org).")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    preview = page.locator("[data-preview]")
    assert preview.is_visible()
    assert preview.locator("strong").inner_text() == "bold"
    assert preview.locator("a").get_attribute("rel") == "nofollow ugc noopener"
    # Nothing was posted, and the text is still in the box to go on with.
    assert page.locator("article.post").count() == posts
    assert "**bold**" in page.get_by_label("Your reply").input_value()


def test_live_preview_and_mention_suggestions_by_keyboard(site, member):
    page = member
    page.goto(_thread(site))
    box = page.get_by_label("Your reply")
    box.fill("")  # an earlier test's preview left hugo a draft here: it came back
    page.keyboard.type("Hello @koy")
    listbox = page.get_by_role("listbox", name="Members to mention")
    listbox.wait_for(state="visible")
    option = listbox.get_by_role("option").first
    assert option.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == option.get_attribute("id")
    violations = run_axe(page)
    assert not violations, describe_violations("mention suggestions open", violations)
    page.keyboard.press("Enter")
    assert box.input_value() == "Hello @koyomi "
    assert listbox.is_hidden()
    page.keyboard.type("look: _here_")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("[data-preview-body]")
    preview.locator("em").wait_for()
    assert preview.locator("a.mention").inner_text() == "@koyomi"
    page.keyboard.type("")
    box.focus()
    page.keyboard.type(" and **more**")
    preview.locator("strong").wait_for()  # follows the typing
    assert "more" in preview.inner_text()
    violations = run_axe(page)
    assert not violations, describe_violations("live preview", violations)


def test_bookmark_a_post_and_see_it_listed(site, member):
    page = member
    page.goto(_thread(site, "thread"))
    post = page.locator("article.post").first
    with page.expect_navigation():
        post.get_by_role("button", name="Bookmark this post").click()
    assert page.get_by_text("The post is bookmarked.").is_visible()
    page.goto(site("/bookmarks"))
    assert page.locator(".bookmark").count() >= 1
    violations = run_axe(page)
    assert not violations, describe_violations("bookmarks page", violations)
    with page.expect_navigation():
        page.locator(".bookmark").first.get_by_role("button", name="Remove bookmark").click()
    assert page.url.endswith("/bookmarks")


def test_new_thread_and_settings_pages_have_no_serious_violations(site, member):
    page = member
    for path in ("/forum/general/new", "/settings"):
        page.goto(site(path))
        violations = run_axe(page)
        assert not violations, describe_violations(path, violations)
    page.goto(site("/forum/general/new"))
    page.get_by_label("Title").fill("A thread with a preview")
    page.get_by_label("Your post").fill("# Heading\n\nText.")
    page.get_by_role("button", name="Preview").click()
    page.locator("[data-preview-body] h2").wait_for()
    violations = run_axe(page)
    assert not violations, describe_violations("new thread with preview", violations)
