"""In-app notifications, each member's choices about them, and the mail waiting to be batched."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow

# What a member chooses per type of notification (settings page, `NotificationPreference`):
APP = "app"  # shown in the app only
EMAIL = "email"  # in the app, and mailed (batched per thread: one mail per quiet period)
DIGEST = "digest"  # in the app, and summed up in the daily or weekly digest
OFF = "off"  # nothing at all
CHANNELS = (APP, EMAIL, DIGEST, OFF)

# The types a member sets, in the settings page's order: (type, label, default channel).
# Defaults as Discourse's: what is addressed to you by email, likes in the app only.
TYPES = (
    ("reply", "Replies to your threads and posts", EMAIL),
    ("mention", "Mentions of you (@name)", EMAIL),
    ("quote", "Quotes of your posts", EMAIL),
    ("like", "Likes of your posts", APP),
    ("watching", "New posts in threads and categories you watch", EMAIL),
    ("petition_update", "Updates on petitions you signed", APP),
    ("moderation", "Moderation decisions about you and your reports", EMAIL),
)
DEFAULTS = {name: default for name, _label, default in TYPES}
# Decisions about you always reach you in the app: moderation cannot be turned off.
NOT_OFF = frozenset({"moderation"})
# Mail about petitions you signed is the campaign mail, chosen when signing (one click stops
# it): petition updates are in the app or off.
APP_ONLY = frozenset({"petition_update"})
# A notification's kind -> the type whose choice applies to it.
TYPE_OF_KIND = {"report": "moderation", "new_thread": "watching"}
DIGEST_FREQUENCIES = ("daily", "weekly")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_unread", "user_id", "read_at", "id"),
        sa.Index("ix_notifications_user_updated", "user_id", "updated_at"),
        # One unread row per group (a thread's new replies, a post's likes): later events
        # update it ("3 new replies in …", "Koyomi and 4 others liked …") instead of adding rows.
        sa.Index(
            "uq_notifications_open_group",
            "user_id",
            "group_key",
            unique=True,
            postgresql_where=sa.and_(
                sa.column("read_at").is_(None), sa.column("group_key").is_not(None)
            ),
            sqlite_where=sa.and_(
                sa.column("read_at").is_(None), sa.column("group_key").is_not(None)
            ),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # reply / watching / new_thread / mention / quote / like / petition_update / moderation /
    # report
    kind: Mapped[str] = mapped_column(sa.String(30))
    text: Mapped[str] = mapped_column(sa.String(500))
    url: Mapped[str] = mapped_column(sa.String(500), default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    # The thread it is about (the page groups by it), and the group it counts in.
    thread_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("threads.id", ondelete="CASCADE"), index=True
    )
    group_key: Mapped[str | None] = mapped_column(sa.String(60))
    # How many events the row stands for (replies, likers), and the thread's or post's title.
    count: Mapped[int] = mapped_column(default=1, server_default="1")
    subject: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    # The latest event's time: the list's order.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    @property
    def is_unread(self) -> bool:
        return self.read_at is None

    @property
    def display_text(self) -> str:
        """The text, summed up when the row stands for several events."""
        if self.count <= 1:
            return self.text
        others = self.count - 1
        name = self.actor.name if self.actor is not None else "Someone"
        if self.kind == "like":
            return (
                f"{name} and {others} other{'s' if others > 1 else ''} liked your post "
                f"in “{self.subject}”"
            )
        if self.kind in ("reply", "watching"):
            return f"{self.count} new replies in “{self.subject}”"
        return self.text


class NotificationPreference(db.Model):
    """A member's choices: a channel per type (only those changed from the defaults are
    stored) and how often their digest comes. No row: every default."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # {"like": "off", "watching": "digest", ...}: JSON, the types changed from DEFAULTS.
    choices: Mapped[str] = mapped_column(sa.Text, default="{}")
    digest: Mapped[str] = mapped_column(sa.String(10), default="weekly")
    # Whether any type goes to the digest (the worker's digest query reads only these rows).
    wants_digest: Mapped[bool] = mapped_column(default=False, index=True)
    # The end of the last period a digest was made for: each period is digested once.
    digest_sent_until: Mapped[datetime | None]

    def channel(self, type_: str) -> str:
        return str(json.loads(self.choices or "{}").get(type_, DEFAULTS.get(type_, APP)))


class NotificationEmail(db.Model):
    """Mail about notifications waiting for its quiet period to end: every event for one
    member in one thread joins the open row, and the worker turns it into one message."""

    __tablename__ = "notification_emails"
    __table_args__ = (
        sa.Index("ix_notification_emails_due", "queued_at", "due_at"),
        sa.Index(
            "uq_notification_emails_open",
            "user_id",
            "batch_key",
            unique=True,
            postgresql_where=sa.column("queued_at").is_(None),
            sqlite_where=sa.column("queued_at").is_(None),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # "thread:<id>": one mail per thread per quiet period.
    batch_key: Mapped[str] = mapped_column(sa.String(60))
    subject: Mapped[str] = mapped_column(sa.String(200))
    # One line per event, oldest first.
    lines: Mapped[str] = mapped_column(sa.Text, default="")
    count: Mapped[int] = mapped_column(default=1)
    # Where the mail's link goes (the first unread post).
    url: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the worker put it in the outbox (which sends and retries it).
    queued_at: Mapped[datetime | None]
