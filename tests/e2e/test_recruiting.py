"""What a person sees: a member signs on a phone and gets their share link; a friend follows
it in another browser, signs as a guest and confirms by email; the member sees the credit."""

from __future__ import annotations

import re

from tests.e2e.test_petitions import log_in_as
from tests.factories import make_petition, make_user

PHONE = {"width": 375, "height": 740}


def test_a_share_link_brings_a_fan_and_its_owner_sees_it(live_server, browser, tmp_path):
    petition = make_petition(title="Make Alita: Battle Angel 2 happen", goal=5000)
    make_user("rita")
    path = f"/petitions/{petition.slug}"

    first = browser.new_context(viewport=PHONE)
    first.set_default_timeout(10_000)
    member = first.new_page()
    log_in_as(member, live_server, "rita")
    member.goto(f"{live_server.url}{path}")
    member.locator("#sign").get_by_role("button", name="Sign the petition").click()
    member.wait_for_load_state()
    share_step = member.locator(".share-step")
    assert "Now help it grow" in share_step.inner_text()
    link = member.get_by_label("Your share link").input_value()
    assert re.fullmatch(re.escape(f"{live_server.url}{path}?r=") + r"[a-z2-9]{8}", link)
    for name in ("X", "Facebook", "Bluesky", "WhatsApp", "Telegram", "Email"):
        href = share_step.get_by_role("link", name=name, exact=True).get_attribute("href")
        assert href and link.split("?r=")[1] in href
    member.screenshot(path=str(tmp_path / "share-step-375.png"), full_page=True)

    second = browser.new_context(viewport=PHONE)  # a friend: no cookies shared with rita
    second.set_default_timeout(10_000)
    friend = second.new_page()
    friend.goto(link)
    assert friend.url == f"{live_server.url}{path}"  # the code stays out of the address
    friend.get_by_label("Your name").fill("Friend Fan")
    friend.get_by_label("Email address").fill("friend.fan@example.com")
    friend.get_by_label(re.compile("I agree my name and email")).check()
    friend.get_by_role("button", name="Sign the petition").click()
    friend.wait_for_load_state()
    assert "Check your inbox" in friend.content()
    friend.goto(live_server.wait_for_link(r"/signatures/confirm/"))
    friend.get_by_role("button", name="Confirm").click()
    friend.wait_for_load_state()
    assert "Thank you for signing" in friend.content()
    own = friend.get_by_label("Your share link").input_value()
    assert "?r=" in own and own != link  # the guest's own link to pass on
    friend.screenshot(path=str(tmp_path / "guest-thank-you-375.png"), full_page=True)
    second.close()

    member.reload()
    assert "You brought 1 fan" in member.locator("#sign").inner_text()
    member.goto(f"{live_server.url}/u/rita")
    assert "Your share links brought 1 fan in all." in member.content()
    first.close()
