"""Moderators' decisions: each writes exactly one audit row and tells the person affected."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role, User
from fancampaign.errors import InvalidInput, NotAllowed
from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import Category, Post, PostRevision, Thread
from fancampaign.mail.models import OutboxMessage
from fancampaign.moderation import services
from fancampaign.moderation.models import ModerationAction, Report
from fancampaign.notifications.models import Notification
from tests.factories import make_category, make_petition, make_reply, make_thread, make_user


@pytest.fixture
def post(app):
    thread = make_thread(make_user("opener"), title="Sequel news")
    return make_reply(make_user("writer"), thread, "A rude reply.")


def _rows():
    return list(db.session.scalars(sa.select(ModerationAction).order_by(ModerationAction.id)))


def _told(user):
    return list(
        db.session.scalars(
            sa.select(Notification.text).where(
                Notification.user_id == user.id, Notification.kind == "moderation"
            )
        )
    )


def _item(kind, item_id):
    return services.get_item(kind, item_id)


def test_hide_writes_one_row_closes_reports_and_tells_the_author(post, moderator):
    reporter = make_user()
    services.report_item(reporter, "post", post.id, "abuse")
    db.session.commit()
    services.hide_item(moderator, _item("post", post.id), "Personal attack.")
    db.session.commit()
    rows = _rows()
    assert [(r.action, r.moderator_id, r.target_user_id, r.reason) for r in rows] == [
        ("hide", moderator.id, post.author_id, "Personal attack.")
    ]
    assert db.session.get(Post, post.id).is_hidden
    assert db.session.scalar(sa.select(Report.status)) == "resolved"
    assert any("Personal attack." in text for text in _told(post.author))
    # "moderation" notifications are always emailed.
    assert db.session.scalar(
        sa.select(OutboxMessage.id).where(OutboxMessage.to == post.author.email)
    )


def test_restore_delete_and_edit(post, moderator):
    services.hide_item(moderator, _item("post", post.id), "Rude.")
    services.restore_item(moderator, _item("post", post.id), "On reflection, fine.")
    services.edit_item(moderator, _item("post", post.id), "A polite reply.", "Toned down.")
    services.delete_item(moderator, _item("post", post.id), "Off-topic after all.")
    db.session.commit()
    assert [r.action for r in _rows()] == ["hide", "restore", "edit", "delete"]
    fresh = db.session.get(Post, post.id)
    assert fresh.is_deleted and fresh.body == "A polite reply."
    revision = db.session.scalar(sa.select(PostRevision).where(PostRevision.post_id == post.id))
    assert revision.body == "A rude reply."
    assert len(_told(post.author)) == 4


@pytest.mark.parametrize("reason", ["", "   ", "\n\n", "x" * 1001, "..."])
def test_a_reason_is_required(post, moderator, reason):
    with pytest.raises(InvalidInput):
        services.hide_item(moderator, _item("post", post.id), reason)
    db.session.rollback()
    assert not db.session.get(Post, post.id).is_hidden
    assert _rows() == []


def test_members_cannot_act(post):
    with pytest.raises(NotAllowed):
        services.hide_item(make_user(), _item("post", post.id), "Because.")
    assert _rows() == []


def test_thread_tools(post, moderator):
    thread_item = _item("thread", post.thread_id)
    for action in ("lock", "pin", "unpin", "unlock"):
        services.thread_tool(moderator, thread_item, action, f"{action} it")
    other = make_category("elsewhere")
    services.move_thread(moderator, thread_item, other, "Belongs elsewhere.")
    db.session.commit()
    assert [r.action for r in _rows()] == ["lock", "pin", "unpin", "unlock", "move"]
    thread = db.session.get(Thread, post.thread_id)
    assert thread.category_id == other.id
    assert db.session.get(Category, other.id).thread_count == 1
    with pytest.raises(services.NothingToDo):
        services.thread_tool(moderator, _item("thread", thread.id), "unlock", "again")


def test_hiding_a_thread_hides_it_from_the_category_count(post, moderator):
    thread = db.session.get(Thread, post.thread_id)
    services.hide_item(moderator, _item("thread", thread.id), "Flame war.")
    db.session.commit()
    assert db.session.get(Category, thread.category_id).thread_count == 0
    services.restore_item(moderator, _item("thread", thread.id), "Calmer now.")
    db.session.commit()
    assert db.session.get(Category, thread.category_id).thread_count == 1


def test_held_post_is_approved_with_restore(app, moderator, monkeypatch):
    from fancampaign.moderation import watch

    monkeypatch.setattr(watch, "screen", lambda text: watch.Verdict("hold"))
    thread = make_thread(make_user("opener"))
    held = db.session.get(Post, thread.id)  # the first post
    monkeypatch.undo()
    assert thread.is_hidden and held.hidden_reason == "held"
    services.restore_item(moderator, _item("post", held.id), "Fine.")
    db.session.commit()
    assert not db.session.get(Thread, thread.id).is_hidden
    assert not db.session.get(Post, held.id).is_hidden


def test_petition_review(app, moderator):
    creator = make_user()
    pending = make_petition(creator, status="pending")
    other = make_petition(creator, status="pending")
    services.review_petition(moderator, pending, True, "")
    db.session.commit()
    with pytest.raises(InvalidInput):
        services.review_petition(moderator, other, False, "")
    db.session.rollback()
    services.review_petition(moderator, other, False, "Not about the campaign.")
    db.session.commit()
    assert [r.action for r in _rows()] == ["approve_petition", "reject_petition"]
    assert pending.status == "open" and other.status == "rejected"


# Sanctions ------------------------------------------------------------------------------


def test_suspend_for_a_period(app, moderator):
    member = make_user()
    services.sanction_user(moderator, member, "suspend", "Spamming.", period="3d")
    db.session.commit()
    assert member.is_suspended
    assert member.suspended_until - utcnow() > timedelta(days=2, hours=23)
    assert [r.action for r in _rows()] == ["suspend"]
    assert any("suspended" in text for text in _told(member))


def test_suspend_until_a_date_and_it_ends_by_itself(app, moderator):
    member = make_user()
    until = date.today() + timedelta(days=10)
    services.sanction_user(moderator, member, "suspend", "Spamming.", period="date", until=until)
    assert member.suspended_until.date() == until
    member.suspended_until = utcnow() - timedelta(seconds=1)
    assert not member.is_suspended


@pytest.mark.parametrize(
    ("period", "until"),
    [("", None), ("2y", None), ("date", None), ("date", date(2000, 1, 1))],
)
def test_bad_suspension_periods_are_refused(app, moderator, period, until):
    member = make_user()
    with pytest.raises(InvalidInput):
        services.sanction_user(moderator, member, "suspend", "Why", period=period, until=until)
    db.session.rollback()
    assert db.session.get(User, member.id).suspended_until is None


def test_ban_rotates_the_session_token(app, moderator):
    member = make_user()
    token = member.session_token
    services.sanction_user(moderator, member, "ban", "Repeated abuse.")
    db.session.commit()
    assert member.is_banned and not member.is_active
    assert member.session_token != token


def test_lift_ends_suspension_and_ban(app, moderator):
    member = make_user(is_banned=True, suspended_until=utcnow() + timedelta(days=3))
    services.sanction_user(moderator, member, "lift", "Appeal accepted.")
    assert not member.is_banned and not member.is_suspended
    with pytest.raises(services.NothingToDo):
        services.sanction_user(moderator, member, "lift", "Again.")


def test_warn(app, moderator):
    member = make_user()
    services.sanction_user(moderator, member, "warn", "Mind your language.")
    assert [r.action for r in _rows()] == ["warn"]
    assert services.sanction_counts([member.id]) == {member.id: 1}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MODERATOR])
def test_moderators_cannot_sanction_staff(app, moderator, role):
    other = make_user(role=role)
    with pytest.raises(services.CannotSanction):
        services.sanction_user(moderator, other, "ban", "No.")
    assert not other.is_banned


def test_nobody_sanctions_themselves(app, admin):
    with pytest.raises(services.CannotSanction, match="yourself"):
        services.sanction_user(admin, admin, "warn", "Hmm.")


def test_admins_can_sanction_moderators(app, admin, moderator):
    services.sanction_user(admin, moderator, "suspend", "Abused the tools.", period="1d")
    assert moderator.is_suspended


def test_find_users_by_prefix(app):
    make_user("Koyomi", email="ko@example.com")
    make_user("zapan", email="z@example.org")
    found = lambda q: [u.username for u in db.session.scalars(services.find_users(q))]  # noqa: E731
    assert found("koy") == ["Koyomi"]
    assert found("Z@EX") == ["zapan"]
    assert found("%") == []
    assert found("_") == []
