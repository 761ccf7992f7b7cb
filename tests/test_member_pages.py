"""Pages shared by every member: one rendering per role in Redis, each viewer's own parts
(account menu, likes, signatures, CSRF token) filled in per request, and a page of their
own for anyone the shared rendering cannot describe."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g, render_template_string

from fancampaign.accounts.models import Role
from fancampaign.accounts.viewer import STANDIN_NAME
from fancampaign.caching import GROUPS
from fancampaign.extensions import db, utcnow
from fancampaign.forum import services as forum
from fancampaign.notifications.services import notify
from fancampaign.pagecache import Page, frozen
from fancampaign.petitions import services as petitions
from tests.factories import make_news_post, make_petition, make_thread, make_user
from tests.helpers import count_queries

pytestmark = [pytest.mark.usefixtures("page_cache_setup")]


def get(client: Any, path: str) -> tuple[str, str | None]:
    """(the page's HTML, whether it came from the shared rendering: hit, miss or None)."""
    g.pop("page_cache", None)
    g.pop("csrf_token", None)  # the test kit keeps one `g` for every request
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-cache"
    html = response.get_data(as_text=True)
    assert frozen.CSRF_MARK not in html and STANDIN_NAME not in html
    assert "<!--fc:" not in html
    return html, g.get("page_cache")


def like_button(html: str, post_id: int) -> str:
    start = html.index(f'action="/forum/p/{post_id}/like"')
    return html[start : html.index("</form>", start)]


def test_members_share_one_rendering_with_their_own_menu_likes_and_token(as_member):
    author = make_user("writer")
    thread = make_thread(author, title="Where the sequel stands", replies=2)
    ids = sorted(
        db.session.scalars(sa.select(forum.Post.id).where(forum.Post.thread_id == thread.id))
    )
    ada, bo = make_user("ada"), make_user("bob")
    forum.toggle_like(ada, db.session.get(forum.Post, ids[1]))
    notify(bo, "reply", "Someone replied to you", "/forum")
    db.session.commit()

    ada_html, ada_from = get(as_member(ada), f"/forum/t/{thread.id}")
    bo_html, bo_from = get(as_member(bo), f"/forum/t/{thread.id}")

    assert (ada_from, bo_from) == ("miss", "hit")
    assert "Unlike" in like_button(ada_html, ids[1]) and "Unlike" not in like_button(
        bo_html, ids[1]
    )
    assert "Like" in like_button(bo_html, ids[0])
    assert ">ada</a>" in ada_html and ">bob</a>" in bo_html and ">ada</a>" not in bo_html
    assert "(1<span" in bo_html and "(1<span" not in ada_html  # bo's unread notification
    token = lambda html: html.split('name="csrf_token" value="')[1].split('"')[0]  # noqa: E731
    assert token(ada_html) != token(bo_html)


@pytest.mark.parametrize("replies", [3, 40])
def test_a_member_served_a_shared_page_costs_one_query_whatever_its_size(as_member, replies):
    """The login's query also reads what the page asks about its viewer (their likes)."""
    thread = make_thread(title="Counted queries", replies=replies)
    get(as_member(make_user("first")), f"/forum/t/{thread.id}")
    fan = make_user("counted")
    post_id = db.session.scalar(sa.select(sa.func.max(forum.Post.id)))
    forum.toggle_like(fan, db.session.get(forum.Post, post_id))
    db.session.commit()
    client = as_member(fan)
    get(client, f"/forum/t/{thread.id}?page=last")
    with count_queries() as statements:
        html, source = get(client, f"/forum/t/{thread.id}?page=last")
    assert source == "hit"
    assert "Unlike" in like_button(html, post_id)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1  # the login, with the likes in it


def test_a_shared_page_reads_its_viewer_as_a_row_and_a_page_of_their_own_reuses_it(as_member):
    """A member served the shared page never costs a `User` (Flask-Login's user is not
    loaded); a moderator, who gets a page of their own, gets their `User` made from the row
    the login's query read, not from a second login query."""
    thread = make_thread(title="Read as a row", replies=2)
    get(as_member(make_user("warmup")), f"/forum/t/{thread.id}")

    html, source = get(as_member(make_user("rowfan")), f"/forum/t/{thread.id}")
    assert source == "hit" and ">rowfan</a>" in html
    assert "_login_user" not in g

    client = as_member(make_user("rowmod", role=Role.MODERATOR))
    with count_queries() as statements:
        html, source = get(client, f"/forum/t/{thread.id}")
    assert source is None and 'action="/moderation' in html and ">rowmod</a>" in html
    logins = [s for s in statements if "session_token" in s and "notifications" in s]
    assert len(logins) == 1
    assert g._login_user.username == "rowmod"


def test_a_token_from_a_shared_page_is_accepted_for_its_viewer(app, as_member):
    app.config["WTF_CSRF_ENABLED"] = True
    thread = make_thread(title="A thread to answer")
    fan = make_user("answerer")
    get(as_member(make_user("warmup")), f"/forum/t/{thread.id}")
    client = as_member(fan)
    html, source = get(client, f"/forum/t/{thread.id}")
    assert source == "hit"
    token = html.split('id="body"')[0].rsplit('name="csrf_token" value="', 1)[1].split('"')[0]

    response = client.post(
        f"/forum/t/{thread.id}/reply", data={"csrf_token": token, "body": "Count me in!"}
    )

    assert response.status_code == 302
    assert db.session.scalar(sa.select(forum.Post).where(forum.Post.body == "Count me in!"))


def test_authors_moderators_and_suspended_members_get_a_page_of_their_own(as_member):
    author = make_user("poster")
    thread = make_thread(author, title="Own posts stay editable", replies=1)
    moderator = make_user("modfan", role=Role.MODERATOR)
    suspended = make_user("paused", suspended_until=utcnow() + timedelta(days=1))
    get(as_member(make_user("reader")), f"/forum/t/{thread.id}")

    html, source = get(as_member(author), f"/forum/t/{thread.id}")
    assert source is None and "Edit<span" in html

    html, source = get(as_member(moderator), f"/forum/t/{thread.id}")
    assert source is None and "Earlier versions" not in html and 'action="/moderation' in html

    html, source = get(as_member(suspended), f"/forum/t/{thread.id}")
    assert source is None and "Your account is suspended" in html


def test_hidden_posts_show_only_to_their_author(as_member):
    thread = make_thread(title="A thread with a held reply")
    held_author = make_user("held")
    post = forum.reply(held_author, thread, "A reply waiting for review.")
    post.is_hidden = True
    post.hidden_reason = "held"
    db.session.commit()
    reader = make_user("someone")

    reader_html, _ = get(as_member(reader), f"/forum/t/{thread.id}")
    author_html, source = get(as_member(held_author), f"/forum/t/{thread.id}")

    assert "A reply waiting for review." not in reader_html
    assert "A reply waiting for review." in author_html and source is None


def test_a_signer_sees_their_signature_and_the_count_follows(as_member):
    petition = make_petition(title="Sign for the sequel")
    signer, other = make_user("signer"), make_user("other")
    petitions.sign_petition(signer, petition)
    db.session.commit()
    path = f"/petitions/{petition.slug}"

    other_html, first = get(as_member(other), path)
    signer_html, second = get(as_member(signer), path)

    assert (first, second) == ("miss", "hit")
    assert "You signed this petition" in signer_html and "Withdraw my signature" in signer_html
    assert "You signed this petition" not in other_html and "Sign the petition" in other_html
    assert "Sign the petition" not in signer_html.split('id="sign"')[1].split("</section>")[0]

    petitions.sign_petition(other, petition)
    db.session.commit()
    html, source = get(as_member(other), path)
    # A signature re-renders nothing: the shared page stays, the count is filled per request.
    assert source == "hit" and "You signed this petition" in html
    assert "data-count>2</strong>" in html


def test_a_signer_whose_reason_is_shown_is_not_offered_to_report_it(as_member):
    petition = make_petition(title="Reasons to sign")
    writer, other = make_user("reasoner"), make_user("reader")
    petitions.sign_petition(writer, petition, reason="Iron City deserves more", is_public=True)
    petitions.sign_petition(other, petition, reason="For the sequel", is_public=True)
    db.session.commit()
    path = f"/petitions/{petition.slug}"
    get(as_member(make_user("warmup")), path)

    def reports(html: str) -> list[str]:
        return re.findall(r'id="report-signature-(\d+)-', html)

    mine = petitions.signature_of(writer, petition)
    html, source = get(as_member(writer), path)
    assert source is None  # a page of their own
    assert "Iron City deserves more" in html and str(mine.id) not in reports(html)
    assert reports(html)  # the other reason keeps its Report control
    html, source = get(as_member(make_user("stranger")), path)
    assert source == "hit" and str(mine.id) in reports(html)


def test_a_member_reads_the_petition_count_with_their_login_in_one_query(as_member):
    """The exact count of a member's petition page comes with the login's query (a mark),
    as committed when the request began: no query of its own."""
    petition = make_petition(title="Counted with the login")
    path = f"/petitions/{petition.slug}"
    get(as_member(make_user("first")), path)
    for n in range(3):
        petitions.sign_petition(make_user(f"early{n}"), petition)
    db.session.commit()
    client = as_member(make_user("reader"))
    get(client, path)
    with count_queries() as statements:
        html, source = get(client, path)
    assert source == "hit"
    assert "data-count>3</strong>" in html
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1  # the login, with the count in it


def test_an_article_shows_each_member_their_signed_petitions(as_member):
    organiser = make_user("organiserfan", role=Role.ORGANISER)
    petition = make_petition(organiser, title="The linked petition")
    article = make_news_post(organiser, title="Sign the linked petition")
    article.petitions.append(petition)
    db.session.commit()
    signer, other = make_user("signed"), make_user("unsigned")
    petitions.sign_petition(signer, petition)
    db.session.commit()
    path = f"/news/{article.slug}"

    other_html, first = get(as_member(other), path)
    signer_html, second = get(as_member(signer), path)

    assert (first, second) == ("miss", "hit")
    assert "You signed this petition." in signer_html
    assert "You signed this petition." not in other_html


def test_a_page_naming_its_viewer_outside_a_slot_is_not_shared(app, as_member):
    app.add_url_rule(
        "/probe/me",
        "probe_me",
        Page("me", depends=GROUPS)(
            lambda: render_template_string("<p>Hello {{ current_user.username }}</p>")
        ),
    )
    html, source = get(as_member(make_user("named")), "/probe/me")
    assert "Hello named" in html and source is None
    html, source = get(as_member(make_user("other")), "/probe/me")
    assert "Hello other" in html and source is None


def test_the_forms_in_a_members_fill_carry_their_own_token(app, as_member):
    """A fill's html is kept for every viewer: a form in it (Withdraw, in the signed box)
    holds each viewer's own CSRF token, never the one of whoever it was first made for."""
    app.config["WTF_CSRF_ENABLED"] = True
    petition = make_petition(title="Withdraw with your own token")
    first, second = make_user("firstsigner"), make_user("secondsigner")
    for user in (first, second):
        petitions.sign_petition(user, petition)
    db.session.commit()
    path = f"/petitions/{petition.slug}"
    get(as_member(make_user("warmup")), path)

    tokens = []
    for user in (first, second):
        client = as_member(user)
        html, source = get(client, path)
        assert source == "hit"
        box = html.split('id="sign"')[1].split("</section>")[0]
        form = box[box.index("/withdraw") :]
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        tokens.append(token)
        response = client.post(f"{path}/withdraw", data={"csrf_token": token})
        assert response.status_code in (302, 303), response.status_code
    assert tokens[0] != tokens[1]


def test_a_members_category_markers_come_with_their_login_by_the_same_rule(as_member):
    """The shared category page's unread and new markers and watch levels, read with the
    login (`threads_mark`), say what `thread_states` says, for each kind of thread."""
    from fancampaign.accounts.services import read_marks
    from fancampaign.forum import tracking
    from tests.factories import make_category

    category = make_category("markers")
    alita, reader, other = make_user("alita"), make_user("reader"), make_user("other")
    read_part = make_thread(alita, category, title="Read in part")
    muted = make_thread(alita, category, title="Muted one")
    never = make_thread(alita, category, title="Never opened")
    own = make_thread(reader, category, title="Their own")
    old = make_thread(alita, category, title="Started long ago")
    old.created_at = utcnow() - timedelta(days=30)
    watched = make_thread(alita, category, title="Watched one")
    db.session.commit()
    first = forum.first_post(read_part).id
    tracking.record_read(reader, read_part, first)
    for n in range(2):
        forum.reply(other, read_part, f"Reply {n} after where they read.")
    tracking.set_thread_level(reader, muted, "muted")
    tracking.set_thread_level(reader, watched, "watching")
    tracking.set_category_level(other, category, "tracking")
    db.session.commit()
    threads = [read_part, muted, never, own, old, watched]
    ids = [t.id for t in threads]
    started = {t.id: (t.created_at.timestamp(), t.author_id) for t in threads}

    for viewer in (reader, other, alita):
        value = read_marks(viewer.id, {"t": (tracking.threads_mark(), {"mark_thread_ids": ids})})
        level = read_marks(
            viewer.id,
            {"c": (tracking.category_mark(), {"mark_category_id": category.id})},
        )["c"]
        from_mark = tracking.states_from_mark(value["t"], viewer.id, level, started)
        assert from_mark == tracking.thread_states(viewer, ids), viewer.username

    states = tracking.thread_states(reader, ids)
    assert states[read_part.id].unread == 2 and states[muted.id].level == "muted"
    assert states[never.id].is_new and not states[own.id].is_new and not states[old.id].is_new
    assert tracking.thread_states(other, ids)[never.id].level == "tracking"

    get(as_member(make_user("first")), f"/forum/{category.slug}")
    client = as_member(reader)
    get(client, f"/forum/{category.slug}")
    with count_queries() as statements:
        html, source = get(client, f"/forum/{category.slug}")
    assert source == "hit"
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert f'href="/forum/t/{read_part.id}/unread">2 unread' in html
    assert html.count("badge--new") == sum(s.is_new for s in states.values()) == 2
