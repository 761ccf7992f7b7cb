"""Site search: the index proposes, the live rows decide.

`search()` asks the backend for a page of candidates, then loads the live rows of those
candidates in one more query (a UNION ALL with one part per kind on the page), keeping only
what is visible right now. A page therefore costs a fixed number of queries however big the
index is, and a bounded amount of work however many documents match: at most
backend.MAX_RESULTS results are ranked and offered ("1,000+ results", `Results.capped`), so
paging stops there too.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
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
    # More than `total` (= backend.MAX_RESULTS) documents matched; only those are offered.
    capped: bool = False

    @property
    def pages(self) -> int:
        return min(ceil(self.total / self.per_page), backend.MAX_PAGE) if self.total else 0

    @property
    def past_end(self) -> bool:
        """A page number beyond the last page of results (empty, with a way back)."""
        return bool(self.total) and self.page > self.pages

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
        last = ceil(backend.MAX_RESULTS / per_page)
        raise BadSearch(f"There are at most {last:,} pages of results.")
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
    found = backend.query(text, FILTERS[kind] if kind else None, page, per_page)
    results.total = found.total
    results.capped = found.capped
    results.items = _live(found.hits)
    return results


# --------------------------------------------------------------------------------------
# The final visibility check, one query for every kind
# --------------------------------------------------------------------------------------


def _live(hits: list[Hit]) -> list[Result]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for hit in hits:
        by_kind[hit.kind].append(hit.object_id)
    found: dict[tuple[str, int], dict[str, Any]] = {}
    kinds = [kind for kind in _LOADERS if kind in by_kind]
    if kinds:
        # One statement for every kind on the page (one round trip), each part keeping
        # only what its area shows right now.
        query = sa.union_all(*(_LOADERS[kind]() for kind in kinds))
        params = {f"{kind}_ids": by_kind[kind] for kind in kinds}
        # Core execution on the session's connection: plain rows, no ORM overhead.
        for row in db.session.connection().execute(query, params):
            found[(row.kind, row.id)] = _INFO[row.kind](row)
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


# Each part: kind, id, slug, title, date, context. Built once (ids are bound per call),
# except the news part: visible_clause, the one definition of a public post, takes the time.


def _ids(kind: str) -> Any:
    return sa.bindparam(f"{kind}_ids", expanding=True)


def _none() -> Any:
    return sa.cast(sa.null(), sa.String)


def _news() -> Any:
    from fancampaign.news.models import NewsPost

    return sa.select(
        sa.literal("news").label("kind"),
        NewsPost.id,
        NewsPost.slug,
        NewsPost.title,
        NewsPost.published_at.label("date"),
        _none().label("context"),
    ).where(NewsPost.id.in_(_ids("news")), NewsPost.visible_clause(utcnow()))


@functools.cache
def _petitions() -> Any:
    from fancampaign.petitions.models import PUBLIC_STATUSES, Petition

    return sa.select(
        sa.literal("petition").label("kind"),
        Petition.id,
        Petition.slug,
        Petition.title,
        Petition.opened_at.label("date"),
        _none().label("context"),
    ).where(Petition.id.in_(_ids("petition")), Petition.status.in_(PUBLIC_STATUSES))


@functools.cache
def _threads() -> Any:
    from fancampaign.forum.models import Category, Thread

    return (
        sa.select(
            sa.literal("thread").label("kind"),
            Thread.id,
            Thread.slug,
            Thread.title,
            Thread.created_at.label("date"),
            Category.name.label("context"),
        )
        .join(Category, Category.id == Thread.category_id)
        .where(Thread.id.in_(_ids("thread")), Thread.is_hidden.is_(False))
    )


@functools.cache
def _posts() -> Any:
    from fancampaign.forum.models import Post, Thread

    return (
        sa.select(
            sa.literal("post").label("kind"),
            Post.id,
            _none().label("slug"),
            Thread.title,
            Post.created_at.label("date"),
            _none().label("context"),
        )
        .join(Thread, Thread.id == Post.thread_id)
        .where(
            Post.id.in_(_ids("post")),
            Post.is_hidden.is_(False),
            Post.is_deleted.is_(False),
            Thread.is_hidden.is_(False),
        )
    )


_LOADERS: dict[str, Callable[[], Any]] = {
    "news": _news,
    "petition": _petitions,
    "thread": _threads,
    "post": _posts,
}
_INFO: dict[str, Callable[[Any], dict[str, Any]]] = {
    "news": lambda r: {"url": f"/news/{r.slug}", "title": r.title, "date": r.date},
    "petition": lambda r: {"url": f"/petitions/{r.slug}", "title": r.title, "date": r.date},
    "thread": lambda r: {
        "url": f"/forum/t/{r.id}/{r.slug}" if r.slug else f"/forum/t/{r.id}",
        "title": r.title,
        "date": r.date,
        "context": r.context,
    },
    "post": lambda r: {"url": f"/forum/p/{r.id}", "title": r.title, "date": r.date},
}
