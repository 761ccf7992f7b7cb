"""Campaign pages through the client: organiser tools, the delivery pack, the timeline (page,
feed, API), the manage, unsubscribe and response links."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import feedparser
import pytest
import sqlalchemy as sa

from fancampaign.campaign import services as campaign
from fancampaign.campaign.models import (
    CampaignEvent,
    CampaignMail,
    CampaignOptOut,
    Delivery,
    ResponseLink,
)
from fancampaign.extensions import db, utcnow
from fancampaign.moderation.models import ModerationAction
from fancampaign.news.models import NewsPost
from fancampaign.petitions import services as petitions
from fancampaign.petitions.models import Signature
from tests.campaign.conftest import SECRET, Signers, queued_to, run_worker
from tests.conftest import links_in
from tests.factories import make_news_post, make_petition, make_user

MEMBER, GUEST = "mel@example.com", "gwen@example.org"


def _audit() -> list[str]:
    return list(
        db.session.scalars(sa.select(ModerationAction.action).order_by(ModerationAction.id))
    )


def _won(client: Any, s: Signers) -> Any:
    return client.post(f"/petitions/{s.petition.slug}/won", data={"note": "The studio said yes."})


def _deliver(client: Any, s: Signers) -> Any:
    return client.post(
        f"/petitions/{s.petition.slug}/deliveries",
        data={"recipient": "Jane Doe", "method": "email", "note": "", "with_countries": "y"},
    )


def _respond_elsewhere(client: Any, s: Signers) -> Any:
    return client.post(
        f"/petitions/{s.petition.slug}/responses",
        data={
            "responder": "The studio",
            "body": "We hear you.",
            "source_url": "https://example.org/statement",
        },
    )


def _respond_by_link(client: Any, s: Signers) -> Any:
    _link, token = campaign.create_response_link(s.organiser, s.petition, "Jane")
    db.session.commit()
    return client.post(f"/respond/{token}", data={"responder": "Jane", "body": "Thank you all."})


def _news_post(client: Any, s: Signers) -> Any:
    return client.post(
        "/news/new",
        data={
            "title": "We met the studio today",
            "body": "It went well.",
            "petitions": [str(s.petition.id)],
            "publish": "now",
        },
    )


def _story_update(client: Any, s: Signers) -> Any:
    post = make_news_post(s.organiser, petition_ids=[s.petition.id], is_developing=True)
    db.session.execute(sa.delete(CampaignMail))
    db.session.commit()
    return client.post(
        f"/news/{post.slug}/updates", data={"update": "Friday at noon.", "email_update": "y"}
    )


VIEW_EVENTS: dict[str, Callable[[Any, Signers], Any]] = {
    "won": _won,
    "delivery": _deliver,
    "response_elsewhere": _respond_elsewhere,
    "response_by_link": _respond_by_link,
    "news_post": _news_post,
    "story_update": _story_update,
}


@pytest.mark.parametrize(
    "signers",
    [(True, True), (True, False), (False, True), (False, False)],
    indirect=True,
    ids=lambda w: f"member{w[0]}-guest{w[1]}",
)
@pytest.mark.parametrize("event_name", list(VIEW_EVENTS))
def test_an_event_made_on_its_page_mails_the_signers_who_asked(
    client: Any, login: Any, signers: Signers, event_name: str, outbox: list[Any]
) -> None:
    login(signers.organiser)
    outbox.clear()
    response = VIEW_EVENTS[event_name](client, signers)
    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)[:500]
    expected = sorted(
        [GUEST] * signers.guest_signature.keep_updated
        + [MEMBER] * signers.member_signature.keep_updated
    )
    assert queued_to() == expected
    run_worker()
    assert sorted(m["To"] for m in outbox if "List-Unsubscribe" in m) == expected


def test_close_and_reopen_through_the_page(client: Any, login: Any, signers: Signers) -> None:
    login(signers.organiser)
    slug = signers.petition.slug
    assert client.post(f"/petitions/{slug}/close").status_code == 303
    page = client.get(f"/petitions/{slug}").get_data(as_text=True)
    assert "Reopen the petition" in page and "Campaign timeline" in page
    assert client.post(f"/petitions/{slug}/reopen").status_code == 303
    db.session.expire_all()
    assert signers.petition.status == "open"
    assert _audit() == ["close_petition", "reopen_petition"]
    assert queued_to() == []  # closing and reopening are not mailed


def test_members_get_no_campaign_tools(client: Any, login: Any, signers: Signers) -> None:
    login(signers.member)
    slug = signers.petition.slug
    assert client.get(f"/petitions/{slug}/campaign").status_code == 403
    assert _deliver(client, signers).status_code == 403
    assert client.get(f"/petitions/{slug}/delivery").status_code == 403
    assert client.get(f"/petitions/{slug}/delivery.pdf").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_a_delivery_with_a_bad_method_comes_back_with_the_error(
    client: Any, login: Any, signers: Signers
) -> None:
    login(signers.organiser)
    response = client.post(
        f"/petitions/{signers.petition.slug}/deliveries",
        data={"recipient": "Jane", "method": "pigeon"},
    )
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_the_delivery_pack(client: Any, login: Any, signers: Signers) -> None:
    login(signers.organiser)
    slug = signers.petition.slug
    page = client.get(f"/petitions/{slug}/delivery")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Signatures by country" in text and "Campaign timeline" in text
    assert signers.petition.summary in text
    assert "@" not in re.sub(r"<[^>]+>", "", text.split("<main", 1)[-1])
    pdf = client.get(f"/petitions/{slug}/delivery.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert _audit() == ["export_pdf"]


def test_response_link_is_made_once_and_shown_once(
    client: Any, login: Any, signers: Signers
) -> None:
    login(signers.organiser)
    response = client.post(
        f"/petitions/{signers.petition.slug}/response-links", data={"contact": "Jane", "days": 7}
    )
    (url,) = re.findall(r"http://localhost/respond/[\w-]+", response.get_data(as_text=True))
    link = db.session.scalar(sa.select(ResponseLink))
    assert url.rsplit("/", 1)[1] not in link.token_hash
    assert _audit() == ["response_link"]


def test_a_scanner_opening_the_response_link_changes_nothing(client: Any, signers: Signers) -> None:
    _link, token = campaign.create_response_link(signers.organiser, signers.petition, "Jane")
    db.session.commit()
    for _ in range(2):
        page = client.get(f"/respond/{token}")
        assert page.status_code == 200
        assert signers.petition.title in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(ResponseLink.used_at)) is None
    assert _audit() == ["response_link"]
    assert client.post(f"/respond/{token}", data={}).status_code == 200
    page = client.get(f"/petitions/{signers.petition.slug}").get_data(as_text=True)
    assert "Jane acknowledged receipt" in page
    assert client.post(f"/respond/{token}", data={}).status_code == 400
    assert client.get(f"/respond/{token}").status_code == 400
    assert _audit() == ["response_link", "response_link_used"]


def test_an_expired_response_link_is_refused(client: Any, signers: Signers) -> None:
    link, token = campaign.create_response_link(signers.organiser, signers.petition, "Jane")
    link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(f"/respond/{token}").status_code == 400
    assert client.post(f"/respond/{token}", data={"body": "Late."}).status_code == 400
    assert client.get("/respond/made-up").status_code == 400


def test_the_targets_response_shows_on_the_petition(client: Any, signers: Signers) -> None:
    _respond_by_link(client, signers)
    page = client.get(f"/petitions/{signers.petition.slug}").get_data(as_text=True)
    assert "Response from the target" in page and "Thank you all." in page


# Manage link -------------------------------------------------------------------------------


def _manage_url(signature: Signature) -> str:
    return f"/signatures/manage/{petitions.manage_token(signature, SECRET)}"


def test_the_confirmation_mail_carries_the_manage_link(
    client: Any, signers: Signers, outbox: list[Any]
) -> None:
    outbox.clear()
    client.post(
        f"/petitions/{signers.petition.slug}/sign",
        data={"name": "Newcomer", "email": "new@example.org", "consent": "y"},
    )
    (message,) = [m for m in outbox if m["To"] == "new@example.org"]
    assert any("/signatures/manage/" in link for link in links_in(message))


def test_the_manage_page_changes_nothing_until_a_button_is_pressed(
    client: Any, signers: Signers
) -> None:
    url = _manage_url(signers.guest_signature)
    page = client.get(url)
    assert page.status_code == 200
    assert "Withdraw my signature" in page.get_data(as_text=True)
    db.session.expire_all()
    assert signers.petition.signature_count == 2


def test_a_guest_withdraws_through_the_manage_link(client: Any, signers: Signers) -> None:
    url = _manage_url(signers.guest_signature)
    response = client.post(url, data={"action": "withdraw"})
    assert response.status_code == 303
    db.session.expire_all()
    assert signers.petition.signature_count == 1
    assert client.get(url).status_code == 400
    assert client.post(url, data={"action": "withdraw"}).status_code == 400


def test_a_guest_switches_updates_off_through_the_manage_link(
    client: Any, signers: Signers
) -> None:
    url = _manage_url(signers.guest_signature)
    assert client.post(url, data={"action": "updates_off"}).status_code == 303
    db.session.expire_all()
    assert signers.guest_signature.keep_updated is False
    assert signers.petition.signature_count == 2


def test_a_tampered_manage_link_is_refused(client: Any, signers: Signers) -> None:
    url = _manage_url(signers.guest_signature)
    assert client.get(url[:-3] + "abc").status_code == 400
    assert client.post(url[:-3] + "abc", data={"action": "withdraw"}).status_code == 400
    db.session.expire_all()
    assert signers.petition.signature_count == 2


def test_withdrawing_a_closed_petitions_signature_is_refused(client: Any, signers: Signers) -> None:
    campaign.close(signers.organiser, signers.petition)
    db.session.commit()
    url = _manage_url(signers.guest_signature)
    assert "Withdraw my signature" not in client.get(url).get_data(as_text=True)
    assert client.post(url, data={"action": "withdraw"}).status_code == 409
    db.session.expire_all()
    assert signers.petition.signature_count == 2


# Unsubscribe -----------------------------------------------------------------------------


def _sent_mail(signers: Signers, address: str) -> CampaignMail:
    campaign.mark_won(signers.organiser, signers.petition, "Won!")
    db.session.commit()
    run_worker()
    return db.session.scalar(sa.select(CampaignMail).where(CampaignMail.email == address))


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_one_click_unsubscribe_needs_no_form_token(client: Any, signers: Signers) -> None:
    mail = _sent_mail(signers, GUEST)
    url = f"/unsubscribe/{campaign.unsubscribe_token(mail.id, 'petition', SECRET)}"
    page = client.get(url)
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    db.session.expire_all()
    assert signers.guest_signature.keep_updated is True
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    db.session.expire_all()
    assert signers.guest_signature.keep_updated is False
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 400


def test_unsubscribe_from_all_campaign_mail_through_the_link(client: Any, signers: Signers) -> None:
    mail = _sent_mail(signers, MEMBER)
    url = f"/unsubscribe/{campaign.unsubscribe_token(mail.id, 'all', SECRET)}"
    assert client.post(url).status_code == 200
    assert db.session.get(CampaignOptOut, MEMBER) is not None
    other = make_petition(signers.organiser)
    petitions.sign_petition(signers.member, other, keep_updated=True)
    event = campaign.mark_won(signers.organiser, other, "Won again")
    assert queued_to(event.id) == []


def test_a_forged_unsubscribe_link_is_400_and_changes_nothing(
    client: Any, signers: Signers
) -> None:
    mail = _sent_mail(signers, GUEST)
    forged = campaign.unsubscribe_token(mail.id, "all", "not-the-key")
    assert client.post(f"/unsubscribe/{forged}").status_code == 400
    assert client.get(f"/unsubscribe/{forged}").status_code == 400
    db.session.expire_all()
    assert signers.guest_signature.keep_updated is True
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignOptOut)) == 0


# Timeline: page, feed, API -----------------------------------------------------------------


def test_the_timeline_feed_and_api(client: Any, signers: Signers) -> None:
    campaign.mark_won(signers.organiser, signers.petition, "Won!")
    db.session.commit()
    slug = signers.petition.slug
    feed = feedparser.parse(client.get(f"/petitions/{slug}/timeline.atom").data)
    assert not feed.bozo
    assert [e.title for e in feed.entries] == [
        "Victory: Victory!",
        "Petition opened: The petition opened",
    ]
    api = client.get(f"/api/v1/petitions/{slug}/timeline").get_json()
    assert [item["kind"] for item in api["items"]] == ["opened", "won"]
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/petitions/{slug}/timeline" in spec["paths"]


def test_a_drafts_timeline_is_not_public(client: Any) -> None:
    petition = make_petition(make_user(), status="pending")
    assert client.get(f"/petitions/{petition.slug}/timeline.atom").status_code == 404
    assert client.get(f"/api/v1/petitions/{petition.slug}/timeline").status_code == 404


def test_the_sign_form_says_where_names_go(client: Any, signers: Signers) -> None:
    page = client.get(f"/petitions/{signers.petition.slug}").get_data(as_text=True)
    assert "my name and country go to its target" in page  # the guest's consent
    assert "Show my name on this site&#39;s pages" in page
    assert "Your email is never given to the target" in page


def test_the_news_editor_says_when_the_mail_goes_out(
    client: Any, login: Any, signers: Signers
) -> None:
    login(signers.organiser)
    later = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/news/new",
        data={
            "title": "Something is coming tomorrow",
            "body": "Stay tuned.",
            "petitions": [str(signers.petition.id)],
            "publish": "schedule",
            "publish_at": later,
        },
        follow_redirects=True,
    )
    assert "Update emails to the signers go out then" in response.get_data(as_text=True)
    post = db.session.scalar(sa.select(NewsPost))
    event = db.session.scalar(sa.select(CampaignEvent).where(CampaignEvent.news_post_id == post.id))
    assert event.mailed == 2
    assert run_worker() == (0, 0)  # held until the post's time
