"""Forum tables: categories, threads, posts, their revisions and likes.

Counters are denormalised and kept exact by the services (see forum/services.py):
- Thread.reply_count counts the thread's *visible* replies: posts other than the first that
  are neither hidden (by moderation or held for review) nor deleted by their author. Like
  Discourse, hidden posts do not count.
- Thread.post_count counts the thread's visible posts, the first one included.
- Category.thread_count counts its visible (not hidden) threads; Category.post_count is the sum
  of their post_count.
- Thread.last_activity_at is the time of the latest visible post (the thread's creation at
  least); it orders the listings.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow

MAX_TITLE = 150
MAX_BODY = 50_000


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    position: Mapped[int] = mapped_column(default=0, index=True)
    # Only organisers and up start threads here (Announcements).
    is_staff_only: Mapped[bool] = mapped_column(default=False)
    thread_count: Mapped[int] = mapped_column(default=0)
    post_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Category {self.slug}>"


class Thread(db.Model):
    __tablename__ = "threads"
    __table_args__ = (
        # The category listing: pinned first, then the latest activity.
        sa.Index(
            "ix_threads_category_listing", "category_id", "is_pinned", "last_activity_at", "id"
        ),
        # The latest activity of a category (the /forum index), and the home page.
        sa.Index("ix_threads_category_activity", "category_id", "last_activity_at"),
        sa.Index("ix_threads_activity", "last_activity_at"),
        sa.Index("ix_threads_author", "author_id", "created_at"),
        sa.Index("ix_threads_hidden", "is_hidden", "category_id"),
        # Whether a user wrote anything hidden: read with the user on every logged-in request.
        sa.Index(
            "ix_threads_hidden_author",
            "author_id",
            postgresql_where=sa.column("is_hidden") == sa.true(),
            sqlite_where=sa.column("is_hidden") == sa.true(),
        ),
        sa.UniqueConstraint("subject_kind", "subject_id", name="uq_threads_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"))
    title: Mapped[str] = mapped_column(sa.String(MAX_TITLE))
    slug: Mapped[str] = mapped_column(sa.String(80), default="")
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    is_pinned: Mapped[bool] = mapped_column(default=False)
    is_locked: Mapped[bool] = mapped_column(default=False)
    is_hidden: Mapped[bool] = mapped_column(default=False)
    hidden_reason: Mapped[str] = mapped_column(sa.String(30), default="")
    reply_count: Mapped[int] = mapped_column(default=0)
    # Visible posts, the first one included (sums to Category.post_count).
    post_count: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The latest visible post's author (shown in the listings), kept with last_activity_at.
    last_poster_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # A discussion of a news post or a petition ("news" / "petition" and its id).
    subject_kind: Mapped[str | None] = mapped_column(sa.String(20))
    subject_id: Mapped[int | None]

    category: Mapped[Category] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    last_poster: Mapped[User | None] = relationship(foreign_keys=[last_poster_id])

    def __repr__(self) -> str:
        return f"<Thread {self.id} {self.title!r}>"


class Post(db.Model):
    __tablename__ = "posts"
    __table_args__ = (
        sa.Index("ix_posts_thread", "thread_id", "id"),
        sa.Index("ix_posts_author", "author_id", "id"),
        sa.Index(
            "ix_posts_hidden_author",
            "author_id",
            postgresql_where=sa.column("is_hidden") == sa.true(),
            sqlite_where=sa.column("is_hidden") == sa.true(),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(sa.ForeignKey("threads.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    is_first: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(sa.Text)
    # Sanitised HTML rendered once, on write.
    body_html: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    is_hidden: Mapped[bool] = mapped_column(default=False)
    # "held" (watched words, waiting for review) or what moderation sets.
    hidden_reason: Mapped[str] = mapped_column(sa.String(30), default="")
    is_deleted: Mapped[bool] = mapped_column(default=False)
    deleted_at: Mapped[datetime | None]
    # True when a moderator, not the author, deleted it: the page says which.
    deleted_by_moderator: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    like_count: Mapped[int] = mapped_column(default=0)
    # The post this one answers (its Reply button), in the same thread. No foreign key: adding
    # one to this table rebuilds it on SQLite, whose DROP TABLE (foreign keys on) deletes every
    # like and revision of the posts; posts go only with their thread, so no id dangles.
    reply_to_id: Mapped[int | None]
    # When those it concerns were told of it (mentions, replies, watchers). None: held for
    # review before anyone was; releasing it tells them once (services.announce_post).
    told_at: Mapped[datetime | None]

    thread: Mapped[Thread] = relationship()
    author: Mapped[User | None] = relationship()
    reply_to: Mapped[Post | None] = relationship(
        primaryjoin="foreign(Post.reply_to_id) == remote(Post.id)", viewonly=True
    )

    @property
    def is_held(self) -> bool:
        return self.is_hidden and self.hidden_reason == "held"

    @property
    def is_visible(self) -> bool:
        return not self.is_hidden and not self.is_deleted

    @property
    def readable_html(self) -> str:
        """body_html as this request's viewer may read it: services.apply_quote_visibility
        swaps the quotes of posts they may not read (every page of posts goes through it)."""
        return self.__dict__.get("_readable_html") or self.body_html

    @property
    def unreadable_quote_authors(self) -> tuple[int, ...]:
        """Authors of the posts quoted here that this viewer may not read (they may)."""
        return self.__dict__.get("_unreadable_quote_authors", ())

    def __repr__(self) -> str:
        return f"<Post {self.id} in {self.thread_id}>"


class PostRevision(db.Model):
    """A previous version of an edited post, kept for moderators."""

    __tablename__ = "post_revisions"
    __table_args__ = (sa.Index("ix_post_revisions_post", "post_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"))
    editor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(sa.Text)
    # When this version was written (the post's creation or its previous edit).
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    editor: Mapped[User | None] = relationship()


class PostLike(db.Model):
    __tablename__ = "post_likes"
    __table_args__ = (
        sa.UniqueConstraint("post_id", "user_id", name="uq_post_likes_post_user"),
        sa.Index("ix_post_likes_user", "user_id", "post_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Watching and reading (forum/tracking.py) ---------------------------------------------------

# How closely a member follows a thread or a category, as in Discourse:
WATCHING = "watching"  # told of every new post (and, for a category, every new thread)
TRACKING = "tracking"  # unread counts shown; told only of what is addressed to them
NORMAL = "normal"  # told only of what is addressed to them
MUTED = "muted"  # nothing at all: no notifications, no markers, no mail
LEVELS = (WATCHING, TRACKING, NORMAL, MUTED)


class ThreadWatch(db.Model):
    """A member's level for one thread: chosen, or set when they start or reply to it."""

    __tablename__ = "thread_watches"
    __table_args__ = (sa.Index("ix_thread_watches_thread_level", "thread_id", "level"),)

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        sa.ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[str] = mapped_column(sa.String(10))
    # False when the member chose it: automatic levels never override a choice.
    is_automatic: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CategoryWatch(db.Model):
    """A member's level for a category: its threads' level unless set for the thread."""

    __tablename__ = "category_watches"
    __table_args__ = (sa.Index("ix_category_watches_category_level", "category_id", "level"),)

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        sa.ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[str] = mapped_column(sa.String(10))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThreadRead(db.Model):
    """Where a member has read a thread up to: the id of the last post they have seen.

    Its own small table, written when a reader's page reports what they saw (never by the
    thread page's GET, and never a content table: it invalidates no cached page). Unread
    counts are the visible posts after it, counted when shown, so they stay right whatever
    is hidden, deleted or moved later.
    """

    __tablename__ = "thread_reads"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        sa.ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_post_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostBookmark(db.Model):
    """A post a member keeps to find again (their bookmarks page)."""

    __tablename__ = "post_bookmarks"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "post_id", name="uq_post_bookmarks_user_post"),
        sa.Index("ix_post_bookmarks_post", "post_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    post: Mapped[Post] = relationship()


class Draft(db.Model):
    """What a member was writing: a reply to a thread (thread_id) or a new thread in a
    category (category_id, with its title), one of each per member, kept until it is posted."""

    __tablename__ = "post_drafts"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "thread_id", name="uq_post_drafts_user_thread"),
        sa.UniqueConstraint("user_id", "category_id", name="uq_post_drafts_user_category"),
        sa.CheckConstraint("(thread_id IS NULL) <> (category_id IS NULL)", name="one_place"),
        sa.Index("ix_post_drafts_thread", "thread_id"),
        sa.Index("ix_post_drafts_category", "category_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    thread_id: Mapped[int | None] = mapped_column(sa.ForeignKey("threads.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("categories.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(sa.String(MAX_TITLE), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
