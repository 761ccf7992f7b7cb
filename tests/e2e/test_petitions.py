"""What a person sees: a visitor signs and confirms by email; a member signs with one click."""

from __future__ import annotations

import re

from tests.factories import PASSWORD, make_category, make_petition, make_user


def count_on(page) -> str:
    return page.locator("[data-count]").inner_text().strip()


def test_visitor_signs_and_confirms_by_email(live_server, page, screenshot):
    make_category("petition-discussion")
    petition = make_petition(title="Make Alita: Battle Angel 2 happen", goal=5000)
    page.goto(f"{live_server.url}/petitions/{petition.slug}")
    assert count_on(page) == "0"
    page.get_by_label("Your name").fill("Guest Fan")
    page.get_by_label("Email address").fill("guest.fan@example.com")
    page.get_by_label("Country").select_option("JP")
    page.get_by_label("Why are you signing?").fill("<script>window.pwned=1</script>For Alita!")
    page.get_by_label(re.compile("I agree that my name and email")).check()
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_load_state()
    assert "Check your inbox" in page.content()

    link = live_server.wait_for_link(r"/signatures/confirm/")
    page.goto(link)
    page.goto(link)  # following the link (as a mail scanner would) counts nothing
    page.goto(f"{live_server.url}/petitions/{petition.slug}")
    assert count_on(page) == "0"
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    assert "confirmed and counted" in page.content()
    assert count_on(page) == "1"
    assert "For Alita!" in page.content()
    assert page.evaluate("window.pwned") is None
    screenshot("petition-confirmed")


def test_member_signs_with_one_click(live_server, page):
    petition = make_petition(title="Bring Alita back to cinemas for a night")
    make_user("hugo")
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username or email address").fill("hugo")
    page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/petitions/{petition.slug}")
    assert count_on(page) == "0"
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_load_state()
    assert count_on(page) == "1"
    assert "You signed this petition" in page.content()
