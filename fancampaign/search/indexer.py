"""Keep the search index in step with the content, with no call from any other area.

A listener on every session flush finds new, changed and deleted instances of the registered
classes (news posts, petitions, threads, posts) and upserts or removes their documents on the
flush's own connection, so the index commits or rolls back with the change itself.

What a document says (title, plain-text body with its blocks kept apart as sentences, visible
or not, its author, the item it is shown under) is decided here, per class, by the same rules
the areas use: published news (a scheduled post from its publication time),
open/closed/won petitions, threads not hidden, posts neither hidden nor deleted in a thread
not hidden. The query side re-checks visibility on the live rows anyway (search/services.py).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from fancampaign.extensions import db
from fancampaign.search import backend
from fancampaign.search.models import SearchEntry
from fancampaign.text import plain_blocks, without_quotes

_entries = SearchEntry.__table__


@dataclass(frozen=True)
class Source:
    """How one model becomes documents: its kind, the fields that matter, its document."""

    model: type
    kind: str
    fields: tuple[str, ...]
    document: Callable[[Any, dict[int, ThreadInfo]], dict[str, Any]]


SOURCES: dict[type, Source] = {}


def register(source: Source) -> None:
    SOURCES[source.model] = source


# A block that already ends a sentence (closing quotes or brackets may follow).
_SENTENCE_END_RE = re.compile("[.!?\u2026:;][\"'\u201d\u2019)\\]]*$")
# The kinds a discussion thread can be about: its documents are shown under that item.
SUBJECT_KINDS = ("news", "petition")


def join_sentences(blocks: Iterable[str]) -> str:
    """Blocks of text as one document that keeps their boundaries: each block ends a sentence
    (a heading or a summary without a full stop gets one) and starts a line, so a snippet
    running across two of them reads "…UK and Ireland. The film…", not "…Ireland The film…"."""
    out = []
    for block in blocks:
        block = " ".join(block.split())
        if block:
            out.append(block if _SENTENCE_END_RE.search(block) else block + ".")
    return "\n".join(out)


def document_text(markdown: str) -> str:
    """The visible words of Markdown, block by block (see join_sentences)."""
    try:
        return join_sentences(plain_blocks(markdown))
    except Exception:  # a document must never break the write it follows
        return markdown


@dataclass(frozen=True)
class ThreadInfo:
    """What a forum document needs to know about its thread."""

    is_hidden: bool
    subject_kind: str | None
    subject_id: int | None

    @classmethod
    def of(cls, thread: Any) -> ThreadInfo:
        return cls(bool(thread.is_hidden), thread.subject_kind, thread.subject_id)


# --------------------------------------------------------------------------------------
# The content classes (each area's models, when the area is installed)
# --------------------------------------------------------------------------------------


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _thread_item(thread_id: int, threads: dict[int, ThreadInfo]) -> dict[str, Any]:
    """A forum document's item: the thread's news post or petition when it discusses one."""
    info = threads.get(thread_id)
    if info is not None and info.subject_kind in SUBJECT_KINDS and info.subject_id is not None:
        return {"item_kind": info.subject_kind, "item_id": info.subject_id}
    return {"item_kind": "thread", "item_id": thread_id}


def _register_sources() -> None:
    if _has("fancampaign.forum.models"):
        from fancampaign.forum.models import Post, Thread

        register(
            Source(
                Thread,
                "thread",
                ("title", "is_hidden", "subject_kind", "subject_id", "author_id"),
                lambda t, _threads: {
                    "title": t.title,
                    "body": "",
                    "visible": not t.is_hidden,
                    "author_id": t.author_id,
                    "dated_at": t.created_at,
                    "thread_id": t.id,
                    **_thread_item(t.id, {t.id: ThreadInfo.of(t)}),
                },
            )
        )
        register(
            Source(
                Post,
                "post",
                ("body", "is_hidden", "is_deleted", "thread_id", "author_id"),
                lambda p, threads: {
                    "title": "",
                    # Its own words: a quote's may be of a post since hidden.
                    "body": document_text(without_quotes(p.body or "")),
                    "visible": not p.is_hidden
                    and not p.is_deleted
                    and not getattr(threads.get(p.thread_id), "is_hidden", False),
                    "author_id": p.author_id,
                    "dated_at": p.created_at,
                    "thread_id": p.thread_id,
                    **_thread_item(p.thread_id, threads),
                },
            )
        )
    if _has("fancampaign.petitions.models"):
        from fancampaign.petitions.models import PUBLIC_STATUSES, Petition

        register(
            Source(
                Petition,
                "petition",
                ("title", "summary", "body", "target", "status", "creator_id", "opened_at"),
                lambda p, _threads: {
                    "title": p.title,
                    "body": join_sentences(
                        [p.summary or "", p.target or "", document_text(p.body or "")]
                    ),
                    "visible": p.status in PUBLIC_STATUSES,
                    "author_id": p.creator_id,
                    "dated_at": p.opened_at or p.created_at,
                },
            )
        )
    if _has("fancampaign.news.models"):
        from fancampaign.news.models import PUBLISHED, NewsPost

        register(
            Source(
                NewsPost,
                "news",
                ("title", "standfirst", "body", "status", "published_at", "author_id"),
                lambda n, _threads: {
                    "title": n.title,
                    "body": join_sentences([n.standfirst or "", document_text(n.body or "")]),
                    "visible": n.status == PUBLISHED and n.published_at is not None,
                    "visible_from": n.published_at,
                    "author_id": n.author_id,
                    "dated_at": n.published_at or n.created_at,
                },
            )
        )


_register_sources()


def document_for(obj: Any, threads: dict[int, ThreadInfo] | None = None) -> dict[str, Any]:
    """The index row of one registered instance (`threads`: what posts need of theirs)."""
    source = SOURCES[type(obj)]
    doc = {
        "visible_from": None,
        "author_id": None,
        "dated_at": None,
        "item_kind": source.kind,
        "item_id": obj.id,
        "thread_id": None,
        **source.document(obj, threads or {}),
    }
    return {"kind": source.kind, "object_id": obj.id, **doc}


# --------------------------------------------------------------------------------------
# The session listener
# --------------------------------------------------------------------------------------


def _changed(obj: Any, fields: Iterable[str]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _expired(obj: Any) -> bool:
    """Some of what `ThreadInfo.of` reads would have to be loaded again (a query)."""
    return bool(sa.inspect(obj).unloaded & {"id", "is_hidden", "subject_kind", "subject_id"})


def _thread_map(session: Session, posts: list[Any]) -> dict[int, ThreadInfo]:
    """What each post's thread is (hidden, discussing what), in one query (instances in hand
    first: the post's own, else the session's)."""
    from fancampaign.forum.models import Thread

    known: dict[int, ThreadInfo] = {}
    missing: set[int] = set()
    for post in posts:
        thread = post.__dict__.get("thread")
        if thread is None and post.thread_id is not None:
            thread = session.identity_map.get(identity_key(Thread, post.thread_id))
        if thread is not None and not _expired(thread) and thread.id == post.thread_id:
            known[post.thread_id] = ThreadInfo.of(thread)
        elif post.thread_id is not None:
            missing.add(post.thread_id)
    missing -= known.keys()
    if missing:
        conn = session.connection()
        table = Thread.__table__
        for tid, hidden, subject_kind, subject_id in conn.execute(
            sa.select(
                table.c.id, table.c.is_hidden, table.c.subject_kind, table.c.subject_id
            ).where(table.c.id.in_(missing))
        ):
            known[tid] = ThreadInfo(bool(hidden), subject_kind, subject_id)
    return known


def _thread_posts_item(conn: sa.Connection, threads: list[Any]) -> None:
    """A thread that starts (or stops) discussing a news post or petition takes its posts'
    documents under that item (or back under the thread)."""
    for thread in threads:
        item = _thread_item(thread.id, {thread.id: ThreadInfo.of(thread)})
        conn.execute(
            sa.update(_entries)
            .where(_entries.c.kind == "post", _entries.c.thread_id == thread.id)
            .values(**item)
        )


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
    threads = _thread_map(session, posts) if posts else {}
    backend.upsert_many(conn, [document_for(obj, threads) for obj in changed])
    old_threads = [
        obj for obj in changed if SOURCES[type(obj)].kind == "thread" and obj not in session.new
    ]
    shown_or_hidden = [
        obj for obj in old_threads if sa.inspect(obj).attrs.is_hidden.history.has_changes()
    ]
    if shown_or_hidden:
        _thread_posts_visibility(conn, shown_or_hidden)
    relinked = [obj for obj in old_threads if _changed(obj, ("subject_kind", "subject_id"))]
    if relinked:
        _thread_posts_item(conn, relinked)


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
            threads = _thread_map(db.session, objs) if source.kind == "post" else {}
            backend.upsert_many(conn, [document_for(obj, threads) for obj in objs])
            count += len(objs)
            last = objs[-1].id
    backend.optimize(conn)
    return count
