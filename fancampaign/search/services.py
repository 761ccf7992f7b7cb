"""Site search: the index proposes, the live rows decide.

`search()` parses the query (search/query.py), asks the backend for a page of items (one per
news post, petition or thread, a discussion under its subject), then loads the live rows of
those items and of the posts their snippets come from in one more query (a UNION ALL with one
part per kind on the page), keeping only what is visible right now. A page therefore costs a
fixed number of queries however big the index is, and a bounded amount of work however many
documents match: at most backend.MAX_RESULTS results are ranked and offered ("1,000+
results", `Results.capped`), so paging stops there too.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from math import ceil
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from fancampaign.accounts.services import get_by_username
from fancampaign.errors import InvalidInput
from fancampaign.extensions import db, utcnow
from fancampaign.search import backend, indexer  # noqa: F401  (indexer: the session listener)
from fancampaign.search.backend import Hit
from fancampaign.search.query import Query, parse

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
    """One item: a news post, a petition or a forum thread, and where the words were found."""

    kind: str
    label: str
    url: str
    title: Markup
    snippet: Markup
    date: datetime | None = None
    context: str = ""
    # The snippet is from a post (in the item's discussion, or in the thread): its link.
    via_url: str = ""
    via_text: str = ""
    # "and 12 posts in its discussion": the link and the words.
    more_url: str = ""
    more_text: str = ""


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
    # What was understood of the query (its filters, shown with a way to remove each) and
    # what was left out of it, and why.
    parsed: Query = field(default_factory=lambda: parse(""))
    notes: list[str] = field(default_factory=list)

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
    """A page of visible results for `text` (search/query.py: words, "phrases", -exclusions,
    author:, in:), one per item, best first; raises BadSearch for a bad page.

    An `in:` in the text wins over `kind` (the page's filter links). Whatever of the text
    could not be used is left out and said in `Results.notes`, never an error.
    """
    if page > backend.MAX_PAGE:
        last = ceil(backend.MAX_RESULTS / per_page)
        raise BadSearch(f"There are at most {last:,} pages of results.")
    parsed = parse(text)
    kind = parsed.kind or kind
    results = Results(
        query=text or "",
        kind=kind,
        page=page,
        per_page=per_page,
        total=0,
        terms=parsed.terms,
        parsed=parsed,
        notes=list(parsed.notes),
    )
    if not parsed.has_terms:
        if parsed.excluded or parsed.author or parsed.kind:
            results.notes.append(
                "Add a word to search for: -word, author: and in: only narrow a search."
            )
        return results
    author_id = None
    if parsed.author is not None:
        author = get_by_username(parsed.author)
        if author is None:
            results.notes.append(f"No member is called “{parsed.author}”.")
            return results
        author_id = author.id
    found = backend.query(
        parsed,
        FILTERS[kind] if kind else None,
        page,
        per_page,
        author_id=author_id,
        by_thread=kind == "posts",
    )
    results.total = found.total
    results.capped = found.capped
    results.items = _live(found.hits, capped=found.capped)
    return results


# --------------------------------------------------------------------------------------
# The final visibility check, one query for every kind
# --------------------------------------------------------------------------------------


def _live(hits: list[Hit], *, capped: bool = False) -> list[Result]:
    """Results for the hits whose item (and, for a snippet from a post, that post) is
    visible right now, in one query."""
    by_kind: dict[str, set[int]] = defaultdict(set)
    for hit in hits:
        by_kind[hit.kind].add(hit.object_id)
        if hit.via_kind and (hit.via_kind, hit.via_id) != (hit.kind, hit.object_id):
            by_kind[hit.via_kind].add(hit.via_id)
        if hit.kind != "thread" and hit.thread_id is not None:
            # Where its discussion is shown when the item itself is not (any more).
            by_kind["thread"].add(hit.thread_id)
    found: dict[tuple[str, int], dict[str, Any]] = {}
    kinds = [kind for kind in _LOADERS if kind in by_kind]
    if kinds:
        # One statement for every kind on the page (one round trip), each part keeping
        # only what its area shows right now.
        query = sa.union_all(*(_LOADERS[kind]() for kind in kinds))
        params = {f"{kind}_ids": sorted(by_kind[kind]) for kind in kinds}
        # Core execution on the session's connection: plain rows, no ORM overhead.
        for row in db.session.connection().execute(query, params):
            found[(row.kind, row.id)] = _INFO[row.kind](row)
    out = []
    for hit in hits:
        info = found.get((hit.kind, hit.object_id))
        if info is None and hit.kind != "thread" and hit.thread_id is not None:
            # A discussion whose news post or petition is not shown (withdrawn, rejected,
            # deleted): its posts are still in the forum, so they are found there.
            hit = replace(hit, kind="thread", object_id=hit.thread_id, own=False, title=Markup())
            info = found.get(("thread", hit.object_id))
        if info is None:
            continue
        info = dict(info)
        live_title = info.pop("title", "")
        via = (hit.via_kind, hit.via_id)
        from_other = bool(hit.via_kind) and via != (hit.kind, hit.object_id)
        via_info = found.get(via) if from_other else None
        if from_other and via_info is None and not hit.own:
            continue  # found only through a document no longer shown
        result = Result(
            kind=hit.kind,
            label=LABELS[hit.kind],
            title=hit.title if str(hit.title).strip() else escape(live_title),
            snippet=hit.snippet if (via_info is not None or not from_other) else Markup(""),
            **info,
        )
        _describe_discussion(result, hit, via_info, capped=capped)
        out.append(result)
    return out


def _describe_discussion(
    result: Result, hit: Hit, via_info: dict[str, Any] | None, *, capped: bool
) -> None:
    """Where the snippet is from, and how many more posts of the item matched (at least that
    many when the search was capped: only the candidates were counted)."""
    in_thread = hit.kind == "thread"
    where = "in this thread" if in_thread else "in its discussion"
    others = hit.posts
    if via_info is not None and hit.via_kind == "post":
        result.via_url = via_info["url"]
        result.via_text = "Read this post" if in_thread else "From a post in its discussion"
        others -= 1
    if others > 0 and hit.thread_id is not None:
        more = "more " if result.via_url else ""
        noun = "post" if others == 1 else "posts"
        result.more_url = f"/forum/t/{hit.thread_id}"
        at_least = "+" if capped else ""
        result.more_text = f"and {others:,}{at_least} {more}{noun} {where}"


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
