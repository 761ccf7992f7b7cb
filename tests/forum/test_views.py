"""Forum pages through the client: statuses, redirects, what is shown, and what changed."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db, utcnow
from fancampaign.forum import services
from fancampaign.forum.models import Category, Post, Thread
from fancampaign.notifications.models import Notification
from tests.factories import make_category, make_reply, make_thread, make_user
from tests.helpers import REDIS_URL, needs_redis


def count(model: Any) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def reply_box(html: str) -> str:
    start = html.index('id="body"')
    return html[start : html.index("</textarea>", start)]


def main_html(response: Any) -> str:
    text = response.get_data(as_text=True)
    return text[text.index("<main") : text.index("</main>")]


# Reading --------------------------------------------------------------------------------


def test_index_lists_categories_with_counts_and_latest_activity(client: Any) -> None:
    general = make_category("general", name="Campaign HQ", description="Plans and tactics")
    make_category("off-topic", name="Off-topic")
    make_thread(category=general, title="Billboard fund", replies=2)
    response = client.get("/forum")
    assert response.status_code == 200
    html = main_html(response)
    assert "Campaign HQ" in html and "Plans and tactics" in html and "Off-topic" in html
    assert "1 thread" in html and "3 posts" in html
    assert "Billboard fund" in html


def test_category_lists_pinned_first_then_latest_activity(client: Any) -> None:
    category = make_category("general")
    old = make_thread(category=category, title="Old news")
    pinned = make_thread(category=category, title="Read me first")
    newer = make_thread(category=category, title="Fresh talk")
    pinned.is_pinned = True
    make_reply(make_user(), old, "Bump")  # old becomes the most recent activity
    db.session.commit()
    html = main_html(client.get("/forum/general"))
    positions = [html.index(t) for t in ("Read me first", "Old news", "Fresh talk")]
    assert positions == sorted(positions)
    assert newer


def test_category_pages_are_paginated(client: Any) -> None:
    category = make_category("general")
    author = make_user()
    for n in range(22):
        services.create_thread(author, category, f"Thread number {n:02d}", "Body")
    db.session.commit()
    first = main_html(client.get("/forum/general"))
    assert "Thread number 21" in first and "Thread number 01" not in first
    second = main_html(client.get("/forum/general?page=2"))
    assert "Thread number 01" in second and "Thread number 21" not in second
    assert client.get("/forum/general?page=abc").status_code == 200


def test_unknown_things_are_404(client: Any) -> None:
    assert client.get("/forum/nope").status_code == 404
    assert client.get("/forum/t/999").status_code == 404
    assert client.get("/forum/p/999").status_code == 404
    assert client.get("/forum/nope/new").status_code == 404


def test_thread_page_with_or_without_slug(client: Any) -> None:
    thread = make_thread(title="Where should Alita's story go next?")
    assert client.get(f"/forum/t/{thread.id}").status_code == 200
    response = client.get(f"/forum/t/{thread.id}/{thread.slug}")
    assert "Where should Alita&#39;s story go next?" in response.get_data(as_text=True)
    response = client.get(f"/forum/t/{thread.id}/old-title?page=2")
    assert response.status_code == 301
    assert response.location.endswith(f"/forum/t/{thread.id}/{thread.slug}?page=2")


def test_thread_page_is_paginated_with_jump_to_latest(client: Any) -> None:
    thread = make_thread(replies=25)
    html = main_html(client.get(f"/forum/t/{thread.id}"))
    assert "Reply number 19." in html and "Reply number 20." not in html
    assert "Jump to the latest post" in html
    last = main_html(client.get(f"/forum/t/{thread.id}?page=last"))
    assert "Reply number 25." in last and 'id="latest"' in last
    post = db.session.scalars(sa.select(Post).order_by(Post.id.desc())).first()
    response = client.get(f"/forum/p/{post.id}")
    assert response.status_code == 302
    assert response.location.endswith(f"/forum/t/{thread.id}/a-thread?page=2#post-{post.id}")


def test_visitor_sees_log_in_to_reply(client: Any) -> None:
    thread = make_thread()
    html = main_html(client.get(f"/forum/t/{thread.id}"))
    assert "Log in to reply" in html and 'action="/forum/t/' not in html


def test_locked_thread_says_so_and_shows_no_form(client: Any, login: Any) -> None:
    thread = make_thread()
    thread.is_locked = True
    db.session.commit()
    login(make_user())
    html = main_html(client.get(f"/forum/t/{thread.id}"))
    assert "This thread is locked" in html and "Post reply" not in html
    login(make_user(role=Role.MODERATOR))
    assert "Post reply" in main_html(client.get(f"/forum/t/{thread.id}"))


def test_hidden_posts_show_only_to_moderators_and_marked_to_their_author(
    client: Any, login: Any
) -> None:
    author = make_user()
    thread = make_thread()
    post = make_reply(author, thread, "Hidden words")
    post.is_hidden = True
    post.hidden_reason = "abuse"
    services.recount_thread(thread)
    db.session.commit()
    assert "Hidden words" not in main_html(client.get(f"/forum/t/{thread.id}"))
    login(make_user())
    assert "Hidden words" not in main_html(client.get(f"/forum/t/{thread.id}"))
    login(author)
    html = main_html(client.get(f"/forum/t/{thread.id}"))
    assert "Hidden words" in html and "post--hidden" in html
    login(make_user(role=Role.MODERATOR))
    assert "Hidden words" in main_html(client.get(f"/forum/t/{thread.id}"))


def test_held_reply_is_marked_waiting_for_review_for_its_author(
    client: Any, login: Any, watched: Any
) -> None:
    watched.hold.add("casino")
    thread = make_thread()
    author = login(make_user())
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "Best casino here"})
    assert response.status_code == 302
    html = main_html(client.get(response.location))
    assert "Best casino here" in html and "Waiting for review" in html
    login(make_user())
    assert "Best casino here" not in main_html(client.get(f"/forum/t/{thread.id}"))
    assert author


def test_blocked_reply_comes_back_with_the_message(client: Any, login: Any, watched: Any) -> None:
    watched.block["slur"] = "That word is not welcome here."
    thread = make_thread()
    login(make_user())
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "a slur"})
    assert response.status_code == 400
    assert "That word is not welcome here." in response.get_data(as_text=True)
    assert count(Post) == 1


# Writing ------------------------------------------------------------------------------------


def test_start_a_thread(client: Any, login: Any) -> None:
    make_category("fan-theories")
    login(make_user())
    assert "Start thread" in client.get("/forum/fan-theories/new").get_data(as_text=True)
    response = client.post(
        "/forum/fan-theories/new", data={"title": "  Nova lives  ", "body": "Discuss."}
    )
    thread = db.session.scalars(sa.select(Thread)).one()
    assert response.status_code == 302
    assert response.location.endswith(f"/forum/t/{thread.id}/nova-lives")
    assert thread.title == "Nova lives"
    assert "Your thread is started." in client.get(response.location).get_data(as_text=True)


def test_visitor_is_sent_to_log_in(client: Any) -> None:
    make_category("general")
    thread = make_thread()
    response = client.get("/forum/general/new")
    assert response.status_code == 302 and "/login" in response.location
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "Hi"})
    assert response.status_code == 302 and "/login" in response.location
    assert count(Post) == 1


def test_reply_redirects_to_the_post(client: Any, login: Any) -> None:
    thread = make_thread()
    login(make_user())
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "Me too!"})
    post = db.session.scalars(sa.select(Post).order_by(Post.id.desc())).first()
    assert response.location.endswith(f"/forum/t/{thread.id}/a-thread#post-{post.id}")
    assert thread.reply_count == 1


def test_reply_with_next_goes_back_to_the_article_but_never_off_site(
    client: Any, login: Any
) -> None:
    thread = make_thread()
    login(make_user())
    response = client.post(
        f"/forum/t/{thread.id}/reply", data={"body": "Nice article", "next": "/news/alita-2"}
    )
    post = db.session.scalars(sa.select(Post).order_by(Post.id.desc())).first()
    assert response.location == f"/news/alita-2#post-{post.id}"
    for evil in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "Again", "next": evil})
        assert "/forum/t/" in response.location and "evil" not in response.location


def test_quote_link_prefills_the_reply_box(client: Any, login: Any) -> None:
    hugo = make_user("hugo")
    thread = make_thread(hugo, body="What do you want to see in the sequel?")
    post = services.first_post(thread)
    login(make_user())
    html = main_html(client.get(f"/forum/t/{thread.id}?quote={post.id}"))
    textarea = reply_box(html)
    assert f"&gt; @hugo [wrote](/forum/p/{post.id}):" in textarea
    assert "&gt; What do you want to see in the sequel?" in textarea
    assert 'data-quote-target="body"' in html
    # A post from another thread, or an unknown one, quotes nothing.
    other = services.first_post(make_thread(body="Elsewhere"))
    html = main_html(client.get(f"/forum/t/{thread.id}?quote={other.id}"))
    assert "Elsewhere" not in reply_box(html)
    assert client.get(f"/forum/t/{thread.id}?quote=zzz").status_code == 200


def test_mention_links_to_the_profile_and_notifies(client: Any, login: Any) -> None:
    koyomi = make_user("koyomi")
    thread = make_thread()
    login(make_user())
    client.post(f"/forum/t/{thread.id}/reply", data={"body": "Ask @koyomi"})
    html = main_html(client.get(f"/forum/t/{thread.id}"))
    assert '<a href="/u/koyomi" class="mention"' in html
    [note] = db.session.scalars(sa.select(Notification).where(Notification.user_id == koyomi.id))
    assert note.kind == "mention" and note.url.startswith("/forum/p/")


def test_sanitiser_at_the_view_level(client: Any, login: Any) -> None:
    thread = make_thread()
    login(make_user())
    body = (
        "<script>alert(1)</script> <img src=x onerror=alert(1)> "
        "[click](javascript:alert(1)) ![x](javascript:alert(1)) "
        '<a href="#" onclick="alert(1)">x</a>'
    )
    client.post(f"/forum/t/{thread.id}/reply", data={"body": body})
    post = db.session.scalars(sa.select(Post).order_by(Post.id.desc())).first()
    page = main_html(client.get(f"/forum/t/{thread.id}"))
    # The only images on the page are the authors' avatars.
    page = re.sub(r'<img class="avatar" src="/u/\w+/avatar\?v=\w+"[^>]*>', "", page)
    for stored in (post.body_html, page):
        assert "<script" not in stored
        assert "<img" not in stored
        assert 'href="javascript' not in stored.lower()
        assert "onerror=" not in stored.replace("onerror=alert(1)&gt;", "")
        assert '<a href="#" onclick' not in stored


def test_edit_own_post_shows_edited_and_keeps_revisions(client: Any, login: Any) -> None:
    author = login(make_user())
    thread = make_thread(author, body="First draft")
    post = services.first_post(thread)
    form = client.get(f"/forum/p/{post.id}/edit").get_data(as_text=True)
    assert "First draft" in form and 'name="title"' in form
    response = client.post(
        f"/forum/p/{post.id}/edit", data={"title": "Better title", "body": "Second draft"}
    )
    assert response.status_code == 302
    html = main_html(client.get(response.location))
    assert "Second draft" in html and "edited" in html and "Better title" in html
    assert "Earlier versions" not in html
    assert client.get(f"/forum/p/{post.id}/revisions").status_code == 403
    login(make_user(role=Role.MODERATOR))
    revisions = client.get(f"/forum/p/{post.id}/revisions")
    assert revisions.status_code == 200 and "First draft" in revisions.get_data(as_text=True)


def test_delete_own_post_shows_deleted_by_author(client: Any, login: Any) -> None:
    author = login(make_user())
    thread = make_thread()
    post = make_reply(author, thread, "Regrettable")
    response = client.post(f"/forum/p/{post.id}/delete")
    assert response.status_code == 302
    html = main_html(client.get(response.location))
    assert "Regrettable" not in html and "deleted by its author" in html
    db.session.expire_all()
    assert thread.reply_count == 0 and thread.category.post_count == 1


def test_post_deleted_by_a_moderator_says_so(client: Any, login: Any) -> None:
    author = make_user()
    thread = make_thread()
    post = make_reply(author, thread, "Spam spam spam")
    login(make_user(role=Role.MODERATOR))
    response = client.post(f"/forum/p/{post.id}/delete")
    assert response.status_code == 302
    html = main_html(client.get(response.location))
    assert "Spam spam spam" not in html
    assert "deleted by a moderator" in html and "deleted by its author" not in html


def test_like_toggles(client: Any, login: Any) -> None:
    post = make_reply(make_user(), make_thread())
    login(make_user())
    client.post(f"/forum/p/{post.id}/like")
    db.session.expire_all()
    assert post.like_count == 1
    assert "Unlike" in main_html(client.get(f"/forum/t/{post.thread_id}"))
    client.post(f"/forum/p/{post.id}/like")
    db.session.expire_all()
    assert post.like_count == 0
    assert client.get(f"/forum/p/{post.id}/like").status_code == 405


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_forms_need_the_csrf_token(client: Any, login: Any) -> None:
    thread = make_thread()
    post = make_reply(make_user(), thread)
    login(make_user())
    assert client.post(f"/forum/t/{thread.id}/reply", data={"body": "Hi"}).status_code == 400
    assert client.post(f"/forum/p/{post.id}/like").status_code == 400
    assert client.post(f"/forum/p/{post.id}/delete").status_code == 400
    assert count(Post) == 2 and post.like_count == 0


# Bad input ---------------------------------------------------------------------------------

BAD_TITLES = {
    "empty": "",
    "spaces": "     ",
    "zero-width": "\u200b\u200b\u200b",
    "bidi only": "\u202e\u202e",
    "NUL": "Hello\x00world",
    "too long": "x" * 151,
    "huge": "x" * 1_000_000,
}
BAD_BODIES = {
    "empty": "",
    "spaces": " \n \t \n",
    "NUL": "Hello\x00world",
    "zero-width": "\u200b\u200d\u2060",
    "too long": "x" * 50_001,
    "1 MB": "x" * 1_000_000,
}


@pytest.mark.parametrize("title", BAD_TITLES.values(), ids=BAD_TITLES.keys())
def test_bad_titles_come_back_with_the_form(client: Any, login: Any, title: str) -> None:
    make_category("general")
    login(make_user())
    response = client.post("/forum/general/new", data={"title": title, "body": "Body text"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and 'name="title"' in html
    assert count(Thread) == 0 and count(Post) == 0


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_come_back_with_the_form(client: Any, login: Any, body: str) -> None:
    make_category("general")
    thread = make_thread()
    post = make_reply(make_user(), thread)
    user = login(make_user())
    own = make_reply(user, thread, "Fine")
    for url, data in (
        ("/forum/general/new", {"title": "A title", "body": body}),
        (f"/forum/t/{thread.id}/reply", {"body": body}),
        (f"/forum/p/{own.id}/edit", {"body": body}),
    ):
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert "There is a problem" in response.get_data(as_text=True)
    assert count(Thread) == 1 and count(Post) == 3
    assert own.body == "Fine" and post


def test_odd_unicode_that_has_words_is_kept(client: Any, login: Any) -> None:
    make_category("general")
    login(make_user())
    title = "Gally \u202e\u0627\u0644\u064a\u062a\u0627 🤖 \uff3a\uff41\uff4c\uff45\uff4d"
    response = client.post("/forum/general/new", data={"title": title, "body": "e\u0301 🤖"})
    assert response.status_code == 302
    thread = db.session.scalars(sa.select(Thread)).one()
    assert "\u202e" not in thread.title and "🤖" in thread.title


# Rate limits --------------------------------------------------------------------------------


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_POSTS="2 per hour")
def test_new_accounts_are_rate_limited_per_user(client: Any, login: Any) -> None:
    thread = make_thread()
    login(make_user())
    for n in range(2):
        assert client.post(f"/forum/t/{thread.id}/reply", data={"body": f"{n}"}).status_code == 302
    assert client.post(f"/forum/t/{thread.id}/reply", data={"body": "3"}).status_code == 429
    assert client.get(f"/forum/t/{thread.id}").status_code == 200  # GETs are not limited
    # Another new user has their own budget; an older account is not limited.
    login(make_user())
    assert client.post(f"/forum/t/{thread.id}/reply", data={"body": "x"}).status_code == 302
    login(make_user(created_at=utcnow() - timedelta(days=30)))
    for n in range(3):
        assert client.post(f"/forum/t/{thread.id}/reply", data={"body": f"{n}"}).status_code == 302
    assert thread.reply_count == 6


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_THREADS="1 per day")
def test_new_accounts_start_few_threads_a_day(client: Any, login: Any) -> None:
    make_category("general")
    login(make_user())
    data = {"title": "One", "body": "Body"}
    assert client.post("/forum/general/new", data=data).status_code == 302
    assert client.post("/forum/general/new", data=data).status_code == 429
    assert count(Thread) == 1


# Category admin ------------------------------------------------------------------------------


def test_category_admin_is_for_admins(client: Any, login: Any) -> None:
    login(make_user(role=Role.MODERATOR))
    assert client.get("/admin/categories").status_code == 403
    assert client.post("/admin/categories", data={"name": "X"}).status_code == 403
    assert count(Category) == 0


def test_admin_adds_edits_and_reorders_categories(client: Any, login: Any) -> None:
    login(make_user(role=Role.ADMIN))
    response = client.post(
        "/admin/categories",
        data={"name": "Announcements", "description": "From the team", "is_staff_only": "y"},
    )
    assert response.status_code == 302
    client.post("/admin/categories", data={"name": "Off-topic"})
    announcements = services.get_category("announcements")
    assert announcements.is_staff_only
    response = client.post("/admin/categories", data={"name": "Off topic", "slug": "off-topic"})
    assert response.status_code == 400
    response = client.post(
        f"/admin/categories/{announcements.id}/edit",
        data={"name": "News from HQ", "slug": "announcements", "description": "Official"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert announcements.name == "News from HQ" and not announcements.is_staff_only
    off_topic = services.get_category("off-topic")
    client.post(f"/admin/categories/{off_topic.id}/move", data={"direction": "up"})
    db.session.expire_all()
    assert [c.slug for c in services.categories()] == ["off-topic", "announcements"]
    assert client.post("/admin/categories", data={"name": ""}).status_code == 400


# Other pages ---------------------------------------------------------------------------------


def test_home_page_shows_lively_threads(client: Any) -> None:
    make_thread(title="Lively one", replies=2)
    hidden = make_thread(title="Secret one")
    hidden.is_hidden = True
    db.session.commit()
    html = main_html(client.get("/"))
    assert "Lively threads" in html and "Lively one" in html and "Secret one" not in html


def test_profile_lists_threads_and_posts_hiding_hidden_ones(client: Any, login: Any) -> None:
    hugo = make_user("hugo")
    make_thread(hugo, title="My theory")
    secret = make_thread(hugo, title="My held theory")
    secret.is_hidden = True
    make_reply(hugo, make_thread(title="Someone else's"), "I agree")
    db.session.commit()
    html = main_html(client.get("/u/hugo"))
    assert "My theory" in html and "Someone else&#39;s" in html and "My held theory" not in html
    login(hugo)
    assert "My held theory" in main_html(client.get("/u/hugo"))


def test_export_has_threads_and_posts(login: Any) -> None:
    from fancampaign.accounts.services import export_data

    hugo = make_user("hugo")
    make_thread(hugo, title="Export me", body="Body one")
    data = export_data(hugo)
    assert data["forum"]["threads"][0]["title"] == "Export me"
    assert data["forum"]["posts"][0]["body"] == "Body one"
    json.dumps(data)


def test_posts_of_deleted_users_stay_as_deleted_user(client: Any) -> None:
    from fancampaign.accounts.services import erase_user

    hugo = make_user("hugo")
    thread = make_thread(hugo, body="I was here")
    erase_user(hugo)
    db.session.commit()
    html = main_html(client.get(f"/forum/t/{thread.id}"))
    assert "I was here" in html and "deleted user" in html


def test_moderators_get_the_moderation_tools(client: Any, login: Any) -> None:
    thread = make_thread()
    make_reply(make_user(), thread)
    login(make_user())
    assert "Moderator tools" not in main_html(client.get(f"/forum/t/{thread.id}"))
    login(make_user(role=Role.MODERATOR))
    assert "Moderator tools" in main_html(client.get(f"/forum/t/{thread.id}"))


def test_invalid_utf8_never_fails_with_500(client: Any, login: Any) -> None:
    make_category("general")
    login(make_user())
    response = client.post(
        "/forum/general/new",
        data=b"title=%ED%A0%80%FF%FE&body=%00%ED%A0%80",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert count(Thread) == 0


@needs_redis
@pytest.mark.config(REDIS_URL=REDIS_URL, PAGE_CACHE_ENABLED=True)
def test_the_home_sections_are_shared_by_members_and_follow_new_threads(app, client, login):
    """The home page's sections are one cached fragment for every viewer, logged in or not;
    a new thread shows on the next request of each."""
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    category = make_category()
    author = make_user()
    services.create_thread(author, category, "The first lively thread", "Body text here.")
    db.session.commit()
    visitor = app.test_client()
    assert "The first lively thread" in visitor.get("/").get_data(as_text=True)
    fan = login(make_user(username="fanmember"))
    html = client.get("/").get_data(as_text=True)
    assert "The first lively thread" in html and "fanmember" in html

    services.create_thread(fan, category, "A second thread appears", "More body text.")
    db.session.commit()
    assert "A second thread appears" in client.get("/").get_data(as_text=True)
    assert "A second thread appears" in visitor.get("/").get_data(as_text=True)


def test_user_content_loads_no_third_party_image(client, login):
    thread = make_thread(body="Poster: ![the poster](https://tracker.example/p.png)")
    make_reply(make_user(), thread, "And ![](https://tracker.example/q.gif) here.")
    response = client.get(f"/forum/t/{thread.id}")
    page = response.get_data(as_text=True)
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page.split("<main", 1)[1])
    assert sources and all(src.startswith("/u/") for src in sources)  # avatars, ours
    assert 'href="https://tracker.example/p.png"' in page and "Image: the poster" in page
    assert 'href="https://tracker.example/q.gif"' in page
    csp = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in csp and "https:" not in csp
