"""New-member safety: the first N posts wait for approval; links after N approved posts."""

from __future__ import annotations

import pytest

from fancampaign.accounts.models import Role
from fancampaign.admin import services as admin
from fancampaign.extensions import db
from fancampaign.forum.services import create_thread, edit_post, reply
from fancampaign.moderation.newcomers import LinksNotYet, approved_posts
from fancampaign.moderation.services import get_item, restore_item
from tests.factories import make_category, make_thread, make_user


@pytest.fixture
def site(app):
    boss = make_user("boss", role=Role.ADMIN)
    thread = make_thread(boss, make_category())
    return boss, thread


def _settings(boss, **values):
    admin.update_settings(boss, values)
    db.session.commit()


def test_nothing_is_held_while_the_setting_is_off(site):
    _boss, thread = site
    post = reply(make_user("gally"), thread, "Hello there")
    assert not post.is_hidden


def test_a_new_members_first_posts_wait_until_approved(site):
    boss, thread = site
    _settings(boss, held_first_posts=2)
    fan = make_user("gally")
    first = reply(fan, thread, "My first post")
    second = reply(fan, thread, "My second post")
    assert first.is_held and second.is_held
    moderator = make_user("gelda", role=Role.MODERATOR)
    restore_item(moderator, get_item("post", first.id), "Welcome")
    restore_item(moderator, get_item("post", second.id), "Welcome")
    db.session.commit()
    assert approved_posts(fan) == 2
    assert not reply(fan, thread, "Third, straight out").is_hidden


def test_organisers_are_never_held(site):
    boss, thread = site
    _settings(boss, held_first_posts=5)
    assert not reply(make_user("org", role=Role.ORGANISER), thread, "Hi").is_hidden


def test_a_held_thread_waits_with_its_first_post(site):
    boss, _thread = site
    _settings(boss, held_first_posts=1)
    thread = create_thread(
        make_user("gally"), make_category("questions"), "A question", "Hello all"
    )
    assert thread.is_hidden


def test_links_wait_for_enough_approved_posts(site):
    boss, thread = site
    _settings(boss, links_after_posts=1)
    fan = make_user("gally")
    for text in ("see https://example.com", "www.example.com", "[here](/x)"):
        with pytest.raises(LinksNotYet) as refused:
            reply(fan, thread, text)
        assert "after 1 approved post" in refused.value.message
    post = reply(fan, thread, "No links, promise")
    db.session.commit()
    assert not post.is_hidden
    assert not reply(fan, thread, "Now: https://example.com").is_hidden
    _settings(boss, links_after_posts=2)
    newcomer = make_user("zapan")
    plain = reply(newcomer, thread, "Nothing to see")
    with pytest.raises(LinksNotYet):
        edit_post(newcomer, plain, "Edited in: https://example.com")


def test_a_link_too_early_comes_back_on_the_reply_form(site, client, login):
    boss, thread = site
    _settings(boss, links_after_posts=3)
    login(make_user("gally"))
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "https://spam.example"})
    assert response.status_code == 400
    assert "links after 3 approved posts" in response.get_data(as_text=True)
