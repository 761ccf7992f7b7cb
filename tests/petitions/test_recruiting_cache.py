"""With the page cache on: a member's share code is a per-viewer fill of the shared petition
page, never part of what another member or a visitor gets, and a share link is served from
the one cached page."""

from __future__ import annotations

from typing import Any

import pytest
from flask import g

from fancampaign.extensions import db
from fancampaign.petitions import services
from tests.factories import make_petition, make_user

pytestmark = [pytest.mark.usefixtures("page_cache_setup")]


def get(client: Any, path: str) -> tuple[str, str | None]:
    g.pop("page_cache", None)
    g.pop("csrf_token", None)
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True), g.get("page_cache")


def test_a_members_code_never_shows_in_anyone_elses_page(as_member):
    petition = make_petition(title="Sign for the sequel")
    ada, bob, cy = make_user("ada"), make_user("bob"), make_user("cyd")
    for signer in (ada, bob):
        services.sign_petition(signer, petition)
    db.session.commit()
    path = f"/petitions/{petition.slug}"
    ada_code = services.issue_recruiter_code(ada).code
    bob_code = services.issue_recruiter_code(bob).code
    db.session.commit()

    ada_html, _ = get(as_member(ada), path)
    bob_html, bob_from = get(as_member(bob), path)
    cy_html, cy_from = get(as_member(cy), path)
    visitor_html, _ = get(as_member(None), path)
    visitor_again, visitor_from = get(as_member(None), path)
    by_link, link_from = get(as_member(None), f"{path}?r={ada_code}")

    assert f"?r={ada_code}" in ada_html and "Now help it grow" in ada_html
    assert bob_from == cy_from == "hit"  # one shared rendering, filled per member
    assert f"?r={bob_code}" in bob_html
    for other in (bob_html, cy_html, visitor_html, visitor_again, by_link):
        assert ada_code not in other
    for other in (ada_html, cy_html, visitor_html, by_link):
        assert bob_code not in other
    assert "Now help it grow" not in cy_html + visitor_html + by_link
    assert visitor_from == link_from == "hit"  # the share link is served the cached page


def test_you_brought_n_is_the_members_own_in_the_shared_page(as_member):
    petition = make_petition()
    ada, bob = make_user("ada"), make_user("bob")
    services.sign_petition(ada, petition)
    services.sign_petition(bob, petition)
    code = services.issue_recruiter_code(ada).code
    services.sign_petition(make_user("friend"), petition, recruiter_code=code)
    db.session.commit()
    path = f"/petitions/{petition.slug}"
    get(as_member(make_user("warmup")), path)

    ada_html, ada_from = get(as_member(ada), path)
    bob_html, bob_from = get(as_member(bob), path)

    assert ada_from == bob_from == "hit"
    assert "You brought 1 fan to this petition." in ada_html
    assert "No one has signed through your link yet." in bob_html


def test_being_listed_shows_at_once_in_the_cached_page(as_member):
    petition = make_petition()
    rita = make_user("rita", display_name="Rita Recruits")
    services.sign_petition(rita, petition)
    code = services.issue_recruiter_code(rita).code
    services.sign_petition(make_user("friend"), petition, recruiter_code=code)
    db.session.commit()
    path = f"/petitions/{petition.slug}"
    assert "Rita Recruits" not in get(as_member(None), path)[0]

    as_member(rita).post(f"{path}/recruiters", data={"listed": "1"})

    assert "Rita Recruits" in get(as_member(None), path)[0]
