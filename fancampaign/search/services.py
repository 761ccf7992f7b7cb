"""Site search: the index proposes, the live rows decide.

`search()` asks the backend for a page of candidates, then loads the live rows of those
candidates, one query per kind present (so at most four more), keeping only what is visible
right now. A page therefore costs a fixed number of queries however big the index is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from fancampaign.errors import InvalidInput
from fancampaign.extensions import db, utcnow
from fancampaign.search import backend, indexer  # noqa: F401  (indexer: the session listener)
from fancampaign.search.backend import Hit

# The `kind` filter of the search page and the index kinds each one covers.
FILTERS: dict[str, tuple[str, ...]] = {
    "news": ("news",),
    "petitions": ("petition",),
    "posts": ("thread", "post"),
}
LABELS = {"news": "News", "petition": "Petition", "thread": "Forum thread", "post": "Forum post"}


class BadSearch(InvalidInput):
    message = "That search could not be understood."


@dataclass
class Result:
    kind: str
    label: str
    url: str
    title: Markup
    snippet: Markup
    date: datetime | None = None
    context: str = ""


@dataclass
class Results:
    """A page of results, shaped for the pagination macro."""

    query: str
    kind: str | None
    page: int
    per_page: int
    total: int
    items: list[Result] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return min(ceil(self.total / self.per_page), backend.MAX_PAGE) if self.total else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    def iter_pages(self) -> Any:
        last = self.pages
        shown = sorted(
            {1, 2, last - 1, last, *range(self.page - 2, self.page + 3)} & set(range(1, last + 1))
        )
        previous = 0
        for n in shown:
            if n - previous > 1:
                yield None
            yield n
            previous = n


def parse_kind(value: str | None) -> str | None:
    """'' or None means everything; anything not in FILTERS is refused."""
    if not value:
        return None
    if value not in FILTERS:
        raise BadSearch("Choose news, petitions or posts.")
    return value


def parse_page(value: str | None) -> int:
    if value in (None, ""):
        return 1
    if not value.isascii() or not value.isdigit() or len(value) > 6 or int(value) < 1:
        raise BadSearch("The page must be a whole number from 1.")
    return int(value)


def search(text: str | None, kind: str | None = None, page: int = 1, per_page: int = 20) -> Results:
    """A page of visible results for `text`, best first; raises BadSearch for a bad page."""
    if page > backend.MAX_PAGE:
        raise BadSearch(f"Results stop at page {backend.MAX_PAGE}.")
    text = text or ""
    results = Results(
        query=text,
        kind=kind,
        page=page,
        per_page=per_page,
        total=0,
        terms=backend.query_terms(text),
    )
    if not results.terms:
        return results
    hits, total = backend.query(text, FILTERS[kind] if kind else None, page, per_page)
    results.total = total
    results.items = _live(hits)
    return results


# --------------------------------------------------------------------------------------
# The final visibility check, one query per kind
# --------------------------------------------------------------------------------------


def _live(hits: list[Hit]) -> list[Result]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for hit in hits:
        by_kind[hit.kind].append(hit.object_id)
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for kind, ids in by_kind.items():
        loader = _LOADERS.get(kind)
        if loader:
            for object_id, info in loader(ids).items():
                found[(kind, object_id)] = info
    out = []
    for hit in hits:
        info = found.get((hit.kind, hit.object_id))
        if info is None:
            continue
        title = hit.title if str(hit.title).strip() else escape(info.pop("title", ""))
        info.pop("title", None)
        out.append(
            Result(
                kind=hit.kind,
                label=LABELS[hit.kind],
                title=title,
                snippet=hit.snippet,
                **info,
            )
        )
    return out


def _news(ids: list[int]) -> dict[int, dict[str, Any]]:
    from fancampaign.news.models import NewsPost

    rows = db.session.execute(
        sa.select(NewsPost.id, NewsPost.slug, NewsPost.title, NewsPost.published_at).where(
            NewsPost.id.in_(ids), NewsPost.visible_clause(utcnow())
        )
    )
    return {
        r.id: {"url": f"/news/{r.slug}", "title": r.title, "date": r.published_at} for r in rows
    }


def _petitions(ids: list[int]) -> dict[int, dict[str, Any]]:
    from fancampaign.petitions.models import PUBLIC_STATUSES, Petition

    rows = db.session.execute(
        sa.select(Petition.id, Petition.slug, Petition.title, Petition.opened_at).where(
            Petition.id.in_(ids), Petition.status.in_(PUBLIC_STATUSES)
        )
    )
    return {
        r.id: {"url": f"/petitions/{r.slug}", "title": r.title, "date": r.opened_at} for r in rows
    }


def _threads(ids: list[int]) -> dict[int, dict[str, Any]]:
    from fancampaign.forum.models import Category, Thread

    rows = db.session.execute(
        sa.select(Thread.id, Thread.slug, Thread.title, Thread.created_at, Category.name)
        .join(Category, Category.id == Thread.category_id)
        .where(Thread.id.in_(ids), Thread.is_hidden.is_(False))
    )
    return {
        r.id: {
            "url": f"/forum/t/{r.id}/{r.slug}" if r.slug else f"/forum/t/{r.id}",
            "title": r.title,
            "date": r.created_at,
            "context": r.name,
        }
        for r in rows
    }


def _posts(ids: list[int]) -> dict[int, dict[str, Any]]:
    from fancampaign.forum.models import Post, Thread

    rows = db.session.execute(
        sa.select(Post.id, Post.created_at, Thread.title)
        .join(Thread, Thread.id == Post.thread_id)
        .where(
            Post.id.in_(ids),
            Post.is_hidden.is_(False),
            Post.is_deleted.is_(False),
            Thread.is_hidden.is_(False),
        )
    )
    return {
        r.id: {
            "url": f"/forum/p/{r.id}",
            "title": r.title,
            "date": r.created_at,
        }
        for r in rows
    }


_LOADERS = {"news": _news, "petition": _petitions, "thread": _threads, "post": _posts}
