"""What a person sees when searching: the box in the header, highlighted results, a kind
filter, and no script from what users wrote ever runs."""

from __future__ import annotations

from typing import Any

import pytest

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.forum.models import Thread
from tests.factories import make_category, make_petition, make_reply, make_thread, make_user


def test_search_from_the_header_highlights_and_filters(
    live_server: Any, page: Any, screenshot: Any
) -> None:
    author = make_user("hugo")
    make_thread(
        author,
        make_category("general"),
        title="Motorball season <img src=x onerror=alert(1)>",
        body='Who wins the motorball final? <script>alert("x")</script>',
    )
    petition = make_petition(title="Televise every motorball match", status="open")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(live_server.url)
    page.get_by_label("Search news, petitions and the forum").first.fill("motorball")
    page.get_by_role("button", name="Search").first.click()
    page.wait_for_load_state()
    assert "/search?q=motorball" in page.url
    results = page.locator(".search-result")
    assert results.count() >= 2
    assert page.locator(".search-result mark").count() >= 2
    assert page.get_by_role("link", name="Televise every motorball match").count() == 1
    assert screenshot("search-results").stat().st_size > 0

    filters = page.get_by_role("navigation", name="Filter results")
    filters.get_by_role("link", name="Petitions").click()
    page.wait_for_load_state()
    assert "kind=petitions" in page.url
    assert page.locator(".search-result").count() == 1
    page.get_by_role("link", name="Televise every motorball match").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/petitions/{petition.slug}")
    assert dialogs == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_search_syntax_shows_its_filters_and_one_result_per_item(
    live_server: Any, browser: Any, theme: str
) -> None:
    from tests.e2e.a11y_kit import new_context
    from tests.e2e.test_a11y import describe_violations, run_axe

    koyomi = make_user("koyomi", role=Role.ORGANISER)
    make_category("petition-discussion")
    petition = make_petition(koyomi, title="Motorball on television", summary="Every match.")
    thread = db.session.get(Thread, petition.thread_id)
    for n in range(3):
        make_reply(make_user(), thread, f"Motorball is the best, reason {n}.")
    make_thread(koyomi, make_category("general"), title="Motorball trailer", body="A trailer.")
    context = new_context(browser, color_scheme=theme)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/search?q=motorball+-trailer+author:koyomi")
        parsed = page.locator(".search-parsed")
        assert "without “trailer”" in parsed.inner_text() and "by koyomi" in parsed.inner_text()
        results = page.locator(".search-result")
        assert results.count() == 1  # the petition, its discussion under it
        assert page.get_by_role("link", name="Motorball on television").count() == 1
        assert page.locator(".search-result mark").count() >= 1
        violations = run_axe(page)
        assert not violations, describe_violations(f"search ({theme})", violations)

        page.get_by_role("link", name="Remove “without “trailer””").click()
        page.wait_for_load_state()
        assert "trailer" not in page.locator("#search-q").input_value()
        assert page.locator(".search-result").count() == 2
        page.get_by_role("link", name="Remove “by koyomi”").click()
        page.wait_for_load_state()
        # Everyone's posts now: the petition with its three replies under it, and the thread.
        assert page.locator(".search-result").count() == 2
        assert page.get_by_text("and 4 posts in its discussion").count() == 1
    finally:
        context.close()
