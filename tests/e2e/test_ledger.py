"""What a signer sees: their receipt checked against the signed log, in the browser."""

from __future__ import annotations

from fancampaign.extensions import db
from fancampaign.ledger import services as ledger
from fancampaign.petitions import services
from tests.factories import make_petition, make_user


def test_a_receipt_is_checked_in_the_browser(live_server, page):
    petition = make_petition(title="Check the count")
    signatures = [services.sign_petition(make_user(commit=False), petition) for _ in range(5)]
    receipt = ledger.receipt_hash(petition.id, signatures[3].id)
    db.session.commit()
    page.goto(f"{live_server.url}/petitions/{petition.slug}/verify")
    page.get_by_label("Your receipt").fill(receipt)
    page.get_by_role("button", name="Check").click()
    result = page.locator("#verify-result [data-verified]")
    result.wait_for()
    text = result.inner_text()
    assert "entry 4 of 5" in text and "Checked in your browser" in text
    assert page.url.endswith("/verify")  # fetched by the script, not a page load

    page.get_by_label("Your receipt").fill("ab" * 32)
    page.get_by_role("button", name="Check").click()
    page.locator("#verify-result .notice--error").wait_for()
    assert "No leaf with that hash" in page.locator("#verify-result").inner_text()


def test_the_log_page_links_the_count_to_its_checkpoint(live_server, page):
    petition = make_petition(title="A count to check")
    services.sign_petition(make_user(commit=False), petition)
    db.session.commit()
    page.goto(f"{live_server.url}/petitions/{petition.slug}")
    page.get_by_role("link", name="Check this count").click()
    page.wait_for_load_state()
    assert page.locator("[data-standing-count]").inner_text().strip() == "1"
