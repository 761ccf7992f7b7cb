"""No N+1: the forum pages run the same few queries with 5 or 500 threads / posts on them."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db, utcnow
from fancampaign.forum import services
from fancampaign.forum.models import Post, Thread
from tests.factories import make_category, make_thread, make_user
from tests.helpers import count_queries

# A member's thread page: the login, the thread, the count, the posts (with their authors,
# avatars and the posts they answer), the likes, the bookmarks, the draft, the site settings.
MAX_QUERIES = 9


def queries_for(client: Any, url: str) -> int:
    db.session.expire_all()
    with count_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len([s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "PRAGMA"))])


def add_threads(category: Any, authors: list[Any], n: int) -> None:
    """Bulk rows (each with its first post), then exact counters."""
    now = utcnow()
    for i in range(n):
        author = authors[i % len(authors)]
        thread = Thread(
            category_id=category.id,
            title=f"Bulk thread {i}",
            slug=f"bulk-thread-{i}",
            author_id=author.id,
            last_poster_id=authors[(i + 1) % len(authors)].id,
            last_activity_at=now,
            is_pinned=i % 50 == 0,
        )
        db.session.add(thread)
        db.session.flush()
        db.session.add(
            Post(thread_id=thread.id, author_id=author.id, is_first=True, body="x", body_html="x")
        )
    db.session.flush()
    services.recount_category(category.id)
    db.session.commit()


def add_posts(thread: Thread, authors: list[Any], n: int) -> None:
    db.session.add_all(
        Post(
            thread_id=thread.id,
            author_id=authors[i % len(authors)].id,
            body=f"post {i}",
            body_html=f"<p>post {i}</p>",
            like_count=i % 3,
            is_hidden=i % 40 == 0,
        )
        for i in range(n)
    )
    db.session.flush()
    services.recount_thread(thread)
    db.session.commit()


VIEWERS = ["visitor", "member", "moderator"]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_category_page_queries_do_not_grow(client: Any, login: Any, viewer: str) -> None:
    authors = [make_user(commit=False) for _ in range(6)]
    small, big = make_category("small"), make_category("big")
    add_threads(small, authors, 5)
    add_threads(big, authors, 500)
    if viewer != "visitor":
        login(make_user(role=Role(viewer if viewer != "member" else "member")))
    client.get("/forum/small")  # a worker reads the site's settings once per version
    few = queries_for(client, "/forum/small")
    many = queries_for(client, "/forum/big")
    later = queries_for(client, "/forum/big?page=7")
    assert few == many == later
    assert many <= MAX_QUERIES


@pytest.mark.parametrize("viewer", VIEWERS)
def test_thread_page_queries_do_not_grow(client: Any, login: Any, viewer: str) -> None:
    authors = [make_user(commit=False) for _ in range(8)]
    category = make_category("general")
    small = make_thread(authors[0], category, title="Small")
    big = make_thread(authors[1], category, title="Big")
    add_posts(small, authors, 4)
    add_posts(big, authors, 499)
    if viewer != "visitor":
        user = login(make_user(role=Role(viewer)))
        # Likes by the viewer: read in one query for the page.
        for post in db.session.scalars(sa.select(Post).where(Post.thread_id == big.id).limit(30)):
            if post.author_id != user.id and not post.is_hidden:
                services.toggle_like(user, post)
        db.session.commit()
    few = queries_for(client, f"/forum/t/{small.id}")
    many = queries_for(client, f"/forum/t/{big.id}")
    later = queries_for(client, f"/forum/t/{big.id}?page=12")
    assert few == many == later
    assert many <= MAX_QUERIES


def test_index_queries_do_not_grow(client: Any) -> None:
    authors = [make_user(commit=False) for _ in range(3)]
    for n in range(3):
        add_threads(make_category(f"c{n}"), authors, 2)
    few = queries_for(client, "/forum")
    for n in range(3, 10):
        add_threads(make_category(f"c{n}"), authors, 20)
    assert queries_for(client, "/forum") == few <= MAX_QUERIES


@pytest.mark.parametrize("viewer", VIEWERS)
def test_quotes_cost_one_query_however_many_and_however_hidden(
    client: Any, login: Any, viewer: str
) -> None:
    from fancampaign.text import quote_markdown

    authors = [make_user(commit=False) for _ in range(4)]
    category = make_category("general")
    one, many = (make_thread(authors[0], category, title=t) for t in ("One", "Many"))
    # "One": a full first page that quotes nothing (one of its posts is hidden, so moderators
    # see one more), then one quote on page 2.
    add_posts(one, authors, services.PER_PAGE)
    add_posts(many, authors, 1)
    sources = db.session.scalars(sa.select(Post).where(Post.thread_id == one.id)).all()
    services.reply(authors[1], one, quote_markdown("x", "a quote", sources[5].id) + "mine")
    # "Many": a page of replies each quoting another post, some of them hidden.
    for n, source in enumerate(sources[: services.PER_PAGE]):
        body = quote_markdown("x", source.body, source.id) + f"reply {n}"
        services.reply(authors[n % 4], many, body)
    db.session.commit()
    if viewer != "visitor":
        login(make_user(role=Role(viewer)))
    plain = queries_for(client, f"/forum/t/{one.id}")
    assert queries_for(client, f"/forum/t/{one.id}?page=2") == plain + 1
    assert queries_for(client, f"/forum/t/{many.id}") == plain + 1
