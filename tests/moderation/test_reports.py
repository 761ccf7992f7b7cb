"""Reports: who may report what, one open report per reporter per item, auto-hide."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fancampaign.errors import InvalidInput, NotAllowed, NotFoundError
from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import Post, Thread
from fancampaign.moderation import services
from fancampaign.moderation.models import ModerationAction, Report
from fancampaign.notifications.models import Notification
from tests.factories import make_reply, make_thread, make_user


@pytest.fixture
def spam(app):
    author = make_user("spammer")
    thread = make_thread(make_user("opener"), title="Sequel news")
    return make_reply(author, thread, "Buy cheap watches at example.com")


def _report(user, post, reason="spam", note=""):
    report = services.report_item(user, "post", post.id, reason, note)
    db.session.commit()
    return report


def _count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_member_reports_a_post(spam):
    reporter = make_user()
    report = _report(reporter, spam, "spam", "  Obvious spam.  ")
    assert report.status == "open"
    assert report.item_author_id == spam.author_id
    assert report.note == "Obvious spam."


def test_duplicate_report_is_refused_with_a_friendly_message(spam):
    reporter = make_user()
    _report(reporter, spam)
    with pytest.raises(services.AlreadyReported, match="already reported"):
        _report(reporter, spam, "abuse")
    db.session.rollback()
    assert _count(Report) == 1


def test_a_new_report_is_possible_after_the_first_was_dismissed(spam, moderator):
    reporter = make_user()
    _report(reporter, spam)
    services.dismiss_reports(moderator, services.get_item("post", spam.id), "Not spam.")
    db.session.commit()
    _report(reporter, spam)
    assert _count(Report) == 2


def test_you_cannot_report_your_own_post(spam):
    with pytest.raises(services.OwnContent):
        services.report_item(spam.author, "post", spam.id, "spam")


@pytest.mark.parametrize(
    "attrs",
    [
        {"confirmed": False},
        {"suspended_until": "future"},
        {"is_banned": True},
    ],
)
def test_unconfirmed_suspended_and_banned_cannot_report(spam, attrs):
    from datetime import timedelta

    attrs = dict(attrs)
    if attrs.get("suspended_until") == "future":
        attrs["suspended_until"] = utcnow() + timedelta(days=1)
    reporter = make_user(**attrs)
    with pytest.raises(NotAllowed):
        services.report_item(reporter, "post", spam.id, "spam")
    assert _count(Report) == 0


@pytest.mark.parametrize(
    ("kind", "reason", "note", "error"),
    [
        ("post", "nonsense", "", InvalidInput),
        ("post", "", "", InvalidInput),
        ("post", "spam", "x" * 1001, InvalidInput),
        ("widget", "spam", "", NotFoundError),
        ("post", "spam", "", None),
    ],
)
def test_bad_reports_store_nothing(spam, kind, reason, note, error):
    reporter = make_user()
    if error is None:
        services.report_item(reporter, kind, spam.id, reason, note)
        assert _count(Report) == 1
        return
    with pytest.raises(error):
        services.report_item(reporter, kind, spam.id, reason, note)
    assert _count(Report) == 0


def test_missing_item_is_not_found(app):
    with pytest.raises(NotFoundError):
        services.report_item(make_user(), "post", 999, "spam")


def test_deleted_post_cannot_be_reported(spam):
    spam.is_deleted = True
    db.session.commit()
    with pytest.raises(NotFoundError):
        services.report_item(make_user(), "post", spam.id, "spam")


@pytest.mark.config(AUTO_HIDE_REPORTS=3)
def test_auto_hide_at_the_threshold_and_not_before(spam):
    for _n in range(2):
        _report(make_user(), spam)
    db.session.refresh(spam)
    assert not spam.is_hidden
    assert _count(ModerationAction) == 0
    _report(make_user(), spam)
    db.session.refresh(spam)
    assert spam.is_hidden and spam.hidden_reason == "reported"
    row = db.session.scalar(sa.select(ModerationAction))
    assert (row.action, row.moderator_id, row.target_user_id) == ("auto_hide", None, spam.author_id)
    told = db.session.scalar(sa.select(Notification).where(Notification.user_id == spam.author_id))
    assert told.kind == "moderation" and "hidden" in told.text
    # The thread counts no hidden replies.
    thread = db.session.get(Thread, spam.thread_id)
    assert thread.reply_count == 0


@pytest.mark.config(AUTO_HIDE_REPORTS=3)
def test_the_same_member_reporting_again_does_not_count_twice(spam, moderator):
    first = make_user()
    _report(first, spam)
    with pytest.raises(services.AlreadyReported):
        _report(first, spam)
    db.session.rollback()
    _report(make_user(), spam)
    db.session.refresh(spam)
    assert not spam.is_hidden


@pytest.mark.config(AUTO_HIDE_REPORTS=2)
def test_dismissing_restores_an_auto_hidden_post(spam, moderator, outbox):
    _report(make_user(), spam)
    _report(make_user(), spam)
    assert db.session.get(Post, spam.id).is_hidden
    services.dismiss_reports(moderator, services.get_item("post", spam.id), "Looks fine to me.")
    db.session.commit()
    post = db.session.get(Post, spam.id)
    assert not post.is_hidden
    assert _count(Report, Report.status == "open") == 0
    assert _count(Report, Report.status == "dismissed") == 2
    assert db.session.get(Thread, spam.thread_id).reply_count == 1


def test_petition_and_profile_can_be_reported(app):
    from tests.factories import make_petition

    petition = make_petition()
    reporter = make_user()
    services.report_item(reporter, "petition", petition.id, "other", "Not about the film.")
    services.report_item(reporter, "user", petition.creator_id, "abuse")
    db.session.commit()
    assert _count(Report) == 2


def test_signature_reason_can_be_reported_and_auto_hidden(app):
    from fancampaign.petitions.services import sign_petition
    from tests.factories import make_petition

    petition = make_petition()
    signer = make_user()
    signature = sign_petition(signer, petition, reason="The studio are idiots", is_public=True)
    db.session.commit()
    with pytest.raises(services.OwnContent):
        services.report_item(signer, "signature", signature.id, "abuse")
    for _ in range(3):
        services.report_item(make_user(), "signature", signature.id, "abuse")
    db.session.commit()
    db.session.refresh(signature)
    assert signature.reason_hidden


def test_hidden_things_cannot_be_reported_or_peeked_at(spam, moderator, client):
    services.hide_item(moderator, services.get_item("post", spam.id), "Spam.")
    db.session.commit()
    with pytest.raises(NotFoundError):
        services.report_item(make_user(), "post", spam.id, "spam")
    from flask import g

    with client.session_transaction() as session:
        session["_user_id"] = make_user().get_id()
    g.pop("_login_user", None)
    response = client.get(f"/report?kind=post&id={spam.id}")
    assert response.status_code == 404
    assert "cheap watches" not in response.get_data(as_text=True)


def test_pending_petitions_cannot_be_reported(app):
    from tests.factories import make_petition

    petition = make_petition(make_user(), status="pending")
    with pytest.raises(NotFoundError):
        services.report_item(make_user(), "petition", petition.id, "spam")


def test_the_report_controls_sit_inside_their_lines(client, login):
    """A <details> inside a <p> ends the paragraph early: the control fell onto a line of its
    own under the thread's title and the line's last "·" dangled (the thread page, and the
    signers' reasons on a petition)."""
    from fancampaign.petitions.services import sign_petition
    from tests.factories import make_petition
    from tests.helpers import blocks_in_paragraphs

    thread = make_thread(title="Lines that hold their controls", replies=1)
    petition = make_petition()
    sign_petition(make_user(), petition, reason="For Alita", is_public=True)
    db.session.commit()
    login(make_user())
    for path in (f"/forum/t/{thread.id}", f"/petitions/{petition.slug}"):
        html = client.get(path).get_data(as_text=True)
        assert html.count('class="details report-control"') >= 2, path
        assert blocks_in_paragraphs(html) == [], path


def test_the_paragraph_check_finds_a_block_in_a_paragraph():
    from tests.helpers import blocks_in_paragraphs

    assert blocks_in_paragraphs('<p class="meta">a · <details><summary>R</summary></details></p>')
    assert blocks_in_paragraphs("<p>a <em>b</em></p><details></details>") == []
