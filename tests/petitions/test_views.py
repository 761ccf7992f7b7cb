"""The petition pages, through the test client."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db, utcnow
from fancampaign.moderation.models import ModerationAction
from fancampaign.petitions import services
from fancampaign.petitions.models import Petition, Signature
from tests.conftest import links_in
from tests.factories import make_petition, make_user
from tests.helpers import REDIS_URL, make_login, needs_redis


def rows_of(model) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def flashed(client) -> list[str]:
    with client.session_transaction() as session:
        return [message for _cat, message in session.get("_flashes", [])]


# Listing and reading ----------------------------------------------------------------------


def test_list_filters_and_sorts(app, client):
    popular = make_petition(title="The popular petition here")
    fresh = make_petition(title="The fresh petition here")
    done = make_petition(title="The closed petition here")
    services.close_petition(done.creator, done)
    for _ in range(3):
        services.sign_petition(make_user(commit=False), popular)
    db.session.commit()
    page = client.get("/petitions").get_data(as_text=True)
    assert page.index("The popular petition") < page.index("The fresh petition")
    assert "The closed petition" not in page
    page = client.get("/petitions?sort=recent").get_data(as_text=True)
    assert page.index("The fresh petition") < page.index("The popular petition")
    page = client.get("/petitions?status=closed").get_data(as_text=True)
    assert "The closed petition" in page and "The fresh petition" not in page
    page = client.get("/petitions?sort=trending").get_data(as_text=True)
    assert "3 in the last 24 hours" in page
    assert client.get("/petitions?status=won").status_code == 200
    assert client.get("/petitions?status=%00&sort=x&page=-3").status_code == 200
    assert fresh.slug in client.get("/petitions?page=abc").get_data(as_text=True)


def test_petition_page(app, client):
    petition = make_petition(body="Hello <script>alert(1)</script> **world**")
    fan = make_user(display_name="Visible Fan")
    services.sign_petition(fan, petition, reason="<b>Because</b>", country="FR", is_public=True)
    db.session.commit()
    response = client.get(f"/petitions/{petition.slug}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert" not in html
    assert "&lt;b&gt;Because&lt;/b&gt;" in html
    assert "Visible Fan" in html and "France" in html
    assert '<svg class="chart"' in html and "<table" in html
    assert "style=" not in html.split("<main", 1)[1]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_hidden_reasons_are_not_shown(app, client):
    petition = make_petition()
    services.sign_petition(make_user(), petition, reason="A rude reason")
    db.session.execute(sa.update(Signature).values(reason_hidden=True))
    db.session.commit()
    assert "A rude reason" not in client.get(f"/petitions/{petition.slug}").get_data(as_text=True)


def test_goal_raised_is_explained(app, client):
    petition = make_petition(goal=1)
    services.sign_petition(make_user(), petition)
    db.session.commit()
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "99 to the next goal of 100" in html
    assert "The first goal of 1 was reached." in html


def test_unknown_and_pending_petitions_are_404_for_visitors(app, client, login):
    creator = make_user()
    pending = make_petition(creator)
    assert client.get("/petitions/nope").status_code == 404
    assert client.get(f"/petitions/{pending.slug}").status_code == 404
    login(creator)
    assert client.get(f"/petitions/{pending.slug}").status_code == 200


# Starting and editing ---------------------------------------------------------------------

GOOD = {
    "title": "Make Alita: Battle Angel 2 happen",
    "target": "To: 20th Century Studios",
    "summary": "We want the sequel the story deserves.",
    "body": "Because **Alita**.",
    "goal": "5000",
    "deadline": "",
}


def test_member_starts_petition_for_review(app, client, login):
    login(make_user())
    response = client.post("/petitions/new", data=GOOD)
    assert response.status_code == 303
    petition = db.session.scalar(sa.select(Petition))
    assert petition.status == "pending" and petition.target == "20th Century Studios"
    assert "review" in flashed(client)[0]


def test_organiser_petition_opens(app, client, login):
    login(make_user(role=Role.ORGANISER))
    day = (utcnow() + timedelta(days=100)).date()
    client.post("/petitions/new", data={**GOOD, "deadline": day.isoformat()})
    petition = db.session.scalar(sa.select(Petition))
    assert petition.status == "open"
    assert petition.deadline.date() == day


@pytest.mark.parametrize(
    "bad",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 1_000_000},
        {"title": "Nul\x00byte in the title"},
        {"summary": "\u202e\u202e"},
        {"goal": "lots"},
        {"goal": "-5"},
        {"goal": "99999999999999999999"},
        {"deadline": "2001-01-01"},
        {"deadline": "2999-01-01"},
        {"deadline": "tomorrow"},
        {"body": "x" * 20_001},
    ],
)
def test_bad_petition_input_gets_400_and_stores_nothing(app, client, login, bad):
    login(make_user(role=Role.ORGANISER))
    response = client.post("/petitions/new", data={**GOOD, **bad})
    assert response.status_code == 400
    assert "There is a problem" in response.get_data(as_text=True)
    assert rows_of(Petition) == 0


def test_visitor_and_unconfirmed_cannot_start(app, client, login):
    assert client.get("/petitions/new").status_code == 302
    login(make_user(confirmed=False))
    assert client.get("/petitions/new").status_code == 403


def test_edit_permissions(app, client, login):
    petition = make_petition()
    login(make_user())
    assert client.get(f"/petitions/{petition.slug}/edit").status_code == 403
    login(petition.creator)
    assert client.get(f"/petitions/{petition.slug}/edit").status_code == 200
    response = client.post(
        f"/petitions/{petition.slug}/edit", data={**GOOD, "title": "A new and better title"}
    )
    assert response.status_code == 303
    db.session.refresh(petition)
    assert petition.title == "A new and better title"
    response = client.post(f"/petitions/{petition.slug}/edit", data={**GOOD, "goal": "0"})
    assert response.status_code == 400


def test_close_and_win_through_pages(app, client, login):
    petition = make_petition()
    login(make_user())
    assert client.post(f"/petitions/{petition.slug}/close").status_code == 403
    login(petition.creator)
    assert client.post(f"/petitions/{petition.slug}/close").status_code == 303
    assert client.post(f"/petitions/{petition.slug}/won", data={"note": ""}).status_code == 400
    response = client.post(f"/petitions/{petition.slug}/won", data={"note": "They said yes"})
    assert response.status_code == 303
    db.session.refresh(petition)
    assert petition.status == "won"
    assert "They said yes" in client.get(f"/petitions/{petition.slug}").get_data(as_text=True)


def _suspend(user) -> None:
    user.suspended_until = utcnow() + timedelta(days=3)
    db.session.commit()


def test_suspended_organiser_cannot_close_a_petition(app, client, login):
    petition = make_petition()
    _suspend(petition.creator)
    login(petition.creator)
    assert client.post(f"/petitions/{petition.slug}/close").status_code == 403
    with pytest.raises(services.NotAllowed):
        services.close_petition(petition.creator, petition)
    db.session.rollback()
    assert db.session.get(Petition, petition.id).status == "open"


def test_suspended_organiser_cannot_mark_a_petition_won(app, client, login):
    petition = make_petition()
    _suspend(petition.creator)
    login(petition.creator)
    response = client.post(f"/petitions/{petition.slug}/won", data={"note": "They said yes"})
    assert response.status_code == 403
    with pytest.raises(services.NotAllowed):
        services.mark_won(petition.creator, petition, "They said yes")
    db.session.rollback()
    assert db.session.get(Petition, petition.id).status == "open"


def test_suspended_organiser_cannot_export_signatures(app, client, login):
    petition = make_petition()
    _suspend(petition.creator)
    login(petition.creator)
    assert client.get(f"/petitions/{petition.slug}/signatures.csv").status_code == 403


def test_suspended_member_cannot_edit_their_pending_petition_or_withdraw(app, client, login):
    member = make_user()
    pending = make_petition(member, status="pending")
    signed = make_petition()
    services.sign_petition(member, signed)
    db.session.commit()
    _suspend(member)
    login(member)
    # Still readable by its creator, but no longer changeable.
    assert client.get(f"/petitions/{pending.slug}").status_code == 200
    assert client.get(f"/petitions/{pending.slug}/edit").status_code == 403
    with pytest.raises(services.NotAllowed):
        services.withdraw_signature(member, signed)


# Signing ----------------------------------------------------------------------------------


def test_member_signs_with_one_click(app, client, login, count_rows):
    petition = make_petition()
    login(make_user())
    response = client.post(f"/petitions/{petition.slug}/sign", data={})
    assert response.status_code == 303
    assert "counted" in flashed(client)[0]
    assert count_rows(petition) == (1, 1)
    response = client.post(f"/petitions/{petition.slug}/sign", data={})
    assert response.status_code == 303
    assert "already signed" in flashed(client)[-1]
    assert count_rows(petition) == (1, 1)
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "You signed this petition" in html and "Withdraw" in html


@pytest.mark.parametrize(
    "bad",
    [
        {"reason": "x" * 501},
        {"reason": "null\x00"},
        {"country": "ZZ"},
        {"country": "x" * 100_000},
    ],
)
def test_bad_signing_input_gets_400_and_stores_nothing(app, client, login, bad):
    petition = make_petition()
    login(make_user())
    response = client.post(f"/petitions/{petition.slug}/sign", data=bad)
    assert response.status_code == 400
    assert "There is a problem" in response.get_data(as_text=True)
    assert rows_of(Signature) == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"name": "    "},
        {"email": "nope"},
        {"email": ""},
        {"consent": ""},
        {"name": "\x00"},
    ],
)
def test_bad_guest_input_gets_400_and_stores_nothing(app, client, outbox, bad):
    petition = make_petition()
    data = {"name": "Guest", "email": "guest@example.com", "consent": "y", **bad}
    response = client.post(f"/petitions/{petition.slug}/sign", data=data)
    assert response.status_code == 400
    assert rows_of(Signature) == 0
    assert outbox == []


def test_guest_signs_and_confirms_by_post(app, client, outbox, count_rows):
    petition = make_petition()
    data = {"name": "Guest Fan", "email": "guest@example.com", "consent": "y", "is_public": "y"}
    response = client.post(f"/petitions/{petition.slug}/sign", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/petitions/{petition.slug}/signed")
    assert count_rows(petition) == (0, 0)
    (link,) = [u for u in links_in(outbox[0]) if "/signatures/confirm/" in u]
    path = link.split("localhost", 1)[1]
    page = client.get(path)  # a mail scanner following the link confirms nothing
    assert page.status_code == 200 and "Confirm" in page.get_data(as_text=True)
    assert count_rows(petition) == (0, 0)
    assert client.post(path).status_code == 303
    assert count_rows(petition) == (1, 1)
    assert client.post(path).status_code == 303  # reused: nothing changes
    assert count_rows(petition) == (1, 1)
    assert "Guest Fan" in client.get(f"/petitions/{petition.slug}").get_data(as_text=True)


def test_guest_duplicate_gets_the_same_answer(app, client, outbox):
    petition = make_petition()
    data = {"name": "Guest", "email": "g.uest@gmail.com", "consent": "y"}
    first = client.post(f"/petitions/{petition.slug}/sign", data=data)
    second = client.post(
        f"/petitions/{petition.slug}/sign", data={**data, "email": "guest+x@gmail.com"}
    )
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert rows_of(Signature) == 1
    assert len(outbox) == 2


def test_tampered_confirmation_link(app, client):
    assert client.get("/signatures/confirm/abc.def").status_code == 400
    assert client.post("/signatures/confirm/abc.def").status_code == 400


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_signing_needs_the_csrf_token(app, client, login):
    petition = make_petition()
    login(make_user())
    assert client.post(f"/petitions/{petition.slug}/sign", data={}).status_code == 400
    assert rows_of(Signature) == 0


def test_closed_and_deadline_passed_refuse_with_message(app, client, login):
    closed = make_petition()
    services.close_petition(closed.creator, closed)
    late = make_petition(deadline=utcnow() + timedelta(days=2))
    late.deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    login(make_user())
    for petition in (closed, late):
        response = client.post(f"/petitions/{petition.slug}/sign", data={})
        assert response.status_code == 409
        assert "closed" in response.get_data(as_text=True)
    assert rows_of(Signature) == 0


def test_suspended_member_is_refused_with_reason(app, client, login):
    petition = make_petition()
    login(make_user(suspended_until=utcnow() + timedelta(days=3)))
    response = client.post(f"/petitions/{petition.slug}/sign", data={})
    assert response.status_code == 403
    assert "suspended" in response.get_data(as_text=True)
    assert rows_of(Signature) == 0


def test_withdraw(app, client, login, count_rows):
    petition = make_petition()
    fan = login(make_user())
    services.sign_petition(fan, petition)
    db.session.commit()
    assert client.post(f"/petitions/{petition.slug}/withdraw").status_code == 303
    assert count_rows(petition) == (0, 0)
    assert client.post(f"/petitions/{petition.slug}/withdraw").status_code == 303
    assert "not signed" in flashed(client)[-1]


# Organiser tools, embed, home, profile ----------------------------------------------------


def test_csv_export_names_every_signer_for_the_target(app, client, login):
    petition = make_petition()
    public = make_user(display_name="Public Person")
    services.sign_petition(public, petition, reason="=HYPERLINK(1)", country="DE", is_public=True)
    services.sign_petition(make_user(display_name="Secret"), petition, is_public=False)
    services.sign_as_guest(
        petition,
        name="Unconfirmed",
        email="u@example.com",
        consent=True,
        secret_key="k",
        base_url="",
    )
    db.session.commit()
    assert client.get(f"/petitions/{petition.slug}/signatures.csv").status_code == 302
    login(make_user())
    assert client.get(f"/petitions/{petition.slug}/signatures.csv").status_code == 403
    login(petition.creator)
    response = client.get(f"/petitions/{petition.slug}/signatures.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    today = utcnow().date().isoformat()
    assert rows == [
        ["name", "country", "date", "reason"],
        ["Public Person", "Germany", today, "'=HYPERLINK(1)"],
        ["Secret", "", today, ""],
    ]
    assert "@" not in text
    (entry,) = db.session.scalars(sa.select(ModerationAction))
    assert (entry.action, entry.target_id, entry.moderator_id) == (
        "export_csv",
        petition.id,
        petition.creator_id,
    )


def test_embed_may_be_framed(app, client):
    petition = make_petition()
    response = client.get(f"/petitions/{petition.slug}/embed")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert 'target="_blank"' in response.get_data(as_text=True)


def test_home_and_profile_sections(app, client, login):
    petition = make_petition(title="Home page petition here")
    fan = make_user()
    other = make_petition(title="Quietly signed petition")
    services.sign_petition(fan, petition, is_public=True)
    services.sign_petition(fan, other, is_public=False)
    db.session.commit()
    home = client.get("/").get_data(as_text=True)
    assert "Open petitions" in home and "Home page petition here" in home
    public = client.get(f"/u/{fan.username}").get_data(as_text=True)
    assert "Home page petition here" in public and "Quietly signed" not in public
    login(fan)
    own = client.get(f"/u/{fan.username}").get_data(as_text=True)
    assert "Quietly signed" in own


def test_recount_command(app, runner):
    petition = make_petition()
    services.sign_petition(make_user(), petition)
    db.session.execute(sa.update(Petition).values(signature_count=5))
    db.session.commit()
    result = runner.invoke(args=["recount", "--check"])
    assert result.exit_code == 1 and "drift +5" in result.output
    result = runner.invoke(args=["recount"])
    assert "Repaired 1" in result.output
    assert runner.invoke(args=["recount", "--check"]).exit_code == 0


def test_open_petition_gets_a_discussion_shown_on_both_pages(app, client, login, later):
    from tests.factories import make_category, make_reply

    make_category("petition-discussion")
    petition = make_petition(title="A petition with a discussion")
    assert petition.thread_id is not None
    make_reply(make_user(), petition.thread, "I signed and shared it!")
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "I signed and shared it!" in html
    assert f"/forum/t/{petition.thread_id}" in html
    thread_page = client.get(f"/forum/t/{petition.thread_id}").get_data(as_text=True)
    assert f"/petitions/{petition.slug}" in thread_page  # the petition card above the thread
    assert "Read the comment and join the discussion" in html
    assert "1 comments" not in html
    make_reply(make_user(), petition.thread, "Me too.")
    later(11)  # the petition page may show its latest comments up to 10 seconds late
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "Read all 2 comments and join the discussion" in html


@needs_redis
@pytest.mark.config(REDIS_URL=REDIS_URL, PAGE_CACHE_ENABLED=True)
def test_a_signature_shows_at_once_on_the_cached_page(app, client):
    """The anonymous petition page is served from Redis; a member's signature (written by a
    single statement the session's listeners can't see into) invalidates it at the commit."""
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    petition = make_petition(goal=10)
    url = f"/petitions/{petition.slug}"
    assert "data-count>0</strong> signed" in client.get(url).get_data(as_text=True)
    cached = client.get(url)
    assert "data-count>0</strong> signed" in cached.get_data(as_text=True)
    fan = make_user()
    db.session.commit()
    other = app.test_client()
    make_login(other)(fan)
    assert other.post(f"{url}/sign", data={}).status_code == 303
    assert "data-count>1</strong> signed" in client.get(url).get_data(as_text=True)


@needs_redis
@pytest.mark.config(REDIS_URL=REDIS_URL, PAGE_CACHE_ENABLED=True)
def test_the_list_is_one_fragment_for_every_viewer_and_follows_signatures(app, client, later):
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    first = make_petition(title="The first petition in the list")
    second = make_petition(title="The second petition in the list")
    services.sign_petition(make_user(), first)
    db.session.commit()
    member = app.test_client()
    make_login(member)(make_user(role=Role.ORGANISER))
    for viewer in (client, member):
        html = viewer.get("/petitions").get_data(as_text=True)
        assert html.index("The first petition") < html.index("The second petition")
    assert "Start a petition" in html  # the organiser's own part of the page stays theirs
    assert "Start a petition" not in client.get("/petitions").get_data(as_text=True)

    for _ in range(2):
        services.sign_petition(make_user(), second)
    db.session.commit()
    later(11)  # the list may lag the signatures by the page's declared 10 seconds, no more
    for viewer in (client, member):
        html = viewer.get("/petitions").get_data(as_text=True)
        assert html.index("The second petition") < html.index("The first petition")
    assert client.get("/petitions?page=-4").status_code == 200


def _sign_box(html: str) -> str:
    return html.split('id="sign"')[1].split("</section>")[0]


def test_the_count_is_shown_once_with_what_is_left_to_the_goal(app, client):
    petition = make_petition(goal=5000, deadline=utcnow() + timedelta(days=12, hours=3))
    petition.signature_base = 3404
    db.session.commit()
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    box = _sign_box(html)
    assert "data-count>3,404</strong> signed" in box
    assert "1,596 to the goal of 5,000" in box
    assert box.count("3,404") == 1  # not once in a heading and again in the bar's text
    assert "closes in 12 days" in box


def test_milestones_are_marked_on_the_bar_and_the_goal_moves_on(app, client):
    petition = make_petition(goal=1000)
    petition.signature_base = 1200
    db.session.commit()
    assert petition.display_goal == 5000
    assert petition.milestone_marks == [(100, 2.0), (500, 10.0), (1000, 20.0)]
    box = _sign_box(client.get(f"/petitions/{petition.slug}").get_data(as_text=True))
    assert "3,800 to the next goal of 5,000" in box
    assert box.count('class="goal__mark goal__mark--passed"') == 3
    assert "style=" not in box  # the CSP allows no inline style
    assert "Milestones: 100, 500, 1,000." in box


def test_a_closed_petition_says_no_more_signatures_and_has_no_sign_bar(app, client):
    petition = make_petition(status="closed")
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "no longer takes signatures" in html
    assert 'class="sign-bar"' not in html
    open_one = make_petition()
    assert 'class="sign-bar"' in client.get(f"/petitions/{open_one.slug}").get_data(as_text=True)


def test_the_petition_list_marks_the_chosen_filter_and_sort(app, client):
    make_petition()
    html = client.get("/petitions?status=won&sort=recent").get_data(as_text=True)
    assert 'href="/petitions?status=won&amp;sort=recent" aria-current="page">Won</a>' in html
    assert (
        'href="/petitions?status=won&amp;sort=recent" aria-current="page">Most recent</a>' in html
    )
    assert html.count('aria-current="page"') == 3  # the section in the header, filter, sort
