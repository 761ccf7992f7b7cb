"""Keep the search index in step with the content, with no call from any other area.

A listener on every session flush finds new, changed and deleted instances of the registered
classes (news posts, petitions, threads, posts) and upserts or removes their documents on the
flush's own connection, so the index commits or rolls back with the change itself.

What a document says (title, plain-text body, visible or not) is decided here, per class, by
the same rules the areas use: published news (a scheduled post from its publication time),
open/closed/won petitions, threads not hidden, posts neither hidden nor deleted in a thread
not hidden. The query side re-checks visibility on the live rows anyway (search/services.py).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from fancampaign.extensions import db
from fancampaign.search import backend
from fancampaign.search.models import SearchEntry
from fancampaign.text import plain_text, without_quotes

_entries = SearchEntry.__table__


@dataclass(frozen=True)
class Source:
    """How one model becomes documents: its kind, the fields that matter, its document."""

    model: type
    kind: str
    fields: tuple[str, ...]
    document: Callable[[Any, dict[int, bool]], dict[str, Any]]


SOURCES: dict[type, Source] = {}


def register(source: Source) -> None:
    SOURCES[source.model] = source


def _plain(markdown: str | None) -> str:
    try:
        return plain_text(markdown or "")
    except Exception:  # a document must never break the write it follows
        return markdown or ""


# --------------------------------------------------------------------------------------
# The content classes (each area's models, when the area is installed)
# --------------------------------------------------------------------------------------


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _register_sources() -> None:
    if _has("fancampaign.forum.models"):
        from fancampaign.forum.models import Post, Thread

        register(
            Source(
                Thread,
                "thread",
                ("title", "is_hidden"),
                lambda t, _hidden: {
                    "title": t.title,
                    "body": "",
                    "visible": not t.is_hidden,
                },
            )
        )
        register(
            Source(
                Post,
                "post",
                ("body", "is_hidden", "is_deleted", "thread_id"),
                lambda p, hidden_threads: {
                    "title": "",
                    # Its own words: a quote's may be of a post since hidden.
                    "body": _plain(without_quotes(p.body or "")),
                    "visible": not p.is_hidden
                    and not p.is_deleted
                    and not hidden_threads.get(p.thread_id, False),
                },
            )
        )
    if _has("fancampaign.petitions.models"):
        from fancampaign.petitions.models import PUBLIC_STATUSES, Petition

        register(
            Source(
                Petition,
                "petition",
                ("title", "summary", "body", "target", "status"),
                lambda p, _hidden: {
                    "title": p.title,
                    "body": " ".join(filter(None, [p.summary, p.target, _plain(p.body)])),
                    "visible": p.status in PUBLIC_STATUSES,
                },
            )
        )
    if _has("fancampaign.news.models"):
        from fancampaign.news.models import PUBLISHED, NewsPost

        register(
            Source(
                NewsPost,
                "news",
                ("title", "standfirst", "body", "status", "published_at"),
                lambda n, _hidden: {
                    "title": n.title,
                    "body": " ".join(filter(None, [n.standfirst, _plain(n.body)])),
                    "visible": n.status == PUBLISHED and n.published_at is not None,
                    "visible_from": n.published_at,
                },
            )
        )


_register_sources()


def document_for(obj: Any, hidden_threads: dict[int, bool] | None = None) -> dict[str, Any]:
    """The index row of one registered instance."""
    source = SOURCES[type(obj)]
    doc = source.document(obj, hidden_threads or {})
    doc.setdefault("visible_from", None)
    return {"kind": source.kind, "object_id": obj.id, **doc}


# --------------------------------------------------------------------------------------
# The session listener
# --------------------------------------------------------------------------------------


def _changed(obj: Any, fields: Iterable[str]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _thread_hidden_map(conn: sa.Connection, posts: list[Any]) -> dict[int, bool]:
    """Whether each post's thread is hidden, in one query (instances in hand first)."""
    known: dict[int, bool] = {}
    missing: set[int] = set()
    for post in posts:
        thread = post.__dict__.get("thread")
        if thread is not None and thread.id == post.thread_id:
            known[post.thread_id] = bool(thread.is_hidden)
        elif post.thread_id is not None:
            missing.add(post.thread_id)
    missing -= known.keys()
    if missing:
        from fancampaign.forum.models import Thread

        table = Thread.__table__
        for tid, hidden in conn.execute(
            sa.select(table.c.id, table.c.is_hidden).where(table.c.id.in_(missing))
        ):
            known[tid] = bool(hidden)
    return known


def _thread_posts_visibility(conn: sa.Connection, threads: list[Any]) -> None:
    """A thread hidden or shown takes its posts' documents with it."""
    from fancampaign.forum.models import Post

    posts = Post.__table__
    for thread in threads:
        own_visible = sa.and_(posts.c.is_hidden.is_(False), posts.c.is_deleted.is_(False))
        visible = (
            sa.exists().where(posts.c.id == _entries.c.object_id, own_visible).correlate(_entries)
            if not thread.is_hidden
            else sa.false()
        )
        conn.execute(
            sa.update(_entries)
            .where(
                _entries.c.kind == "post",
                _entries.c.object_id.in_(
                    sa.select(posts.c.id).where(posts.c.thread_id == thread.id).scalar_subquery()
                ),
            )
            .values(is_visible=visible)
        )


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # A deleted thread takes its posts along by ON DELETE CASCADE: drop their documents
    # while the posts can still be found.
    threads = [
        obj for obj in session.deleted if getattr(SOURCES.get(type(obj)), "kind", "") == "thread"
    ]
    if not threads:
        return
    from fancampaign.forum.models import Post

    posts = Post.__table__
    session.connection().execute(
        sa.delete(_entries).where(
            _entries.c.kind == "post",
            _entries.c.object_id.in_(
                sa.select(posts.c.id)
                .where(posts.c.thread_id.in_([t.id for t in threads]))
                .scalar_subquery()
            ),
        )
    )


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if not SOURCES:
        return
    changed = [obj for obj in session.new if type(obj) in SOURCES] + [
        obj
        for obj in session.dirty
        if type(obj) in SOURCES and _changed(obj, SOURCES[type(obj)].fields)
    ]
    deleted = [obj for obj in session.deleted if type(obj) in SOURCES]
    if not changed and not deleted:
        return
    conn = session.connection()
    for obj in deleted:
        backend.remove(SOURCES[type(obj)].kind, obj.id, conn=conn)
    posts = [obj for obj in changed if SOURCES[type(obj)].kind == "post"]
    hidden_threads = _thread_hidden_map(conn, posts) if posts else {}
    backend.upsert_many(conn, [document_for(obj, hidden_threads) for obj in changed])
    shown_or_hidden = [
        obj
        for obj in changed
        if SOURCES[type(obj)].kind == "thread"
        and obj not in session.new
        and sa.inspect(obj).attrs.is_hidden.history.has_changes()
    ]
    if shown_or_hidden:
        _thread_posts_visibility(conn, shown_or_hidden)


# --------------------------------------------------------------------------------------
# Rebuilding
# --------------------------------------------------------------------------------------


def reindex_all(batch_size: int = 500) -> int:
    """Rebuild every document from the live rows (after a restore, or to fill a new index)."""
    conn = db.session.connection()
    conn.execute(sa.delete(_entries))
    count = 0
    for model, source in SOURCES.items():
        last = 0
        while True:
            objs = list(
                db.session.scalars(
                    sa.select(model).where(model.id > last).order_by(model.id).limit(batch_size)
                )
            )
            if not objs:
                break
            hidden = _thread_hidden_map(conn, objs) if source.kind == "post" else {}
            backend.upsert_many(conn, [document_for(obj, hidden) for obj in objs])
            count += len(objs)
            last = objs[-1].id
    backend.optimize(conn)
    return count
