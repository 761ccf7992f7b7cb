"""Thread and category pages shared by every member: each viewer's watch level, unread markers
and jump to unread are filled into their slots, read with the login's query."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fancampaign.extensions import db
from fancampaign.forum import services as forum_services
from fancampaign.forum import tracking
from fancampaign.forum.models import Post
from tests.factories import make_user
from tests.helpers import count_queries
from tests.test_member_pages import get

pytestmark = [pytest.mark.usefixtures("page_cache_setup")]


def selected(html):
    start = html.index('id="watch-level-')
    block = html[start : html.index("</select>", start)]
    return block.split(" selected>")[0].rsplit('value="', 1)[1].split('"')[0]


def test_each_member_gets_their_own_level_and_unread_on_the_shared_thread_page(forum, as_member):
    first = forum_services.first_post(forum.thread)
    tracking.record_read(forum.koyomi, forum.thread, first.id)
    tracking.set_thread_level(forum.koyomi, forum.thread, "watching")
    tracking.set_thread_level(forum.hugo, forum.thread, "muted")
    fan = make_user("fan")
    for n in range(2):
        forum_services.reply(fan, forum.thread, f"Reply {n}.")
    db.session.commit()
    reader = make_user("reader")
    get(as_member(reader), f"/forum/t/{forum.thread.id}")  # renders the shared page
    koyomi_html, koyomi_from = get(as_member(forum.koyomi), f"/forum/t/{forum.thread.id}")
    hugo_html, hugo_from = get(as_member(forum.hugo), f"/forum/t/{forum.thread.id}")
    assert (koyomi_from, hugo_from) == ("hit", "hit")
    assert selected(koyomi_html) == "watching" and selected(hugo_html) == "muted"
    assert "Jump to your first unread post (2 unread)" in koyomi_html
    assert "Jump to your first unread" not in hugo_html
    # Another reader's position is theirs alone (each row read for its own viewer).
    caught_up = make_user("caughtup")
    last = db.session.scalar(sa.select(sa.func.max(Post.id)))
    tracking.record_read(caught_up, forum.thread, last - 1)
    db.session.commit()
    html, source = get(as_member(caught_up), f"/forum/t/{forum.thread.id}")
    assert source == "hit" and "(1 unread)" in html


def test_a_shared_thread_page_costs_the_member_one_query(forum, as_member):
    tracking.record_read(forum.koyomi, forum.thread, forum_services.first_post(forum.thread).id)
    forum_services.reply(make_user("fan"), forum.thread, "New.")
    db.session.commit()
    get(as_member(make_user("warmup")), f"/forum/t/{forum.thread.id}")
    client = as_member(forum.koyomi)
    with count_queries() as statements:
        html, source = get(client, f"/forum/t/{forum.thread.id}")
    assert source == "hit" and "(1 unread)" in html
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1  # the login, with the likes and the thread's state in it


def test_each_member_gets_their_own_markers_on_the_shared_category_page(forum, as_member):
    other = forum_services.create_thread(forum.hugo, forum.general, "Soundtrack", "Junkie XL.")
    db.session.commit()
    tracking.record_read(forum.koyomi, forum.thread, forum_services.first_post(forum.thread).id)
    tracking.set_category_level(forum.koyomi, forum.general, "tracking")
    forum_services.reply(forum.hugo, forum.thread, "One more.")
    db.session.commit()
    get(as_member(make_user("warmup")), "/forum/general")
    client = as_member(forum.koyomi)
    with count_queries() as statements:
        koyomi_html, source = get(client, "/forum/general")
    assert source == "hit"
    assert f'href="/forum/t/{forum.thread.id}/unread">1 unread' in koyomi_html
    assert 'Soundtrack</a> <strong class="badge badge--new">New' in koyomi_html
    assert selected(koyomi_html) == "tracking"
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1  # the login, with the category's level and the threads' states
    hugo_html, _ = get(as_member(forum.hugo), "/forum/general")
    assert "unread" not in hugo_html.split("thread-list")[1].split("</ul>")[0]
    assert selected(hugo_html) == "normal"
    assert other.id and db.session.scalar(sa.select(sa.func.count(Post.id))) == 3


def test_each_member_gets_their_own_counts_on_the_shared_forum_index(forum, as_member):
    tracking.record_read(forum.koyomi, forum.thread, forum_services.first_post(forum.thread).id)
    forum_services.reply(forum.hugo, forum.thread, "One more.")
    db.session.commit()
    get(as_member(make_user("warmup")), "/forum")
    koyomi_html, source = get(as_member(forum.koyomi), "/forum")
    assert source == "hit" and ">1 unread</strong>" in koyomi_html
    hugo_html, _ = get(as_member(forum.hugo), "/forum")  # he wrote the new post
    assert "unread</strong>" not in hugo_html
    alita_html, _ = get(as_member(forum.alita), "/forum")  # she had read up to her own post
    assert ">1 unread</strong>" in alita_html
