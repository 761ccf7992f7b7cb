"""News pages: permissions, listing, articles with comments and petitions, feeds, forms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import feedparser
import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.campaign.mailer import send_batch
from fancampaign.extensions import db, utcnow
from fancampaign.news import services
from fancampaign.news.models import NewsPost, NewsUpdate
from fancampaign.petitions.models import Signature
from fancampaign.petitions.services import sign_petition
from tests.factories import make_news_post, make_petition, make_reply, make_user
from tests.helpers import count_queries

FORM = {"title": "Hope returns", "standfirst": "Good news.", "body": "Hello **fans**."}


def post_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(NewsPost)) or 0


# Permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (None, 302),
        (Role.MEMBER, 403),
        (Role.ORGANISER, 200),
        (Role.MODERATOR, 200),
        (Role.ADMIN, 200),
    ],
)
@pytest.mark.parametrize("action", ["new", "edit"])
def test_only_organisers_and_admins_open_the_editor(
    client: Any, login: Any, organiser: Any, role: Role | None, status: int, action: str
) -> None:
    post = make_news_post(organiser)
    if role is not None:
        login(make_user(role=role))
    url = "/news/new" if action == "new" else f"/news/{post.slug}/edit"
    response = client.get(url)
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(("role", "allowed"), [(Role.MEMBER, False), (Role.ORGANISER, True)])
def test_only_writers_can_post_the_form(client: Any, login: Any, role: Role, allowed: bool) -> None:
    login(make_user(role=role))
    response = client.post("/news/new", data={**FORM, "publish": "now"})
    assert response.status_code == (302 if allowed else 403)
    assert post_count() == (1 if allowed else 0)


@pytest.mark.parametrize("publish", ["draft", "schedule"])
def test_unpublished_posts_are_404_to_others(
    client: Any, login: Any, organiser: Any, publish: str
) -> None:
    post = make_news_post(
        organiser,
        publish=publish,
        publish_at=utcnow() + timedelta(days=1) if publish == "schedule" else None,
    )
    assert client.get(f"/news/{post.slug}").status_code == 404
    login(make_user())
    assert client.get(f"/news/{post.slug}").status_code == 404
    assert post.title not in client.get("/news").get_data(as_text=True)
    login(organiser)
    page = client.get(f"/news/{post.slug}")
    assert page.status_code == 200
    assert "Only organisers can see this page" in page.get_data(as_text=True)
    assert post.title in client.get("/news").get_data(as_text=True)


# Writing --------------------------------------------------------------------------------


def test_organiser_publishes_a_post_with_tags_and_a_petition(
    client: Any, login: Any, organiser: Any
) -> None:
    petition = make_petition(organiser)
    login(organiser)
    assert petition.title in client.get("/news/new").get_data(as_text=True)
    response = client.post(
        "/news/new",
        data={
            **FORM,
            "tags": "Alita, sequel",
            "petitions": [str(petition.id)],
            "is_developing": "y",
            "publish": "now",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/news/hope-returns")
    page = client.get("/news/hope-returns").get_data(as_text=True)
    assert "Published." in page
    assert "Hello <strong>fans</strong>." in page
    assert "Developing story" in page
    assert "1 min read" in page
    assert petition.title in page
    assert 'href="/news/tag/alita"' in page
    assert "Leave a comment" in page


def test_scheduling_through_the_form(client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    when = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/news/new", data={**FORM, "publish": "schedule", "publish_at": when})
    assert response.status_code == 302
    post = db.session.scalar(sa.select(NewsPost))
    assert post.is_scheduled
    client.get("/logout")
    with client.session_transaction() as session:
        session.clear()
    assert client.get(f"/news/{post.slug}").status_code == 404


BAD_FORMS = [
    ({"title": ""}, "Enter a title"),
    ({"title": "   "}, "Enter a title"),
    ({"body": ""}, "Write the body"),
    ({"title": "x" * 1_000_000}, "at most 200"),
    ({"body": "x" * 1_000_000}, "at most 100,000"),
    ({"title": "Nul\x00byte"}, "not allowed"),
    ({"body": "bell\x07"}, "not allowed"),
    ({"publish": "sometime"}, "Not a valid choice"),
    ({"publish": "schedule"}, "Choose when"),
    ({"publish": "schedule", "publish_at": "yesterday"}, "Not a valid datetime"),
    ({"publish": "schedule", "publish_at": "2001-01-01T10:00"}, "future"),
    ({"petitions": ["999"]}, "not a valid choice"),
    ({"petitions": ["abc"]}, "Invalid choice"),
    ({"tags": ",".join(f"tag{i}" for i in range(20))}, "at most 10 tags"),
    ({"standfirst": "s" * 600}, "at most 500"),
]


@pytest.mark.parametrize(("change", "message"), BAD_FORMS)
def test_bad_input_comes_back_with_a_message(
    client: Any, login: Any, organiser: Any, change: dict[str, Any], message: str
) -> None:
    login(organiser)
    response = client.post("/news/new", data={**FORM, "publish": "now", **change})
    assert response.status_code == 400
    assert message.lower() in response.get_data(as_text=True).lower()
    assert post_count() == 0


@pytest.mark.parametrize(("change", "message"), BAD_FORMS[:6])
def test_bad_edit_keeps_the_post(
    client: Any, login: Any, organiser: Any, change: dict[str, Any], message: str
) -> None:
    post = make_news_post(organiser, title="Original")
    login(organiser)
    response = client.post(f"/news/{post.slug}/edit", data={**FORM, "publish": "now", **change})
    assert response.status_code == 400
    assert message.lower() in response.get_data(as_text=True).lower()
    db.session.expire_all()
    assert db.session.get(NewsPost, post.id).title == "Original"


def test_odd_unicode_is_fine(client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    response = client.post(
        "/news/new",
        data={
            "title": "\uff21\uff4c\uff49\uff54\uff41 \U0001f916 \u202eevil",
            "body": "Zalgo z̸̢a̷l",
            "publish": "now",
        },
    )
    assert response.status_code == 302
    post = db.session.scalar(sa.select(NewsPost))
    assert "\u202e" not in post.title


def test_edit_form_is_prefilled(client: Any, login: Any, organiser: Any) -> None:
    petition = make_petition(organiser)
    post = make_news_post(organiser, tags="alita", petition_ids=[petition.id])
    login(organiser)
    page = client.get(f"/news/{post.slug}/edit").get_data(as_text=True)
    assert 'value="alita"' in page
    assert f'value="{petition.id}" selected' in page or "selected" in page


def test_developing_story_update_through_the_article(
    client: Any, login: Any, organiser: Any
) -> None:
    post = make_news_post(organiser)
    login(organiser)
    response = client.post(f"/news/{post.slug}/updates", data={"update": "The studio replied."})
    assert response.status_code == 302
    page = client.get(f"/news/{post.slug}").get_data(as_text=True)
    assert "Update, " in page and "The studio replied." in page
    bad = client.post(f"/news/{post.slug}/updates", data={"update": "  "})
    assert bad.status_code == 400
    assert "Write the update" in bad.get_data(as_text=True)
    login(make_user())
    assert client.post(f"/news/{post.slug}/updates", data={"update": "x"}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NewsUpdate)) == 1


# Reading --------------------------------------------------------------------------------


def test_listing_paginates_and_filters_by_tag(client: Any, organiser: Any, app: Any) -> None:
    app.config["PER_PAGE"] = 2
    for n in range(3):
        make_news_post(organiser, title=f"Post {n}", tags="alita" if n else "other")
    first = client.get("/news").get_data(as_text=True)
    assert "Post 2" in first and "Post 1" in first and "Post 0" not in first
    assert "Post 0" in client.get("/news?page=2").get_data(as_text=True)
    by_query = client.get("/news?tag=Alita").get_data(as_text=True)
    assert "Post 1" in by_query and "Post 0" not in by_query
    tagged = client.get("/news/tag/alita").get_data(as_text=True)
    assert "Post 1" in tagged and "Post 0" not in tagged
    assert client.get("/news?page=999").status_code == 200
    assert client.get("/news?page=-1").status_code == 200
    assert client.get("/news?tag=").status_code == 404
    assert client.get("/news/tag/%00").status_code == 404


def test_unknown_post_is_404(client: Any) -> None:
    assert client.get("/news/nothing-here").status_code == 404
    assert client.get("/news/" + "x" * 5000).status_code == 404


def test_article_shows_comments_and_forum_link(client: Any, organiser: Any) -> None:
    post = make_news_post(organiser)
    make_reply(make_user(), post_thread(post), "First!")
    page = client.get(f"/news/{post.slug}").get_data(as_text=True)
    assert "First!" in page
    assert "Log in to comment" in page
    assert f"/forum/t/{post.thread_id}" in page


def post_thread(post: NewsPost) -> Any:
    from fancampaign.forum.models import Thread

    return db.session.get(Thread, post.thread_id)


def test_a_fan_comments_through_the_forum_reply(client: Any, login: Any, organiser: Any) -> None:
    post = make_news_post(organiser)
    login(make_user())
    page = client.get(f"/news/{post.slug}").get_data(as_text=True)
    assert "Leave a comment" in page
    response = client.post(
        f"/forum/t/{post.thread_id}/reply",
        data={"body": "Take my money!", "next": f"/news/{post.slug}"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].split("#")[0].endswith(f"/news/{post.slug}")
    assert "Take my money!" in client.get(f"/news/{post.slug}").get_data(as_text=True)


def test_a_comment_under_an_article_is_called_a_comment(client: Any, login: Any, organiser: Any):
    post = make_news_post(organiser)
    login(make_user())
    response = client.post(
        f"/forum/t/{post.thread_id}/reply",
        data={"body": "Take my money!", "next": f"/news/{post.slug}"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Your comment is posted." in page
    assert "Your reply is posted." not in page


def test_article_query_count_does_not_grow(client: Any, login: Any, organiser: Any) -> None:
    def measure(comments: int, petitions: int) -> int:
        ps = [make_petition(organiser) for _ in range(petitions)]
        post = make_news_post(organiser, petition_ids=[p.id for p in ps])
        thread = post_thread(post)
        fan = make_user()
        for p in ps:
            sign_petition(fan, p)
        from fancampaign.forum.services import reply

        for n in range(comments):
            reply(fan, thread, f"Comment {n}")
        db.session.commit()
        login(fan)
        client.get(f"/news/{post.slug}")  # warm up (e.g. the session user)
        db.session.expire_all()
        with count_queries() as statements:
            response = client.get(f"/news/{post.slug}")
        assert response.status_code == 200
        return len(statements)

    small = measure(1, 1)
    big = measure(500, 5)
    assert small == big


def test_feed_is_valid_atom(client: Any, organiser: Any) -> None:
    make_news_post(
        organiser,
        title='Tom & "Jerry" <3',
        body="Body with [a link](/forum) & <b>html</b>",
        tags="alita",
    )
    make_news_post(organiser, publish="draft", title="Secret draft")
    response = client.get("/news/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [e.title for e in feed.entries] == ['Tom & "Jerry" <3']
    entry = feed.entries[0]
    assert entry.id.startswith("tag:")
    assert entry.author == organiser.name
    assert entry.summary == "What happened, in one sentence."
    assert 'href="http://localhost/forum"' in entry.content[0].value
    assert "<b>" not in entry.content[0].value
    assert any(link.rel == "self" for link in feed.feed.links)
    tagged = feedparser.parse(client.get("/news/tag/alita/feed.atom").data)
    assert not tagged.bozo and len(tagged.entries) == 1
    empty = feedparser.parse(client.get("/news/tag/nothing/feed.atom").data)
    assert not empty.bozo and empty.entries == []


def test_pages_advertise_the_feed(client: Any, organiser: Any) -> None:
    post = make_news_post(organiser)
    for url in ("/", "/news", f"/news/{post.slug}"):
        page = client.get(url).get_data(as_text=True)
        assert 'rel="alternate" type="application/atom+xml"' in page


def test_home_page_leads_with_the_latest_story(client: Any, organiser: Any) -> None:
    make_news_post(organiser, title="Older headline")
    make_news_post(organiser, title="Lead story", standfirst="The standfirst.")
    make_news_post(organiser, title="Draft", publish="draft")
    page = client.get("/").get_data(as_text=True)
    assert page.index("Lead story") < page.index("Older headline")
    assert "The standfirst." in page
    assert "Draft" not in page


def test_petition_page_lists_its_updates(client: Any, organiser: Any) -> None:
    petition = make_petition(organiser)
    make_news_post(organiser, title="Linked update", petition_ids=[petition.id])
    from flask import render_template

    with client.application.test_request_context():
        html = render_template("news/_petition_updates.html", petition=petition)
    assert "Updates from the organisers" in html
    assert "Linked update" in html


# Unsubscribe ----------------------------------------------------------------------------


def test_unsubscribe_link_needs_a_button_press(client: Any, organiser: Any, outbox: Any) -> None:
    petition = make_petition(organiser)
    fan = make_user()
    sign_petition(fan, petition, keep_updated=True)
    db.session.commit()
    post = make_news_post(organiser, petition_ids=[petition.id])
    outbox.clear()
    send_batch()
    (message,) = outbox
    body = message.get_body(("plain",)).get_content()
    assert post.slug in body
    link = next(
        line.split(": ", 1)[1] for line in body.splitlines() if "Stop emails about this" in line
    )
    path = link.replace("http://localhost", "")
    page = client.get(path)
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    signature = db.session.scalar(sa.select(Signature))
    assert signature.keep_updated is True
    done = client.post(path)
    assert done.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(sa.select(Signature)).keep_updated is False
    # Links in update emails sent before the campaign mail existed keep working; forged ones not.
    assert client.get("/news/unsubscribe/forged").status_code == 400
    assert client.post("/news/unsubscribe/forged").status_code == 400


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_unsubscribe_needs_the_csrf_token(client: Any, organiser: Any) -> None:
    petition = make_petition(organiser)
    signature = sign_petition(make_user(), petition, keep_updated=True)
    db.session.commit()
    path = f"/news/unsubscribe/{services.unsubscribe_token(signature.id)}"
    assert client.post(path).status_code == 400
    db.session.expire_all()
    assert db.session.get(Signature, signature.id).keep_updated is True


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_forms_need_the_csrf_token(client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    response = client.post("/news/new", data={**FORM, "publish": "now"})
    assert response.status_code == 400
    assert post_count() == 0
    assert services.PostNotFound.status_code == 404


def test_a_scheduled_post_shows_once_due_and_the_worker_opens_its_comments(
    client: Any, organiser: Any
) -> None:
    from fancampaign.campaign.mailer import work_once

    post = make_news_post(organiser, publish="schedule", publish_at=utcnow() + timedelta(minutes=5))
    assert client.get(f"/news/{post.slug}").status_code == 404
    work_once()  # not due yet: nothing to open
    assert db.session.get(NewsPost, post.id).thread_id is None
    db.session.execute(
        sa.update(NewsPost)
        .where(NewsPost.id == post.id)
        .values(published_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    page = client.get(f"/news/{post.slug}")
    assert page.status_code == 200
    db.session.expire_all()
    assert db.session.get(NewsPost, post.id).thread_id is None  # a page view writes nothing

    work_once()
    db.session.expire_all()
    assert db.session.get(NewsPost, post.id).thread_id is not None
    assert "Log in to comment" in client.get(f"/news/{post.slug}").get_data(as_text=True)


def test_export_includes_authored_posts(app: Any, organiser: Any) -> None:
    from fancampaign import signals

    make_news_post(organiser, title="Exported")
    results = dict(r for _f, r in signals.account_exporting.send(organiser) if r)
    assert [p["title"] for p in results["news_posts"]] == ["Exported"]
