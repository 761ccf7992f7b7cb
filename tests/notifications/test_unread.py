"""Reading positions and unread markers: written apart from the thread page's GET, counted
from the visible posts, right after hiding, deleting and moving."""

from __future__ import annotations

import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.forum import services as forum_services
from fancampaign.forum import tracking
from fancampaign.forum.models import ThreadRead
from fancampaign.moderation import services as moderation
from fancampaign.notifications import services
from tests.factories import make_category, make_user
from tests.notifications.conftest import notes


def position(user):
    db.session.expire_all()
    return db.session.scalar(
        sa.select(ThreadRead.last_read_post_id).where(ThreadRead.user_id == user.id)
    )


def reply(user, thread, body="A reply."):
    post = forum_services.reply(user, thread, body)
    db.session.commit()
    return post


def unread(user, thread):
    db.session.expire_all()
    return tracking.thread_states(user, [thread.id])[thread.id].unread


def test_a_thread_never_opened_is_new_and_reading_it_counts_what_came_after(forum):
    state = tracking.thread_states(forum.koyomi, [forum.thread.id])[forum.thread.id]
    assert state.is_new and not state.has_read
    first = forum_services.first_post(forum.thread)
    tracking.record_read(forum.koyomi, forum.thread, first.id)
    for _ in range(3):
        reply(forum.hugo, forum.thread)
    state = tracking.thread_states(forum.koyomi, [forum.thread.id])[forum.thread.id]
    assert (state.is_new, state.unread) == (False, 3)


def test_the_position_only_moves_forward_and_is_clamped_to_the_thread(forum):
    posts = [reply(forum.hugo, forum.thread) for _ in range(3)]
    tracking.record_read(forum.koyomi, forum.thread, posts[2].id)
    tracking.record_read(forum.koyomi, forum.thread, posts[0].id)
    db.session.commit()
    assert position(forum.koyomi) == posts[2].id
    tracking.record_read(forum.koyomi, forum.thread, 10**9)
    assert position(forum.koyomi) == posts[2].id


def test_own_posts_are_never_unread(forum):
    tracking.record_read(forum.koyomi, forum.thread, forum_services.first_post(forum.thread).id)
    reply(forum.koyomi, forum.thread)
    reply(forum.hugo, forum.thread)
    assert unread(forum.koyomi, forum.thread) == 1


def test_unread_counts_stay_right_after_hide_delete_and_move(forum):
    moderator = make_user("modkoyo", role=Role.MODERATOR)
    tracking.record_read(forum.koyomi, forum.thread, forum_services.first_post(forum.thread).id)
    posts = [reply(forum.hugo, forum.thread, f"Reply {n}.") for n in range(4)]
    assert unread(forum.koyomi, forum.thread) == 4
    moderation.hide_item(moderator, moderation.get_item("post", posts[0].id), "Off topic")
    db.session.commit()
    assert unread(forum.koyomi, forum.thread) == 3
    forum_services.delete_post(forum.hugo, posts[1])
    db.session.commit()
    assert unread(forum.koyomi, forum.thread) == 2
    elsewhere = make_category("elsewhere")
    moderation.move_thread(
        moderator, moderation.get_item("thread", forum.thread.id), elsewhere, "Better there"
    )
    db.session.commit()
    assert unread(forum.koyomi, forum.thread) == 2
    moderation.restore_item(moderator, moderation.get_item("post", posts[0].id), "Fine after all")
    db.session.commit()
    assert unread(forum.koyomi, forum.thread) == 3


def test_viewing_a_thread_writes_nothing_the_beacon_records_the_position(forum, client, login):
    posts = [reply(forum.hugo, forum.thread) for _ in range(2)]
    login(forum.koyomi)
    page = client.get(f"/forum/t/{forum.thread.id}").get_data(as_text=True)
    assert position(forum.koyomi) is None
    assert f'action="/forum/t/{forum.thread.id}/read" data-read-beacon' in page
    assert f'src="/forum/t/{forum.thread.id}/read?upto={posts[-1].id}"' in page  # <noscript>
    response = client.post(f"/forum/t/{forum.thread.id}/read", data={"upto": str(posts[0].id)})
    assert response.status_code == 204
    assert unread(forum.koyomi, forum.thread) == 1


def test_the_noscript_pixel_records_the_pages_last_post(forum, client, login):
    posts = [reply(forum.hugo, forum.thread) for _ in range(2)]
    login(forum.koyomi)
    response = client.get(f"/forum/t/{forum.thread.id}/read?upto={posts[-1].id}")
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert response.headers["Cache-Control"] == "no-store"
    assert unread(forum.koyomi, forum.thread) == 0


def test_reading_to_the_end_marks_the_threads_notifications_read(forum, client, login):
    last = reply(forum.koyomi, forum.thread)
    assert services.unread_count(forum.alita) == 1
    login(forum.alita)
    client.post(f"/forum/t/{forum.thread.id}/read", data={"upto": str(last.id)})
    db.session.expire_all()
    assert services.unread_count(forum.alita) == 0


def test_visitors_reading_record_nothing(forum, client):
    assert client.post(f"/forum/t/{forum.thread.id}/read", data={"upto": "1"}).status_code == 204
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ThreadRead)) == 1  # alita's


def test_jump_to_first_unread(forum, client, login):
    first = forum_services.first_post(forum.thread)
    tracking.record_read(forum.koyomi, forum.thread, first.id)
    posts = [reply(forum.hugo, forum.thread) for _ in range(3)]
    db.session.commit()
    login(forum.koyomi)
    page = client.get(f"/forum/t/{forum.thread.id}").get_data(as_text=True)
    assert "Jump to your first unread post (3 unread)" in page
    response = client.get(f"/forum/t/{forum.thread.id}/unread")
    assert response.headers["Location"].endswith(f"#post-{posts[0].id}")
    tracking.record_read(forum.koyomi, forum.thread, posts[-1].id)
    db.session.commit()
    response = client.get(f"/forum/t/{forum.thread.id}/unread")
    assert response.headers["Location"].endswith("page=last#latest")


def test_the_category_list_shows_new_and_unread_markers(forum, client, login):
    second = forum_services.create_thread(forum.hugo, forum.general, "Soundtrack", "Junkie XL.")
    db.session.commit()
    tracking.record_read(forum.koyomi, forum.thread, forum_services.first_post(forum.thread).id)
    reply(forum.hugo, forum.thread)
    reply(forum.hugo, forum.thread)
    login(forum.koyomi)
    page = client.get("/forum/general").get_data(as_text=True)
    assert f'href="/forum/t/{forum.thread.id}/unread">2 unread' in page
    assert (
        page.count("badge--new") == 1
        and 'Soundtrack</a> <strong class="badge badge--new">New' in page
    )
    assert second.id


def test_the_notifications_page_groups_by_thread_and_links_to_the_first_unread(
    forum, client, login
):
    for _ in range(3):
        reply(forum.koyomi, forum.thread)
    login(forum.alita)
    page = client.get("/notifications").get_data(as_text=True)
    assert "3 new replies in “Sequel now”" in page
    assert f'name="next" value="/forum/t/{forum.thread.id}/unread"' in page
    assert len(notes(forum.alita)) == 1
    html = client.get("/forum").get_data(as_text=True)
    assert '(1<span class="visually-hidden"> unread</span>)' in html  # the header's count


def test_the_forum_index_counts_unread_and_new_threads_per_category(forum, client, login):
    forum_services.create_thread(forum.hugo, forum.general, "Soundtrack", "Junkie XL.")
    muted = forum_services.create_thread(forum.hugo, forum.general, "Muted", "Shh.")
    db.session.commit()
    tracking.record_read(forum.koyomi, forum.thread, forum_services.first_post(forum.thread).id)
    tracking.set_thread_level(forum.koyomi, muted, "muted")
    reply(forum.hugo, forum.thread)
    login(forum.koyomi)
    page = client.get("/forum").get_data(as_text=True)
    assert '<strong class="badge badge--new">1 unread · 1 new</strong>' in page
    login(forum.hugo)
    assert "badge--new" not in client.get("/forum").get_data(as_text=True)
