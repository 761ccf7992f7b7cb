"""Moderation tables: reports, the audit log (append-only) and watched words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow

REPORT_REASONS = {
    "spam": "Spam",
    "abuse": "Abuse or harassment",
    "off-topic": "Off-topic",
    "other": "Something else",
}
MAX_NOTE = 1000
MAX_REASON = 1000


class Report(db.Model):
    """One member's report of one item. At most one open report per reporter per item:

    `open_key` is 1 while the report is open and NULL once closed, and (reporter, kind, item,
    open_key) is unique. NULLs never collide on SQLite or PostgreSQL, so closed reports pile up
    freely while a second open one is refused by the schema.
    """

    __tablename__ = "reports"
    __table_args__ = (
        sa.UniqueConstraint(
            "reporter_id", "item_kind", "item_id", "open_key", name="uq_reports_open_per_reporter"
        ),
        # The queue: open reports grouped per item, oldest first.
        sa.Index("ix_reports_open_items", "open_key", "item_kind", "item_id", "created_at"),
        sa.Index("ix_reports_item", "item_kind", "item_id", "id"),
        sa.Index("ix_reports_author", "item_author_id", "id"),
        sa.Index("ix_reports_reporter", "reporter_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # post | thread | signature | petition | user (see items.py)
    item_kind: Mapped[str] = mapped_column(sa.String(20))
    item_id: Mapped[int]
    # Whose content it is, when reported (the author's history on the queue).
    item_author_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str] = mapped_column(sa.String(MAX_NOTE), default="")
    # open | resolved | dismissed
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    open_key: Mapped[int | None] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    item_author: Mapped[User | None] = relationship(foreign_keys=[item_author_id])

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def reason_label(self) -> str:
        return REPORT_REASONS.get(self.reason, self.reason)

    def close(self, status: str, moderator: User | None) -> None:
        self.status = status
        self.open_key = None
        self.closed_at = utcnow()
        self.closed_by_id = moderator.id if moderator else None


# What each action is called on the log and in the filters.
ACTIONS = {
    "dismiss": "Dismissed reports",
    "hide": "Hid",
    "auto_hide": "Auto-hid (reports)",
    "restore": "Restored",
    "delete": "Deleted",
    "edit": "Edited",
    "lock": "Locked",
    "unlock": "Unlocked",
    "pin": "Pinned",
    "unpin": "Unpinned",
    "move": "Moved",
    "approve_petition": "Approved petition",
    "reject_petition": "Rejected petition",
    "warn": "Warned",
    "suspend": "Suspended",
    "ban": "Banned",
    "lift": "Lifted sanctions",
    "add_word": "Added watched word",
    "remove_word": "Removed watched word",
    # The admin console (fancampaign/admin).
    "set_role": "Changed role",
    "resend_confirmation": "Resent confirmation",
    "erase_account": "Erased account",
    "change_settings": "Changed site settings",
    "resend_mail": "Resent failed mail",
    "add_category": "Added category",
    "edit_category": "Edited category",
    # Appeals (moderation/appeals.py).
    "appeal": "Appealed",
    "uphold_appeal": "Upheld appeal",
    "reject_appeal": "Rejected appeal",
    "close_petition": "Closed petition",
    "won_petition": "Marked petition won",
    "reopen_petition": "Reopened petition",
    "export_csv": "Exported signatures (CSV)",
    "export_pdf": "Exported delivery pack (PDF)",
    "deliver_petition": "Recorded delivery",
    "response_link": "Made response link",
    "response_link_used": "Response link used",
    "post_response": "Posted response",
    "milestone_mail": "Changed milestone mail",
}
SANCTIONS = ("warn", "suspend", "ban")


class ModerationAction(db.Model):
    """The audit log: who did what to what, when and why. Rows are never changed or removed."""

    __tablename__ = "moderation_actions"
    __table_args__ = (
        sa.Index("ix_moderation_actions_moderator", "moderator_id", "id"),
        sa.Index("ix_moderation_actions_action", "action", "id"),
        sa.Index("ix_moderation_actions_target", "target_kind", "target_id", "id"),
        sa.Index("ix_moderation_actions_target_user", "target_user_id", "action", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL: the system (auto-hide at the report threshold).
    moderator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(30))
    target_kind: Mapped[str] = mapped_column(sa.String(20))
    target_id: Mapped[int]
    # The person affected (the author of the item, or the sanctioned user).
    target_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # A short description of the target at the time (its title or excerpt).
    target_label: Mapped[str] = mapped_column(sa.String(200), default="")
    reason: Mapped[str] = mapped_column(sa.String(MAX_REASON), default="")
    details: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Why, as one of REPORT_REASONS (the public ledger counts by it); set when the row is
    # written, from the reports behind the decision (moderation/ledger.py).
    reason_code: Mapped[str] = mapped_column(sa.String(20), default="")

    moderator: Mapped[User | None] = relationship(foreign_keys=[moderator_id])
    target_user: Mapped[User | None] = relationship(foreign_keys=[target_user_id])

    @property
    def action_label(self) -> str:
        return ACTIONS.get(self.action, self.action)

    @property
    def actor_label(self) -> str:
        """Who acted, for the log: a username, or which part of the system."""
        if self.moderator is not None:
            return self.moderator.username
        return self.details if self.details.startswith(SYSTEM) else "system"


# What `details` says when no person acted (moderator_id NULL) and it was not auto-hide.
SYSTEM = "system ("
COMMAND_LINE = "system (command line)"


class AuditLogIsAppendOnly(RuntimeError):
    pass


@sa.event.listens_for(ModerationAction, "before_update")
def _refuse_update(_mapper: Any, _conn: Any, target: ModerationAction) -> None:
    raise AuditLogIsAppendOnly("the moderation log is append-only")


@sa.event.listens_for(ModerationAction, "before_delete")
def _refuse_delete(_mapper: Any, _conn: Any, target: ModerationAction) -> None:
    raise AuditLogIsAppendOnly("the moderation log is append-only")


WORD_ACTIONS = {"block": "Block the post", "hold": "Hold the post for review"}


class WatchedWord(db.Model):
    """A word or phrase that blocks a post or holds it for review (whole words, any case)."""

    __tablename__ = "watched_words"

    id: Mapped[int] = mapped_column(primary_key=True)
    pattern: Mapped[str] = mapped_column(sa.String(100))
    # Lower-cased pattern: one entry per word.
    pattern_lower: Mapped[str] = mapped_column(sa.String(100), unique=True)
    action: Mapped[str] = mapped_column(sa.String(10))
    message: Mapped[str] = mapped_column(sa.String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()

    @property
    def action_label(self) -> str:
        return WORD_ACTIONS.get(self.action, self.action)


APPEAL_STATUSES = {"open": "Waiting for a moderator", "upheld": "Upheld", "rejected": "Rejected"}


class Appeal(db.Model):
    """The person a decision was about asks for it to be looked at again (moderation/appeals.py).

    One appeal per decision (the schema says so too). Decided by a moderator other than the
    one who took the decision.
    """

    __tablename__ = "appeals"
    __table_args__ = (sa.Index("ix_appeals_open", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        sa.ForeignKey("moderation_actions.id", ondelete="CASCADE"), unique=True
    )
    appellant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str] = mapped_column(sa.String(MAX_NOTE), default="")
    # open | upheld | rejected
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decision_reason: Mapped[str] = mapped_column(sa.String(MAX_REASON), default="")

    action: Mapped[ModerationAction] = relationship()
    appellant: Mapped[User | None] = relationship(foreign_keys=[appellant_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def status_label(self) -> str:
        return APPEAL_STATUSES.get(self.status, self.status)
