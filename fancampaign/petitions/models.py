"""Petitions and their signatures."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import (
    Mapped,
    column_property,
    defer,
    lazyload,
    mapped_column,
    relationship,
)

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import Thread

STATUSES = ("draft", "pending", "open", "closed", "won", "rejected")
# Public statuses: what visitors may see.
PUBLIC_STATUSES = ("open", "closed", "won")
# Once a goal is reached the page aims at the next of these (as change.org does).
MILESTONES = (100, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000)
REASON_MAX = 500
# Counter slots per petition: signers add to a random one, so concurrent signers rarely wait
# on the same row lock (which PostgreSQL holds until the commit is on disk).
COUNTER_SLOTS = 16


def next_milestone(count: int) -> int:
    """The first milestone above `count` (past the table: the next multiple of a million)."""
    for milestone in MILESTONES:
        if milestone > count:
            return milestone
    return (count // 1_000_000 + 1) * 1_000_000


class PetitionCounterSlot(db.Model):
    """Part of a petition's signature count; the count is the petition's base plus these."""

    __tablename__ = "petition_counter_slots"

    petition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(default=0)


class Petition(db.Model):
    __tablename__ = "petitions"
    __table_args__ = (
        sa.Index("ix_petitions_status_opened", "status", "opened_at"),
        sa.Index("ix_petitions_creator", "creator_id", "created_at"),
        sa.CheckConstraint("signature_count >= 0", name="count_not_negative"),
        sa.CheckConstraint("goal > 0", name="goal_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(90), unique=True)
    title: Mapped[str] = mapped_column(sa.String(150))
    summary: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    target: Mapped[str] = mapped_column(sa.String(200))
    goal: Mapped[int] = mapped_column(default=1000)
    deadline: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(10), default="draft")
    creator_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # The count is exact and O(1) to read: this base (the `signature_count` column, set by
    # bulk loads and `fancampaign recount`) plus at most COUNTER_SLOTS slot rows, each
    # changed by `+ 1` / `- 1` in the transaction that confirms or removes a signature.
    signature_base: Mapped[int] = mapped_column("signature_count", default=0, server_default="0")
    signature_count: Mapped[int] = column_property(
        signature_base
        + sa.select(sa.func.coalesce(sa.func.sum(PetitionCounterSlot.count), 0))
        .where(PetitionCounterSlot.petition_id == id)
        .correlate_except(PetitionCounterSlot)
        .scalar_subquery()
    )
    victory_note: Mapped[str] = mapped_column(sa.Text, default="")
    rejection_reason: Mapped[str] = mapped_column(sa.Text, default="")
    thread_id: Mapped[int | None] = mapped_column(sa.ForeignKey("threads.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    creator: Mapped[User | None] = relationship(lazy="joined", innerjoin=False)
    thread: Mapped[Thread | None] = relationship(lazy="select")

    @property
    def deadline_passed(self) -> bool:
        return self.deadline is not None and self.deadline <= utcnow()

    @property
    def effective_status(self) -> str:
        """The status as people see it: an open petition past its deadline is closed."""
        if self.status == "open" and self.deadline_passed:
            return "closed"
        return self.status

    @property
    def is_open(self) -> bool:
        """Takes signatures: open and not past its deadline."""
        return self.effective_status == "open"

    @property
    def effective_closed_at(self) -> datetime | None:
        if self.status == "open" and self.deadline_passed:
            return self.deadline
        return self.closed_at

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    @property
    def display_goal(self) -> int:
        """The goal shown: the creator's, then the next milestone once it is reached."""
        if self.signature_count < self.goal:
            return self.goal
        return next_milestone(self.signature_count)

    @property
    def milestone_marks(self) -> list[tuple[int, float]]:
        """The milestones below the goal shown (the creator's first goal among them once it
        is raised), with where each sits on the bar in percent."""
        goal = self.display_goal
        marks = {m for m in MILESTONES if m < goal} | ({self.goal} if self.goal < goal else set())
        return [(m, round(m / goal * 100, 2)) for m in sorted(marks)]

    @property
    def goal_raised(self) -> bool:
        return self.display_goal != self.goal

    @property
    def author_id(self) -> int | None:
        # For policies.can_report and friends, which look for `author_id`.
        return self.creator_id

    @classmethod
    def open_clause(cls, now: datetime | None = None) -> sa.ColumnElement[bool]:
        """SQL for "takes signatures": status open and the deadline (if any) still ahead."""
        now = now or utcnow()
        return sa.and_(cls.status == "open", sa.or_(cls.deadline.is_(None), cls.deadline > now))

    @classmethod
    def closed_clause(cls, now: datetime | None = None) -> sa.ColumnElement[bool]:
        """SQL for "closed": closed by hand, or open with the deadline passed."""
        now = now or utcnow()
        return sa.or_(
            cls.status == "closed",
            sa.and_(cls.status == "open", cls.deadline.is_not(None), cls.deadline <= now),
        )

    def __repr__(self) -> str:
        return f"<Petition {self.slug}>"


# What a list of petition cards (templates/petitions/_macros.html) loads: no creator, no bodies
# (each loads if something asks for it).
CARD_OPTIONS = (
    lazyload(Petition.creator),
    defer(Petition.body),
    defer(Petition.body_html),
    defer(Petition.victory_note),
    defer(Petition.rejection_reason),
)


class Signature(db.Model):
    """A member's signature (user_id), or a guest's (name + normalised email).

    Counts once confirmed_at is set: at once for members, after the emailed link for guests.
    When an account is deleted its signatures stay counted but lose the person (user_id,
    name and email cleared): the petition's figure stays true, nothing points back at them.
    """

    __tablename__ = "signatures"
    __table_args__ = (
        sa.UniqueConstraint("petition_id", "user_id", name="uq_signatures_petition_user"),
        sa.UniqueConstraint("petition_id", "email_normalised", name="uq_signatures_petition_email"),
        sa.Index("ix_signatures_petition_confirmed", "petition_id", "confirmed_at"),
        sa.Index("ix_signatures_confirmed", "confirmed_at"),
        sa.Index("ix_signatures_user", "user_id", "created_at"),
        sa.Index("ix_signatures_email", "email_normalised"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    email: Mapped[str | None] = mapped_column(sa.String(254))
    email_normalised: Mapped[str | None] = mapped_column(sa.String(254))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    reason: Mapped[str] = mapped_column(sa.String(REASON_MAX), default="")
    reason_hidden: Mapped[bool] = mapped_column(default=False)
    is_public: Mapped[bool] = mapped_column(default=False)
    keep_updated: Mapped[bool] = mapped_column(default=False)
    confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    petition: Mapped[Petition] = relationship(lazy="raise_on_sql")
    user: Mapped[User | None] = relationship(lazy="raise_on_sql")

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def author_id(self) -> int | None:
        # For policies.can_report: people do not report their own reasons.
        return self.user_id

    @property
    def display_name(self) -> str:
        """The name shown publicly: theirs if they chose so, else "Anonymous"."""
        if not self.is_public:
            return "Anonymous"
        if self.user is not None and self.user_id is not None:
            return self.user.name
        return self.name or "Anonymous"

    def __repr__(self) -> str:
        return f"<Signature {self.id} on {self.petition_id}>"


# Recruiting -------------------------------------------------------------------------------

# A code is 8 characters of this alphabet (no 0/o, 1/l/i: it is read aloud and typed from
# screenshots): 31**8 ~ 8.5e11 codes, so a guessed code hits one of a million members one
# time in 850,000.
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 8
SOURCE_LABEL_MAX = 40


class RecruiterCode(db.Model):
    """The `?r=` code of a share link, owned by exactly one of: a member (`user_id`, one
    code for every petition they share), a guest's signature (`signature_id`, the link a
    guest shares after confirming, good on that signature's petition), or a petition's named
    source (`petition_id` + `label`, made by its organisers for a newsletter or a Discord
    server, good on that petition only).

    One code per member rather than per petition: a member has one link to remember (and
    "you brought N" on their profile is one query by recruiter), and no row is made per
    member and petition on the signing path; credit is still per petition (Referral)."""

    __tablename__ = "recruiter_codes"
    __table_args__ = (
        sa.CheckConstraint(
            "(CASE WHEN user_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN signature_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN petition_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
        sa.UniqueConstraint("petition_id", "label", name="uq_recruiter_codes_petition_label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    signature_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("signatures.id", ondelete="CASCADE"), unique=True
    )
    petition_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE")
    )
    label: Mapped[str] = mapped_column(sa.String(SOURCE_LABEL_MAX), default="")
    # A member's choice to be listed among a petition's top recruiters (off until they opt in).
    is_shown: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_source(self) -> bool:
        return self.petition_id is not None

    def __repr__(self) -> str:
        return f"<RecruiterCode {self.id}>"


class Referral(db.Model):
    """A signature that came through a share link: the credit for whoever owns the code.

    One per signature (the unique constraint settles concurrent signs). It counts only while
    its signature is confirmed, and goes with it (withdrawn: ON DELETE CASCADE). `recruiter_id`
    names the member whose personal code it was (NULL for sources and guests), so "you brought
    N" is an indexed count; `code_id` is NULL once a guest's code went with its signature.
    """

    __tablename__ = "referrals"
    __table_args__ = (
        sa.Index("ix_referrals_petition_recruiter", "petition_id", "recruiter_id"),
        sa.Index("ix_referrals_recruiter", "recruiter_id"),
        sa.Index("ix_referrals_code", "code_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(
        sa.ForeignKey("signatures.id", ondelete="CASCADE"), unique=True
    )
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    code_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("recruiter_codes.id", ondelete="SET NULL")
    )
    recruiter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Referral {self.signature_id}>"
