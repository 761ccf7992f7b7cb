"""The declared pages: what makes a page render again, and what never does.

Each test runs on each of the cache's set-ups (pages in Redis for several hosts; versions on
this machine with Redis; no Redis at all, the quick start), whichever database runs it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g

from fancampaign import create_app
from fancampaign.accounts.models import Role
from fancampaign.accounts.viewer import standin
from fancampaign.extensions import db, utcnow
from fancampaign.forum import services as forum
from fancampaign.moderation import services as moderation
from fancampaign.news.models import NewsPost
from fancampaign.notifications.services import notify
from fancampaign.pagecache import frozen, render
from fancampaign.petitions import services as petitions
from tests.conftest import make_config
from tests.factories import make_news_post, make_petition, make_thread, make_user

pytestmark = [pytest.mark.usefixtures("page_cache_setup")]


def fetch(client: Any, path: str, **kwargs: Any) -> tuple[str, str | None]:
    """(the page's HTML, hit / miss / None: not from the cache)."""
    g.pop("page_cache", None)
    g.pop("csrf_token", None)  # the test kit keeps one `g` for every request
    response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return response.get_data(as_text=True), g.get("page_cache")


# Keys -------------------------------------------------------------------------------------


def test_an_undeclared_query_argument_is_neither_in_the_key_nor_in_the_html(app):
    petition = make_petition(title="Junk arguments")
    sources = []
    pages = []
    for n in range(5):
        html, source = fetch(app.test_client(), f"/petitions?utm_source={n}&status=open")
        sources.append(source)
        pages.append(html)
        html, source = fetch(app.test_client(), f"/petitions/{petition.slug}?fbclid=x{n}")
        sources.append(source)
    assert sources == ["miss", "miss"] + ["hit"] * 8
    assert all(page == pages[0] for page in pages)
    assert "utm_source" not in pages[0]


def test_a_declared_argument_is_part_of_the_key(app):
    make_petition(title="Declared arguments")
    _, first = fetch(app.test_client(), "/petitions?sort=recent")
    _, second = fetch(app.test_client(), "/petitions?sort=popular")
    _, third = fetch(app.test_client(), "/petitions?sort=recent")
    assert (first, second, third) == ("miss", "miss", "hit")


# What a write re-renders ------------------------------------------------------------------


def test_a_signature_re_renders_no_forum_page_and_the_count_is_exact(app, as_member):
    """Signed through the page, as members do (the signer's share code is made with it)."""
    author = make_user("writer")
    thread = make_thread(author, title="An unrelated thread", replies=1)
    petition = make_petition(title="Counted exactly")
    signers = [make_user(f"signer{n}") for n in range(3)]
    db.session.commit()
    pages = ["/forum", f"/forum/t/{thread.id}", f"/petitions/{petition.slug}", "/petitions", "/"]
    for path in pages:
        fetch(app.test_client(), path)

    for signer in signers:
        response = as_member(signer).post(f"/petitions/{petition.slug}/sign", data={})
        assert response.status_code == 303

    sources = [fetch(app.test_client(), path)[1] for path in pages]
    assert sources == ["hit"] * len(pages)
    html, _ = fetch(app.test_client(), f"/petitions/{petition.slug}")
    assert "data-count>3</strong>" in html


def test_a_reply_re_renders_no_petition_list_and_shows_on_its_thread(app):
    thread = make_thread(make_user("starter"), title="A busy thread")
    make_petition(title="A listed petition")
    db.session.commit()
    fetch(app.test_client(), "/petitions")
    fetch(app.test_client(), f"/forum/t/{thread.id}")

    forum.reply(make_user("replier"), thread, "A brand new reply.")
    db.session.commit()

    assert fetch(app.test_client(), "/petitions")[1] == "hit"
    html, source = fetch(app.test_client(), f"/forum/t/{thread.id}")
    assert source == "miss" and "A brand new reply." in html


def test_lists_catch_up_with_signatures_within_their_declared_lag(app, later):
    first = make_petition(title="First by count")
    second = make_petition(title="Second by count")
    petitions.sign_petition(make_user(), first)
    db.session.commit()
    html, _ = fetch(app.test_client(), "/petitions")
    assert html.index("First by count") < html.index("Second by count")
    for _ in range(2):
        petitions.sign_petition(make_user(), second)
    db.session.commit()

    html, source = fetch(app.test_client(), "/petitions")
    assert source == "hit"  # at most 10 seconds behind
    later(11)
    html, source = fetch(app.test_client(), "/petitions")
    assert source == "miss" and html.index("Second by count") < html.index("First by count")


# Time -------------------------------------------------------------------------------------


def test_a_deadline_passing_shows_at_once(app):
    petition = make_petition(title="Closing any second", deadline=utcnow() + timedelta(hours=1))
    petition.deadline = utcnow() + timedelta(seconds=3)
    db.session.commit()
    path = f"/petitions/{petition.slug}"
    html, _ = fetch(app.test_client(), path)
    assert "Sign the petition" in html
    assert fetch(app.test_client(), path)[1] == "hit"

    time.sleep(max(0.0, (petition.deadline - utcnow()).total_seconds()) + 0.5)

    html, source = fetch(app.test_client(), path)
    assert source == "miss" and "no longer takes signatures" in html


def test_a_scheduled_post_coming_due_shows_on_the_news_list_at_once(app):
    organiser = make_user("newsfan", role=Role.ORGANISER)
    make_news_post(organiser, title="Out already")
    make_news_post(
        organiser,
        title="Out in a moment",
        publish="schedule",
        publish_at=utcnow() + timedelta(hours=1),
    )
    due = utcnow() + timedelta(seconds=3)
    db.session.execute(
        sa.update(NewsPost).where(NewsPost.title == "Out in a moment").values(published_at=due)
    )
    db.session.commit()
    html, _ = fetch(app.test_client(), "/news")
    assert "Out already" in html and "Out in a moment" not in html

    time.sleep(max(0.0, (due - utcnow()).total_seconds()) + 0.5)

    html, source = fetch(app.test_client(), "/news")
    assert source == "miss" and "Out in a moment" in html


# Redis failing during a write -----------------------------------------------------------------


def test_a_write_whose_invalidation_failed_moves_its_pages_once_redis_answers_again(
    app, page_cache_setup, monkeypatch
):
    """Redis did not answer when a reply committed: the thread's version could not move, and
    the page stored before would be served until its timeout. The process remembers the
    groups it could not move and moves them before it next reads versions from Redis."""
    if page_cache_setup != "redis":
        pytest.skip("the versions are in Redis only on this set-up")
    from fancampaign.pagecache import versions
    from tests.factories import make_reply

    thread = make_thread(title="Replies while Redis blinks")
    db.session.commit()
    path = f"/forum/t/{thread.id}"
    fetch(app.test_client(), path)
    assert fetch(app.test_client(), path)[1] == "hit"

    real = versions._incr

    def down(*_args: Any) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(versions, "_incr", down)
    make_reply(thread.author, thread, "Written while Redis was down.")
    db.session.commit()
    monkeypatch.setattr(versions, "_incr", real)

    html, source = fetch(app.test_client(), path)
    assert "Written while Redis was down." in html and source == "miss"
    assert fetch(app.test_client(), path)[1] == "hit"


# Nothing personal outside the slots ---------------------------------------------------------


def _outside_slots(app: Any, path: str, viewer: Any) -> str:
    """The page rendered for `viewer` as a shared rendering is: slots marked, then dropped."""
    with app.test_request_context(path):
        g._login_user = viewer
        adapter = app.url_map.bind("localhost")
        endpoint, values = adapter.match(path.split("?")[0])
        view = app.view_functions[endpoint].__wrapped__
        with render.rendering(shared=True):
            html = app.make_response(view(**values)).get_data(as_text=True)
    return frozen.SLOT_RE.sub("", html)


@pytest.mark.parametrize("page", ["home", "petition", "petitions", "thread", "category", "article"])
def test_a_members_page_differs_from_the_stand_ins_only_in_its_slots(app, page):
    """Everything a page says about its viewer is in a slot: the page rendered for a member
    with likes, a signature and unread notifications equals the stand-in's outside them."""
    organiser = make_user("organiserfan", role=Role.ORGANISER)
    author = make_user("author")
    petition = make_petition(organiser, title="A petition with a signer")
    thread = make_thread(author, title="A thread with likes", replies=3)
    article = make_news_post(organiser, title="An article with a petition")
    article.petitions.append(petition)
    fan = make_user("fanwithhistory")
    petitions.sign_petition(fan, petition)
    for post in db.session.scalars(sa.select(forum.Post).where(forum.Post.thread_id == thread.id)):
        forum.toggle_like(fan, post)
    notify(fan, "reply", "Someone replied to you", "/forum")
    db.session.commit()
    path = {
        "home": "/",
        "petition": f"/petitions/{petition.slug}",
        "petitions": "/petitions",
        "thread": f"/forum/t/{thread.id}",
        "category": f"/forum/{thread.category.slug}",
        "article": f"/news/{article.slug}",
    }[page]
    fan = db.session.get(type(fan), fan.id)
    fan.loaded_unread, fan.has_hidden_content = 1, False

    theirs = _outside_slots(app, path, fan)
    shared = _outside_slots(app, path, standin("member"))

    assert theirs == shared
    assert "fanwithhistory" not in theirs


# Two hosts ------------------------------------------------------------------------------------


def test_two_hosts_sharing_the_database_and_redis_see_each_others_writes_at_once(
    app, page_cache_setup, tmp_path
):
    if page_cache_setup != "redis":
        pytest.skip("several hosts keep their versions in Redis")
    config = {
        key: app.config[key]
        for key in ("SQLALCHEMY_DATABASE_URI", "PAGE_CACHE_PREFIX", "REDIS_URL")
    }
    hosts = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        host = create_app(
            make_config(
                folder,
                PAGE_CACHE_ENABLED=True,
                PAGE_CACHE_VERSIONS="redis",
                **config,
            )
        )
        host.instance_path = str(folder / "instance")
        hosts.append(host)
    one, two = hosts
    moderator = make_user("modfan", role=Role.MODERATOR)
    starter = make_user("starter")
    reader = make_user("reader")
    thread = make_thread(starter, title="Seen from two hosts")
    petition = make_petition(title="Signed on one host")
    db.session.commit()
    thread_path, petition_path = f"/forum/t/{thread.id}", f"/petitions/{petition.slug}"
    # Read here, in this app's own context: an object of this session read inside a host's
    # context would take a connection from that host's pool and keep it.
    User, Thread, Petition = type(reader), type(thread), type(petition)
    reader_login, ids = reader.get_id(), (moderator.id, starter.id, thread.id, petition.id)
    moderator_id, starter_id, thread_id, petition_id = ids

    def page(host: Any, path: str, login: str | None = None) -> str:
        with host.app_context():
            client = host.test_client()
            if login is not None:
                with client.session_transaction() as session:
                    session["_user_id"] = login
            html = client.get(path).get_data(as_text=True)
            db.session.remove()
        return html

    for host in hosts:  # both hosts have both pages stored, for visitors and members
        for path in (thread_path, petition_path):
            page(host, path)
            page(host, path, reader_login)

    with one.app_context():
        petitions.sign_petition(make_user("remote"), db.session.get(Petition, petition_id))
        post = forum.reply(
            db.session.get(User, starter_id),
            db.session.get(Thread, thread_id),
            "Written on host one.",
        )
        db.session.commit()
        post_id = post.id
        db.session.remove()

    assert "data-count>1</strong>" in page(two, petition_path)
    assert "data-count>1</strong>" in page(two, petition_path, reader_login)
    assert "Written on host one." in page(two, thread_path)
    assert "Written on host one." in page(two, thread_path, reader_login)

    with two.app_context():
        moderation.hide_item(
            db.session.get(User, moderator_id),
            moderation.get_item("post", post_id),
            "Off topic",
        )
        db.session.commit()
        db.session.remove()

    assert "Written on host one." not in page(one, thread_path)
    assert "Written on host one." not in page(one, thread_path, reader_login)
    for host in hosts:  # their connection pools, closed now
        with host.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_lagging_page_rendered_again_gets_a_new_etag(app, later):
    petition = make_petition(title="Counted in a list")
    first = app.test_client().get("/petitions")
    etag = first.headers["ETag"]
    assert app.test_client().get("/petitions", headers={"If-None-Match": etag}).status_code == 304

    petitions.sign_petition(make_user(), petition)
    db.session.commit()
    later(11)

    again = app.test_client().get("/petitions", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag
