"""Watching a thread as one member, replies by another: the unread marker on the category
list, the grouped notification leading to the first unread post, and the notification's text
box reading across the page on a phone and a desktop."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.test_forum import log_in, log_out
from tests.e2e.test_layout import NOTIFICATION_BOXES_JS
from tests.factories import make_category, make_thread, make_user


@pytest.mark.parametrize("width", (375, 1280))
def test_watch_reply_unread_marker_and_grouped_notification(
    live_server: Any, browser: Any, width: int
) -> None:
    alita = make_user("alita")
    make_user("koyomi")
    make_user("hugo")
    category = make_category("sequel", name="The sequel")
    thread = make_thread(alita, category, title="Motorball season two", body="Who is racing?")
    base = live_server.url
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        # Koyomi reads the thread (the page reports what she saw) and watches it.
        log_in(page, base, "koyomi")
        page.goto(f"{base}/forum/t/{thread.id}")
        with page.expect_response(re.compile(rf"/forum/t/{thread.id}/read$")) as read:
            page.wait_for_timeout(2500)
        assert read.value.status == 204
        page.get_by_label("Notifications for this thread").select_option("watching")
        page.get_by_role("button", name="Save notification level").click()
        page.wait_for_load_state()
        assert "You are watching this" in page.content()
        log_out(page)

        # Hugo replies twice.
        log_in(page, base, "hugo")
        for text in ("Zapan is back, I hear.", "And Jashugan's son."):
            page.goto(f"{base}/forum/t/{thread.id}")
            page.get_by_label(re.compile(r"^Your reply")).fill(text)
            page.get_by_role("button", name="Post reply").click()
            page.wait_for_load_state()
        log_out(page)

        # Koyomi sees the marker, then the grouped notification, which leads to the first reply.
        log_in(page, base, "koyomi")
        page.goto(f"{base}/forum/sequel")
        marker = page.get_by_role("link", name=re.compile(r"^2 unread"))
        assert marker.is_visible()
        page.goto(f"{base}/notifications")
        note = page.get_by_role(
            "button", name=re.compile(r"2 new replies in “Motorball season two”")
        )
        assert note.is_visible()
        boxes = page.evaluate(NOTIFICATION_BOXES_JS)
        assert boxes and all(box["text"] >= box["content"] / 2 for box in boxes), boxes
        assert not any(box["overlap"] for box in boxes), boxes
        note.click()
        page.wait_for_load_state()
        assert re.search(r"#post-\d+$", page.url)
        target = page.url.rsplit("#", 1)[1]
        assert "Zapan is back" in page.locator(f"#{target}").inner_text()
    finally:
        context.close()
