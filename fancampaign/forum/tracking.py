"""Watching and reading: each member's level per thread and per category, where they have read
each thread up to, and what follows from them (who is told of a new post, unread markers).

Levels are Discourse's (models.LEVELS). A thread's level for a member is the one set for the
thread, else the one set for its category, else normal. Starting a thread watches it, replying
tracks it (never overriding a level the member chose); muting stops everything about it.

The reading position is a post id in `thread_reads`, moved forward only, written by the
reader's page after it was shown (forum/views.py `read`), never by the thread page's GET.
Unread counts are counted from the visible posts after it when shown, so hiding, deleting or
moving posts or threads never leaves them wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from fancampaign import policies
from fancampaign.accounts.marks import comma_joined, id_list
from fancampaign.accounts.models import User
from fancampaign.errors import InvalidInput, NotAllowed
from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import (
    LEVELS,
    MUTED,
    NORMAL,
    TRACKING,
    WATCHING,
    Category,
    CategoryWatch,
    Post,
    Thread,
    ThreadRead,
    ThreadWatch,
)
from fancampaign.notifications import services as notifications

# A thread the member has never opened is "new" for this long after it was started.
NEW_FOR = timedelta(days=2)
_RANK = {MUTED: 0, NORMAL: 1, TRACKING: 2, WATCHING: 3}


Update = Callable[[Any], dict[str, Any]]
_UPSERTS: dict[tuple[Any, ...], Any] = {}


def _upsert(model: Any, keys: tuple[str, ...], row: dict[str, Any], update: Update) -> None:
    """INSERT `row`, or when a row with the same `keys` is there, UPDATE it as `update(new)`
    says (`new`: the proposed row's columns): one statement on both databases, built once per
    model, columns and update (a reply runs three of these; only the values change)."""
    dialect = db.engine.dialect.name
    found = (model, keys, tuple(row), update, dialect)
    statement = _UPSERTS.get(found)
    if statement is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = model.__table__
        statement = insert(table).values({name: sa.bindparam(name) for name in row})
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_=update(statement.excluded)
        )
        _UPSERTS[found] = statement
    db.session.execute(statement, row)


def _chosen(new: Any) -> dict[str, Any]:
    """A level the member set: it replaces whatever was there."""
    return {name: new[name] for name in ("level", "is_automatic", "updated_at") if name in new}


def _rank(level: Any) -> Any:
    return sa.case(*((level == name, rank) for name, rank in _RANK.items()), else_=0)


def _raised(new: Any) -> dict[str, Any]:
    """An automatic level: raises the one there if that was automatic and lower, never lowers
    it, never overrides one the member chose."""
    raise_it = sa.and_(
        ThreadWatch.is_automatic.is_(True), _rank(ThreadWatch.level) < _rank(new.level)
    )
    return {
        "level": sa.case((raise_it, new.level), else_=ThreadWatch.level),
        "updated_at": new.updated_at,
    }


def _forward(new: Any) -> dict[str, Any]:
    """A reading position moves forward only."""
    return {
        "last_read_post_id": sa.case(
            (new.last_read_post_id > ThreadRead.last_read_post_id, new.last_read_post_id),
            else_=ThreadRead.last_read_post_id,
        ),
        "updated_at": new.updated_at,
    }


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise InvalidInput("Choose watching, tracking, normal or muted.", field="level")
    return level


# Levels -------------------------------------------------------------------------------------


def set_thread_level(user: User, thread: Thread, level: str) -> None:
    """The member's chosen level for a thread; raises NotAllowed (visitors, threads they may
    not see), InvalidInput. Muting also drops the mail still waiting about it."""
    if not policies.can_watch(user, thread):
        raise NotAllowed("You cannot follow this thread.")
    level = _check_level(level)
    _upsert(
        ThreadWatch,
        ("user_id", "thread_id"),
        {
            "user_id": user.id,
            "thread_id": thread.id,
            "level": level,
            "is_automatic": False,
            "updated_at": utcnow(),
        },
        _chosen,
    )
    if level == MUTED:
        notifications.drop_pending_mail(user, thread.id)


def set_category_level(user: User, category: Category, level: str) -> None:
    """The member's level for a category (its threads' level where none is set for the
    thread); raises NotAllowed for visitors, InvalidInput."""
    if not policies.is_member(user):
        raise NotAllowed("Log in to follow a category.")
    level = _check_level(level)
    _upsert(
        CategoryWatch,
        ("user_id", "category_id"),
        {"user_id": user.id, "category_id": category.id, "level": level, "updated_at": utcnow()},
        _chosen,
    )


def watch_automatically(user: User, thread: Thread, level: str) -> None:
    """Raise the member's level for a thread they started (watching) or replied to
    (tracking), as Discourse does: never lowers it, never overrides one they chose."""
    _upsert(
        ThreadWatch,
        ("user_id", "thread_id"),
        {
            "user_id": user.id,
            "thread_id": thread.id,
            "level": level,
            "is_automatic": True,
            "updated_at": utcnow(),
        },
        _raised,
    )


def thread_level(user: Any, thread: Thread) -> str:
    """The member's level for the thread (set for it, else for its category, else normal)."""
    if not policies.is_member(user):
        return NORMAL
    return levels_for([user.id], thread).get(user.id, NORMAL)


def category_level(user: Any, category: Category) -> str:
    if not policies.is_member(user):
        return NORMAL
    found = db.session.scalar(
        sa.select(CategoryWatch.level).where(
            CategoryWatch.user_id == user.id, CategoryWatch.category_id == category.id
        )
    )
    return found or NORMAL


def levels_for(user_ids: list[int], thread: Thread) -> dict[int, str]:
    """These members' levels for the thread, where not normal (one query)."""
    if not user_ids:
        return {}
    own = sa.select(ThreadWatch.user_id, ThreadWatch.level).where(
        ThreadWatch.thread_id == thread.id, ThreadWatch.user_id.in_(user_ids)
    )
    found = {row.user_id: row.level for row in db.session.execute(own)}
    rest = [uid for uid in user_ids if uid not in found]
    if rest:
        inherited = sa.select(CategoryWatch.user_id, CategoryWatch.level).where(
            CategoryWatch.category_id == thread.category_id, CategoryWatch.user_id.in_(rest)
        )
        found.update({row.user_id: row.level for row in db.session.execute(inherited)})
    return found


def watchers(thread: Thread) -> list[User]:
    """The members watching the thread (set for it, or through its category), one query."""
    own = sa.select(ThreadWatch.user_id).where(
        ThreadWatch.thread_id == thread.id, ThreadWatch.level == WATCHING
    )
    set_for_thread = sa.select(ThreadWatch.user_id).where(ThreadWatch.thread_id == thread.id)
    through_category = sa.select(CategoryWatch.user_id).where(
        CategoryWatch.category_id == thread.category_id,
        CategoryWatch.level == WATCHING,
        CategoryWatch.user_id.not_in(set_for_thread),
    )
    return list(
        db.session.scalars(
            sa.select(User)
            .where(
                sa.or_(User.id.in_(own), User.id.in_(through_category)),
                User.deleted_at.is_(None),
            )
            .order_by(User.id)
        )
    )


def category_watchers(category: Category) -> list[User]:
    """The members watching a category (told of each new thread in it)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(CategoryWatch, CategoryWatch.user_id == User.id)
            .where(
                CategoryWatch.category_id == category.id,
                CategoryWatch.level == WATCHING,
                User.deleted_at.is_(None),
            )
            .order_by(User.id)
        )
    )


# Reading ------------------------------------------------------------------------------------


def record_read(user: Any, thread: Thread, upto: int) -> int:
    """The member has seen the thread's posts up to the post `upto` (an id; clamped to the
    thread's last post): their reading position moves there, never back. Reading to the end
    marks the thread's notifications read. Returns the position."""
    if not policies.can_watch(user, thread):
        return 0
    last, visible = db.session.execute(_last_posts(), {"thread_id": thread.id}).one()
    upto = max(0, min(int(upto), last or 0))
    _upsert(
        ThreadRead,
        ("user_id", "thread_id"),
        {
            "user_id": user.id,
            "thread_id": thread.id,
            "last_read_post_id": upto,
            "updated_at": utcnow(),
        },
        _forward,
    )
    if upto and upto >= (visible or 0):
        notifications.mark_thread_read(user, thread.id)
    return upto


@cache
def _last_posts() -> sa.Select[Any]:
    """The thread's last post and its last visible one, in one query."""
    visible = sa.and_(Post.is_hidden.is_(False), Post.is_deleted.is_(False))
    return sa.select(sa.func.max(Post.id), sa.func.max(sa.case((visible, Post.id)))).where(
        Post.thread_id == sa.bindparam("thread_id")
    )


def _unread_posts(user_id: Any, after: Any) -> Any:
    """The conditions of a post that is unread for the member: visible, someone else's,
    after their position."""
    return sa.and_(
        Post.thread_id == Thread.id,
        Post.id > after,
        Post.is_hidden.is_(False),
        Post.is_deleted.is_(False),
        sa.or_(Post.author_id.is_(None), Post.author_id != user_id),
    )


@dataclass(frozen=True)
class ThreadState:
    """What a member's markers for one thread say."""

    level: str = NORMAL
    last_read_post_id: int | None = None
    unread: int = 0
    is_new: bool = False

    @property
    def has_read(self) -> bool:
        return self.last_read_post_id is not None


def _own_rows(user_id: Any) -> tuple[Any, Any, Any]:
    """A member's own rows for `Thread` (outer-join them with `_join_own_rows`): their
    reading position, their level set for the thread, and their unread count (0 where they
    never read it). What `thread_states` and `threads_mark` read, written once."""
    read = sa.orm.aliased(ThreadRead)
    own = sa.orm.aliased(ThreadWatch)
    unread = (
        sa.select(sa.func.count(Post.id))
        .where(_unread_posts(user_id, read.last_read_post_id))
        .correlate_except(Post)
        .scalar_subquery()
    )
    return read, own, sa.case((read.user_id.is_(None), 0), else_=unread)


def _join_own_rows(statement: Any, read: Any, own: Any, user_id: Any) -> Any:
    return statement.outerjoin(
        read, sa.and_(read.thread_id == Thread.id, read.user_id == user_id)
    ).outerjoin(own, sa.and_(own.thread_id == Thread.id, own.user_id == user_id))


_STATES: list[Any] = []


def _states_statement() -> Any:
    """`thread_states`' query, built once: the member (`uid`) and the threads
    (`thread_ids`) are its parameters."""
    if _STATES:
        return _STATES[0]
    uid = sa.bindparam("uid")
    read, own, unread = _own_rows(uid)
    inherited = sa.orm.aliased(CategoryWatch)
    statement = _join_own_rows(
        sa.select(
            Thread.id,
            Thread.created_at,
            Thread.author_id,
            read.last_read_post_id,
            own.level,
            inherited.level.label("category_level"),
            unread.label("unread"),
        ).select_from(Thread),
        read,
        own,
        uid,
    )
    statement = statement.outerjoin(
        inherited, sa.and_(inherited.category_id == Thread.category_id, inherited.user_id == uid)
    ).where(Thread.id.in_(id_list("thread_ids")))
    _STATES.append(statement)
    return statement


def thread_states(
    viewer: Any, thread_ids: list[int], now: datetime | None = None
) -> dict[int, ThreadState]:
    """This member's state for each of these threads (level, position, unread count, new):
    one query for the lot, none for visitors (and the shared rendering's stand-in)."""
    if not thread_ids or not policies.is_member(viewer) or not viewer.id:
        return {}
    uid = viewer.id
    # Plain rows (no ORM entity among the columns): the connection's execute is enough.
    rows = db.session.connection().execute(
        _states_statement(), {"uid": uid, "thread_ids": sorted(set(thread_ids))}
    )
    fresh = (now or utcnow()) - NEW_FOR
    return {
        row.id: _state(
            row.level or row.category_level,
            row.last_read_post_id,
            row.unread,
            new=row.author_id != uid and row.created_at >= fresh,
        )
        for row in rows
    }


def _state(level: str | None, position: int | None, unread: Any, *, new: bool) -> ThreadState:
    """A member's state for a thread from their level (set for it, else for its category),
    reading position and unread count; `new`: started lately, by someone else (it is new
    to them if they never opened it)."""
    level = level or NORMAL
    if level == MUTED:
        return ThreadState(level=MUTED, last_read_post_id=position)
    return ThreadState(
        level=level,
        last_read_post_id=position,
        unread=int(unread or 0),
        is_new=position is None and new,
    )


@cache
def threads_mark() -> Any:
    """The viewer's own rows for the threads of the list `mark_thread_ids`, for a page of
    threads shared by every member (read with the login): "id:level:position:unread" for each
    thread they have a reading position or a level set for, joined by commas; read it with
    `states_from_mark`."""
    read, own, unread = _own_rows(User.id)
    text = sa.Text()
    colon = sa.literal(":", text)
    item = (
        sa.cast(Thread.id, text)
        + colon
        + sa.func.coalesce(own.level, sa.literal("", text))
        + colon
        + sa.func.coalesce(sa.cast(read.last_read_post_id, text), sa.literal("", text))
        + colon
        + sa.cast(unread, text)
    )
    statement = _join_own_rows(
        sa.select(comma_joined(item)).select_from(Thread), read, own, User.id
    )
    return (
        statement.where(
            Thread.id.in_(id_list("mark_thread_ids")),
            sa.or_(read.user_id.is_not(None), own.user_id.is_not(None)),
        )
        .correlate(User)
        .scalar_subquery()
    )


def states_from_mark(
    value: str | None,
    viewer_id: int,
    category_level: str | None,
    started: dict[int, tuple[float, int | None]],
    now: datetime | None = None,
) -> dict[int, ThreadState]:
    """What `thread_states` says for the threads of one category, from a `threads_mark`
    value, the viewer's level for the category and when and by whom each thread was started
    ({id: (POSIX time, author id)}): the same rule (`_state`), no query."""
    fresh = ((now or utcnow()) - NEW_FOR).timestamp()
    rows: dict[int, tuple[str, int | None, int]] = {}
    for part in value.split(",") if value else ():
        thread_id, level, position, unread = part.split(":")
        rows[int(thread_id)] = (level, int(position) if position else None, int(unread))
    states = {}
    for thread_id, (created, author_id) in started.items():
        level, position, unread = rows.get(thread_id, ("", None, 0))
        states[thread_id] = _state(
            level or category_level,
            position,
            unread,
            new=author_id != viewer_id and created >= fresh,
        )
    return states


def category_counts(
    viewer: Any, category_ids: list[int], now: datetime | None = None
) -> dict[int, tuple[int, int]]:
    """Per category: (threads with posts unread for the member, threads new to them), in one
    query; none for visitors. Muted threads and categories count for nothing."""
    if not category_ids or not policies.is_member(viewer) or not viewer.id:
        return {}
    uid = viewer.id
    read = sa.orm.aliased(ThreadRead)
    own = sa.orm.aliased(ThreadWatch)
    inherited = sa.orm.aliased(CategoryWatch)
    has_unread = (
        sa.exists().where(_unread_posts(uid, read.last_read_post_id)).correlate(Thread, read)
    )
    fresh = (now or utcnow()) - NEW_FOR
    is_new = sa.and_(
        read.user_id.is_(None),
        Thread.last_activity_at >= fresh,
        Thread.created_at >= fresh,
        sa.or_(Thread.author_id.is_(None), Thread.author_id != uid),
    )
    level = sa.func.coalesce(own.level, inherited.level, NORMAL)
    rows = db.session.execute(
        sa.select(
            Thread.category_id,
            sa.func.count(sa.case((sa.and_(read.user_id.is_not(None), has_unread), 1))),
            sa.func.count(sa.case((is_new, 1))),
        )
        .select_from(Thread)
        .outerjoin(read, sa.and_(read.thread_id == Thread.id, read.user_id == uid))
        .outerjoin(own, sa.and_(own.thread_id == Thread.id, own.user_id == uid))
        .outerjoin(
            inherited,
            sa.and_(inherited.category_id == Thread.category_id, inherited.user_id == uid),
        )
        .where(
            Thread.category_id.in_(sorted(set(category_ids))),
            Thread.is_hidden.is_(False),
            level != MUTED,
            sa.or_(read.user_id.is_not(None), Thread.last_activity_at >= fresh),
        )
        .group_by(Thread.category_id)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def first_unread(viewer: Any, thread: Thread) -> Post | None:
    """The first post of the thread the member has not read (None: they have read it all,
    or never opened it)."""
    if not policies.is_member(viewer):
        return None
    position = db.session.scalar(
        sa.select(ThreadRead.last_read_post_id).where(
            ThreadRead.user_id == viewer.id, ThreadRead.thread_id == thread.id
        )
    )
    if position is None:
        return None
    return db.session.scalar(
        sa.select(Post)
        .where(_unread_posts(viewer.id, position), Post.thread_id == thread.id)
        .order_by(Post.id)
        .limit(1)
        .options(joinedload(Post.thread))
    )


# Marks: the same questions as columns of the viewer's users row, so that a page shared by
# every member asks them in the login's own query (see the page cache's `marks`).


@cache
def thread_mark() -> Any:
    """The viewer's state for the thread `mark_thread_id`, as "level,position,unread" (position
    empty when they never read it): read it with `parse_thread_mark`."""
    thread_id = sa.bindparam("mark_thread_id", type_=sa.Integer)
    own = (
        sa.select(ThreadWatch.level)
        .where(ThreadWatch.user_id == User.id, ThreadWatch.thread_id == thread_id)
        .correlate(User)
        .scalar_subquery()
    )
    inherited = (
        sa.select(CategoryWatch.level)
        .join(Thread, Thread.category_id == CategoryWatch.category_id)
        .where(CategoryWatch.user_id == User.id, Thread.id == thread_id)
        .correlate(User)
        .scalar_subquery()
    )
    position = (
        sa.select(ThreadRead.last_read_post_id)
        .where(ThreadRead.user_id == User.id, ThreadRead.thread_id == thread_id)
        .correlate(User)
        .scalar_subquery()
    )
    unread = (
        sa.select(sa.func.count(Post.id))
        .where(
            Post.thread_id == thread_id,
            Post.id > position,
            Post.is_hidden.is_(False),
            Post.is_deleted.is_(False),
            sa.or_(Post.author_id.is_(None), Post.author_id != User.id),
        )
        .correlate(User)
        .scalar_subquery()
    )
    text = sa.Text()
    return (
        sa.func.coalesce(own, inherited, NORMAL)
        + sa.literal(",", text)
        + sa.func.coalesce(sa.cast(position, text), sa.literal("", text))
        + sa.literal(",", text)
        + sa.cast(unread, text)
    )


def parse_thread_mark(value: str | None) -> ThreadState | None:
    """The ThreadState a `thread_mark` value says (None: no value)."""
    if not value:
        return None
    level, position, unread = value.split(",")
    return _state(level, int(position) if position else None, unread, new=False)


@cache
def category_mark() -> Any:
    """The viewer's level for the category `mark_category_id` (NULL: normal)."""
    return (
        sa.select(CategoryWatch.level)
        .where(
            CategoryWatch.user_id == User.id,
            CategoryWatch.category_id == sa.bindparam("mark_category_id", type_=sa.Integer),
        )
        .correlate(User)
        .scalar_subquery()
    )


# The digest's forum section ---------------------------------------------------------------


def watched_activity(user: User, start: datetime, end: datetime, root: str) -> list[str]:
    """Lines for a digest: per thread the member watches (set for it or through its category,
    not muted), the visible posts of others in [start, end), with a link to the first."""
    own = sa.select(ThreadWatch.thread_id).where(
        ThreadWatch.user_id == user.id, ThreadWatch.level == WATCHING
    )
    set_for_thread = sa.select(ThreadWatch.thread_id).where(ThreadWatch.user_id == user.id)
    categories = sa.select(CategoryWatch.category_id).where(
        CategoryWatch.user_id == user.id, CategoryWatch.level == WATCHING
    )
    watched = sa.or_(
        Thread.id.in_(own),
        sa.and_(Thread.category_id.in_(categories), Thread.id.not_in(set_for_thread)),
    )
    rows = db.session.execute(
        sa.select(
            Thread.id,
            Thread.title,
            Thread.created_at,
            sa.func.count(Post.id).label("posts"),
            sa.func.min(Post.id).label("first"),
        )
        .join(Post, Post.thread_id == Thread.id)
        .where(
            watched,
            Thread.is_hidden.is_(False),
            Post.is_hidden.is_(False),
            Post.is_deleted.is_(False),
            Post.created_at >= start,
            Post.created_at < end,
            sa.or_(Post.author_id.is_(None), Post.author_id != user.id),
        )
        .group_by(Thread.id, Thread.title, Thread.created_at)
        .order_by(sa.func.min(Post.id))
    )
    lines = []
    for row in rows:
        started = " (new thread)" if start <= row.created_at < end else ""
        posts = f"{row.posts} new post{'s' if row.posts != 1 else ''}"
        lines.append(f"“{row.title}”{started}: {posts}, from {root}/forum/p/{row.first}")
    return lines


# The member's data -----------------------------------------------------------------------


def export_for(user: User) -> dict[str, Any]:
    """What the member follows and how far they have read, for "export my data"."""
    return {
        "threads": [
            {"thread_id": w.thread_id, "level": w.level, "automatic": w.is_automatic}
            for w in db.session.scalars(
                sa.select(ThreadWatch).where(ThreadWatch.user_id == user.id)
            )
        ],
        "categories": [
            {"category_id": w.category_id, "level": w.level}
            for w in db.session.scalars(
                sa.select(CategoryWatch).where(CategoryWatch.user_id == user.id)
            )
        ],
        "read": [
            {"thread_id": r.thread_id, "last_read_post_id": r.last_read_post_id}
            for r in db.session.scalars(sa.select(ThreadRead).where(ThreadRead.user_id == user.id))
        ],
    }


def erase_for(user: User) -> None:
    """Forget what an account being erased followed and read."""
    for model in (ThreadWatch, CategoryWatch, ThreadRead):
        db.session.execute(sa.delete(model).where(model.user_id == user.id))
