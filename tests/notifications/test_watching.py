"""Watching, tracking, normal, muted: per thread and per category, set automatically as in
Discourse, changed from a small form on the page; mute stops everything."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fancampaign.errors import NotAllowed
from fancampaign.extensions import db
from fancampaign.forum import services as forum_services
from fancampaign.forum import tracking
from fancampaign.forum.models import ThreadWatch
from fancampaign.notifications import services
from fancampaign.notifications.models import NotificationEmail
from fancampaign.text import quote_markdown
from tests.notifications.conftest import notes, outbox


def reply(user, thread, body="Count me in."):
    post = forum_services.reply(user, thread, body)
    db.session.commit()
    return post


def test_starting_a_thread_watches_it_and_replying_tracks_it(forum):
    assert tracking.thread_level(forum.alita, forum.thread) == "watching"
    assert tracking.thread_level(forum.koyomi, forum.thread) == "normal"
    reply(forum.koyomi, forum.thread)
    assert tracking.thread_level(forum.koyomi, forum.thread) == "tracking"
    reply(forum.alita, forum.thread)
    assert tracking.thread_level(forum.alita, forum.thread) == "watching"  # never lowered


def test_replying_never_overrides_a_level_the_member_chose(forum):
    tracking.set_thread_level(forum.koyomi, forum.thread, "normal")
    reply(forum.koyomi, forum.thread)
    assert tracking.thread_level(forum.koyomi, forum.thread) == "normal"


def test_watchers_hear_of_every_reply_grouped_per_thread(forum):
    tracking.set_thread_level(forum.hugo, forum.thread, "watching")
    db.session.commit()
    for _ in range(3):
        reply(forum.koyomi, forum.thread)
    [note] = notes(forum.hugo)
    assert note.kind == "watching" and note.count == 3
    assert note.display_text == "3 new replies in “Sequel now”"
    assert note.url == f"/forum/t/{forum.thread.id}/unread"
    [author_note] = notes(forum.alita)
    assert author_note.kind == "reply" and author_note.count == 3


def test_a_read_group_is_closed_and_the_next_reply_opens_another(forum):
    reply(forum.koyomi, forum.thread)
    services.mark_read(forum.alita)
    reply(forum.koyomi, forum.thread)
    assert [n.count for n in notes(forum.alita)] == [1, 1]


def test_trackers_and_normal_members_hear_only_of_what_is_addressed_to_them(forum):
    reply(forum.koyomi, forum.thread)  # koyomi now tracks it
    reply(forum.hugo, forum.thread, "Nothing for koyomi here.")
    assert notes(forum.koyomi) == []
    reply(forum.hugo, forum.thread, "@koyomi what do you think?")
    assert [n.kind for n in notes(forum.koyomi)] == ["mention"]


def test_category_watchers_hear_of_new_threads_and_their_posts(forum):
    tracking.set_category_level(forum.hugo, forum.general, "watching")
    db.session.commit()
    thread = forum_services.create_thread(forum.koyomi, forum.general, "Box office", "Numbers.")
    db.session.commit()
    reply(forum.alita, thread)
    kinds = [n.kind for n in notes(forum.hugo)]
    assert kinds == ["new_thread", "watching"]
    # A level set for the thread beats the category's.
    tracking.set_thread_level(forum.hugo, thread, "normal")
    services.mark_read(forum.hugo)
    reply(forum.alita, thread)
    assert [n for n in notes(forum.hugo) if n.is_unread] == []


def test_mute_stops_everything(forum, later):
    hugo = forum.hugo
    tracking.set_thread_level(hugo, forum.thread, "watching")
    db.session.commit()
    mine = reply(hugo, forum.thread, "My take.")
    reply(forum.koyomi, forum.thread, "Before the mute.")  # opens a mail batch for hugo
    services.mark_read(hugo)
    tracking.set_thread_level(hugo, forum.thread, "muted")
    db.session.commit()
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(NotificationEmail.user_id == hugo.id))
        == 0
    )  # the waiting mail went with the mute
    reply(forum.koyomi, forum.thread, "@hugo are you there?")
    reply(forum.koyomi, forum.thread, quote_markdown("hugo", mine.body, mine.id) + "Agreed.")
    forum_services.toggle_like(forum.koyomi, mine)
    db.session.commit()
    assert [n for n in notes(hugo) if n.is_unread] == []
    services.send_batched_mail(later(minutes=11))
    assert outbox(hugo.email) == []
    assert tracking.thread_states(hugo, [forum.thread.id])[forum.thread.id].unread == 0


def test_muting_a_category_mutes_its_threads_unless_set_for_the_thread(forum):
    tracking.set_category_level(forum.alita, forum.general, "muted")
    db.session.execute(sa.delete(ThreadWatch))  # no level of her own for her thread
    db.session.commit()
    reply(forum.koyomi, forum.thread, "@alita hello")
    assert notes(forum.alita) == []


def test_visitors_cannot_follow_anything(forum):
    from flask_login import AnonymousUserMixin

    with pytest.raises(NotAllowed):
        tracking.set_thread_level(AnonymousUserMixin(), forum.thread, "watching")


def test_the_watch_form_works_without_js(forum, client, login):
    login(forum.koyomi)
    page = client.get(f"/forum/t/{forum.thread.id}").get_data(as_text=True)
    assert f'action="/forum/t/{forum.thread.id}/watch"' in page
    assert '<label class="watch-control__label" for="watch-level-thread">' in page
    response = client.post(f"/forum/t/{forum.thread.id}/watch", data={"level": "watching"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/forum/t/{forum.thread.id}/sequel-now"
    assert tracking.thread_level(forum.koyomi, forum.thread) == "watching"
    page = client.get(f"/forum/t/{forum.thread.id}").get_data(as_text=True)
    assert '<option value="watching" selected>' in page
    assert client.post(f"/forum/t/{forum.thread.id}/watch", data={"level": "x"}).status_code == 400


def test_the_category_watch_form(forum, client, login):
    login(forum.koyomi)
    response = client.post("/forum/general/watch", data={"level": "tracking"})
    assert response.headers["Location"] == "/forum/general"
    assert tracking.category_level(forum.koyomi, forum.general) == "tracking"


def test_visitors_are_sent_to_log_in_and_see_no_watch_form(forum, client):
    assert "watch-control" not in client.get(f"/forum/t/{forum.thread.id}").get_data(as_text=True)
    response = client.post(f"/forum/t/{forum.thread.id}/watch", data={"level": "watching"})
    assert response.headers["Location"].startswith("/login")


def test_export_has_what_i_follow_and_erasure_forgets_it(forum):
    from fancampaign.accounts import services as accounts
    from fancampaign.forum.models import ThreadRead

    tracking.set_category_level(forum.koyomi, forum.general, "watching")
    reply(forum.koyomi, forum.thread)
    services.save_preferences(forum.koyomi, {"like": "off"}, "daily")
    data = accounts.export_data(forum.koyomi)
    assert data["forum_following"]["categories"] == [
        {"category_id": forum.general.id, "level": "watching"}
    ]
    assert data["forum_following"]["threads"][0]["level"] == "tracking"
    assert data["notification_settings"]["channels"]["like"] == "off"
    accounts.erase_user(forum.koyomi)
    db.session.commit()
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(ThreadRead.user_id == forum.koyomi.id))
        == 0
    )
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(ThreadWatch.user_id == forum.koyomi.id))
        == 0
    )
    assert services.preferences(forum.koyomi) is None
