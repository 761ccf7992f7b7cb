"""Posts to Discourse's standard: avatars, Reply per post, quotes' sources, server preview,
drafts, bookmarks and @mention suggestions."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from fancampaign.accounts import avatars
from fancampaign.accounts import services as accounts
from fancampaign.accounts.models import Role
from fancampaign.errors import InvalidInput, NotAllowed
from fancampaign.extensions import db, utcnow
from fancampaign.forum import services
from fancampaign.forum.models import Draft, Post, PostBookmark
from fancampaign.moderation import services as moderation
from fancampaign.text import quote_markdown
from tests.factories import make_category, make_reply, make_thread, make_user
from tests.forum.test_queries import add_posts, queries_for
from tests.helpers import REDIS_URL, count_queries, needs_redis


def _png(size: tuple[int, int] = (300, 200)) -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    buf.seek(0)
    return buf


# Avatars ------------------------------------------------------------------------------------


def test_letter_avatar_is_an_svg_made_here_and_cacheable(client: Any) -> None:
    user = make_user("koyomi", display_name="Koyomi")
    response = client.get(avatars.avatar_url(user))
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert ">K</text>" in svg and avatars.colour("koyomi") in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no outside service
    assert response.cache_control.public and response.cache_control.max_age == 86_400
    again = client.get(avatars.avatar_url(user), headers={"If-None-Match": response.get_etag()[0]})
    assert again.status_code == 304


def test_the_same_name_gets_the_same_colour_and_names_differ() -> None:
    assert avatars.colour("Alita") == avatars.colour("alita")
    assert len({avatars.colour(f"fan{n}") for n in range(20)}) > 10


def test_uploaded_avatar_is_re_encoded_square_and_served(client: Any, login: Any) -> None:
    user = login(make_user())
    response = client.post(
        "/settings",
        data={"avatar-action": "avatar", "avatar-avatar": (_png(), "me.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.avatar_key.startswith("avatar-") and user.avatar_key.endswith(".webp")
    served = client.get(avatars.avatar_url(user))
    assert served.status_code == 200 and served.mimetype == "image/webp"
    data = served.get_data()
    served.close()
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP" and image.size == (avatars.AVATAR_SIZE, avatars.AVATAR_SIZE)
    # The letter again, on request.
    client.post("/settings", data={"avatar-action": "avatar", "avatar-remove": "y"})
    db.session.refresh(user)
    assert user.avatar_key is None


def test_an_upload_that_is_no_picture_is_refused_on_its_field(client: Any, login: Any) -> None:
    user = login(make_user())
    response = client.post(
        "/settings",
        data={"avatar-action": "avatar", "avatar-avatar": (io.BytesIO(b"<svg/>"), "x.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Your picture must be a JPEG, PNG or WebP picture." in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.avatar_key is None


def test_suspended_member_cannot_change_their_picture() -> None:
    from datetime import timedelta

    user = make_user(suspended_until=utcnow() + timedelta(days=2))
    with pytest.raises(NotAllowed):
        accounts.set_avatar(user, _png())


def test_posts_and_thread_rows_show_their_authors_avatars(client: Any) -> None:
    author = make_user("writer")
    thread = make_thread(author, make_category("general"))
    src = avatars.avatar_url(author)
    assert f'src="{src}"' in client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert f'src="{src}"' in client.get("/forum/general").get_data(as_text=True)


@pytest.mark.parametrize("avatar", ["letter", "uploaded"])
def test_thread_page_with_avatars_runs_fixed_queries_for_a_member(
    client: Any, login: Any, avatar: str
) -> None:
    authors = [make_user(commit=False) for _ in range(6)]
    if avatar == "uploaded":
        for user in authors:
            user.avatar_key = "avatar-0123456789abcdef0123456789abcdef-160.webp"
    category = make_category("general")
    small = make_thread(authors[0], category, title="Small")
    big = make_thread(authors[1], category, title="Big")
    add_posts(small, authors, 4)
    add_posts(big, authors, 499)
    viewer = login(make_user())
    # Replies answering posts, and bookmarks by the viewer, on the pages.
    for thread in (small, big):
        posts = db.session.scalars(sa.select(Post).where(Post.thread_id == thread.id)).all()
        for n, post in enumerate(posts[1:], start=1):
            post.reply_to_id = posts[n - 1].id
            if n % 3 == 0 and not post.is_hidden:
                db.session.add(PostBookmark(user_id=viewer.id, post_id=post.id))
    db.session.commit()
    few = queries_for(client, f"/forum/t/{small.id}")
    many = queries_for(client, f"/forum/t/{big.id}")
    later = queries_for(client, f"/forum/t/{big.id}?page=12")
    assert few == many == later <= 9
    assert queries_for(client, "/forum/general") <= 8


# Reply to a post --------------------------------------------------------------------------


def test_reply_button_works_without_js_and_records_the_post_it_answers(
    client: Any, login: Any
) -> None:
    thread = make_thread(make_user("opener"))
    answered = make_reply(make_user("alita"), thread, "The sequel needs a director.")
    login(make_user())
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert f'href="/forum/t/{thread.id}/a-thread?reply_to={answered.id}#reply"' in page
    form = client.get(f"/forum/t/{thread.id}/a-thread?reply_to={answered.id}")
    html = form.get_data(as_text=True)
    assert "Replying to <a" in html and "@alita</a>" in html
    assert f'name="reply_to" type="hidden" value="{answered.id}"' in html
    response = client.post(
        f"/forum/t/{thread.id}/reply", data={"body": "Cameron, surely.", "reply_to": answered.id}
    )
    assert response.status_code == 302
    post = db.session.scalars(sa.select(Post).order_by(Post.id.desc())).first()
    assert post.reply_to_id == answered.id
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert f'<a class="post__reply-to" href="/forum/p/{answered.id}">in reply to @alita</a>' in page


def test_a_reply_cannot_answer_a_post_of_another_thread_or_one_it_may_not_read() -> None:
    moderator = make_user(role=Role.MODERATOR)
    thread, other = make_thread(), make_thread()
    elsewhere = make_reply(make_user(), other, "Elsewhere.")
    hidden = make_reply(make_user(), thread, "Soon hidden.")
    moderation.hide_item(moderator, moderation.get_item("post", hidden.id), "Abuse.")
    fan = make_user()
    assert services.reply(fan, thread, "One.", reply_to=elsewhere.id).reply_to_id is None
    assert services.reply(fan, thread, "Two.", reply_to=hidden.id).reply_to_id is None
    assert services.reply(moderator, thread, "Three.", reply_to=hidden.id).reply_to_id == hidden.id


def test_reply_to_a_post_since_hidden_does_not_name_its_author_to_members(
    client: Any, login: Any
) -> None:
    moderator = make_user(role=Role.MODERATOR)
    thread = make_thread(make_user("opener"))
    answered = make_reply(make_user("secretive"), thread, "Words.")
    make_reply(make_user(), thread, "An answer.").reply_to_id = answered.id
    db.session.commit()
    moderation.hide_item(moderator, moderation.get_item("post", answered.id), "Abuse.")
    db.session.commit()
    login(make_user())
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert "in reply to an earlier post" in page and "@secretive" not in page
    login(moderator)
    assert "in reply to @secretive" in client.get(f"/forum/t/{thread.id}").get_data(as_text=True)


# Quotes -----------------------------------------------------------------------------------


def test_a_quote_links_back_and_a_hidden_source_is_hidden_from_members_not_moderators(
    client: Any, login: Any
) -> None:
    moderator = make_user(role=Role.MODERATOR)
    thread = make_thread(make_user("opener"))
    source = make_reply(make_user("writer"), thread, "Rosa Salazar for ever.")
    make_reply(make_user(), thread, quote_markdown("writer", source.body, source.id) + "Yes.")
    login(make_user())
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert f'<blockquote data-quote="{source.id}">' in page
    assert f'<a href="/forum/p/{source.id}" rel="nofollow ugc noopener">wrote</a>' in page
    moderation.hide_item(moderator, moderation.get_item("post", source.id), "Abuse.")
    db.session.commit()
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert "Quoted post is hidden." in page and "Rosa Salazar" not in page
    login(moderator)
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert "Quoted post is hidden." not in page and "Rosa Salazar" in page


# Preview ------------------------------------------------------------------------------------


def test_preview_without_js_shows_the_rendered_post_and_posts_nothing(
    client: Any, login: Any
) -> None:
    thread = make_thread()
    login(make_user())
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Post))
    response = client.post(
        f"/forum/t/{thread.id}/reply",
        data={"body": "**Bold** <script>alert(1)</script>", "preview": "Preview"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<div class="preview__body prose" data-preview-body><p><strong>Bold</strong>' in html
    assert "<script>alert" not in html
    assert "**Bold** &lt;script&gt;" in html  # the text stays in the box
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Post)) == before


@pytest.mark.parametrize("where", ["new", "edit"])
def test_preview_on_the_new_thread_and_edit_forms(client: Any, login: Any, where: str) -> None:
    author = login(make_user())
    category = make_category("general")
    url = "/forum/general/new"
    if where == "edit":
        url = f"/forum/p/{services.first_post(make_thread(author, category)).id}/edit"
    response = client.post(url, data={"title": "T", "body": "_Hi_", "preview": "Preview"})
    assert response.status_code == 200
    assert "<p><em>Hi</em></p>" in response.get_data(as_text=True)


def test_preview_endpoint_renders_with_the_servers_renderer(client: Any, login: Any) -> None:
    make_user("alita")
    assert client.post("/forum/preview", data={"body": "x"}).status_code == 403
    login(make_user())
    response = client.post("/forum/preview", data={"body": "Hi @alita [x](javascript:alert(1))"})
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert '<a href="/u/alita" class="mention"' in html or 'class="mention"' in html
    assert 'href="javascript' not in html
    empty = client.post("/forum/preview", data={"body": "  "})
    assert empty.status_code == 400 and empty.get_json()["error"]["detail"]


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_preview_endpoint_needs_the_csrf_token(client: Any, login: Any) -> None:
    login(make_user())
    assert client.post("/forum/preview", data={"body": "Hi"}).status_code == 400


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_preview_endpoint_is_rate_limited(client: Any, login: Any) -> None:
    login(make_user())
    codes = [client.post("/forum/preview", data={"body": "Hi"}).status_code for _ in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429


# Drafts -------------------------------------------------------------------------------------


def _draft(user: Any) -> Draft | None:
    return db.session.scalar(sa.select(Draft).where(Draft.user_id == user.id))


def test_draft_survives_a_validation_error_and_comes_back(client: Any, login: Any) -> None:
    thread = make_thread()
    fan = login(make_user())
    long_text = "Too long. " * 6000  # over 50,000 characters
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": long_text})
    assert response.status_code == 400
    assert _draft(fan).body == long_text.strip()
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert "Too long. Too long." in page.split('name="body"', 1)[1][:2000]


def test_draft_survives_a_refusal_by_the_service(client: Any, login: Any, watched: Any) -> None:
    watched.block["forbidden"] = "Not that word."
    thread = make_thread()
    fan = login(make_user())
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "A forbidden word."})
    assert response.status_code == 400
    assert _draft(fan).body == "A forbidden word."


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_draft_survives_a_429(app: Any, client: Any, login: Any) -> None:
    from fancampaign.admin import sitesettings

    thread = make_thread()
    fan = login(make_user())  # a new account: the posting limit applies
    limit = sitesettings.value("RATELIMIT_POSTS")
    allowed = int(str(limit).split("/")[0].split(" ")[0])
    for n in range(allowed):
        client.post(f"/forum/t/{thread.id}/reply", data={"body": f"Reply {n}."})
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "My long careful text."})
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Your text is kept as a draft" in html and "My long careful text." in html
    assert _draft(fan).body == "My long careful text."
    # Back later: the reply box holds it again.
    assert "My long careful text." in client.get(f"/forum/t/{thread.id}").get_data(as_text=True)


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_new_thread_draft_survives_a_429(client: Any, login: Any) -> None:
    from fancampaign.admin import sitesettings

    make_category("general")
    fan = login(make_user())
    allowed = int(str(sitesettings.value("RATELIMIT_THREADS")).split("/")[0].split(" ")[0])
    for n in range(allowed):
        client.post("/forum/general/new", data={"title": f"Thread {n}", "body": "Body."})
    response = client.post("/forum/general/new", data={"title": "Kept", "body": "Kept body."})
    assert response.status_code == 429
    draft = _draft(fan)
    assert (draft.title, draft.body) == ("Kept", "Kept body.")
    page = client.get("/forum/general/new").get_data(as_text=True)
    assert 'value="Kept"' in page and "Kept body." in page


def test_draft_is_deleted_when_the_post_goes_through(client: Any, login: Any) -> None:
    thread = make_thread()
    fan = login(make_user())
    assert client.post("/forum/drafts", data={"thread": thread.id, "body": "Half"}).status_code
    assert _draft(fan).body == "Half"
    client.post(f"/forum/t/{thread.id}/reply", data={"body": "Whole."})
    assert _draft(fan) is None


def test_drafts_endpoint_saves_per_thread_and_per_category(client: Any, login: Any) -> None:
    thread = make_thread()
    make_category("general")
    assert client.post("/forum/drafts", data={"thread": thread.id}).status_code == 403
    fan = login(make_user())
    assert client.post("/forum/drafts", data={"thread": thread.id, "body": "A"}).status_code == 204
    assert client.post("/forum/drafts", data={"thread": thread.id, "body": "B"}).status_code == 204
    client.post("/forum/drafts", data={"category": "general", "title": "T", "body": "C"})
    drafts = db.session.scalars(sa.select(Draft).where(Draft.user_id == fan.id)).all()
    assert sorted(d.body for d in drafts) == ["B", "C"]
    assert client.post("/forum/drafts", data={"category": "nope", "body": "x"}).status_code == 404


def test_a_member_with_a_draft_gets_their_own_page_and_others_do_not_see_it(
    client: Any, login: Any
) -> None:
    thread = make_thread()
    writer = make_user()
    services.save_draft(writer, thread=thread, body="Private thoughts")
    db.session.commit()
    login(make_user())
    assert "Private thoughts" not in client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    login(writer)
    assert "Private thoughts" in client.get(f"/forum/t/{thread.id}").get_data(as_text=True)


# Bookmarks ----------------------------------------------------------------------------------


def test_bookmark_a_post_without_js_and_find_it_in_the_list(client: Any, login: Any) -> None:
    thread = make_thread(title="Sequel news")
    post = make_reply(make_user("writer"), thread, "Worth keeping.")
    fan = login(make_user())
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert f'action="/forum/p/{post.id}/bookmark"' in page
    response = client.post(f"/forum/p/{post.id}/bookmark")
    assert response.status_code == 302
    assert services.bookmarked_ids(fan, [post.id]) == {post.id}
    page = client.get(f"/forum/t/{thread.id}").get_data(as_text=True)
    assert "Remove bookmark" in page
    listing = client.get("/bookmarks").get_data(as_text=True)
    assert "Sequel news" in listing and "Worth keeping." in listing
    assert "Your bookmarks" in client.get(f"/u/{fan.username}").get_data(as_text=True)
    client.post(f"/forum/p/{post.id}/bookmark")
    assert services.bookmarked_ids(fan, [post.id]) == set()


def test_bookmarks_are_private_and_follow_visibility(client: Any, login: Any) -> None:
    moderator = make_user(role=Role.MODERATOR)
    thread = make_thread()
    post = make_reply(make_user(), thread, "Soon hidden words.")
    fan = make_user()
    services.toggle_bookmark(fan, post)
    db.session.commit()
    assert client.get("/bookmarks").status_code == 302  # visitors log in first
    login(make_user())
    assert "Soon hidden words." not in client.get("/bookmarks").get_data(as_text=True)
    moderation.hide_item(moderator, moderation.get_item("post", post.id), "Abuse.")
    db.session.commit()
    login(fan)
    assert "Soon hidden words." not in client.get("/bookmarks").get_data(as_text=True)
    with pytest.raises(NotAllowed):
        services.toggle_bookmark(fan, db.session.get(Post, post.id))


# @mention suggestions ---------------------------------------------------------------------


def test_mention_suggestions_are_for_members_few_and_by_prefix(client: Any, login: Any) -> None:
    for name in ("alita", "alice", "albert", "bob"):
        make_user(name)
    for n in range(12):
        make_user(f"al{n:02d}")
    make_user("alibanned", is_banned=True)
    assert client.get("/forum/mentions?q=al").status_code == 403
    login(make_user())
    users = client.get("/forum/mentions?q=ALI").get_json()["users"]
    assert [u["username"] for u in users] == ["alice", "alita"]
    assert len(client.get("/forum/mentions?q=al").get_json()["users"]) == 8
    assert client.get("/forum/mentions?q=a%25").get_json()["users"] == []
    assert client.get("/forum/mentions?q=").get_json()["users"] == []


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_mention_suggestions_are_rate_limited(client: Any, login: Any) -> None:
    login(make_user())
    codes = [client.get("/forum/mentions?q=a").status_code for _ in range(61)]
    assert codes[-1] == 429 and set(codes[:60]) == {200}


def test_preview_refuses_an_empty_body_on_its_field() -> None:
    with pytest.raises(InvalidInput) as err:
        services.preview(make_user(), " ")
    assert err.value.details["field"] == "body"


def test_export_holds_bookmarks_drafts_and_what_each_reply_answers() -> None:
    fan = make_user()
    thread = make_thread()
    first = services.first_post(thread)
    services.toggle_bookmark(fan, first)
    services.save_draft(fan, thread=thread, body="Unfinished")
    mine = services.reply(fan, thread, "Answer.", reply_to=first.id)
    services.save_draft(fan, thread=thread, body="Another")
    db.session.commit()
    data = services.export_user(fan)
    assert data["bookmarks"][0]["post_id"] == first.id
    assert [d["body"] for d in data["drafts"]] == ["Another"]
    assert data["posts"][0] == {**data["posts"][0], "id": mine.id, "reply_to_id": first.id}


# On the shared member pages (the page cache): bookmarks are slots, a draft a page of one's own


@pytest.fixture
def shared_pages(app: Any) -> Any:
    import uuid

    from tests.test_member_pages import get

    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"

    clients: dict[int, Any] = {}

    def _get(user: Any, path: str) -> tuple[str, str | None]:
        if id(user) not in clients:  # by the object: reading user.id may load it again
            clients[id(user)] = client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = user.get_id()
                session["_fresh"] = True
        return get(clients[id(user)], path)

    return _get


@needs_redis
@pytest.mark.config(REDIS_URL=REDIS_URL, PAGE_CACHE_ENABLED=True)
def test_shared_thread_page_fills_each_members_bookmarks_in_the_login_query(
    shared_pages: Any,
) -> None:
    thread = make_thread(make_user("writer"), title="Shared", replies=3)
    ids = sorted(db.session.scalars(sa.select(Post.id).where(Post.thread_id == thread.id)))
    ada, bo = make_user("ada"), make_user("bob")
    services.toggle_bookmark(ada, db.session.get(Post, ids[1]))
    db.session.commit()
    shared_pages(bo, f"/forum/t/{thread.id}")
    shared_pages(ada, "/forum")  # ada's client, logged in
    with count_queries() as statements:
        ada_html, ada_from = shared_pages(ada, f"/forum/t/{thread.id}")
    bo_html, bo_from = shared_pages(bo, f"/forum/t/{thread.id}")
    assert (ada_from, bo_from) == ("hit", "hit")
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1  # the login, with likes, bookmarks and draft in it

    def button(html: str, post_id: int) -> str:
        start = html.index(f'action="/forum/p/{post_id}/bookmark"')
        return html[start : html.index("</form>", start)]

    assert "Remove bookmark" in button(ada_html, ids[1])
    assert "Remove bookmark" not in button(bo_html, ids[1])
    assert "Remove bookmark" not in button(ada_html, ids[2])


@needs_redis
@pytest.mark.config(REDIS_URL=REDIS_URL, PAGE_CACHE_ENABLED=True)
def test_a_member_with_a_draft_gets_the_page_with_it_not_the_shared_one(
    shared_pages: Any,
) -> None:
    thread = make_thread(make_user("writer"), title="Drafted")
    ada, bo = make_user("ada"), make_user("bob")
    shared_pages(bo, f"/forum/t/{thread.id}")
    services.save_draft(ada, thread=thread, body="Ada's unfinished thought")
    db.session.commit()
    ada_html, ada_from = shared_pages(ada, f"/forum/t/{thread.id}")
    bo_html, bo_from = shared_pages(bo, f"/forum/t/{thread.id}")
    assert ada_from is None and "Ada&#39;s unfinished thought" in ada_html
    assert bo_from == "hit" and "unfinished" not in bo_html
