"""Unread markers and watch levels cost a fixed number of queries, whatever the page holds."""

from __future__ import annotations

import sqlalchemy as sa

from fancampaign.extensions import db
from fancampaign.forum import tracking
from fancampaign.forum.models import Post, Thread
from tests.factories import make_category, make_thread, make_user
from tests.forum.test_queries import MAX_QUERIES, add_posts, add_threads, queries_for


def read_some(member, threads):
    """The member has read some of the threads (up to their first post) and watches others."""
    for n, thread in enumerate(threads):
        first = db.session.scalar(
            sa.select(sa.func.min(Post.id)).where(Post.thread_id == thread.id)
        )
        if n % 2 == 0:
            tracking.record_read(member, thread, first)
        if n % 3 == 0:
            tracking.set_thread_level(member, thread, "watching")
    db.session.commit()


def test_category_pages_with_unread_markers_run_the_same_queries_at_5_and_500(client, login):
    authors = [make_user(commit=False) for _ in range(6)]
    small, big = make_category("small"), make_category("big")
    add_threads(small, authors, 5)
    add_threads(big, authors, 500)
    member = login(make_user("reader"))
    for category in (small, big):
        threads = db.session.scalars(
            sa.select(Thread).where(Thread.category_id == category.id).limit(40)
        ).all()
        read_some(member, threads)
        add_posts(threads[0], authors, 3)  # unread posts in a read thread
    tracking.set_category_level(member, big, "tracking")
    db.session.commit()
    client.get("/forum/small")  # a worker reads the site's settings once per version
    few = queries_for(client, "/forum/small")
    many = queries_for(client, "/forum/big")
    later = queries_for(client, "/forum/big?page=7")
    page = client.get("/forum/big").get_data(as_text=True)
    assert "unread" in page and "badge--new" in page
    assert few == many == later
    assert many <= MAX_QUERIES + 2  # the markers (one query) and the category's level (one)


def test_thread_pages_with_unread_markers_run_the_same_queries_at_5_and_500(client, login):
    authors = [make_user(commit=False) for _ in range(8)]
    category = make_category("general")
    small = make_thread(authors[0], category, title="Small")
    big = make_thread(authors[1], category, title="Big")
    add_posts(small, authors, 4)
    add_posts(big, authors, 499)
    member = login(make_user("reader"))
    for thread in (small, big):
        first = db.session.scalar(
            sa.select(sa.func.min(Post.id)).where(Post.thread_id == thread.id)
        )
        tracking.record_read(member, thread, first + 2)
    tracking.set_thread_level(member, big, "watching")
    db.session.commit()
    client.get(f"/forum/t/{small.id}")  # a worker reads the site's settings once per version
    few = queries_for(client, f"/forum/t/{small.id}")
    many = queries_for(client, f"/forum/t/{big.id}")
    later = queries_for(client, f"/forum/t/{big.id}?page=12")
    page = client.get(f"/forum/t/{big.id}").get_data(as_text=True)
    assert "Jump to your first unread post" in page
    assert '<option value="watching" selected>' in page
    assert few == many == later
    assert many <= MAX_QUERIES + 1  # the level and unread count: one query


def test_the_forum_index_with_markers_runs_the_same_queries_however_many_categories(client, login):
    authors = [make_user(commit=False) for _ in range(3)]
    member = login(make_user("reader"))
    for n in range(2):
        category = make_category(f"c{n}")
        add_threads(category, authors, 5)
        thread = db.session.scalars(
            sa.select(Thread).where(Thread.category_id == category.id)
        ).first()
        tracking.record_read(member, thread, 0)
    db.session.commit()
    client.get("/forum")  # a worker reads the site's settings once per version
    few = queries_for(client, "/forum")
    for n in range(2, 12):
        add_threads(make_category(f"c{n}"), authors, 50)
    assert "unread" in client.get("/forum").get_data(as_text=True)
    assert queries_for(client, "/forum") == few <= MAX_QUERIES + 1
