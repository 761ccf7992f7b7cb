"""The daily or weekly digest: what happened in watched threads and categories (and what the
member routed to it), sent by the worker, once per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.forum import services as forum_services
from fancampaign.forum import tracking
from fancampaign.forum.models import Post
from fancampaign.moderation import services as moderation
from fancampaign.notifications import services
from fancampaign.notifications.models import Notification
from tests.factories import make_user
from tests.notifications.conftest import outbox

NOW = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)  # a Tuesday
YESTERDAY = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def started_long_ago(thread):
    """The thread (and its first post) as if started a week before the digested day."""
    earlier = YESTERDAY - timedelta(days=7)
    db.session.execute(
        sa.update(Post).where(Post.thread_id == thread.id).values(created_at=earlier)
    )
    thread.created_at = earlier
    db.session.commit()


def post_at(user, thread, body, when=YESTERDAY):
    post = forum_services.reply(user, thread, body)
    post.created_at = when
    db.session.commit()
    return post


def test_periods_are_whole_utc_days_and_iso_weeks():
    assert services.digest_period("daily", NOW) == (
        datetime(2026, 12, 7, tzinfo=UTC),
        datetime(2026, 12, 8, tzinfo=UTC),
        "2026-12-07",
    )
    assert services.digest_period("weekly", NOW) == (
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2026, 12, 7, tzinfo=UTC),
        "2026-W49",
    )


def test_the_digest_holds_the_watched_threads_activity_and_nothing_else(forum):
    hugo = forum.hugo
    services.save_preferences(hugo, {"watching": "digest", "mention": "digest"}, "daily")
    tracking.set_thread_level(hugo, forum.thread, "watching")
    other = forum_services.create_thread(forum.alita, forum.general, "Muted one", "Shh.")
    tracking.set_thread_level(hugo, other, "muted")
    db.session.commit()
    started_long_ago(forum.thread)
    started_long_ago(other)
    for n in range(3):
        post_at(forum.koyomi, forum.thread, f"Yesterday {n}.")
    post_at(hugo, forum.thread, "My own post.")
    hidden = post_at(forum.koyomi, forum.thread, "To be hidden.")
    moderator = make_user("modkoyo", role=Role.MODERATOR)
    moderation.hide_item(moderator, moderation.get_item("post", hidden.id), "Spam")
    post_at(forum.koyomi, other, "In the muted thread.")
    post_at(forum.koyomi, forum.thread, "Today, for tomorrow's digest.", when=NOW)
    mention = post_at(forum.koyomi, forum.thread, "@hugo look", when=NOW)
    db.session.execute(sa.update(Notification).values(created_at=NOW, updated_at=NOW))
    db.session.commit()

    assert services.send_digests(NOW) == 1
    [message] = outbox(hugo.email)
    assert message.subject == "Your daily digest (2026-12-07)"
    first = db.session.scalar(sa.select(sa.func.min(Post.id)).where(Post.body == "Yesterday 0."))
    assert f"“Sequel now”: 3 new posts, from http://localhost/forum/p/{first}" in message.body
    assert "Muted one" not in message.body and "mentioned you" not in message.body
    assert "http://localhost/settings/notifications" in message.body
    # Never twice for a period.
    assert services.send_digests(NOW) == 0
    assert services.send_digests(NOW + timedelta(hours=5)) == 0
    # The next day's digest holds the next day's activity, the mention included.
    assert services.send_digests(NOW + timedelta(days=1)) == 1
    body = outbox(hugo.email)[-1].body
    assert "2 new posts," in body and "koyomi mentioned you in “Sequel now”" in body
    assert f"/forum/p/{mention.id}" in body


def test_a_weekly_digest_covers_the_week_and_comes_once(forum):
    services.save_preferences(forum.hugo, {"watching": "digest"}, "weekly")
    tracking.set_category_level(forum.hugo, forum.general, "watching")
    db.session.commit()
    thread = forum_services.create_thread(forum.koyomi, forum.general, "New one", "Hi.")
    db.session.commit()
    db.session.execute(
        sa.update(Post).where(Post.thread_id == thread.id).values(created_at=YESTERDAY)
    )
    thread.created_at = YESTERDAY - timedelta(days=2)
    db.session.commit()
    post_at(forum.koyomi, thread, "Midweek.", when=YESTERDAY - timedelta(days=2))
    assert services.send_digests(NOW) == 1
    [message] = outbox(forum.hugo.email)
    assert "weekly digest (2026-W49)" in message.subject
    assert "“New one” (new thread): 1 new post" in message.body
    assert services.send_digests(NOW + timedelta(days=3)) == 0


def test_no_digest_without_anything_in_it_or_without_asking(forum):
    services.save_preferences(forum.hugo, {"watching": "digest"}, "daily")
    db.session.commit()
    started_long_ago(forum.thread)
    post_at(forum.koyomi, forum.thread, "Nothing hugo watches.")
    assert services.send_digests(NOW) == 0
    # koyomi asked for no digest: watched activity goes by email, not in a digest.
    tracking.set_thread_level(forum.koyomi, forum.thread, "watching")
    post_at(forum.alita, forum.thread, "Hello.")
    assert services.send_digests(NOW) == 0
    assert outbox() == []


def test_the_worker_sends_digests(forum, monkeypatch):
    from fancampaign.campaign.mailer import work_once

    services.save_preferences(forum.hugo, {"watching": "digest"}, "daily")
    tracking.set_thread_level(forum.hugo, forum.thread, "watching")
    db.session.commit()
    post_at(forum.koyomi, forum.thread, "Yesterday.")
    monkeypatch.setattr(services, "utcnow", lambda: NOW)
    work_once()
    [message] = outbox(forum.hugo.email)
    assert message.sent_at is not None
