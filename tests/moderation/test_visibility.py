"""Hidden content is invisible to visitors and other members on every page that shows it;
moderators see it, and its author sees it marked as hidden."""

from __future__ import annotations

import pytest

from fancampaign.extensions import db
from fancampaign.moderation import services
from tests.factories import (
    make_category,
    make_news_post,
    make_petition,
    make_reply,
    make_thread,
    make_user,
)

SECRET = "Zorblax the unseemly"


@pytest.fixture
def hidden_post(app, moderator):
    thread = make_thread(make_user("opener"), title="Sequel news")
    post = make_reply(make_user("writer"), thread, f"{SECRET} was here.")
    services.hide_item(moderator, services.get_item("post", post.id), "Abuse.")
    db.session.commit()
    return post


def _viewers(moderator, author):
    return [
        ("visitor", None, False),
        ("member", make_user(), False),
        ("author", author, True),
        ("moderator", moderator, True),
    ]


def test_hidden_reply_on_the_thread_page(client, login, hidden_post, moderator):
    for name, viewer, sees in _viewers(moderator, hidden_post.author):
        login(viewer)
        page = client.get(f"/forum/t/{hidden_post.thread_id}").get_data(as_text=True)
        assert (SECRET in page) is sees, name
        if sees:
            assert "Hidden" in page


def test_hidden_reply_is_not_found_by_search(client, login, hidden_post):
    login(None)
    page = client.get("/search?q=Zorblax").get_data(as_text=True)
    assert SECRET not in page
    login(make_user())
    page = client.get("/search?q=Zorblax").get_data(as_text=True)
    assert SECRET not in page


def test_hidden_reply_is_not_in_the_api(client, hidden_post):
    response = client.get(f"/api/v1/threads/{hidden_post.thread_id}")
    assert response.status_code == 200
    assert SECRET not in response.get_data(as_text=True)


def test_hidden_thread_is_gone_for_visitors_and_members(client, login, app, moderator):
    thread = make_thread(make_user("opener"), title=f"{SECRET} thread")
    services.hide_item(moderator, services.get_item("thread", thread.id), "Flame bait.")
    db.session.commit()
    for name, viewer, sees in _viewers(moderator, thread.author):
        login(viewer)
        response = client.get(f"/forum/t/{thread.id}")
        assert (response.status_code == 200) is sees, name
        listing = client.get(f"/forum/{thread.category.slug}").get_data(as_text=True)
        assert (SECRET in listing) is sees, name
    login(None)
    assert SECRET not in client.get("/search?q=Zorblax").get_data(as_text=True)
    assert SECRET not in client.get("/api/v1/categories").get_data(as_text=True)
    threads = client.get(f"/api/v1/categories/{thread.category.slug}/threads")
    assert SECRET not in threads.get_data(as_text=True)


def test_hidden_news_comment(client, login, app, moderator):
    make_category("news-discussion")
    news = make_news_post(title="Sequel confirmed")
    db.session.refresh(news)
    assert news.thread_id is not None
    from fancampaign.forum.models import Thread

    comment = make_reply(make_user("writer"), db.session.get(Thread, news.thread_id), SECRET)
    url = f"/news/{news.slug}"
    login(None)
    assert SECRET in client.get(url).get_data(as_text=True)
    services.hide_item(moderator, services.get_item("post", comment.id), "Abuse.")
    db.session.commit()
    for name, viewer, sees in _viewers(moderator, comment.author):
        login(viewer)
        assert (SECRET in client.get(url).get_data(as_text=True)) is sees, name
    login(None)
    assert SECRET not in client.get("/news/feed.atom").get_data(as_text=True)


def test_hidden_signature_reason(client, login, app, moderator):
    from fancampaign.petitions.services import sign_petition

    petition = make_petition()
    signer = make_user("signer")
    signature = sign_petition(signer, petition, reason=f"{SECRET} says sign", is_public=True)
    db.session.commit()
    url = f"/petitions/{petition.slug}"
    login(None)
    assert SECRET in client.get(url).get_data(as_text=True)
    services.hide_item(moderator, services.get_item("signature", signature.id), "Abuse.")
    db.session.commit()
    for name, viewer in (("visitor", None), ("member", make_user())):
        login(viewer)
        assert SECRET not in client.get(url).get_data(as_text=True), name
    login(None)
    assert SECRET not in client.get(f"/api/v1/petitions/{petition.slug}").get_data(as_text=True)


# Quotes: a hidden post's words stay hidden inside the replies that quoted it ---------------


def _quoting_reply(post, quoter=None):
    from fancampaign.forum.services import reply
    from fancampaign.text import quote_markdown

    quoter = quoter or make_user("quoter")
    body = quote_markdown(post.author.username, post.body, post.id) + "I agree with this."
    quoting = reply(quoter, post.thread, body)
    db.session.commit()
    return quoting


def test_hidden_post_is_hidden_inside_quotes(client, login, moderator):
    thread = make_thread(make_user("opener"), title="Sequel news")
    post = make_reply(make_user("writer"), thread, f"{SECRET} was here.")
    quoting = _quoting_reply(post)
    login(make_user())
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    # The post, its Quote button's text and the quote in the reply, while it is visible.
    assert page.count(SECRET) == 3
    services.hide_item(moderator, services.get_item("post", post.id), "Abuse.")
    db.session.commit()
    for name, viewer, sees in _viewers(moderator, post.author):
        login(viewer)
        page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
        assert (SECRET in page) is sees, name
        assert ("Quoted post is hidden." in page) is not sees, name
        assert "I agree with this." in page, name
        assert f'href="/forum/p/{post.id}"' in page or not sees, name
    api = client.get(f"/api/v1/threads/{thread.id}").get_data(as_text=True)
    assert SECRET not in api and "Quoted post is hidden." in api
    # Restored: the quote reads as before.
    services.restore_item(moderator, services.get_item("post", post.id), "Fine after all.")
    db.session.commit()
    login(None)
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert page.count(SECRET) == 2 and "Quoted post is hidden." not in page
    assert quoting.body_html.count(f'data-quote="{post.id}"') == 1


def test_deleted_post_is_hidden_inside_quotes(client, login, moderator):
    from fancampaign.forum.services import delete_post

    thread = make_thread(make_user("opener"))
    post = make_reply(make_user("writer"), thread, f"{SECRET} regrets this.")
    _quoting_reply(post)
    delete_post(post.author, post)
    db.session.commit()
    for viewer in (None, make_user(), post.author):
        login(viewer)
        page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
        assert SECRET not in page
        assert "Quoted post is hidden." in page


def test_a_quote_links_to_its_source_post(client, login):
    thread = make_thread(make_user("opener"))
    post = make_reply(make_user("writer"), thread, "The sequel needs Alita.")
    login(make_user())
    page = client.get(f"/forum/t/{thread.id}?quote={post.id}").get_data(as_text=True)
    assert f"[wrote](/forum/p/{post.id}):" in page  # the reply box, filled in
    quoting = _quoting_reply(post)
    assert f'<blockquote data-quote="{post.id}">' in quoting.body_html
    assert f'<a href="/forum/p/{post.id}"' in quoting.body_html


def test_hidden_post_is_not_found_through_the_replies_quoting_it(client, login, moderator):
    thread = make_thread(make_user("opener"))
    post = make_reply(make_user("writer"), thread, f"{SECRET} was here.")
    _quoting_reply(post)
    services.hide_item(moderator, services.get_item("post", post.id), "Abuse.")
    db.session.commit()
    login(make_user())
    assert "Nothing matches" in client.get("/search?q=Zorblax").get_data(as_text=True)
    assert "Nothing matches" not in client.get("/search?q=agree").get_data(as_text=True)
