"""What a guest signer sees: the manage link from the confirmation mail withdraws the
signature, and the count drops on every page that shows it."""

from __future__ import annotations

import json
import re
import urllib.request

from tests.factories import make_category, make_petition


def _counts(page, base: str, slug: str) -> dict[str, str]:
    page.goto(f"{base}/petitions/{slug}")
    on_page = page.locator("[data-count]").inner_text().strip()
    page.goto(f"{base}/petitions/{slug}/embed")
    embed = page.locator("body").inner_text()
    page.goto(f"{base}/petitions?status=open&sort=recent")
    listing = page.locator("body").inner_text()
    with urllib.request.urlopen(f"{base}/api/v1/petitions/{slug}") as response:  # noqa: S310
        api = json.load(response)["signature_count"]
    card = listing.split("Release the extended cut of Alita", 1)[1]
    return {
        "page": on_page,
        "embed": re.search(r"([\d,]+) of 5,000", embed).group(1),
        "list": re.search(r"([\d,]+)\s+(?:of 5,000|signatures?)", card).group(1),
        "api": str(api),
    }


def test_guest_withdraws_through_the_manage_link_and_the_count_drops_everywhere(
    live_server, page, screenshot
):
    make_category("petition-discussion")
    petition = make_petition(title="Release the extended cut of Alita", goal=5000)
    base, slug = live_server.url, petition.slug
    page.goto(f"{base}/petitions/{slug}")
    page.get_by_label("Your name").fill("Guest Fan")
    page.get_by_label("Email address").fill("guest.fan@example.com")
    page.get_by_label(re.compile("I agree my name and email")).check()
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_load_state()
    page.goto(live_server.wait_for_link(r"/signatures/confirm/"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    assert _counts(page, base, slug) == {"page": "1", "embed": "1", "list": "1", "api": "1"}

    manage = live_server.wait_for_link(r"/signatures/manage/")
    page.goto(manage)
    page.goto(manage)  # opening it (as a mail scanner would) changes nothing
    assert page.get_by_role("button", name="Withdraw my signature").is_visible()
    screenshot("manage-signature")
    page.get_by_role("button", name="Withdraw my signature").click()
    page.wait_for_load_state()
    assert "Your signature has been withdrawn." in page.content()
    assert _counts(page, base, slug) == {"page": "0", "embed": "0", "list": "0", "api": "0"}
    page.goto(manage)
    assert "This link does not work" in page.content()
