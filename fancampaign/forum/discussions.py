"""Discussions: the forum thread behind a news post or a petition, and its comments.

News and petitions call `start_discussion` when they publish, `register_subject` at import
time (so the thread page can show the subject as a card), and `comments_page` to list the
comments under the article. "Leave a comment" posts to `/forum/t/<id>/reply` with a hidden
`next` field (a same-site path) so the reply comes back to the article.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fancampaign.accounts.models import User
from fancampaign.extensions import db
from fancampaign.forum import services
from fancampaign.forum.models import Thread

Loader = Callable[[list[int]], dict[int, Any]]


@dataclass(frozen=True)
class Subject:
    kind: str
    loader: Loader
    template: str


SUBJECTS: dict[str, Subject] = {}


def register_subject(kind: str, loader: Loader, template: str) -> None:
    """Tell the forum how to load subjects of this kind by id (one query for many) and which
    template renders one (`subject` in its context) as a card above its thread."""
    SUBJECTS[kind] = Subject(kind, loader, template)


def start_discussion(
    subject: Any, *, kind: str, author: User | None, title: str, body: str, category_slug: str
) -> Thread:
    """The subject's discussion thread: created with its first post on the first call.

    Idempotent: when subject.thread_id is set, that thread is returned. No policy check: this
    is the system opening comments on something staff (or moderation) published.
    """
    if getattr(subject, "thread_id", None):
        existing = db.session.get(Thread, subject.thread_id)
        if existing is not None:
            return existing
    category = services.get_category(category_slug)
    title = services.check_title(title[: services.MAX_TITLE])
    body = services.check_body(body)
    thread = services._new_thread(category, author, title, body, held=False)
    thread.subject_kind = kind
    thread.subject_id = subject.id
    subject.thread_id = thread.id
    db.session.flush()
    return thread


def load_subject(thread: Thread) -> tuple[Any, str] | None:
    """(subject, template) for a linked thread whose kind is registered; else None."""
    if not thread.subject_kind or thread.subject_id is None:
        return None
    entry = SUBJECTS.get(thread.subject_kind)
    if entry is None:
        return None
    subject = entry.loader([thread.subject_id]).get(thread.subject_id)
    if subject is None:
        return None
    return subject, entry.template


def comments_page(thread: Thread, viewer: Any, page: int, per_page: int = 20) -> Any:
    """A page of the thread's comments (its posts after the first) as the viewer may see them.

    Authors are joined in; hidden posts show only to moderators and their author (check
    `post.is_hidden`), deleted ones stay as "deleted by author" placeholders. Two queries.
    """
    return services.posts_page(thread, viewer, page, per_page, first=False)


def latest_comments(thread: Thread, viewer: Any, per_page: int = 20) -> Any:
    """The last page of the thread's comments as the viewer may see them (what comments_page
    gives for its last page). Two queries: the count, then that page."""
    total = services.visible_count(thread, viewer, first=False)
    last = max(1, -(-total // per_page))
    return services.posts_page(thread, viewer, last, per_page, first=False, total=total)
