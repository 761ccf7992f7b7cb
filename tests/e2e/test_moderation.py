"""What people see: a member reports a spam reply, a moderator hides it from the queue and
suspends its author, and the author is told and can no longer reply."""

from __future__ import annotations

import re
from typing import Any

from fancampaign.accounts.models import Role
from tests.factories import PASSWORD, make_reply, make_thread, make_user


def _log_in(browser: Any, base: str, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Username or email address").fill(username)
    page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Log out").count() == 1
    return page


def test_report_hide_suspend_and_the_author_is_told(live_server, browser, screenshot, page):
    make_user("gelda", role=Role.MODERATOR)
    make_user("hugo")
    spammer = make_user("zapan")
    thread = make_thread(make_user("koyomi"), title="Who should direct the sequel?")
    spam = make_reply(spammer, thread, "Cheap replica watches at example.com, best prices!")
    base = live_server.url

    # A member reports the reply.
    member = _log_in(browser, base, "hugo")
    member.goto(f"{base}/forum/t/{thread.id}")
    post = member.locator(f"#post-{spam.id}")
    post.locator("summary", has_text="Report").click()
    post.get_by_label("Spam").check()
    post.get_by_label("Anything moderators should know").fill("Advertising watches.")
    post.get_by_role("button", name="Send report").click()
    member.wait_for_load_state()
    assert "your report was sent to the moderators" in member.content()

    # A moderator hides it from the queue, then suspends its author.
    moderator = _log_in(browser, base, "gelda")
    moderator.goto(f"{base}/moderation")
    item = moderator.locator(f"#post-{spam.id}")
    assert "Advertising watches." in item.inner_text()
    item.get_by_label("Reason").fill("Advertising is not allowed here.")
    item.get_by_role("button", name="Hide").click()
    moderator.wait_for_load_state()
    assert "Hidden." in moderator.content()
    assert "No open reports" in moderator.content()

    moderator.goto(f"{base}/moderation/users/zapan")
    moderator.get_by_role("radio", name=re.compile("^Suspend")).check()
    moderator.get_by_label(re.compile("^Suspend for")).select_option("1w")
    moderator.get_by_label(re.compile("^Reason")).fill("Spamming the forum.")
    moderator.get_by_role("button", name="Apply").click()
    moderator.wait_for_load_state()
    assert "zapan is suspended" in moderator.content()

    # The author sees both decisions and can no longer reply.
    author = _log_in(browser, base, "zapan")
    author.goto(f"{base}/notifications")
    text = author.content()
    assert "Advertising is not allowed here." in text
    assert "Spamming the forum." in text
    author.goto(f"{base}/forum/t/{thread.id}")
    assert author.get_by_role("button", name="Post reply").count() == 0
    assert "suspended" in author.content()
    # Their hidden reply is still theirs to see, marked as hidden.
    assert author.locator(f"#post-{spam.id}").get_by_text("Hidden").count() >= 1
    # Visitors do not see it at all.
    page.goto(f"{base}/forum/t/{thread.id}")
    assert "Cheap replica watches" not in page.content()
    # The decisions were emailed (moderation notices always are).
    assert any("Spamming the forum." in email for email in live_server.emails())
    screenshot("moderation-author-suspended")
    for p in (member, moderator, author):
        p.context.close()
