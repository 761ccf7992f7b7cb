"""What a person sees: a visitor signs and confirms by email; a member signs with one click."""

from __future__ import annotations

import re

from tests.factories import PASSWORD, make_category, make_petition, make_user


def log_in_as(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username or email address").fill(username)
    page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def count_on(page) -> str:
    return page.locator("[data-count]").inner_text().strip()


def test_visitor_signs_and_confirms_by_email(live_server, page, screenshot):
    make_category("petition-discussion")
    petition = make_petition(title="Make Alita: Battle Angel 2 happen", goal=5000)
    page.goto(f"{live_server.url}/petitions/{petition.slug}")
    assert count_on(page) == "0"
    page.get_by_label("Your name").fill("Guest Fan")
    page.get_by_label("Email address").fill("guest.fan@example.com")
    page.get_by_text("Country, reason, name shown, updates").click()  # the optional extras, folded
    page.locator("select#country").select_option("JP")
    page.get_by_label("Why are you signing?").fill("<script>window.pwned=1</script>For Alita!")
    page.get_by_label(re.compile("I agree my name and email")).check()
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
    assert "confirmed and counted" in page.content()  # the link's thank-you page
    assert count_on(page) == "1"
    page.get_by_role("link", name="Back to the petition").click()
    page.wait_for_load_state()
    assert count_on(page) == "1"
    assert "For Alita!" in page.content()
    assert page.evaluate("window.pwned") is None
    screenshot("petition-confirmed")


def test_member_signs_with_one_click(live_server, page):
    petition = make_petition(title="Bring Alita back to cinemas for a night")
    make_user("hugo")
    log_in_as(page, live_server, "hugo")
    page.goto(f"{live_server.url}/petitions/{petition.slug}")
    assert count_on(page) == "0"
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_load_state()
    assert count_on(page) == "1"
    assert "You signed this petition" in page.content()


FIRST_SCREENS = [(375, 740), (1280, 800)]


def _sign_button_box(page):
    button = page.locator("#sign").get_by_role("button", name="Sign the petition")
    box = button.bounding_box()
    assert box is not None
    return box


def test_the_sign_button_is_in_the_first_screen(live_server, browser, tmp_path):
    """On a phone and on a desktop, logged out and logged in, the Sign button is in view
    without scrolling; screenshots of both widths in both themes go to the test's folder."""
    from datetime import timedelta

    from fancampaign.extensions import utcnow

    petition = make_petition(
        title="Make Alita: Battle Angel 2 happen, the fans are ready",
        goal=5000,
        deadline=utcnow() + timedelta(days=12),
    )
    make_user("hugo")
    for width, height in FIRST_SCREENS:
        for scheme in ("light", "dark"):
            for member in (False, True):
                context = browser.new_context(
                    viewport={"width": width, "height": height}, color_scheme=scheme
                )
                page = context.new_page()
                if member:
                    log_in_as(page, live_server, "hugo")
                page.goto(f"{live_server.url}/petitions/{petition.slug}")
                box = _sign_button_box(page)
                who = "member" if member else "visitor"
                page.screenshot(path=str(tmp_path / f"petition-{who}-{width}-{scheme}.png"))
                assert box["y"] + box["height"] <= height, (width, scheme, who, box)
                context.close()


def _in_view(locator, height: int) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] < height and box["y"] + box["height"] > 0


def test_a_sign_bar_follows_the_text_on_a_phone_until_signed(live_server, browser):
    petition = make_petition(title="Bring Alita back to cinemas for a night", goal=5000)
    petition.body = "\n\n".join(["The fans have waited long enough."] * 40)
    from fancampaign.extensions import db
    from fancampaign.text import render_markdown

    petition.body_html = render_markdown(petition.body)
    db.session.commit()
    make_user("hugo")
    for javascript in (True, False):
        context = browser.new_context(
            viewport={"width": 375, "height": 740}, java_script_enabled=javascript
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/petitions/{petition.slug}")
        bar = page.locator(".sign-bar")
        assert not _in_view(bar, 740)  # the sign box itself is on screen
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(200)
        assert _in_view(bar, 740)
        bar.get_by_role("link", name="Sign this petition").click()
        page.wait_for_timeout(200)
        assert _sign_button_box(page)["y"] < 740
        context.close()

    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    log_in_as(page, live_server, "hugo")
    page.goto(f"{live_server.url}/petitions/{petition.slug}")
    page.locator("#sign").get_by_role("button", name="Sign the petition").click()
    page.wait_for_load_state()
    page.mouse.wheel(0, 1500)
    page.wait_for_timeout(200)
    assert not page.locator(".sign-bar").is_visible()  # signed: nothing more to ask
    context.close()


FIT_JS = """() => {
  const doc = document.documentElement;
  const button = document.querySelector('.embed-widget .button').getBoundingClientRect();
  const title = document.querySelector('.embed-widget__title').getBoundingClientRect();
  return {
    sideways: doc.scrollWidth > doc.clientWidth + 1,
    downwards: doc.scrollHeight > doc.clientHeight + 1,
    button: [button.left, button.top, button.right, button.bottom],
    title: [title.left, title.top, title.right, title.bottom],
  };
}"""


def test_the_embed_widget_fits_its_card_and_banner_frames(live_server, browser, tmp_path):
    petition = make_petition(
        title="Make Alita: Battle Angel 2 happen, and bring the whole original team back to it",
        goal=5000,
    )
    for width, height in ((300, 250), (728, 90)):
        for scheme in ("light", "dark"):
            context = browser.new_context(
                viewport={"width": width, "height": height}, color_scheme=scheme
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/petitions/{petition.slug}/embed")
            fit = page.evaluate(FIT_JS)
            page.screenshot(path=str(tmp_path / f"embed-{width}x{height}-{scheme}.png"))
            context.close()
            assert not fit["sideways"] and not fit["downwards"], (width, height, fit)
            left, top, right, bottom = fit["button"]
            assert left >= 0 and top >= 0 and right <= width and bottom <= height, fit
