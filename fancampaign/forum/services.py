"""Forum: threads, replies, edits, deletions, likes, and the counters that go with them.

Services flush and never commit; they take the acting user as an argument, check the policy and
the state, and raise DomainError children. They never touch request, session or current_user.

Counters (see models.py for what each counts). A new thread or reply bumps them with atomic
`UPDATE ... SET n = n + 1`. Everything else that changes visibility (a delete, an edit held for
review, moderation hiding or restoring a post or a thread, a move) calls `recount_thread`
and/or `recount_category`, which recompute the numbers in one UPDATE statement each from the
rows themselves, so they are exact whatever happened before. Hidden posts (moderation or held
for review) and posts deleted by their author are not counted, as in Discourse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from fancampaign import policies
from fancampaign.accounts.marks import id_mark, ids_marked
from fancampaign.accounts.models import User
from fancampaign.errors import DomainError, InvalidInput, NotAllowed, NotFoundError
from fancampaign.extensions import db, utcnow
from fancampaign.forum import tracking
from fancampaign.forum.models import (
    MAX_BODY,
    MAX_TITLE,
    MUTED,
    TRACKING,
    WATCHING,
    Category,
    Draft,
    Post,
    PostBookmark,
    PostLike,
    PostRevision,
    Thread,
)
from fancampaign.moderation import newcomers, watch
from fancampaign.notifications.services import notify
from fancampaign.routing import MAX_ID
from fancampaign.text import (
    clean_multiline,
    clean_text,
    extract_mentions,
    hide_quotes,
    quoted_post_ids,
    render_markdown,
    slugify,
)

PER_PAGE = 20
HELD = "held"


# Errors ---------------------------------------------------------------------------------


class ThreadLocked(NotAllowed):
    message = "This thread is locked: it takes no new replies."


class BlockedText(InvalidInput):
    message = "Your post contains words that are not allowed here."


class CategoryExists(DomainError):
    message = "A category with that address already exists."


# Paths under /forum/ that are not categories.
RESERVED_SLUGS = frozenset({"t", "p", "categories", "new", "feed"})


# Input rules ----------------------------------------------------------------------------

_QUOTE_HEADER_RE = re.compile(
    r"^[ \t]*(?:>[ \t]*)+@([A-Za-z0-9_]{3,30}) (?:wrote|\[wrote\]\(/forum/p/[0-9]+\)):",
    re.MULTILINE,
)


def _has_visible_text(value: str) -> bool:
    # Letters, digits, punctuation or symbols: not only spaces, zero-width or format characters.
    import unicodedata

    return any(unicodedata.category(ch)[0] in "LNPS" for ch in value)


def check_title(title: str) -> str:
    """A title is 1-150 visible characters; raises InvalidInput."""
    title = clean_text(title or "")
    if not title or not _has_visible_text(title):
        raise InvalidInput("Enter a title.")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"The title must be {MAX_TITLE} characters or fewer.")
    return title


def check_body(body: str) -> str:
    """A post body is 1-50,000 characters with something visible in it; raises InvalidInput."""
    body = clean_multiline(body or "")
    if not body or not _has_visible_text(body):
        raise InvalidInput("Write something first.")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"A post must be {MAX_BODY:,} characters or fewer.")
    return body


def _require(allowed: bool, user: Any, fallback: str) -> None:
    if not allowed:
        raise NotAllowed(policies.participation_problem(user) or fallback)


def _screen(text: str) -> bool:
    """Watched words: raises BlockedText on "block"; returns True when the text must be held."""
    verdict = watch.screen(text)
    if verdict.action == "block":
        raise BlockedText(verdict.message or None)
    return verdict.action == "hold"


def _mentioned_users(body: str) -> list[User]:
    names = extract_mentions(body)
    if not names:
        return []
    return list(
        db.session.scalars(
            sa.select(User).where(User.username_lower.in_(names), User.deleted_at.is_(None))
        )
    )


def _render(body: str) -> tuple[str, list[User]]:
    mentioned = _mentioned_users(body)
    return render_markdown(body, mentions=[u.username for u in mentioned]), mentioned


# Reading --------------------------------------------------------------------------------


def get_category(slug: str) -> Category:
    """The category with this slug; raises NotFoundError."""
    category = db.session.scalar(sa.select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFoundError()
    return category


def categories() -> list[Category]:
    """Every category, in their order."""
    return list(db.session.scalars(sa.select(Category).order_by(Category.position, Category.id)))


def latest_threads(category_ids: Sequence[int]) -> dict[int, Thread]:
    """The most recently active visible thread of each category, in one query."""
    if not category_ids:
        return {}
    latest = (
        sa.select(Thread.id)
        .where(Thread.category_id == Category.id, Thread.is_hidden.is_(False))
        .order_by(Thread.last_activity_at.desc(), Thread.id.desc())
        .limit(1)
        .correlate(Category)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Category.id, Thread)
        .join(Thread, Thread.id == latest)
        .where(Category.id.in_(category_ids))
        .options(joinedload(Thread.last_poster))
    ).all()
    return {row[0]: row[1] for row in rows}


def get_thread(thread_id: int, viewer: Any) -> Thread:
    """A thread the viewer may see, with its category; raises NotFoundError."""
    thread = db.session.scalar(
        sa.select(Thread).where(Thread.id == thread_id).options(joinedload(Thread.category))
    )
    if thread is None or not policies.can_see_hidden(viewer, thread):
        raise NotFoundError()
    return thread


def get_post(post_id: int, viewer: Any) -> Post:
    """A post the viewer may see, with its thread and category; raises NotFoundError."""
    post = db.session.scalar(
        sa.select(Post)
        .where(Post.id == post_id)
        .options(joinedload(Post.thread).joinedload(Thread.category), joinedload(Post.author))
    )
    if (
        post is None
        or not policies.can_see_hidden(viewer, post)
        or not policies.can_see_hidden(viewer, post.thread)
    ):
        raise NotFoundError()
    return post


def apply_quote_visibility(viewer: Any, posts: Sequence[Post]) -> None:
    """Set each post's readable_html for this viewer: a quote of a post they may not read
    (`policies.can_read_post`, in a thread they may see) says "Quoted post is hidden" instead.

    One query for a page of posts, none when nothing on it quotes; the stored HTML is not
    re-rendered, only its marked quotes swapped.
    """
    quoted = {
        found for post in posts for found in quoted_post_ids(post.body_html) if found <= MAX_ID
    }
    states = {}
    if quoted:
        rows = db.session.execute(
            sa.select(
                Post.id,
                Post.author_id,
                Post.is_hidden,
                Post.is_deleted,
                Thread.is_hidden.label("thread_is_hidden"),
                Thread.author_id.label("thread_author_id"),
            )
            .join(Thread, Thread.id == Post.thread_id)
            .where(Post.id.in_(sorted(quoted)))
        )
        states = {row.id: row for row in rows}
    unreadable = {
        quoted_id
        for quoted_id in quoted
        if (row := states.get(quoted_id)) is None
        or not policies.can_read_post(viewer, row)
        or not policies.can_see_hidden(
            viewer, SimpleNamespace(is_hidden=row.thread_is_hidden, author_id=row.thread_author_id)
        )
    }
    for post in posts:
        mine = quoted_post_ids(post.body_html) & unreadable if unreadable else set()
        post.__dict__["_readable_html"] = hide_quotes(post.body_html, mine) if mine else None
        post.__dict__["_unreadable_quote_authors"] = tuple(
            sorted({states[i].author_id for i in mine if i in states and states[i].author_id})
        )


class _CountedPagination(SelectPagination):
    """Offset pagination whose total comes from a denormalised counter, not COUNT(*)."""

    def _query_count(self) -> int:
        return int(self._query_args["total"])


_LISTING_ORDER = (Thread.is_pinned.desc(), Thread.last_activity_at.desc(), Thread.id.desc())


class _DeferredJoinPagination(_CountedPagination):
    """Pages by a deferred join in one statement: the subquery walks an index for the page's
    ids (OFFSET skips bare ids, not joined rows), then only those rows are read and joined
    (`rows(ids)` builds that). Deep pages cost little more than the first."""

    def _query_items(self) -> list[Any]:
        ids = self._query_args["select"].limit(self.per_page).offset(self._query_offset).subquery()
        query = self._query_args["rows"](ids)
        return list(self._query_args["session"].scalars(query).unique())


def _deferred_pages(
    ids: Any, rows: Callable[[Any], Any], page: int, per_page: int, total: int
) -> _DeferredJoinPagination:
    return _DeferredJoinPagination(
        select=ids,
        rows=rows,
        session=db.session(),
        page=page,
        per_page=per_page,
        error_out=False,
        total=total,
    )


def _listing_rows(ids: Any) -> sa.Select[tuple[Thread]]:
    return (
        sa.select(Thread)
        .join(ids, ids.c.id == Thread.id)
        .order_by(*_LISTING_ORDER)
        .options(joinedload(Thread.author), joinedload(Thread.last_poster))
    )


def _post_rows(ids: Any) -> sa.Select[tuple[Post]]:
    return (
        sa.select(Post)
        .join(ids, ids.c.id == Post.id)
        .order_by(Post.id)
        .options(joinedload(Post.author), joinedload(Post.reply_to).joinedload(Post.author))
    )


def threads_page(category: Category, viewer: Any, page: int, per_page: int = PER_PAGE) -> Any:
    """A page of the category's threads: pinned first, then the latest activity.

    The total is the category's thread_count (its visible threads) plus, for moderators and
    authors, the hidden threads they also see (a small indexed count): no COUNT(*) over 100k
    threads. Authors and last posters are joined in.
    """
    ids = sa.select(Thread.id).where(Thread.category_id == category.id).order_by(*_LISTING_ORDER)
    total = category.thread_count
    threads = Thread.__table__
    hidden = sa.select(sa.func.count()).where(
        threads.c.category_id == category.id, threads.c.is_hidden.is_(True)
    )
    if policies.can_moderate(viewer):
        total += db.session.scalar(hidden) or 0
    elif policies.is_member(viewer):
        ids = ids.where(sa.or_(Thread.is_hidden.is_(False), Thread.author_id == viewer.id))
        total += db.session.scalar(hidden.where(threads.c.author_id == viewer.id)) or 0
    else:
        ids = ids.where(Thread.is_hidden.is_(False))
    return _deferred_pages(ids, _listing_rows, page, per_page, total)


def _visible_posts(thread: Thread, viewer: Any) -> sa.Select[tuple[Post]]:
    query = sa.select(Post).where(Post.thread_id == thread.id)
    if policies.can_moderate(viewer):
        return query
    if policies.is_member(viewer):
        return query.where(sa.or_(Post.is_hidden.is_(False), Post.author_id == viewer.id))
    return query.where(Post.is_hidden.is_(False))


def posts_page(
    thread: Thread,
    viewer: Any,
    page: int,
    per_page: int = PER_PAGE,
    *,
    first: bool = True,
    total: int | None = None,
) -> Any:
    """A page of the thread's posts the viewer may see (first post included unless first=False).

    Deleted posts stay in place (shown as "deleted by author"); hidden ones show only to
    moderators and to their author. Authors are joined in, by a deferred join (the last page
    of a 4,000-post thread joined 4,000 authors to skip them: 51 ms, now a few): two queries
    whatever the size (one when the caller already knows the `total`, from visible_count).
    """
    if total is None:
        total = visible_count(thread, viewer, first=first)
    ids = _visible_posts(thread, viewer).with_only_columns(Post.id).order_by(Post.id)
    if not first:
        ids = ids.where(Post.is_first.is_(False))
    pages = _deferred_pages(ids, _post_rows, page, per_page, total)
    apply_quote_visibility(viewer, pages.items)
    return pages


def visible_count(thread: Thread, viewer: Any, *, first: bool = True) -> int:
    """How many of the thread's posts the viewer sees (the first one left out if first=False)."""
    query = _visible_posts(thread, viewer)
    if not first:
        query = query.where(Post.is_first.is_(False))
    return db.session.scalar(query.with_only_columns(sa.func.count()).order_by(None)) or 0


def last_page(thread: Thread, viewer: Any, per_page: int = PER_PAGE) -> int:
    """The number of the thread's last page for this viewer."""
    return max(1, math.ceil(visible_count(thread, viewer) / per_page))


def page_of(post: Post, viewer: Any, per_page: int = PER_PAGE) -> int:
    """The page of its thread on which this post appears for this viewer."""
    before = db.session.scalar(
        _visible_posts(post.thread, viewer)
        .where(Post.id < post.id)
        .with_only_columns(sa.func.count())
        .order_by(None)
    )
    return (before or 0) // per_page + 1


def liked_ids(viewer: Any, posts: Iterable[Post]) -> set[int]:
    """Which of these posts the viewer likes (one query; none for visitors)."""
    return ids_marked(viewer, "liked", liked_mark(), "mark_liked_ids", [p.id for p in posts])


@cache
def liked_mark() -> Any:
    """A column for the viewer's users row (see `cache.viewer_marks`): which of the posts
    `mark_liked_ids` they like."""
    likes = PostLike.__table__
    return id_mark(likes.c.post_id, likes.c.user_id, "mark_liked_ids")


def revisions(post: Post) -> list[PostRevision]:
    """The post's previous versions, newest first."""
    return list(
        db.session.scalars(
            sa.select(PostRevision)
            .where(PostRevision.post_id == post.id)
            .order_by(PostRevision.id.desc())
            .options(joinedload(PostRevision.editor))
        )
    )


def lively_threads(limit: int = 5) -> list[Thread]:
    """The most recently active visible threads (the home page block)."""
    return list(
        db.session.scalars(
            sa.select(Thread)
            .where(Thread.is_hidden.is_(False))
            .order_by(Thread.last_activity_at.desc(), Thread.id.desc())
            .limit(limit)
            .options(joinedload(Thread.category), joinedload(Thread.last_poster))
        )
    )


def sitemap(limit: int) -> list[tuple[str, Any]]:
    """(path, last activity) of every category and of the visible threads with the latest
    activity, at most `limit` of them, for the sitemap."""
    out: list[tuple[str, Any]] = [(f"/forum/{c.slug}", None) for c in categories()]
    rows = db.session.execute(
        sa.select(Thread.id, Thread.slug, Thread.last_activity_at)
        .where(Thread.is_hidden.is_(False))
        .order_by(Thread.last_activity_at.desc())
        .limit(limit)
    )
    out += [(thread_url(row), row.last_activity_at) for row in rows]
    return out


def user_threads(user: User, viewer: Any, limit: int = 5) -> list[Thread]:
    """A user's recent threads; hidden ones only for moderators and the author."""
    query = sa.select(Thread).where(Thread.author_id == user.id)
    if not (policies.can_moderate(viewer) or (policies.is_member(viewer) and viewer.id == user.id)):
        query = query.where(Thread.is_hidden.is_(False))
    return list(
        db.session.scalars(
            query.order_by(Thread.created_at.desc(), Thread.id.desc())
            .limit(limit)
            .options(joinedload(Thread.category))
        )
    )


def user_posts(user: User, viewer: Any, limit: int = 5) -> list[Post]:
    """A user's recent replies; hidden ones (or in hidden threads) only for staff and author."""
    query = (
        sa.select(Post)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == user.id, Post.is_first.is_(False), Post.is_deleted.is_(False))
    )
    if not (policies.can_moderate(viewer) or (policies.is_member(viewer) and viewer.id == user.id)):
        query = query.where(Post.is_hidden.is_(False), Thread.is_hidden.is_(False))
    return list(
        db.session.scalars(
            query.order_by(Post.id.desc()).limit(limit).options(joinedload(Post.thread))
        )
    )


def export_user(user: User) -> dict[str, Any]:
    """The user's threads, posts, bookmarks and drafts, for "export my data"."""
    threads = db.session.scalars(
        sa.select(Thread).where(Thread.author_id == user.id).order_by(Thread.id)
    )
    posts = db.session.scalars(sa.select(Post).where(Post.author_id == user.id).order_by(Post.id))
    marks = db.session.scalars(
        sa.select(PostBookmark).where(PostBookmark.user_id == user.id).order_by(PostBookmark.id)
    )
    drafts = db.session.scalars(sa.select(Draft).where(Draft.user_id == user.id).order_by(Draft.id))
    return {
        "bookmarks": [
            {"post_id": m.post_id, "created_at": m.created_at.isoformat()} for m in marks
        ],
        "drafts": [
            {
                "thread_id": d.thread_id,
                "category_id": d.category_id,
                "title": d.title,
                "body": d.body,
                "updated_at": d.updated_at.isoformat(),
            }
            for d in drafts
        ],
        "threads": [
            {"id": t.id, "title": t.title, "created_at": t.created_at.isoformat()} for t in threads
        ],
        "posts": [
            {
                "id": p.id,
                "thread_id": p.thread_id,
                "reply_to_id": p.reply_to_id,
                "body": p.body,
                "created_at": p.created_at.isoformat(),
                "edited_at": p.edited_at.isoformat() if p.edited_at else None,
                "is_deleted": p.is_deleted,
                "is_hidden": p.is_hidden,
            }
            for p in posts
        ],
    }


def post_url(post: Post) -> str:
    """A stable link to a post (redirects to its page and anchor)."""
    return f"/forum/p/{post.id}"


def thread_url(thread: Any) -> str:
    """A thread's path (a Thread, or a row with its id and slug)."""
    return f"/forum/t/{thread.id}/{thread.slug}" if thread.slug else f"/forum/t/{thread.id}"


# Writing --------------------------------------------------------------------------------


def _bump_for_new_post(thread: Thread, user_id: int | None, now: Any, *, first: bool) -> None:
    """A visible post was added: the thread's and the category's counters go up by one."""
    values: dict[str, Any] = {
        "post_count": Thread.post_count + 1,
        "last_activity_at": now,
        "last_poster_id": user_id,
    }
    if not first:
        values["reply_count"] = Thread.reply_count + 1
    db.session.execute(
        sa.update(Thread).where(Thread.id == thread.id).values(**values),
        execution_options={"synchronize_session": False},
    )
    # The category of the thread as the database has it now, and only if the thread is visible.
    category_id = (
        sa.select(Thread.category_id)
        .where(Thread.id == thread.id, Thread.is_hidden.is_(False))
        .scalar_subquery()
    )
    cat_values: dict[str, Any] = {"post_count": Category.post_count + 1}
    if first:
        cat_values["thread_count"] = Category.thread_count + 1
    db.session.execute(
        sa.update(Category).where(Category.id == category_id).values(**cat_values),
        execution_options={"synchronize_session": False},
    )
    db.session.expire(thread, ["post_count", "reply_count", "last_activity_at", "last_poster_id"])


def _recount_posts(thread: Thread) -> int:
    """Recompute the thread's own counters and last activity; returns the change of post_count.

    The thread row is locked first (FOR UPDATE), so concurrent replies queue behind us.
    """
    visible = sa.and_(
        Post.thread_id == Thread.id, Post.is_hidden.is_(False), Post.is_deleted.is_(False)
    )

    def latest(column: Any) -> Any:
        return sa.select(column).where(visible).order_by(Post.id.desc()).limit(1).scalar_subquery()

    db.session.flush()
    before = db.session.scalar(
        sa.select(Thread.post_count).where(Thread.id == thread.id).with_for_update()
    )
    db.session.execute(
        sa.update(Thread)
        .where(Thread.id == thread.id)
        .values(
            post_count=sa.select(sa.func.count()).where(visible).scalar_subquery(),
            reply_count=sa.select(sa.func.count())
            .where(visible, Post.is_first.is_(False))
            .scalar_subquery(),
            last_activity_at=sa.func.coalesce(latest(Post.created_at), Thread.created_at),
            last_poster_id=sa.func.coalesce(latest(Post.author_id), Thread.author_id),
        ),
        execution_options={"synchronize_session": False},
    )
    after = db.session.scalar(sa.select(Thread.post_count).where(Thread.id == thread.id))
    db.session.expire(thread, ["post_count", "reply_count", "last_activity_at", "last_poster_id"])
    return (after or 0) - (before or 0)


def _recount_after_post_change(thread: Thread) -> None:
    """One post of a thread changed visibility (deleted, held): thread recount, category delta."""
    delta = _recount_posts(thread)
    if delta:
        db.session.execute(
            sa.update(Category)
            .where(
                Category.id
                == sa.select(Thread.category_id)
                .where(Thread.id == thread.id, Thread.is_hidden.is_(False))
                .scalar_subquery()
            )
            .values(post_count=Category.post_count + delta),
            execution_options={"synchronize_session": False},
        )
        db.session.expire(thread.category, ["post_count"])


def recount_thread(thread: Thread) -> None:
    """Recompute the thread's counters and last activity, then its category's; exact.

    Moderation calls this after hiding or restoring a post or the thread (or releasing a held
    one); the category is recounted from its threads, so any visibility change is covered.
    """
    _recount_posts(thread)
    recount_category(thread.category_id)


def recount_category(category_id: int) -> None:
    """Recompute a category's thread and post counts from its visible threads; exact."""
    visible = sa.and_(Thread.category_id == Category.id, Thread.is_hidden.is_(False))
    db.session.flush()
    db.session.execute(
        sa.update(Category)
        .where(Category.id == category_id)
        .values(
            thread_count=sa.select(sa.func.count()).where(visible).scalar_subquery(),
            post_count=sa.select(sa.func.coalesce(sa.func.sum(Thread.post_count), 0))
            .where(visible)
            .scalar_subquery(),
        ),
        execution_options={"synchronize_session": False},
    )
    category = db.session.get(Category, category_id)
    if category is not None:
        db.session.expire(category, ["thread_count", "post_count"])


def move_thread(thread: Thread, category: Category) -> None:
    """Move a thread to another category; both categories' counters stay exact."""
    old = thread.category_id
    if old == category.id:
        return
    thread.category_id = category.id
    thread.category = category
    db.session.flush()
    recount_category(old)
    recount_category(category.id)


def _add_post(
    thread: Thread,
    author_id: int | None,
    body: str,
    html: str,
    now: datetime,
    *,
    held: bool,
    is_first: bool = False,
    reply_to_id: int | None = None,
) -> Post:
    """Store a post (a held one hidden for review) and flush it; counters are the caller's."""
    post = Post(
        thread_id=thread.id,
        author_id=author_id,
        is_first=is_first,
        reply_to_id=reply_to_id,
        body=body,
        body_html=html,
        created_at=now,
        is_hidden=held,
        hidden_reason=HELD if held else "",
        told_at=None if held else now,
    )
    db.session.add(post)
    db.session.flush()
    return post


def _new_thread(
    category: Category, author: User | None, title: str, body: str, *, held: bool
) -> Thread:
    author_id = author.id if author is not None else None
    html, mentioned = _render(body)
    now = utcnow()
    thread = Thread(
        category_id=category.id,
        title=title,
        slug=slugify(title),
        author_id=author_id,
        created_at=now,
        last_activity_at=now,
        last_poster_id=author_id,
        reply_count=0,
        post_count=0,
        is_hidden=held,
        hidden_reason=HELD if held else "",
    )
    db.session.add(thread)
    db.session.flush()
    post = _add_post(thread, author_id, body, html, now, held=held, is_first=True)
    if author is not None:
        tracking.watch_automatically(author, thread, WATCHING)
        tracking.record_read(author, thread, post.id)
    if not held:
        if author is not None:
            done = _notify_mentions(post, thread, author, mentioned)
            _notify_new_thread(post, thread, category, author, done)
        # Last: the category's row stays locked until the commit.
        _bump_for_new_post(thread, author_id, now, first=True)
    return thread


def create_thread(user: User, category: Category, title: str, body: str) -> Thread:
    """Start a thread with its first post; raises NotAllowed, InvalidInput or BlockedText.

    Staff-only categories take threads from organisers up. Watched words may block the thread
    or hold it (and its first post) hidden for review.
    """
    _require(
        policies.can_start_thread(user, category),
        user,
        "Only organisers can start threads in this category.",
    )
    title = check_title(title)
    body = check_body(body)
    held = _screen(f"{title}\n{body}")
    held = newcomers.screen(user, f"{title}\n{body}") or held
    discard_draft(user, category=category)
    return _new_thread(category, user, title, body, held=held)


def first_post(thread: Thread) -> Post:
    post = db.session.scalar(
        sa.select(Post).where(Post.thread_id == thread.id, Post.is_first.is_(True))
    )
    if post is None:  # pragma: no cover - every thread is created with its first post
        raise NotFoundError()
    return post


def reply(user: User, thread: Thread, body: str, reply_to: int | None = None) -> Post:
    """Add a reply; raises NotAllowed, ThreadLocked, InvalidInput or BlockedText.

    Locked threads take replies from moderators only. A held reply is stored hidden and counts
    nowhere (and notifies nobody) until moderation releases it (`announce_post`). `reply_to`:
    the id of the post it answers, kept when that post is in this thread and the user may read
    it (else the reply answers the thread). The user's draft for the thread is done with.
    """
    if not policies.can_reply(user, thread):
        if policies.can_participate(user) and thread.is_locked:
            raise ThreadLocked()
        _require(False, user, "You cannot reply to this thread.")
    body = check_body(body)
    held = _screen(body)
    held = newcomers.screen(user, body) or held
    html, mentioned = _render(body)
    now = utcnow()
    answered = answered_post(user, thread, reply_to)
    post = _add_post(
        thread,
        user.id,
        body,
        html,
        now,
        held=held,
        reply_to_id=answered.id if answered is not None else None,
    )
    tracking.watch_automatically(user, thread, TRACKING)
    tracking.record_read(user, thread, post.id)
    discard_draft(user, thread=thread)
    if not held:
        _notify_reply(post, thread, user, mentioned)
        # Last: the thread's and the category's rows stay locked until the commit.
        _bump_for_new_post(thread, user.id, now, first=False)
    return post


def _snippet(post: Post) -> str:
    text = re.sub(r"\s+", " ", post.body).strip()
    return text if len(text) <= 140 else text[:139] + "…"


def _notify_mentions(
    post: Post, thread: Thread, actor: User, mentioned: list[User], done: set[int] | None = None
) -> set[int]:
    """One notification per user per post: quoted beats mentioned; none for those who muted
    the thread. Returns who was told (and who muted it: nothing more reaches them)."""
    done = set() if done is None else done
    levels = tracking.levels_for([u.id for u in mentioned], thread)
    done.update(uid for uid, level in levels.items() if level == MUTED)
    quoted = {name.lower() for name in _QUOTE_HEADER_RE.findall(post.body)}
    url = post_url(post)
    line = f"{actor.name}: {_snippet(post)}"
    for user in mentioned:
        if user.id in done or user.id == actor.id:
            continue
        if user.username_lower in quoted:
            kind, text = "quote", f"{actor.name} quoted you in “{thread.title}”"
        else:
            kind, text = "mention", f"{actor.name} mentioned you in “{thread.title}”"
        notify(
            user,
            kind,
            text,
            url,
            actor=actor,
            thread_id=thread.id,
            subject=thread.title,
            email_line=line,
        )
        done.add(user.id)
    return done


def announce_post(post: Post) -> bool:
    """Tell those a post concerns, as when a visible post is written: a held post released by
    moderation (mentions, the author of the post it answers, the thread's author and watchers;
    for a first post, the category's watchers). Once: a post already told of (shown when it
    was written, or released before) tells nobody again; nor does one still hidden. Returns
    whether it told."""
    if post.is_hidden or post.is_deleted or post.thread.is_hidden:
        return False
    claimed = db.session.execute(
        sa.update(Post)
        .where(Post.id == post.id, Post.told_at.is_(None))
        .values(told_at=utcnow())
        .returning(Post.told_at),
        execution_options={"synchronize_session": False},
    ).scalar()
    if claimed is None:
        return False
    set_committed_value(post, "told_at", claimed)
    actor, thread = post.author, post.thread
    if actor is None or actor.is_deleted:
        return True
    mentioned = _mentioned_users(post.body)
    if post.is_first:
        done = _notify_mentions(post, thread, actor, mentioned)
        _notify_new_thread(post, thread, thread.category, actor, done)
    else:
        _notify_reply(post, thread, actor, mentioned)
    return True


def _notify_reply(post: Post, thread: Thread, actor: User, mentioned: list[User]) -> None:
    """Who hears of a reply, one notification each, the most specific: those it mentions or
    quotes; the author of the post it answers ("X replied to your post", linked to the
    reply); the thread's author and its watchers, grouped per thread while unread ("3 new
    replies in …"), linked to their first unread post. Muted members hear nothing."""
    done = _notify_mentions(post, thread, actor, mentioned)
    answered = db.session.get(Post, post.reply_to_id) if post.reply_to_id else None
    answered_author = answered.author if answered is not None else None
    # The watchers first: the thread's author is usually one of them (no query of their own).
    watching = [] if thread.is_hidden else tracking.watchers(thread)
    author = thread.author
    candidates = ([author] if author is not None else []) + watching
    levels = tracking.levels_for(
        [u.id for u in candidates] + ([answered_author.id] if answered_author else []), thread
    )
    line = f"{actor.name}: {_snippet(post)}"

    def told_already(user: User) -> bool:
        return user.id in done or user.id == actor.id or levels.get(user.id) == MUTED

    if answered_author is not None and not told_already(answered_author):
        done.add(answered_author.id)
        notify(
            answered_author,
            "reply",
            f"{actor.name} replied to your post in “{thread.title}”",
            post_url(post),
            actor=actor,
            thread_id=thread.id,
            subject=thread.title,
            email_line=line,
        )
    url = f"/forum/t/{thread.id}/unread"
    for user in candidates:
        if told_already(user):
            continue
        done.add(user.id)
        is_author = author is not None and user.id == author.id
        notify(
            user,
            "reply" if is_author else "watching",
            f"{actor.name} replied to “{thread.title}”",
            url,
            actor=actor,
            thread_id=thread.id,
            subject=thread.title,
            group_key=f"posts:{thread.id}",
            email_line=line,
        )


def _notify_new_thread(
    post: Post, thread: Thread, category: Category, actor: User, done: set[int]
) -> None:
    """Members watching the category hear of a new thread in it."""
    for user in tracking.category_watchers(category):
        if user.id in done or user.id == actor.id:
            continue
        notify(
            user,
            "new_thread",
            f"{actor.name} started “{thread.title}” in {category.name}",
            thread_url(thread),
            actor=actor,
            thread_id=thread.id,
            subject=thread.title,
            email_line=f"{actor.name} started it: {_snippet(post)}",
        )


def _notify_like(user: User, post: Post) -> None:
    """The post's author hears of likes, grouped per post while unread ("Koyomi and 4 others
    liked your post"); not when they muted the thread."""
    author = post.author
    if author is None or author.id == user.id:
        return
    thread = post.thread
    if tracking.levels_for([author.id], thread).get(author.id) == MUTED:
        return
    notify(
        author,
        "like",
        f"{user.name} liked your post in “{thread.title}”",
        post_url(post),
        actor=user,
        thread_id=thread.id,
        subject=thread.title,
        group_key=f"like:{post.id}",
        email_line=f"{user.name} liked your post",
    )


def edit_post(user: User, post: Post, body: str, title: str | None = None) -> Post:
    """Change a post (and the thread title when it is the first post); keeps the old version.

    Authors edit their own live posts, moderators any; raises NotAllowed, InvalidInput,
    BlockedText. An edit the watched words hold hides the post for review.
    """
    _require(policies.can_edit_post(user, post), user, "You cannot edit this post.")
    body = check_body(body)
    new_title = check_title(title) if (post.is_first and title is not None) else None
    held = _screen(f"{new_title or ''}\n{body}")
    newcomers.screen(user, body)  # links only: an edit of a released post is not held again
    if body == post.body and (new_title is None or new_title == post.thread.title) and not held:
        return post
    db.session.add(
        PostRevision(
            post_id=post.id,
            editor_id=user.id,
            body=post.body,
            written_at=post.edited_at or post.created_at,
        )
    )
    html, _mentioned = _render(body)
    post.body = body
    post.body_html = html
    post.edited_at = utcnow()
    if new_title is not None:
        post.thread.title = new_title
        post.thread.slug = slugify(new_title)
    if held and not post.is_hidden:
        post.is_hidden = True
        post.hidden_reason = HELD
        _recount_after_post_change(post.thread)
    db.session.flush()
    return post


def delete_post(user: User, post: Post) -> None:
    """Soft-delete a post (by its author, or a moderator); raises NotAllowed. Counters follow."""
    _require(policies.can_delete_post(user, post), user, "You cannot delete this post.")
    post.is_deleted = True
    post.deleted_at = utcnow()
    post.deleted_by_moderator = post.author_id != user.id
    _recount_after_post_change(post.thread)


def toggle_like(user: User, post: Post) -> bool:
    """Like a post, or take the like back; returns whether the user now likes it.

    One like per user per post (a unique constraint; a lost race counts as already liked).
    """
    _require(policies.can_like(user, post), user, "You cannot like this post.")
    removed = db.session.execute(
        sa.delete(PostLike).where(PostLike.post_id == post.id, PostLike.user_id == user.id),
        execution_options={"synchronize_session": False},
    ).rowcount
    if removed:
        delta = -removed
        liked = False
    else:
        try:
            with db.session.begin_nested():
                db.session.add(PostLike(post_id=post.id, user_id=user.id))
        except IntegrityError:
            return True
        delta = 1
        liked = True
        _notify_like(user, post)
    db.session.execute(
        sa.update(Post).where(Post.id == post.id).values(like_count=Post.like_count + delta),
        execution_options={"synchronize_session": False},
    )
    db.session.expire(post, ["like_count"])
    return liked


def answered_post(user: Any, thread: Thread, post_id: int | None) -> Post | None:
    """The post of this thread a reply answers, if the user may read it (else None)."""
    if not post_id or not 0 < post_id <= MAX_ID:
        return None
    post = db.session.get(Post, post_id)
    if post is None or post.thread_id != thread.id or not policies.can_read_post(user, post):
        return None
    return post


def preview(user: Any, body: str) -> str:
    """The body as it would be posted: Markdown rendered and sanitised by the same renderer,
    mentions of known members linked. Raises NotAllowed or InvalidInput (field "body")."""
    _require(policies.can_preview(user), user, "You cannot post here.")
    try:
        body = check_body(body)
    except InvalidInput as err:
        raise InvalidInput(err.message, field="body") from err
    return _render(body)[0]


# Bookmarks ---------------------------------------------------------------------------------


def toggle_bookmark(user: User, post: Post) -> bool:
    """Bookmark a post, or take the bookmark away; returns whether it is now bookmarked.

    One bookmark per member per post (a unique constraint; a lost race counts as bookmarked).
    Raises NotAllowed for a post the member may not read or an account not in good standing.
    """
    _require(policies.can_bookmark(user, post), user, "You cannot bookmark this post.")
    removed = db.session.execute(
        sa.delete(PostBookmark).where(
            PostBookmark.post_id == post.id, PostBookmark.user_id == user.id
        ),
        execution_options={"synchronize_session": False},
    ).rowcount
    if removed:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(PostBookmark(post_id=post.id, user_id=user.id))
    except IntegrityError:
        pass
    return True


def bookmarked_ids(viewer: Any, post_ids: Sequence[int]) -> set[int]:
    """Which of these posts the viewer bookmarked: one query, none for visitors or no ids."""
    return ids_marked(viewer, "bookmarked", bookmark_mark(), "mark_bookmarked_ids", list(post_ids))


@cache
def bookmark_mark() -> Any:
    """A column for the viewer's users row: which of the posts `mark_bookmarked_ids` they
    bookmarked, read with the login on a page shared by every member."""
    marks = PostBookmark.__table__
    return id_mark(marks.c.post_id, marks.c.user_id, "mark_bookmarked_ids")


@cache
def draft_mark() -> Any:
    """A column for the viewer's users row: whether they have a draft for the thread
    `mark_draft_threads`."""
    drafts = Draft.__table__
    return id_mark(drafts.c.thread_id, drafts.c.user_id, "mark_draft_threads")


def bookmarks_page(user: User, page: int, per_page: int = PER_PAGE) -> Any:
    """A page of the member's bookmarks, newest first, with their posts, threads and authors;
    posts they may no longer read (hidden or deleted since) are left out."""
    query = (
        sa.select(PostBookmark)
        .join(Post, Post.id == PostBookmark.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(PostBookmark.user_id == user.id)
        .order_by(PostBookmark.id.desc())
        .options(
            joinedload(PostBookmark.post).joinedload(Post.thread),
            joinedload(PostBookmark.post).joinedload(Post.author),
        )
    )
    if not policies.can_moderate(user):
        query = query.where(
            Post.is_deleted.is_(False),
            sa.or_(Post.is_hidden.is_(False), Post.author_id == user.id),
            sa.or_(Thread.is_hidden.is_(False), Thread.author_id == user.id),
        )
    pages = db.paginate(query, page=page, per_page=per_page, error_out=False)
    apply_quote_visibility(user, [mark.post for mark in pages.items])
    return pages


# Drafts ------------------------------------------------------------------------------------


def _draft_place(thread: Thread | None, category: Category | None) -> Any:
    if (thread is None) == (category is None):
        raise ValueError("a draft belongs to a thread or to a category")
    if thread is not None:
        return Draft.thread_id == thread.id
    return Draft.category_id == category.id  # type: ignore[union-attr]


def draft_for(
    user: Any, *, thread: Thread | None = None, category: Category | None = None
) -> Draft | None:
    """The member's draft of a reply to this thread, or of a new thread in this category."""
    if not policies.is_member(user):
        return None
    return db.session.scalar(
        sa.select(Draft).where(Draft.user_id == user.id, _draft_place(thread, category))
    )


def save_draft(
    user: User,
    *,
    thread: Thread | None = None,
    category: Category | None = None,
    body: str,
    title: str = "",
) -> Draft | None:
    """Keep what the member is writing (one draft per thread, one per category); an empty
    one is discarded. Raises NotAllowed. Lengths are capped, never refused: a draft keeps
    the text of a post that was refused for its length."""
    _require(policies.can_keep_drafts(user), user, "You cannot post here.")
    body = clean_multiline(body or "")[: MAX_BODY * 2]
    title = clean_text(title or "")[:MAX_TITLE]
    if not body.strip() and not title:
        discard_draft(user, thread=thread, category=category)
        return None
    values = {"body": body, "title": title, "updated_at": utcnow()}
    draft = draft_for(user, thread=thread, category=category)
    if draft is None:
        try:
            with db.session.begin_nested():
                draft = Draft(
                    user_id=user.id,
                    thread_id=thread.id if thread is not None else None,
                    category_id=category.id if category is not None else None,
                    **values,
                )
                db.session.add(draft)
            return draft
        except IntegrityError:  # saved by a request of theirs a moment ago: update that one
            draft = draft_for(user, thread=thread, category=category)
            if draft is None:  # pragma: no cover - the other insert was rolled back
                return None
    for name, value in values.items():
        setattr(draft, name, value)
    db.session.flush()
    return draft


def discard_draft(
    user: Any, *, thread: Thread | None = None, category: Category | None = None
) -> None:
    """Forget the member's draft for this thread or category (posted, or emptied)."""
    db.session.execute(
        sa.delete(Draft).where(Draft.user_id == user.id, _draft_place(thread, category)),
        execution_options={"synchronize_session": False},
    )


# Mentions ----------------------------------------------------------------------------------

MAX_SUGGESTIONS = 8
_PREFIX_RE = re.compile(r"[A-Za-z0-9_]{1,30}")


def mention_suggestions(prefix: str, limit: int = MAX_SUGGESTIONS) -> list[User]:
    """Members whose username starts with `prefix` (letters, digits, underscore), in order:
    the few an @mention box suggests. Deleted and banned accounts are never suggested."""
    if not _PREFIX_RE.fullmatch(prefix or ""):
        return []
    return list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.username_lower.startswith(prefix.lower(), autoescape=True),
                User.deleted_at.is_(None),
                User.is_banned.is_(False),
            )
            .order_by(User.username_lower)
            .limit(min(limit, MAX_SUGGESTIONS))
        )
    )


# Categories (admins) ----------------------------------------------------------------------


def save_category(
    user: User | None,
    category: Category | None,
    *,
    name: str,
    slug: str = "",
    description: str = "",
    position: int | None = None,
    is_staff_only: bool = False,
) -> Category:
    """Create or change a category; admins only (user None: the command line or the seeds)."""
    if user is not None and not policies.can_manage_categories(user):
        raise NotAllowed("Only admins manage the forum categories.")
    name = clean_text(name)
    if not name or not _has_visible_text(name):
        raise InvalidInput("Enter a name.")
    slug = slugify(slug or name, max_length=60)
    clash = db.session.scalar(sa.select(Category.id).where(Category.slug == slug))
    if slug in RESERVED_SLUGS or (clash is not None and (category is None or clash != category.id)):
        raise CategoryExists()
    if category is None:
        if position is None:
            position = (db.session.scalar(sa.select(sa.func.max(Category.position))) or 0) + 1
        category = Category(thread_count=0, post_count=0)
        db.session.add(category)
    category.name = name[:80]
    category.slug = slug
    category.description = clean_text(description)[:500]
    if position is not None:
        category.position = position
    category.is_staff_only = is_staff_only
    db.session.flush()
    return category


def shift_category(user: User, category: Category, step: int) -> None:
    """Move a category up (-1) or down (+1) in the order; admins only."""
    if not policies.can_manage_categories(user):
        raise NotAllowed("Only admins manage the forum categories.")
    ordered = categories()
    for index, item in enumerate(ordered):
        item.position = index
    index = ordered.index(category)
    other = index + step
    if 0 <= other < len(ordered):
        ordered[index].position, ordered[other].position = other, index
    db.session.flush()
