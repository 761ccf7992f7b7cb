"""News tables: posts, their dated updates, tags, and the links to petitions.

A post is visible to everyone when its status is "published" and its publication time has
come: a scheduled post is simply a published post whose `published_at` is in the future, so
"is it out yet?" is computed on read (`NewsPost.visible_clause()`), never by a cron job.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow

if TYPE_CHECKING:
    from fancampaign.petitions.models import Petition

MAX_TITLE = 200
MAX_STANDFIRST = 500
MAX_BODY = 100_000
MAX_SLUG = 100
MAX_TAG = 40
MAX_TAGS = 10
MAX_ALT = 250
MAX_UPDATE = 10_000

DRAFT = "draft"
PUBLISHED = "published"
STATUSES = (DRAFT, PUBLISHED)

news_post_tags = sa.Table(
    "news_post_tags",
    db.metadata,
    sa.Column("news_post_id", sa.ForeignKey("news_posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The tag listing: posts of one tag.
    sa.Index("ix_news_post_tags_tag", "tag_id", "news_post_id"),
)

news_post_petitions = sa.Table(
    "news_post_petitions",
    db.metadata,
    sa.Column("news_post_id", sa.ForeignKey("news_posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("petition_id", sa.ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True),
    # The petition page: its linked posts.
    sa.Index("ix_news_post_petitions_petition", "petition_id", "news_post_id"),
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Normalised: lowercase ASCII words joined by hyphens (text.slugify).
    name: Mapped[str] = mapped_column(sa.String(MAX_TAG), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Tag {self.name}>"


class NewsPost(db.Model):
    __tablename__ = "news_posts"
    __table_args__ = (
        # The public listing and the feed: visible posts, newest first.
        sa.Index("ix_news_posts_listing", "status", "published_at"),
        sa.Index("ix_news_posts_author", "author_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(MAX_SLUG), unique=True)
    title: Mapped[str] = mapped_column(sa.String(MAX_TITLE))
    standfirst: Mapped[str] = mapped_column(sa.String(MAX_STANDFIRST), default="")
    body: Mapped[str] = mapped_column(sa.Text)
    # Sanitised HTML rendered once, on write.
    body_html: Mapped[str] = mapped_column(sa.Text)
    reading_minutes: Mapped[int] = mapped_column(default=1)
    # Cover image: the content-hash key of the files in UPLOAD_FOLDER and the widths made.
    cover_key: Mapped[str | None] = mapped_column(sa.String(64))
    cover_widths: Mapped[str] = mapped_column(sa.String(40), default="")
    cover_alt: Mapped[str] = mapped_column(sa.String(MAX_ALT), default="")
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(20), default=DRAFT)
    is_developing: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when published; a future value means "scheduled".
    published_at: Mapped[datetime | None]
    # When the "keep me updated" emails were queued (once per post).
    announced_at: Mapped[datetime | None]
    thread_id: Mapped[int | None] = mapped_column(sa.ForeignKey("threads.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=news_post_tags, order_by=Tag.name)
    petitions: Mapped[list[Petition]] = relationship(
        "Petition", secondary=news_post_petitions, order_by="Petition.id"
    )
    updates: Mapped[list[NewsUpdate]] = relationship(
        back_populates="post",
        order_by="NewsUpdate.created_at",
        cascade="all, delete-orphan",
    )

    @classmethod
    def visible_clause(cls, now: datetime | None = None) -> sa.ColumnElement[bool]:
        """SQL for "published and due": the only definition of a public post."""
        return sa.and_(
            cls.status == PUBLISHED,
            cls.published_at.is_not(None),
            cls.published_at <= (now or utcnow()),
        )

    @property
    def is_published(self) -> bool:
        """Published and due (a scheduled post is not published until its time comes)."""
        return (
            self.status == PUBLISHED
            and self.published_at is not None
            and self.published_at <= utcnow()
        )

    @property
    def is_scheduled(self) -> bool:
        return (
            self.status == PUBLISHED
            and self.published_at is not None
            and self.published_at > utcnow()
        )

    @property
    def is_draft(self) -> bool:
        return self.status == DRAFT

    @property
    def state_label(self) -> str:
        if self.is_draft:
            return "Draft"
        return "Scheduled" if self.is_scheduled else "Published"

    @property
    def widths(self) -> list[int]:
        return [int(w) for w in self.cover_widths.split(",") if w.isdigit()]

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]

    def __repr__(self) -> str:
        return f"<NewsPost {self.slug}>"


class NewsUpdate(db.Model):
    """A dated update appended to a developing story."""

    __tablename__ = "news_updates"
    __table_args__ = (sa.Index("ix_news_updates_post", "news_post_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    news_post_id: Mapped[int] = mapped_column(sa.ForeignKey("news_posts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    post: Mapped[NewsPost] = relationship(back_populates="updates")
    author: Mapped[User | None] = relationship()
