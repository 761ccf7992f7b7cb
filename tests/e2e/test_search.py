"""What a person sees when searching: the box in the header, highlighted results, a kind
filter, and no script from what users wrote ever runs."""

from __future__ import annotations

from typing import Any

from tests.factories import make_category, make_petition, make_thread, make_user


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
