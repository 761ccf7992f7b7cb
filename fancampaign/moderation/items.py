"""What moderation knows about each kind of item people write, in one place.

A registry: kind ("post", "thread", "signature", "petition", "user") -> a Kind adapter that
loads items in bulk (eager-loading what the queue shows), says who wrote one, gives its excerpt,
context and URL, and hides, restores, deletes or edits it. Services and views never branch on
the kind themselves; they ask the adapter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import joinedload

from fancampaign.accounts.models import User
from fancampaign.errors import InvalidInput
from fancampaign.extensions import db, utcnow
from fancampaign.text import summarise

EXCERPT = 300
# Why an item is hidden: a moderator hid it, or reports reached the threshold.
HIDDEN_BY_MODERATOR = "moderator"
HIDDEN_BY_REPORTS = "reported"
HELD = "held"


@dataclass
class Item:
    """One reported or reviewable thing, as the queue and the services see it."""

    kind: str
    id: int
    obj: Any
    author: User | None
    title: str
    excerpt: str
    url: str
    is_hidden: bool
    hidden_reason: str = ""
    content_html: Markup = field(default_factory=Markup)
    context: str = ""
    context_url: str = ""

    @property
    def author_id(self) -> int | None:
        # For policies.can_report, which refuses reports of one's own content.
        return self.author.id if self.author is not None else None

    @property
    def label(self) -> str:
        return f"{KINDS[self.kind].label}: {self.title}"[:200]


def _by_id(model: Any, ids: Iterable[int], *options: Any) -> dict[int, Any]:
    """The rows of `model` with these ids (eager-loading `options`), by id; no query for none."""
    ids = list(ids)
    if not ids:
        return {}
    rows = db.session.scalars(sa.select(model).where(model.id.in_(ids)).options(*options))
    return {row.id: row for row in rows}


class Kind:
    """The adapter of one kind; subclasses fill in what applies to them."""

    name = ""
    label = ""
    # What moderators may do to it (beyond dismissing its reports).
    actions: frozenset[str] = frozenset()
    # Hidden at once when AUTO_HIDE_REPORTS members report it.
    auto_hide = False

    def load_many(self, ids: Iterable[int]) -> dict[int, Any]:
        raise NotImplementedError

    def load(self, item_id: int) -> Item | None:
        obj = self.load_many([item_id]).get(item_id)
        return self.wrap(obj) if obj is not None else None

    def wrap(self, obj: Any) -> Item:
        raise NotImplementedError

    def reportable(self, obj: Any) -> bool:
        """Whether members can see (so report) it: hidden things are not reported again."""
        return True

    def lock(self, obj: Any) -> None:
        """Hold the item's row until the transaction ends, and read it afresh.

        Concurrent reports of one item then count their reporters one after another, each
        seeing the reports committed before it (PostgreSQL: SELECT ... FOR UPDATE). SQLite
        has no row locks and needs none: a request's transaction holds the database's write
        lock from its start (BEGIN IMMEDIATE), and elsewhere the report's INSERT takes it
        before the count.
        """
        model = type(obj)
        db.session.scalars(
            sa.select(model)
            .where(model.id == obj.id)
            .with_for_update(of=model)  # its own row, not those its relationships join in
            .execution_options(populate_existing=True)
        ).one()  # fetched, so that the object is refreshed

    def hide(self, obj: Any, why: str) -> None:
        raise InvalidInput("This cannot be hidden.")

    def restore(self, obj: Any) -> None:
        raise InvalidInput("This cannot be restored.")

    def delete(self, moderator: User, obj: Any) -> None:
        raise InvalidInput("This cannot be deleted.")

    def edit(self, moderator: User, obj: Any, text: str) -> None:
        raise InvalidInput("This cannot be edited.")

    def editable_text(self, obj: Any) -> str:
        return ""


def _excerpt(text: str) -> str:
    return summarise(text or "", EXCERPT) if (text or "").strip() else ""


def _paragraphs(text: str) -> Markup:
    return Markup("").join(
        Markup("<p>{}</p>").format(part) for part in (text or "").split("\n\n") if part.strip()
    )


# Forum ----------------------------------------------------------------------------------


class PostKind(Kind):
    name = "post"
    label = "Post"
    actions = frozenset({"hide", "restore", "delete", "edit"})
    auto_hide = True

    def load_many(self, ids: Iterable[int]) -> dict[int, Any]:
        from fancampaign.forum.models import Post, Thread

        return _by_id(
            Post, ids, joinedload(Post.author), joinedload(Post.thread).joinedload(Thread.category)
        )

    def wrap(self, obj: Any) -> Item:
        from fancampaign.forum.services import post_url, thread_url

        thread = obj.thread
        return Item(
            kind=self.name,
            id=obj.id,
            obj=obj,
            author=obj.author,
            title=("First post of “{}”" if obj.is_first else "Reply in “{}”").format(thread.title),
            excerpt=_excerpt(obj.body),
            url=post_url(obj),
            is_hidden=obj.is_hidden or obj.is_deleted,
            hidden_reason="deleted" if obj.is_deleted else obj.hidden_reason,
            content_html=Markup(obj.body_html),  # noqa: S704 (sanitised when it was written)
            context=f"Thread “{thread.title}” in {thread.category.name}",
            context_url=thread_url(thread),
        )

    def reportable(self, obj: Any) -> bool:
        return not (obj.is_deleted or obj.is_hidden or obj.thread.is_hidden)

    def hide(self, obj: Any, why: str) -> None:
        from fancampaign.forum.services import recount_thread

        obj.is_hidden = True
        obj.hidden_reason = why
        recount_thread(obj.thread)

    def restore(self, obj: Any) -> None:
        from fancampaign.forum.services import announce_post, recount_thread

        obj.is_hidden = False
        obj.hidden_reason = ""
        thread = obj.thread
        # A thread held with its first post is released with it.
        if obj.is_first and thread.is_hidden and thread.hidden_reason == HELD:
            thread.is_hidden = False
            thread.hidden_reason = ""
        recount_thread(thread)
        # A post held before anyone heard of it is news now (once; not after a hide).
        announce_post(obj)

    def delete(self, moderator: User, obj: Any) -> None:
        from fancampaign.forum.services import delete_post

        delete_post(moderator, obj)

    def edit(self, moderator: User, obj: Any, text: str) -> None:
        from fancampaign.forum.services import edit_post

        edit_post(moderator, obj, text)

    def editable_text(self, obj: Any) -> str:
        return obj.body


class ThreadKind(Kind):
    name = "thread"
    label = "Thread"
    actions = frozenset({"hide", "restore", "lock", "unlock", "pin", "unpin", "move"})
    auto_hide = True

    def load_many(self, ids: Iterable[int]) -> dict[int, Any]:
        from fancampaign.forum.models import Thread

        return _by_id(Thread, ids, joinedload(Thread.author), joinedload(Thread.category))

    def wrap(self, obj: Any) -> Item:
        from fancampaign.forum.services import thread_url

        return Item(
            kind=self.name,
            id=obj.id,
            obj=obj,
            author=obj.author,
            title=obj.title,
            excerpt=obj.title,
            url=thread_url(obj),
            is_hidden=obj.is_hidden,
            hidden_reason=obj.hidden_reason,
            content_html=Markup("<p>{}</p>").format(obj.title),
            context=f"In {obj.category.name}"
            + (" · locked" if obj.is_locked else "")
            + (" · pinned" if obj.is_pinned else ""),
            context_url=f"/forum/{obj.category.slug}",
        )

    def reportable(self, obj: Any) -> bool:
        return not obj.is_hidden

    def hide(self, obj: Any, why: str) -> None:
        from fancampaign.forum.services import recount_thread

        obj.is_hidden = True
        obj.hidden_reason = why
        recount_thread(obj)

    def restore(self, obj: Any) -> None:
        from fancampaign.forum.services import recount_thread

        obj.is_hidden = False
        obj.hidden_reason = ""
        recount_thread(obj)


# Petitions ------------------------------------------------------------------------------


class SignatureKind(Kind):
    """A signature's public reason ("why I signed"): moderated like any post."""

    name = "signature"
    label = "Signature reason"
    actions = frozenset({"hide", "restore", "delete"})
    auto_hide = True

    def load_many(self, ids: Iterable[int]) -> dict[int, Any]:
        from fancampaign.petitions.models import Signature

        return _by_id(Signature, ids, joinedload(Signature.user), joinedload(Signature.petition))

    def wrap(self, obj: Any) -> Item:
        petition = obj.petition
        url = f"/petitions/{petition.slug}"
        return Item(
            kind=self.name,
            id=obj.id,
            obj=obj,
            author=obj.user,
            title=f"Reason for signing “{petition.title}”",
            excerpt=_excerpt(obj.reason) or "(no reason given)",
            url=f"{url}#signature-{obj.id}",
            is_hidden=obj.reason_hidden,
            hidden_reason="hidden" if obj.reason_hidden else "",
            content_html=_paragraphs(obj.reason),
            context=f"Signed by {obj.display_name}",
            context_url=url,
        )

    def reportable(self, obj: Any) -> bool:
        return (
            bool(obj.reason)
            and not obj.reason_hidden
            and obj.confirmed_at is not None
            and obj.petition.is_public
        )

    def hide(self, obj: Any, why: str) -> None:
        obj.reason_hidden = True

    def restore(self, obj: Any) -> None:
        obj.reason_hidden = False

    def delete(self, moderator: User, obj: Any) -> None:
        # The signature itself stays counted; only the words go.
        obj.reason = ""
        obj.reason_hidden = False


class PetitionKind(Kind):
    """A petition. "Hide" takes it down (status rejected); "restore" opens it again."""

    name = "petition"
    label = "Petition"
    actions = frozenset({"hide", "restore"})
    auto_hide = False  # a petition is taken down by a person, never by a count

    def load_many(self, ids: Iterable[int]) -> dict[int, Any]:
        from fancampaign.petitions.models import Petition

        return _by_id(Petition, ids)

    def wrap(self, obj: Any) -> Item:
        return Item(
            kind=self.name,
            id=obj.id,
            obj=obj,
            author=obj.creator,
            title=obj.title,
            excerpt=_excerpt(obj.summary),
            url=f"/petitions/{obj.slug}",
            is_hidden=obj.status == "rejected",
            hidden_reason="rejected" if obj.status == "rejected" else "",
            content_html=Markup("<p><strong>To: {}</strong></p><p>{}</p>").format(
                obj.target, obj.summary
            )
            + Markup(obj.body_html or ""),  # noqa: S704 (sanitised on write)
            context=f"Status: {obj.status}; {obj.signature_count:,} signatures",
            context_url=f"/petitions/{obj.slug}",
        )

    def reportable(self, obj: Any) -> bool:
        return obj.status in ("open", "closed", "won")

    def hide(self, obj: Any, why: str) -> None:
        obj.status = "rejected"

    def restore(self, obj: Any) -> None:
        obj.status = "open"
        obj.rejection_reason = ""
        if obj.opened_at is None:
            obj.opened_at = utcnow()


# People ---------------------------------------------------------------------------------


class UserKind(Kind):
    """A profile (name and bio). Its author is the user; moderators sanction rather than hide."""

    name = "user"
    label = "Profile"
    actions = frozenset({"edit"})

    def load_many(self, ids: Iterable[int]) -> dict[int, Any]:
        return _by_id(User, ids)

    def wrap(self, obj: Any) -> Item:
        return Item(
            kind=self.name,
            id=obj.id,
            obj=obj,
            author=obj,
            title=f"{obj.name} (@{obj.username})",
            excerpt=_excerpt(obj.bio) or "(no bio)",
            url=f"/u/{obj.username}",
            is_hidden=False,
            content_html=Markup("<p><strong>{}</strong></p>").format(obj.name)
            + _paragraphs(obj.bio),
            context=f"Joined {obj.created_at:%-d %B %Y}",
            context_url=f"/u/{obj.username}",
        )

    def reportable(self, obj: Any) -> bool:
        return not obj.is_deleted

    def edit(self, moderator: User, obj: Any, text: str) -> None:
        # Moderators can only blank out or shorten a bio; the display name goes back to none.
        from fancampaign.text import clean_multiline

        obj.bio = clean_multiline(text)[:2000]
        obj.display_name = ""

    def editable_text(self, obj: Any) -> str:
        return obj.bio


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (PostKind(), ThreadKind(), SignatureKind(), PetitionKind(), UserKind())
}


def kind_of(name: str) -> Kind | None:
    return KINDS.get(name)


def load_items(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Item]:
    """Many items of mixed kinds: one query per kind present, whatever their number."""
    wanted: dict[str, list[int]] = {}
    for kind, item_id in keys:
        wanted.setdefault(kind, []).append(item_id)
    items: dict[tuple[str, int], Item] = {}
    for kind, ids in wanted.items():
        adapter = KINDS.get(kind)
        if adapter is None:
            continue
        for item_id, obj in adapter.load_many(ids).items():
            items[(kind, item_id)] = adapter.wrap(obj)
    return items
