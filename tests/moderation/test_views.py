"""The moderation pages through the client: status, Location, flashes and the rows changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import Post, Thread
from fancampaign.moderation import services
from fancampaign.moderation.models import ModerationAction, Report, WatchedWord
from tests.factories import PASSWORD, make_category, make_reply, make_thread, make_user
from tests.helpers import count_queries


@pytest.fixture
def post(app):
    thread = make_thread(make_user("opener"), title="Sequel news")
    return make_reply(make_user("spammer"), thread, "Buy cheap watches")


def _count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _report_form(post, **extra):
    data = {"kind": "post", "id": str(post.id), "reason": "spam", "note": "", "next": "/forum"}
    data.update(extra)
    return data


# /report --------------------------------------------------------------------------------


def test_member_reports_a_post(client, login, post):
    login(make_user())
    response = client.post("/report", data=_report_form(post, note="Selling watches"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/forum"
    assert _count(Report) == 1
    page = client.get("/forum")
    assert "your report was sent" in page.get_data(as_text=True)


def test_duplicate_report_gets_a_friendly_message(client, login, post):
    login(make_user())
    client.post("/report", data=_report_form(post))
    response = client.post("/report", data=_report_form(post), follow_redirects=True)
    assert response.status_code == 200
    assert "already reported this" in response.get_data(as_text=True)
    assert _count(Report) == 1


def test_own_post_cannot_be_reported(client, login, post):
    login(post.author)
    response = client.post("/report", data=_report_form(post))
    assert response.status_code == 403
    assert "your own content" in response.get_data(as_text=True)
    assert _count(Report) == 0


def test_visitor_is_sent_to_log_in(client, post):
    response = client.post("/report", data=_report_form(post))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _count(Report) == 0


def test_suspended_member_cannot_report(client, login, post):
    login(make_user(suspended_until=utcnow() + timedelta(days=1)))
    response = client.post("/report", data=_report_form(post))
    assert response.status_code == 403
    assert "suspended" in response.get_data(as_text=True)
    assert _count(Report) == 0


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        ({"reason": ""}, 400, "Choose why you are reporting this."),
        ({"reason": "boring"}, 400, "Not a valid choice"),
        ({"note": "x" * 1001}, 400, "1,000 characters or fewer"),
        ({"note": "x" * 1_000_000}, 400, None),
        ({"note": "nul \x00 byte"}, 400, "characters that are not allowed"),
        ({"kind": "widget"}, 404, None),
        ({"id": "abc"}, 404, None),
        ({"id": "99999999999999999999"}, 404, None),
        ({"id": "9999"}, 404, None),
    ],
)
def test_bad_report_input_is_refused_and_stores_nothing(
    client, login, post, extra, status, message
):
    login(make_user())
    response = client.post("/report", data=_report_form(post, **extra))
    assert response.status_code == status or (status == 400 and response.status_code == 413)
    if message:
        assert message in response.get_data(as_text=True)
    assert _count(Report) == 0


def test_report_form_page_shows_the_item(client, login, post):
    login(make_user())
    response = client.get(f"/report?kind=post&id={post.id}")
    assert response.status_code == 200
    assert "Buy cheap watches" in response.get_data(as_text=True)


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_REPORTS="2 per hour")
def test_reporters_are_rate_limited_per_user(client, login, app):
    thread = make_thread(make_user("opener"), replies=0)
    posts = [make_reply(make_user(), thread, f"Reply {n}") for n in range(3)]
    login(make_user())
    codes = [client.post("/report", data=_report_form(p)).status_code for p in posts]
    assert codes == [302, 302, 429]
    assert _count(Report) == 2
    # Another member has their own allowance.
    login(make_user())
    assert client.post("/report", data=_report_form(posts[2])).status_code == 302


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_report_needs_the_csrf_token(client, login, post):
    login(make_user())
    response = client.post("/report", data=_report_form(post))
    assert response.status_code == 400
    assert _count(Report) == 0


def test_report_control_is_on_the_thread_page_for_members_only(client, login, post):
    page = client.get(f"/forum/t/{post.thread_id}").get_data(as_text=True)
    assert 'action="/report"' not in page
    login(make_user())
    page = client.get(f"/forum/t/{post.thread_id}").get_data(as_text=True)
    assert 'action="/report"' in page
    assert f'name="id" value="{post.id}"' in page
    assert 'name="csrf_token"' in page


# The queue ------------------------------------------------------------------------------


def test_queue_groups_reports_per_item_with_the_authors_history(client, login, post, moderator):
    for note in ("watch spam", "more spam"):
        services.report_item(make_user(), "post", post.id, "spam", note)
    services.sanction_user(moderator, post.author, "warn", "Earlier warning.")
    db.session.commit()
    login(moderator)
    page = client.get("/moderation").get_data(as_text=True)
    assert page.count(f'id="post-{post.id}"') == 1
    assert "watch spam" in page and "more spam" in page
    assert "Buy cheap watches" in page
    assert "1 previous sanction" in page
    assert "2 reports" in page


def _queries(client, url):
    from flask import g

    g.pop("_login_user", None)  # each request loads its user, as in production
    db.session.expire_all()
    with count_queries() as statements:
        assert client.get(url).status_code == 200
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


def _reported_posts(n):
    thread = make_thread(make_user())
    for i in range(n):
        p = make_reply(make_user(), thread, f"Reply {i}")
        services.report_item(make_user(), "post", p.id, "spam")
        services.report_item(make_user(), "thread", thread.id, "spam") if i == 0 else None
    db.session.commit()


def test_queue_runs_a_fixed_number_of_queries(client, login, moderator):
    _reported_posts(2)
    login(moderator)
    few = _queries(client, "/moderation")
    _reported_posts(6)
    many = _queries(client, "/moderation")
    assert few == many


def test_queue_is_paginated(client, login, moderator):
    thread = make_thread(make_user())
    for i in range(22):
        p = make_reply(make_user(), thread, f"Reply number {i}")
        services.report_item(moderator, "post", p.id, "spam")
    db.session.commit()
    login(moderator)
    first = client.get("/moderation").get_data(as_text=True)
    second = client.get("/moderation?page=2").get_data(as_text=True)
    assert "Reply number 0" in first and "Reply number 21" not in first
    assert "Reply number 21" in second
    assert client.get("/moderation?page=abc").status_code == 200
    assert client.get("/moderation?page=-3").status_code == 200


def test_hide_from_the_queue(client, login, post, moderator):
    services.report_item(make_user(), "post", post.id, "spam")
    db.session.commit()
    login(moderator)
    response = client.post(
        f"/moderation/post/{post.id}/hide", data={"reason": "Spam.", "next": "/moderation"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"
    assert db.session.get(Post, post.id).is_hidden
    assert _count(ModerationAction) == 1
    assert "No open reports" in client.get("/moderation").get_data(as_text=True)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001, "nul\x00"])
def test_an_action_without_a_proper_reason_is_refused(client, login, post, moderator, reason):
    login(moderator)
    response = client.post(f"/moderation/post/{post.id}/hide", data={"reason": reason})
    assert response.status_code == 400
    assert "There is a problem" in response.get_data(as_text=True)
    assert not db.session.get(Post, post.id).is_hidden
    assert _count(ModerationAction) == 0


def test_unknown_actions_and_items_are_404(client, login, post, moderator):
    login(moderator)
    assert (
        client.post(f"/moderation/post/{post.id}/explode", data={"reason": "x"}).status_code == 404
    )
    assert client.post("/moderation/post/999/hide", data={"reason": "x"}).status_code == 404
    assert client.post(f"/moderation/post/{post.id}/pin", data={"reason": "x"}).status_code == 404
    assert client.post("/moderation/widget/1/hide", data={"reason": "x"}).status_code == 404
    assert _count(ModerationAction) == 0


def test_action_page_and_nothing_to_do(client, login, post, moderator):
    login(moderator)
    assert client.get(f"/moderation/post/{post.id}/hide").status_code == 200
    client.post(f"/moderation/post/{post.id}/hide", data={"reason": "Spam."})
    again = client.post(f"/moderation/post/{post.id}/hide", data={"reason": "Spam."})
    assert again.status_code == 409
    assert "already hidden" in again.get_data(as_text=True)
    assert _count(ModerationAction) == 1


def test_edit_keeps_the_original(client, login, post, moderator):
    login(moderator)
    assert client.get(f"/moderation/post/{post.id}/edit").status_code == 200
    bad = client.post(f"/moderation/post/{post.id}/edit", data={"text": "  ", "reason": "x"})
    assert bad.status_code == 400
    response = client.post(
        f"/moderation/post/{post.id}/edit", data={"text": "Edited.", "reason": "Link removed."}
    )
    assert response.status_code == 302
    assert db.session.get(Post, post.id).body == "Edited."
    assert _count(ModerationAction) == 1


def test_move_thread(client, login, post, moderator):
    other = make_category("elsewhere")
    login(moderator)
    assert client.get(f"/moderation/thread/{post.thread_id}/move").status_code == 200
    bad = client.post(
        f"/moderation/thread/{post.thread_id}/move", data={"category": "999", "reason": "x"}
    )
    assert bad.status_code == 400
    response = client.post(
        f"/moderation/thread/{post.thread_id}/move",
        data={"category": str(other.id), "reason": "Wrong place."},
    )
    assert response.status_code == 302
    assert db.session.get(Thread, post.thread_id).category_id == other.id


def test_thread_tools_on_the_thread_page(client, login, post, moderator):
    login(moderator)
    page = client.get(f"/forum/t/{post.thread_id}").get_data(as_text=True)
    assert f"/moderation/thread/{post.thread_id}/pin" in page
    assert f"/moderation/post/{post.id}/hide" in page
    here = f"/forum/t/{post.thread_id}"
    response = client.post(
        f"/moderation/thread/{post.thread_id}/pin", data={"reason": "Important.", "next": here}
    )
    assert response.headers["Location"] == here
    assert db.session.get(Thread, post.thread_id).is_pinned
    response = client.post(
        f"/moderation/thread/{post.thread_id}/pin",
        data={"reason": "x", "next": "https://evil.example/"},
    )
    assert response.status_code == 409


def test_members_do_not_see_the_tools(client, login, post):
    login(make_user())
    page = client.get(f"/forum/t/{post.thread_id}").get_data(as_text=True)
    assert "/moderation/thread/" not in page


def test_pending_petitions_tab(client, login, moderator):
    from tests.factories import make_petition

    petition = make_petition(make_user(), status="pending", title="Release the extended cut")
    login(moderator)
    page = client.get("/moderation?tab=petitions").get_data(as_text=True)
    assert "Release the extended cut" in page
    bad = client.post(f"/moderation/petitions/{petition.id}/reject", data={"reason": ""})
    assert bad.status_code == 400
    assert petition.status == "pending"
    response = client.post(f"/moderation/petitions/{petition.id}/approve", data={"reason": ""})
    assert response.status_code == 302
    db.session.refresh(petition)
    assert petition.status == "open"


def test_held_tab_lists_held_posts(client, login, moderator, monkeypatch):
    from fancampaign.moderation import watch

    thread = make_thread(make_user())
    monkeypatch.setattr(watch, "screen", lambda text: watch.Verdict("hold"))
    make_reply(make_user(), thread, "Held back words")
    monkeypatch.undo()
    login(moderator)
    page = client.get("/moderation?tab=held").get_data(as_text=True)
    assert "Held back words" in page


# Sanctions ------------------------------------------------------------------------------


def test_find_and_suspend_a_user(client, login, moderator):
    member = make_user("koyomi")
    login(moderator)
    page = client.get("/moderation/users?q=koy").get_data(as_text=True)
    assert "/moderation/users/koyomi" in page
    assert client.get("/moderation/users/koyomi").status_code == 200
    response = client.post(
        "/moderation/users/koyomi/sanction",
        data={"action": "suspend", "period": "1w", "reason": "Spamming."},
    )
    assert response.status_code == 302
    db.session.refresh(member)
    assert member.is_suspended


@pytest.mark.parametrize(
    "data",
    [
        {"action": "", "reason": "x"},
        {"action": "explode", "reason": "x"},
        {"action": "suspend", "period": "date", "until": "", "reason": "x"},
        {"action": "suspend", "period": "date", "until": "not a date", "reason": "x"},
        {"action": "suspend", "period": "date", "until": "2001-01-01", "reason": "x"},
        {"action": "suspend", "period": "forever", "reason": "x"},
        {"action": "ban", "reason": ""},
        {"action": "ban", "reason": "\x00"},
    ],
)
def test_bad_sanctions_are_refused(client, login, moderator, data):
    member = make_user("koyomi")
    login(moderator)
    response = client.post("/moderation/users/koyomi/sanction", data=data)
    assert response.status_code == 400
    assert "There is a problem" in response.get_data(as_text=True)
    db.session.refresh(member)
    assert not member.is_suspended and not member.is_banned
    assert _count(ModerationAction) == 0


def test_moderator_cannot_sanction_an_admin(client, login, moderator, admin):
    login(moderator)
    response = client.post(
        f"/moderation/users/{admin.username}/sanction", data={"action": "ban", "reason": "x"}
    )
    assert response.status_code == 403
    db.session.refresh(admin)
    assert not admin.is_banned


def test_user_search_bad_input(client, login, moderator):
    login(moderator)
    assert client.get("/moderation/users?q=" + "x" * 200).status_code == 400
    assert client.get("/moderation/users?q=%00").status_code == 400
    assert client.get("/moderation/users/nobody").status_code == 404
    assert client.get("/moderation/users/" + "x" * 300).status_code == 404


def test_ban_ends_an_existing_session_on_its_next_request(client, login, app, moderator):
    member = make_user("hugo")
    login(member)
    assert client.get("/settings").status_code == 200
    services.sanction_user(moderator, member, "ban", "Abuse.")
    db.session.commit()
    from flask import g

    g.pop("_login_user", None)
    response = client.get("/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_ban_ends_remember_me_cookies(app, moderator):
    member = make_user("hugo")
    browser = app.test_client()
    response = browser.post("/login", data={"login": "hugo", "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    assert browser.get_cookie("remember_token") is not None
    from flask import g

    # A new browser session: only the remember-me cookie is left.
    browser.delete_cookie("session")
    g.pop("_login_user", None)
    assert browser.get("/settings").status_code == 200
    services.sanction_user(moderator, db.session.get(type(member), member.id), "ban", "Abuse.")
    db.session.commit()
    browser.delete_cookie("session")
    g.pop("_login_user", None)
    assert browser.get("/settings").status_code == 302


# Watched words --------------------------------------------------------------------------


def test_add_and_remove_a_watched_word(client, login, moderator):
    login(moderator)
    response = client.post(
        "/moderation/words", data={"pattern": "viagra", "action": "block", "message": "No."}
    )
    assert response.status_code == 302
    word = db.session.scalar(sa.select(WatchedWord))
    assert "viagra" in client.get("/moderation/words").get_data(as_text=True)
    assert client.post(f"/moderation/words/{word.id}/delete").status_code == 302
    assert _count(WatchedWord) == 0
    assert [a.action for a in db.session.scalars(sa.select(ModerationAction))] == [
        "add_word",
        "remove_word",
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"pattern": "", "action": "block"},
        {"pattern": "   ", "action": "block"},
        {"pattern": "x" * 101, "action": "block"},
        {"pattern": "a\x00b", "action": "block"},
        {"pattern": "(evil|regex)+", "action": "hold"},
        {"pattern": "word", "action": ""},
        {"pattern": "word", "action": "explode"},
        {"pattern": "word", "action": "block", "message": "m" * 201},
    ],
)
def test_bad_words_are_refused(client, login, moderator, data):
    login(moderator)
    response = client.post("/moderation/words", data=data)
    assert response.status_code == 400
    assert "There is a problem" in response.get_data(as_text=True)
    assert _count(WatchedWord) == 0


def test_blocked_reply_through_the_forum(client, login, moderator):
    services.add_word(moderator, "viagra", "block", "No pharmacy spam here.")
    thread = make_thread(make_user())
    db.session.commit()
    login(make_user())
    response = client.post(f"/forum/t/{thread.id}/reply", data={"body": "Cheap Viagra!"})
    assert response.status_code == 400
    assert "No pharmacy spam here." in response.get_data(as_text=True)
    assert _count(Post) == 1


# The log --------------------------------------------------------------------------------


def test_log_filters(client, login, post, moderator, admin):
    services.hide_item(moderator, services.get_item("post", post.id), "Spam.")
    services.sanction_user(admin, post.author, "warn", "Behave.")
    db.session.commit()
    login(moderator)
    page = client.get("/moderation/log").get_data(as_text=True)
    assert "Spam." in page and "Behave." in page
    page = client.get("/moderation/log?moderator=boss").get_data(as_text=True)
    assert "Behave." in page and "Spam." not in page
    page = client.get("/moderation/log?action=hide").get_data(as_text=True)
    assert "Spam." in page and "Behave." not in page
    page = client.get("/moderation/log?kind=user").get_data(as_text=True)
    assert "Behave." in page and "Spam." not in page
    assert client.get("/moderation/log?moderator=nobody").status_code == 400
    assert client.get("/moderation/log?moderator=%00").status_code == 400
    assert client.get("/moderation/log?action=nonsense").status_code == 200


def test_log_has_no_edit_or_delete_path(client, login, moderator, app):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/moderation/log")]
    assert [sorted(r.methods - {"HEAD", "OPTIONS"}) for r in rules] == [["GET"]]


def test_profile_has_a_report_control_and_a_moderator_link(client, login, moderator):
    member = make_user("koyomi")
    login(None)
    page = client.get("/u/koyomi").get_data(as_text=True)
    assert 'action="/report"' not in page
    login(make_user())
    page = client.get("/u/koyomi").get_data(as_text=True)
    assert 'name="kind" value="user"' in page and f'name="id" value="{member.id}"' in page
    assert "/moderation/users/koyomi" not in page
    login(member)
    assert 'action="/report"' not in client.get("/u/koyomi").get_data(as_text=True)
    login(moderator)
    assert "/moderation/users/koyomi" in client.get("/u/koyomi").get_data(as_text=True)


def test_reports_are_in_the_data_export(app):
    from fancampaign import signals

    thread = make_thread(make_user("opener"))
    reporter = make_user()
    services.report_item(reporter, "thread", thread.id, "spam", "An ad.")
    exported = dict(result for _r, result in signals.account_exporting.send(reporter))
    assert exported["reports"][0]["note"] == "An ad."


@pytest.mark.parametrize(
    "url",
    [
        "/moderation/post/99999999999999999999/hide",
        "/moderation/thread/99999999999999999999/move",
        "/moderation/petitions/99999999999999999999/approve",
        "/moderation/words/99999999999999999999/delete",
    ],
)
def test_huge_ids_are_not_found(client, login, moderator, url):
    login(moderator)
    assert client.post(url, data={"reason": "x"}).status_code == 404


def test_odd_log_filters_do_not_break(client, login, moderator):
    login(moderator)
    for query in ("kind=%00", "action=%00", "kind=" + "x" * 5000, "page=%00"):
        assert client.get(f"/moderation/log?{query}").status_code in (200, 400), query


def test_petition_page_has_a_report_control(client, login):
    from tests.factories import make_petition

    petition = make_petition()
    login(make_user())
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert 'name="kind" value="petition"' in page
    login(petition.creator)
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert 'name="kind" value="petition"' not in page


def test_reports_on_a_removed_item_can_still_be_dismissed(client, login, post, moderator):
    services.report_item(make_user(), "post", post.id, "spam")
    db.session.commit()
    db.session.execute(sa.delete(Post).where(Post.id == post.id))
    db.session.commit()
    login(moderator)
    page = client.get("/moderation").get_data(as_text=True)
    assert "no longer exists" in page
    response = client.post(f"/moderation/post/{post.id}/dismiss", data={"reason": "Gone."})
    assert response.status_code == 302
    assert _count(Report, Report.open_key == 1) == 0
    assert _count(ModerationAction) == 1
    assert client.post("/moderation/post/424242/dismiss", data={"reason": "x"}).status_code == 409
