"""What a person sees in the forum: start a thread, reply with a quote and a mention, get
notified, and no injected script ever runs."""

from __future__ import annotations

import re
from typing import Any

from tests.factories import PASSWORD, make_category, make_user


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username or email address").fill(username)
    page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Log out").count() == 1


def log_out(page: Any) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()


def test_thread_quote_mention_and_notification(live_server: Any, page: Any) -> None:
    make_user("hugo")
    make_user("zapan")
    make_user("koyomi")
    make_category("fan-theories", name="Fan theories")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = live_server.url

    # Hugo starts a thread.
    log_in(page, base, "hugo")
    page.goto(f"{base}/forum")
    page.get_by_role("link", name="Fan theories").click()
    page.get_by_role("link", name="Start a thread").click()
    page.get_by_label(re.compile(r"^Title")).fill("Where should Alita's story go next?")
    page.get_by_label(re.compile(r"^Your post")).fill("Motorball, obviously.")
    page.get_by_role("button", name="Start thread").click()
    page.wait_for_load_state()
    assert "Your thread is started." in page.content()
    thread_url = page.url.split("#")[0]
    log_out(page)

    # Zapan quotes Hugo (the JS enhancement fills the box) and mentions Koyomi.
    log_in(page, base, "zapan")
    page.goto(thread_url)
    page.get_by_role("link", name=re.compile(r"^Quote")).first.click()
    box = page.get_by_label(re.compile(r"^Your reply"))
    assert re.search(r"@hugo \[wrote\]\(/forum/p/\d+\):", box.input_value())
    box.press("End")
    box.type("Zalem first, then Motorball. What do you think, @koyomi?")
    page.get_by_role("button", name="Post reply").click()
    page.wait_for_load_state()
    assert "Your reply is posted." in page.content()
    reply = page.locator("article.post").last
    assert reply.locator("blockquote").count() == 1
    # The quote links back to the post it quotes.
    source = reply.locator("blockquote").get_attribute("data-quote")
    assert (
        reply.locator("blockquote").get_by_role("link", name="wrote").get_attribute("href")
        == f"/forum/p/{source}"
    )
    assert reply.get_by_role("link", name="@koyomi").get_attribute("href") == "/u/koyomi"
    log_out(page)

    # Koyomi sees the mention; Hugo would see the quote.
    log_in(page, base, "koyomi")
    page.goto(f"{base}/notifications")
    assert "zapan mentioned you in “Where should Alita" in page.content()

    # A post trying to run script shows as text and runs nothing.
    page.goto(thread_url)
    page.get_by_label(re.compile(r"^Your reply")).fill(
        "<img src=x onerror=alert(1)> <script>alert(2)</script> [x](javascript:alert(3))"
    )
    page.get_by_role("button", name="Post reply").click()
    page.wait_for_load_state()
    page.goto(f"{thread_url}?page=last")
    page.wait_for_load_state()
    last = page.locator("article.post").last
    assert "<img src=x onerror=alert(1)>" in last.inner_text()
    assert last.locator(".post__body img, .post__body script").count() == 0
    assert last.locator("a[href^='javascript' i], [onerror], [onclick]").count() == 0
    page.reload()
    page.wait_for_timeout(300)
    assert dialogs == []
