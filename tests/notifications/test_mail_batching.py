"""Notification mail is batched per thread: one message per quiet period however many replies,
sent by the worker through the outbox, which loses nothing while SMTP is down."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fancampaign.campaign.mailer import work_once
from fancampaign.extensions import db
from fancampaign.forum import services as forum
from fancampaign.forum import tracking
from fancampaign.mail import services as mail
from fancampaign.notifications import services
from fancampaign.notifications.models import NotificationEmail
from tests.notifications.conftest import outbox


def reply(user, thread, body):
    post = forum.reply(user, thread, body)
    db.session.commit()
    return post


def test_fifty_replies_in_ten_minutes_to_a_watched_thread_make_one_email(forum, later):
    tracking.set_thread_level(forum.hugo, forum.thread, "watching")
    db.session.commit()
    for n in range(50):
        reply(forum.koyomi if n % 2 else forum.alita, forum.thread, f"Reply number {n}.")
    assert services.send_batched_mail(later(minutes=5)) == 0  # still in its quiet period
    assert outbox(forum.hugo.email) == []
    # One mail each: hugo's, and alita's (she watches the thread she started).
    assert services.send_batched_mail(later(minutes=11)) == 2
    assert mail.send_due() == (2, 0)
    [message] = outbox(forum.hugo.email)
    assert message.sent_at is not None
    assert "50 new" in message.subject or "50 new" in message.body
    assert "Reply number 0." in message.body and "Reply number 49." in message.body
    assert f"http://localhost/forum/t/{forum.thread.id}/unread" in message.body
    # The author's own replies are not mailed to her: 25 of koyomi's reached alita.
    [hers] = outbox(forum.alita.email)
    assert "25 new posts" in hers.subject


def test_a_reply_after_the_batch_went_out_opens_the_next_one(forum, later):
    reply(forum.koyomi, forum.thread, "First.")
    services.send_batched_mail(later(minutes=11))
    reply(forum.koyomi, forum.thread, "Second.")
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(NotificationEmail.queued_at.is_(None)))
        == 1
    )
    services.send_batched_mail(later(minutes=30))
    assert len(outbox(forum.alita.email)) == 2


def test_one_reply_makes_a_mail_that_says_what_it_is(forum, later):
    reply(forum.koyomi, forum.thread, "I am in, obviously.")
    services.send_batched_mail(later(minutes=11))
    [message] = outbox(forum.alita.email)
    assert message.subject.startswith("koyomi: I am in")
    assert "I am in, obviously." in message.body


def test_mail_waits_in_the_outbox_while_smtp_is_down_and_goes_when_it_is_back(
    forum, later, monkeypatch
):
    reply(forum.koyomi, forum.thread, "Hello.")

    def down(_message):
        raise ConnectionRefusedError("SMTP is down")

    monkeypatch.setattr(mail, "deliver", down)
    db.session.commit()
    monkeypatch.setattr(services, "utcnow", lambda: later(minutes=11))
    work_once()  # the worker's round: the batch goes into the outbox, the send fails
    [message] = outbox(forum.alita.email)
    assert message.sent_at is None and message.attempts == 1 and message.failed_at is None
    assert db.session.scalar(
        sa.select(NotificationEmail.queued_at).where(NotificationEmail.user_id == forum.alita.id)
    )
    monkeypatch.undo()
    message.next_attempt_at = later(seconds=-1)
    db.session.commit()
    assert mail.send_due() == (1, 0)
    assert outbox(forum.alita.email)[0].sent_at is not None


def test_a_crash_before_the_commit_leaves_the_batch_waiting(forum, later, monkeypatch):
    reply(forum.koyomi, forum.thread, "Hello.")

    def crash(*_a, **_k):
        raise RuntimeError("the worker died")

    monkeypatch.setattr(services, "queue_email", crash)
    try:
        services.send_batched_mail(later(minutes=11))
    except RuntimeError:
        db.session.rollback()
    monkeypatch.undo()
    assert services.send_batched_mail(later(minutes=11)) == 1
    assert len(outbox(forum.alita.email)) == 1


def test_unconfirmed_and_deleted_accounts_get_no_mail(forum, later):
    forum.alita.email_confirmed_at = None
    db.session.commit()
    reply(forum.koyomi, forum.thread, "Hello.")
    services.send_batched_mail(later(minutes=11))
    assert outbox() == []


@pytest.mark.config(NOTIFICATION_MAIL_QUIET=60)
def test_the_quiet_period_is_configurable_in_seconds(forum, later):
    reply(forum.koyomi, forum.thread, "Quick.")
    assert services.send_batched_mail(later(seconds=30)) == 0
    assert services.send_batched_mail(later(seconds=61)) == 1
