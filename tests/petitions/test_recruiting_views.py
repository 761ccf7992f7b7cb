"""Recruiting through the pages: a share link's code travels in the visitor's session (never
in a page), the signed state offers the signer's own link, "you brought N" on the petition
and the profile, the guest's thank-you page, the organisers' sources page."""

from __future__ import annotations

import html as htmllib
import re

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.petitions import services
from fancampaign.petitions.models import RecruiterCode, Referral
from tests.conftest import links_in
from tests.factories import make_petition, make_user
from tests.helpers import make_login


def code_of(user) -> str:
    code = services.issue_recruiter_code(user).code
    db.session.commit()
    return code


def text(response) -> str:
    return response.get_data(as_text=True)


def carried(client) -> list:
    with client.session_transaction() as session:
        return list(session.get("recruited") or [])


def test_a_share_link_puts_its_code_in_the_session_and_goes_on_without_it(app, client):
    petition = make_petition()
    code = code_of(make_user("recruiter"))

    response = client.get(f"/petitions/{petition.slug}?r={code}&utm_source=x")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/petitions/{petition.slug}?utm_source=x"
    assert response.headers["Cache-Control"] == "no-store"
    assert carried(client) == [[petition.slug, code]]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and code not in text(page)


@pytest.mark.parametrize(
    "value", ["", "zz", "<script>alert(1)</script>", "%00%ff", "a" * 3000, "abcd2345&r=x"]
)
def test_a_malformed_code_is_ignored_without_an_error(app, client, value):
    petition = make_petition()
    response = client.get(f"/petitions/{petition.slug}?r={value}", follow_redirects=True)
    assert response.status_code == 200
    assert carried(client) in ([], [[petition.slug, "abcd2345"]])  # the last: looks like one


def test_an_unknown_code_on_an_unknown_petition_is_a_plain_404(app, client):
    response = client.get("/petitions/no-such-thing?r=abcd2345", follow_redirects=True)
    assert response.status_code == 404


def test_a_member_who_came_by_a_link_credits_its_owner_when_signing(app, client, login):
    petition = make_petition()
    recruiter = make_user("recruiter")
    services.sign_petition(recruiter, petition)
    code = code_of(recruiter)
    login(make_user("friend"))

    client.get(f"/petitions/{petition.slug}?r={code}")
    response = client.post(f"/petitions/{petition.slug}/sign", data={})

    assert response.status_code == 303
    assert services.brought(recruiter, petition) == 1
    assert carried(client) == []  # used: forgotten
    assert petition.signature_count == 2


def test_a_guest_who_came_by_a_link_credits_its_owner_once_confirmed(app, client, outbox):
    petition = make_petition()
    recruiter = make_user("recruiter")
    code = code_of(recruiter)
    client.get(f"/petitions/{petition.slug}?r={code}")
    data = {"name": "Guest Fan", "email": "guest@example.com", "consent": "y"}
    assert client.post(f"/petitions/{petition.slug}/sign", data=data).status_code == 303
    assert services.brought(recruiter, petition) == 0

    (link,) = [u for u in links_in(outbox[0]) if "/signatures/confirm/" in u]
    path = link.split("localhost", 1)[1]
    done = client.post(path)

    assert done.status_code == 303 and done.headers["Location"] == path
    assert services.brought(recruiter, petition) == 1


def test_a_signed_member_gets_the_share_step_with_their_own_link(app, client, login):
    petition = make_petition(title="Give Alita her sequel now")
    member = login(make_user("sharer"))
    response = client.post(f"/petitions/{petition.slug}/sign", data={}, follow_redirects=True)
    page = text(response)
    mine = RecruiterCode.user_id == member.id
    code = db.session.scalar(sa.select(RecruiterCode.code).where(mine))
    link = f"http://localhost/petitions/{petition.slug}?r={code}"

    assert "Thank you for signing!" in page and "Now help it grow" in page
    assert f'value="{link}"' in page  # selectable without JavaScript
    assert f'data-copy="{link}"' in page and f'data-share-url="{link}"' in page
    hrefs = [htmllib.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]
    for start in (
        "https://x.com/intent/post?",
        "https://www.facebook.com/sharer/sharer.php?",
        "https://bsky.app/intent/compose?",
        "https://wa.me/?",
        "https://t.me/share/url?",
        "mailto:?",
    ):
        # one with the signer's code (the aside's general share links have none)
        assert len([h for h in hrefs if h.startswith(start) and code in h]) == 1
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert scripts and all(src.startswith("/static/") for src in scripts)  # no third party
    assert "No one has signed through your link yet." in page


def test_the_signer_sees_what_their_link_brought_here_and_on_their_profile(app, client, login):
    petition = make_petition()
    recruiter = make_user("recruiter")
    services.sign_petition(recruiter, petition)
    code = code_of(recruiter)
    for name in ("friend_one", "friend_two"):
        services.sign_petition(make_user(name), petition, recruiter_code=code)
    db.session.commit()
    login(recruiter)

    assert "You brought 2 fans to this petition." in text(client.get(f"/petitions/{petition.slug}"))
    profile = text(client.get("/u/recruiter"))
    assert "Your share links brought 2 fans in all." in profile
    assert "you brought 2 fans" in profile

    make_login(client)(make_user("someone"))
    other = text(client.get("/u/recruiter"))
    assert "brought" not in other


def test_top_recruiters_show_only_members_who_opted_in(app, client, login):
    petition = make_petition()
    recruiter = make_user("recruiter", display_name="Rita Recruits")
    services.sign_petition(recruiter, petition)
    services.sign_petition(make_user("friend"), petition, recruiter_code=code_of(recruiter))
    db.session.commit()
    assert "Rita Recruits" not in text(client.get(f"/petitions/{petition.slug}"))

    login(recruiter)
    response = client.post(f"/petitions/{petition.slug}/recruiters", data={"listed": "1"})
    assert response.status_code == 303
    page = text(client.get(f"/petitions/{petition.slug}"))
    assert "Top recruiters" in page and "Rita Recruits" in page
    assert "Stop showing my name among top recruiters" in page

    client.post(f"/petitions/{petition.slug}/recruiters", data={"listed": "0"})
    assert "Rita Recruits" not in text(client.get(f"/petitions/{petition.slug}"))


def test_a_visitor_cannot_choose_to_be_listed(app, client):
    petition = make_petition()
    response = client.post(f"/petitions/{petition.slug}/recruiters", data={"listed": "1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecruiterCode)) == 0


def test_the_guests_thank_you_page_offers_their_own_link(app, client, outbox):
    petition = make_petition()
    data = {"name": "Guest Fan", "email": "guest@example.com", "consent": "y"}
    client.post(f"/petitions/{petition.slug}/sign", data=data)
    (link,) = [u for u in links_in(outbox[0]) if "/signatures/confirm/" in u]
    path = link.split("localhost", 1)[1]
    assert "Now help it grow" not in text(client.get(path))  # not before confirming

    page = client.post(path, follow_redirects=True)

    body = text(page)
    code = db.session.scalar(sa.select(RecruiterCode.code))
    assert "confirmed and counted" in body and "Thank you for signing" in body
    assert f"http://localhost/petitions/{petition.slug}?r={code}" in body
    assert "No one has signed through your link yet" in body
    assert page.headers["Cache-Control"] == "private, no-store"

    services.sign_petition(make_user("friend"), petition, recruiter_code=code)
    db.session.commit()
    assert "You brought 1 fan to this petition." in text(client.get(path))


# The organisers' sources page -------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 302), ("member", 403), ("other_organiser", 200), ("creator", 200), ("admin", 200)],
)
def test_who_sees_the_sources_page(app, client, login, who, status):
    creator = make_user("creator", role=Role.ORGANISER)
    petition = make_petition(creator)
    users = {
        "member": lambda: make_user("member1"),
        "other_organiser": lambda: make_user("organiser2", role=Role.ORGANISER),
        "creator": lambda: creator,
        "admin": lambda: make_user("admin1", role=Role.ADMIN),
    }
    if who:
        login(users[who]())
    assert client.get(f"/petitions/{petition.slug}/sources").status_code == status


def test_an_organiser_makes_a_source_and_sees_its_count(app, client, login):
    creator = make_user("creator", role=Role.ORGANISER)
    petition = make_petition(creator)
    login(creator)

    response = client.post(f"/petitions/{petition.slug}/sources", data={"label": "Newsletter"})
    assert response.status_code == 303
    code = db.session.scalar(sa.select(RecruiterCode).where(RecruiterCode.label == "Newsletter"))
    services.sign_petition(make_user("reader"), petition, recruiter_code=code.code)
    services.sign_petition(make_user("walkin"), petition)
    db.session.commit()

    page = text(client.get(f"/petitions/{petition.slug}/sources"))
    assert f"http://localhost/petitions/{petition.slug}?r={code.code}" in page
    rows = re.findall(r'<th scope="row">([^<]+)</th>.*?<td class="num">(\d+)</td>', page, re.S)
    assert rows == [("Newsletter", "1"), ("Fans' own links", "0"), ("Direct", "1")]

    again = client.post(f"/petitions/{petition.slug}/sources", data={"label": "newsletter"})
    assert again.status_code == 400
    assert "already has a source with that name" in text(again)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 1


def test_the_petition_page_only_reads_and_offers_a_button_to_a_member_without_a_code(
    app, client, login
):
    petition = make_petition()
    member = make_user("early_signer")
    services.sign_petition(member, petition)  # signed before share links existed
    db.session.commit()
    login(member)

    page = text(client.get(f"/petitions/{petition.slug}"))

    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecruiterCode)) == 0
    assert "Get my share link" in page and "?r=" not in page
    response = client.post(f"/petitions/{petition.slug}/share-link", follow_redirects=True)
    code = services.get_recruiter_code(member).code
    assert f"http://localhost/petitions/{petition.slug}?r={code}" in text(response)


def test_a_guest_confirmed_without_a_code_gets_one_by_pressing_the_button_again(
    app, client, outbox
):
    petition = make_petition()
    data = {"name": "Guest Fan", "email": "guest@example.com", "consent": "y"}
    client.post(f"/petitions/{petition.slug}/sign", data=data)
    (link,) = [u for u in links_in(outbox[0]) if "/signatures/confirm/" in u]
    path = link.split("localhost", 1)[1]
    client.post(path)
    db.session.execute(sa.delete(RecruiterCode))  # as if confirmed before share links existed
    db.session.commit()

    page = text(client.get(path))
    assert "Get my share link" in page and "?r=" not in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecruiterCode)) == 0

    again = text(client.post(path, follow_redirects=True))
    code = db.session.scalar(sa.select(RecruiterCode.code))
    assert f"?r={code}" in again
