"""Likes notify the post's author, added up in one row while it is unread."""

from __future__ import annotations

import sqlalchemy as sa

from fancampaign.extensions import db
from fancampaign.forum import services as forum_services
from fancampaign.forum.models import Post
from fancampaign.notifications import services
from tests.factories import make_user
from tests.notifications.conftest import notes, outbox


def first_post(thread):
    return db.session.scalar(sa.select(Post).where(Post.thread_id == thread.id))


def test_five_likes_make_one_row_koyomi_and_4_others(forum):
    post = first_post(forum.thread)
    for name in ("one", "two", "three", "four"):
        forum_services.toggle_like(make_user(name, commit=False), post)
    forum_services.toggle_like(forum.koyomi, post)
    db.session.commit()
    [note] = notes(forum.alita)
    assert note.kind == "like" and note.count == 5
    assert note.display_text == "koyomi and 4 others liked your post in “Sequel now”"
    assert note.url == f"/forum/p/{post.id}"
    assert outbox() == []  # likes are in the app only by default


def test_one_like_says_who(forum):
    forum_services.toggle_like(forum.koyomi, first_post(forum.thread))
    db.session.commit()
    assert [n.display_text for n in notes(forum.alita)] == [
        "koyomi liked your post in “Sequel now”"
    ]


def test_taking_a_like_back_tells_nobody_and_likes_after_reading_start_a_new_row(forum):
    post = first_post(forum.thread)
    forum_services.toggle_like(forum.koyomi, post)
    forum_services.toggle_like(forum.koyomi, post)  # unlike
    assert len(notes(forum.alita)) == 1
    services.mark_read(forum.alita)
    forum_services.toggle_like(forum.hugo, post)
    db.session.commit()
    assert [(n.count, n.is_unread) for n in notes(forum.alita)] == [(1, False), (1, True)]


def test_likes_can_be_turned_off(forum):
    services.save_preferences(forum.alita, {"like": "off"}, "weekly")
    forum_services.toggle_like(forum.koyomi, first_post(forum.thread))
    db.session.commit()
    assert notes(forum.alita) == []
