"""Full-text search behind one small interface, on SQLite (FTS5) and PostgreSQL (tsvector).

    index(kind, object_id, title, body, visible, visible_from=None)   upsert one document
    remove(kind, object_id)                                            drop one document
    query(q, kinds, page, per_page, author_id=, by_thread=) -> Found   ranked items, marked

The rest of the app never learns which database runs. Documents live in `search_entries`
(search/models.py, a normal table in the metadata); the full-text part is built by
`search_ddl(dialect_name)` (migrations call it, and `setup()` runs it in tests):

- SQLite: an FTS5 external-content table `search_fts` (title, body) over `search_entries`,
  kept in step by triggers; bm25 on the title column alone tells a title match.
- PostgreSQL: `search_entries.tsv` = title weighted A || body weighted B, filled by a
  trigger, with a GIN index; the A weight (ts_filter, ts_rank) tells a title match.

One result per item. A document belongs to an item (`item_kind`, `item_id`): a news post or
a petition is its own, a forum thread or post discussing one belongs to it, any other post to
its thread. A page lists items, each with its own document's marked title when that matched,
a snippet (from its own text, else from its best post) and how many of its posts matched.
Searching the forum alone (`by_thread`), the items are the threads.

One ranking rule, the same on both databases (`_grouped_page`): items with every word in a
title first, then some word in a title, then matches in the text only; at each level items
matched by their own document before those found only through their discussion; then the
newest. Neither database's relevance score (bm25, ts_rank) takes part: they weigh lengths
and frequencies differently, so the same corpus would come back in two orders.

The work per query is bounded, however many documents match (issue 8): a query ranks at
most MAX_RESULTS + 1 candidates, the newest matching documents, plus up to TITLED_CANDIDATES
matching documents that have a title (news, petitions, threads), so title matches are not
crowded out by thousands of newer body matches. Only those candidates are grouped, ranked and
counted: past MAX_RESULTS the count is reported as capped ("1,000+ results") and paging stops
at MAX_RESULTS. Exact counts and a rank over every match cost time in proportion to the
matches (a common word matches a quarter of the forum), which is what this avoids.

User text never reaches a query language as syntax: search/query.py turns it into words
(runs of letters and digits), phrases and exclusions, and the backends build their own
expressions from those words alone: quoted FTS5 strings joined by our own NOT and column
filter, or quoted words for PostgreSQL's websearch_to_tsquery (which never raises).
Snippets are made by the database between private-use sentinel characters, then escaped,
and only then are the sentinels turned into <mark> tags: no markup from users survives.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from fancampaign.extensions import UTCDateTime, db, utcnow
from fancampaign.search.models import SearchEntry
from fancampaign.search.query import MAX_QUERY_CHARS, MAX_TERMS, Query, parse

__all__ = ["MAX_QUERY_CHARS", "MAX_TERMS"]

MAX_BODY_CHARS = 200_000
PER_PAGE = 20
MAX_PAGE = 500
# At most this many results per query are ranked and shown ("1,000+ results" beyond it).
MAX_RESULTS = 1000
# Matching documents with a title (news, petitions, threads) ranked on top of the newest
# matches, so a title match is never crowded out by newer body matches.
TITLED_CANDIDATES = 100
# PostgreSQL: the newest matches are looked for among the documents of the last RECENT_WINDOW
# ids first (a bounded walk down the primary key when the words are common), then among older
# documents through the GIN index (only when the recent ones do not fill MAX_RESULTS).
RECENT_WINDOW = 20_000

# Private-use characters: never in indexed text (clean_document drops them).
MARK_START = "\ue000"
MARK_END = "\ue001"
_UNWANTED_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000\ue001]")

PG_CONFIG = "english"
# Undated documents (none are, once indexed) sort as the oldest on both databases.
_EPOCH = sa.literal(datetime(1970, 1, 1, tzinfo=UTC), type_=UTCDateTime())
SNIPPET_TOKENS = 30


@dataclass(frozen=True)
class Hit:
    """One item (a news post, a petition, a thread) and the best of its documents that matched.

    `title` is the item's own title marked, when its own document matched (`own`), else
    empty; `snippet` comes from the document `via_kind`/`via_id` (the item's own, or a post
    in its discussion); `posts` counts the matching posts among the item's documents.
    """

    kind: str
    object_id: int
    title: Markup
    snippet: Markup
    rank: float
    own: bool = True
    via_kind: str = ""
    via_id: int = 0
    posts: int = 0
    thread_id: int | None = None


@dataclass(frozen=True)
class Found:
    """A page of hits; `total` counts at most MAX_RESULTS, `capped` says more matched."""

    hits: list[Hit]
    total: int
    capped: bool = False


# --------------------------------------------------------------------------------------
# Text in: documents and queries
# --------------------------------------------------------------------------------------


def _scrub(text: str) -> str:
    """No NULs or other control characters, no lone surrogates, no sentinels."""
    return _UNWANTED_RE.sub("", text or "")


def clean_document(text: str, limit: int = MAX_BODY_CHARS) -> str:
    """Text as it goes into the index: scrubbed (line breaks kept) and bounded."""
    return _scrub(text)[:limit]


def query_terms(text: str | None) -> list[str]:
    """The words that must match in a user's query (see search/query.py)."""
    return parse(text).terms


def _fts5_string(words: Sequence[str]) -> str:
    """Words as one FTS5 string: a term, or a phrase when there are several."""
    return '"' + " ".join(words).replace('"', '""') + '"'


def fts5_query(q: Query, *, title_only: bool = False) -> str:
    """The query as FTS5 syntax built from its words alone: quoted strings, one column filter
    of our own, NOT for exclusions; nothing typed by a user is ever an operator."""
    positive = " ".join(_fts5_string(p) for p in [*((w,) for w in q.words), *q.phrases])
    expr = "({title} : (" + positive + "))" if title_only else "(" + positive + ")"
    for excluded in q.excluded:
        expr += " NOT " + _fts5_string(excluded)
    return expr


def websearch_query(q: Query, *, with_excluded: bool = True, joined: str = " ") -> str:
    """The query for PostgreSQL's websearch_to_tsquery, built from its words alone: each term
    or phrase quoted (so a typed `or` is a word, not an operator), exclusions as -"…"; with
    joined=" or ", any of the terms (our own `or`)."""
    parts = ['"' + " ".join(p) + '"' for p in [*((w,) for w in q.words), *q.phrases]]
    if with_excluded:
        parts += ['-"' + " ".join(p) + '"' for p in q.excluded]
    return joined.join(parts)


def highlight(raw: str | None) -> Markup:
    """Escape text the database marked with sentinels, then turn the sentinels into <mark>.

    Line breaks (between a document's blocks, each ending a sentence) become spaces."""
    escaped = str(escape((raw or "").replace("\n", " ")))
    out: list[str] = []
    depth = 0
    for part in re.split("([\ue000\ue001])", escaped):
        if part == MARK_START:
            if depth == 0:
                out.append("<mark>")
            depth += 1
        elif part == MARK_END:
            if depth == 1:
                out.append("</mark>")
            depth = max(0, depth - 1)
        else:
            out.append(part)
    if depth:
        out.append("</mark>")
    return Markup("".join(out))  # noqa: S704  (built from escaped text and our own tags)


# --------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------

_SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "title, body, content='search_entries', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS search_entries_fts_insert AFTER INSERT ON search_entries "
    "BEGIN INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_entries_fts_delete AFTER DELETE ON search_entries "
    "BEGIN INSERT INTO search_fts(search_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_entries_fts_update AFTER UPDATE OF title, body "
    "ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    # Index whatever rows the table already holds (a migration on a filled database).
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]

_PG_DDL = [
    "CREATE OR REPLACE FUNCTION search_entries_tsv() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    f"NEW.tsv := setweight(to_tsvector('{PG_CONFIG}', coalesce(NEW.title, '')), 'A') "
    f"|| setweight(to_tsvector('{PG_CONFIG}', coalesce(NEW.body, '')), 'B'); "
    "RETURN NEW; "
    "END $$",
    "CREATE OR REPLACE TRIGGER search_entries_tsv BEFORE INSERT OR UPDATE OF title, body "
    "ON search_entries FOR EACH ROW EXECUTE FUNCTION search_entries_tsv()",
    "CREATE INDEX IF NOT EXISTS ix_search_entries_tsv ON search_entries USING gin (tsv)",
    # The documents with a title (not forum posts): where title matches are looked for.
    "CREATE INDEX IF NOT EXISTS ix_search_entries_titled_tsv ON search_entries "
    "USING gin (tsv) WHERE title <> ''",
    # Fill tsv for rows that predate the trigger (a migration on a filled database).
    "UPDATE search_entries SET title = title WHERE tsv IS NULL",
]


_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_entries_fts_insert",
    "DROP TRIGGER IF EXISTS search_entries_fts_delete",
    "DROP TRIGGER IF EXISTS search_entries_fts_update",
    "DROP TABLE IF EXISTS search_fts",
]

_PG_DROP = [
    "DROP INDEX IF EXISTS ix_search_entries_titled_tsv",
    "DROP INDEX IF EXISTS ix_search_entries_tsv",
    "DROP TRIGGER IF EXISTS search_entries_tsv ON search_entries",
    "DROP FUNCTION IF EXISTS search_entries_tsv()",
]


def is_search_object(name: str, type_: str = "") -> bool:
    """Whether a schema object belongs to the full-text DDL (for Alembic's include_object)."""
    return name in (
        "search_fts",
        "ix_search_entries_tsv",
        "ix_search_entries_titled_tsv",
    ) or name.startswith("search_fts_")


def search_drop_ddl(dialect_name: str) -> list[str]:
    """The reverse of search_ddl(), to run before `search_entries` is dropped."""
    if dialect_name == "sqlite":
        return list(_SQLITE_DROP)
    if dialect_name == "postgresql":
        return list(_PG_DROP)
    raise ValueError(f"search does not support the {dialect_name!r} database")


def search_ddl(dialect_name: str) -> list[str]:
    """The full-text DDL for a dialect, to run after `search_entries` exists (idempotent)."""
    if dialect_name == "sqlite":
        return list(_SQLITE_DDL)
    if dialect_name == "postgresql":
        return list(_PG_DDL)
    raise ValueError(f"search does not support the {dialect_name!r} database")


def setup(conn: sa.Connection | None = None) -> None:
    """Create the full-text table, triggers and index for the current database."""
    if conn is not None:
        for statement in search_ddl(conn.dialect.name):
            conn.exec_driver_sql(statement)
        return
    with db.engine.begin() as own:
        setup(own)


def optimize(conn: sa.Connection) -> None:
    """Compact the full-text index after a rebuild (or in a quiet hour).

    SQLite: FTS5's 'optimize' merges the index's segments into one. A bulk load leaves many,
    and every MATCH then seeks in each: a page of snippets for a common word took 8 ms
    on 84,000 documents before, under 1 ms after. PostgreSQL needs nothing (ANALYZE and
    autovacuum keep the GIN index and the planner's statistics).
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('optimize')")


# The test kit calls db._search_setup() after create_all / TRUNCATE.
db._search_setup = setup  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------
# The backends
# --------------------------------------------------------------------------------------

_entries = SearchEntry.__table__


def _insert(dialect_name: str) -> Any:
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def upsert_many(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert or update documents by (kind, object_id) in one statement."""
    if not rows:
        return
    insert = _insert(conn.dialect.name)
    stmt = insert(_entries)
    now = utcnow()
    stmt = stmt.on_conflict_do_update(
        index_elements=[_entries.c.kind, _entries.c.object_id],
        set_={
            "title": stmt.excluded.title,
            "body": stmt.excluded.body,
            "is_visible": stmt.excluded.is_visible,
            "visible_from": stmt.excluded.visible_from,
            "item_kind": stmt.excluded.item_kind,
            "item_id": stmt.excluded.item_id,
            "thread_id": stmt.excluded.thread_id,
            "author_id": stmt.excluded.author_id,
            "dated_at": stmt.excluded.dated_at,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    conn.execute(
        stmt,
        [
            {
                "kind": row["kind"],
                "object_id": row["object_id"],
                "title": clean_document(row["title"], 1000),
                "body": clean_document(row["body"]),
                "is_visible": bool(row["visible"]),
                "visible_from": row.get("visible_from"),
                "item_kind": row.get("item_kind") or row["kind"],
                "item_id": row.get("item_id") or row["object_id"],
                "thread_id": row.get("thread_id"),
                "author_id": row.get("author_id"),
                "dated_at": row.get("dated_at"),
                "updated_at": now,
            }
            for row in rows
        ],
    )


def _capped(candidates: int, limit: int) -> tuple[int, bool]:
    """(what to report as the total, whether more matched) from the candidates counted."""
    return min(candidates, limit), candidates > limit


def _page_size(page: int, per_page: int) -> int:
    """How many rows the page may show: none past MAX_RESULTS (the candidates go beyond)."""
    return max(0, min(per_page, MAX_RESULTS - (page - 1) * per_page))


def _where_visible(*, by_kind: bool, by_author: bool) -> Any:
    """Visible now (`:now`), of the `:kinds` asked for when `by_kind`, by `:author` when
    `by_author`."""
    now = sa.bindparam("now", type_=sa.DateTime())
    conditions = [
        _entries.c.is_visible.is_(True),
        sa.or_(_entries.c.visible_from.is_(None), _entries.c.visible_from <= now),
    ]
    if by_kind:
        conditions.append(_entries.c.kind.in_(sa.bindparam("kinds", expanding=True)))
    if by_author:
        conditions.append(_entries.c.author_id == sa.bindparam("author", type_=sa.Integer()))
    return sa.and_(*conditions)


def _params(
    kinds: Sequence[str] | None, author_id: int | None, page: int, per_page: int
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "cap": MAX_RESULTS + 1,
        "titled": TITLED_CANDIDATES,
        "window": RECENT_WINDOW,
        "now": utcnow(),
        "page_size": _page_size(page, per_page),
        "page_offset": (page - 1) * per_page,
    }
    if kinds:
        params["kinds"] = list(kinds)
    if author_id is not None:
        params["author"] = author_id
    return params


@dataclass(frozen=True)
class Variant:
    """Which statement a query needs (each is built once): filtered by kind, by author, and
    whether results are grouped by forum thread (the forum alone) or by item."""

    by_kind: bool = False
    by_author: bool = False
    by_thread: bool = False


def _grouped_page(cand: Any, scored: Any, *, by_thread: bool) -> tuple[Any, Any]:
    """One row per item among the scored candidates, best first, and the counts.

    `scored` has (id, title_hit) per candidate document. A document belongs to its
    item (search_entries.item_kind / item_id; with `by_thread`, to its forum thread). The
    items are ordered by the same rule on every database:

    1. an item with a document holding every word in its title, then one with some word in
       its title, then one matching only in bodies (on SQLite "every word" is known for the
       TITLED_CANDIDATES newest such documents: the same order whenever there are fewer);
    2. an item matched by its own document (the petition, the article, the thread itself),
       before one found only through its discussion;
    3. the newest first (its latest matching document's date, then its id).

    Per item, the page gives its own document (for the marked title, `rep_id`), the document
    a snippet is cut from (its own when that has a body, else its best post: `snip_id`),
    and how many posts matched (`g_posts`). Returns (page rows, counts: n_docs and n_items).
    """
    e = _entries
    if by_thread:
        gkind: Any = sa.literal("thread", type_=sa.String())
        gid: Any = sa.func.coalesce(e.c.thread_id, e.c.object_id)
    else:
        gkind = sa.func.coalesce(e.c.item_kind, e.c.kind)
        gid = sa.func.coalesce(e.c.item_id, e.c.object_id)
    own = sa.case((sa.and_(e.c.kind == gkind, e.c.object_id == gid), 1), else_=0)
    docs = (
        sa.select(
            scored.c.id,
            scored.c.title_hit,
            sa.func.coalesce(e.c.dated_at, _EPOCH).label("dated"),
            e.c.kind,
            e.c.object_id,
            gkind.label("gkind"),
            gid.label("gid"),
            e.c.thread_id,
            own.label("own"),
            sa.case((e.c.body != "", 1), else_=0).label("has_body"),
            sa.case((e.c.kind == "post", 1), else_=0).label("is_post"),
        )
        .select_from(scored.join(e, e.c.id == scored.c.id))
        .subquery("docs")
    )
    part = [docs.c.gkind, docs.c.gid]
    best = [docs.c.own.desc(), docs.c.title_hit.desc(), docs.c.dated.desc(), docs.c.id.desc()]
    windowed = sa.select(
        *docs.c,
        sa.func.row_number().over(partition_by=part, order_by=best).label("rn"),
        sa.func.row_number()
        .over(partition_by=part, order_by=[docs.c.has_body.desc(), *best])
        .label("rn_snip"),
        sa.func.max(docs.c.title_hit).over(partition_by=part).label("g_title"),
        sa.func.max(docs.c.own).over(partition_by=part).label("g_own"),
        sa.func.max(docs.c.dated).over(partition_by=part).label("g_dated"),
        sa.func.max(docs.c.id).over(partition_by=part).label("g_newest"),
        sa.func.sum(docs.c.is_post).over(partition_by=part).label("g_posts"),
        sa.func.max(docs.c.thread_id).over(partition_by=part).label("g_thread"),
    ).cte("windowed")
    reps = (
        sa.select(
            windowed.c.gkind,
            windowed.c.gid,
            windowed.c.id.label("rep_id"),
            windowed.c.g_title,
            windowed.c.g_own,
            windowed.c.g_dated,
            windowed.c.g_newest,
            windowed.c.g_posts,
            windowed.c.g_thread,
        )
        .where(windowed.c.rn == 1)
        .subquery("reps")
    )
    snips = (
        sa.select(
            windowed.c.gkind,
            windowed.c.gid,
            windowed.c.id.label("snip_id"),
            windowed.c.kind.label("snip_kind"),
            windowed.c.object_id.label("snip_object"),
        )
        .where(windowed.c.rn_snip == 1)
        .subquery("snips")
    )
    groups = (
        sa.select(reps, snips.c.snip_id, snips.c.snip_kind, snips.c.snip_object)
        .select_from(
            reps.join(snips, sa.and_(reps.c.gkind == snips.c.gkind, reps.c.gid == snips.c.gid))
        )
        .cte("groups")
    )
    page = (
        sa.select(groups)
        .order_by(
            groups.c.g_title.desc(),
            groups.c.g_own.desc(),
            groups.c.g_dated.desc(),
            groups.c.g_newest.desc(),
        )
        .limit(sa.bindparam("page_size"))
        .offset(sa.bindparam("page_offset"))
        .subquery("page")
    )
    counts = sa.select(
        sa.select(sa.func.count()).select_from(cand).scalar_subquery().label("n_docs"),
        sa.select(sa.func.count()).select_from(groups).scalar_subquery().label("n_items"),
    ).subquery("counts")
    return page, counts


def _counted(counts: Any, shown: Any) -> Any:
    """The page's rows with the counts on each; one row (of NULLs but the counts) past the
    end."""
    return (
        sa.select(counts.c.n_docs, counts.c.n_items, shown)
        .select_from(counts.outerjoin(shown, sa.true()))
        .order_by(
            shown.c.g_title.desc(),
            shown.c.g_own.desc(),
            shown.c.g_dated.desc(),
            shown.c.g_newest.desc(),
        )
    )


def _found(rows: list[Any], marks: dict[int, tuple[str, str]]) -> Found:
    """Hits from the page's rows, with the title and snippet texts marked by the database."""
    n_items = rows[0].n_items or 0
    _total, capped = _capped(rows[0].n_docs or 0, MAX_RESULTS)
    total = min(n_items, MAX_RESULTS)
    hits = [
        Hit(
            kind=row.gkind,
            object_id=row.gid,
            title=highlight(marks.get(row.rep_id, ("", ""))[0]) if row.g_own else Markup(""),
            snippet=highlight(marks.get(row.snip_id, ("", ""))[1]),
            rank=float(row.g_title),
            own=bool(row.g_own),
            via_kind=row.snip_kind,
            via_id=row.snip_object,
            posts=int(row.g_posts or 0),
            thread_id=row.g_thread,
        )
        for row in rows
        if row.gkind is not None
    ]
    return Found(hits, total, capped)


class _Backend:
    def query(
        self, conn: sa.Connection, q: Query, variant: Variant, params: dict[str, Any]
    ) -> Found:
        raise NotImplementedError


_fts = sa.table("search_fts", sa.column("rowid"), sa.column("search_fts"))


def _fts_match(param: str) -> Any:
    return sa.literal_column("search_fts").op("MATCH")(sa.bindparam(param, type_=sa.String()))


def _bm25(title: float, body: float) -> Any:
    return sa.func.bm25(sa.literal_column("search_fts"), title, body)


@functools.cache
def _sqlite_page_statement(variant: Variant) -> Any:
    """The candidates, counted, and one page of their items ranked (built once per variant)."""
    joined = _fts.join(_entries, _entries.c.id == _fts.c.rowid)
    where = _where_visible(by_kind=variant.by_kind, by_author=variant.by_author)

    def candidates(param: str, limit: Any, title_hit: Any) -> Any:
        return (
            sa.select(_entries.c.id, title_hit.label("title_hit"))
            .select_from(joined)
            .where(_fts_match(param), where)
            .order_by(_fts.c.rowid.desc())
            .limit(limit)
            .subquery()
        )

    # bm25 is computed for the rows the candidate query returns, no others; with the body
    # weighed 0 it is 0 unless some word is in the title (it is negative, lower better).
    newest = candidates("words", sa.bindparam("cap"), sa.case((_bm25(1.0, 0.0) < 0, 1), else_=0))
    # Found by the title query: every word and phrase is in the title.
    titled = candidates("title_words", sa.bindparam("titled"), sa.literal(2))
    both = sa.union_all(
        sa.select(newest.c.id, newest.c.title_hit),
        sa.select(titled.c.id, titled.c.title_hit),
    ).subquery("both")
    scored = (
        sa.select(both.c.id, sa.func.max(both.c.title_hit).label("title_hit"))
        .group_by(both.c.id)
        .cte("cand")
    )
    cand = scored
    page, counts = _grouped_page(cand, scored, by_thread=variant.by_thread)
    return _counted(counts, page)


@functools.cache
def _sqlite_marks_statement() -> Any:
    return (
        sa.select(
            _fts.c.rowid,
            sa.func.highlight(sa.literal_column("search_fts"), 0, MARK_START, MARK_END),
            sa.func.snippet(
                sa.literal_column("search_fts"), 1, MARK_START, MARK_END, "…", SNIPPET_TOKENS
            ),
        )
        .select_from(_fts)
        .where(_fts_match("words"), _fts.c.rowid.in_(sa.bindparam("ids", expanding=True)))
    )


class SQLiteBackend(_Backend):
    """FTS5: MATCH on an expression of quoted terms, bm25 on the title column to tell a title
    match, snippet()/highlight().

    FTS5 walks a term's rowids newest first at no extra cost, so the candidates are the
    newest MAX_RESULTS + 1 visible matches and the newest TITLED_CANDIDATES visible documents
    matching in the title column; bm25 is computed for those rows only.
    """

    def query(
        self, conn: sa.Connection, q: Query, variant: Variant, params: dict[str, Any]
    ) -> Found:
        words = fts5_query(q)
        params.update(words=words, title_words=fts5_query(q, title_only=True))
        rows = conn.execute(_sqlite_page_statement(variant), params).all()
        ids = {row.rep_id for row in rows if row.g_own} | {
            row.snip_id for row in rows if row.snip_id is not None
        }
        marks: dict[int, tuple[str, str]] = {}
        if ids:
            marked = conn.execute(_sqlite_marks_statement(), {"words": words, "ids": list(ids)})
            marks = {row[0]: (row[1], row[2]) for row in marked}
        return _found(rows, marks)


@functools.cache
def _postgres_page_statement(variant: Variant) -> Any:
    """The candidates, counted, and one page of their items ranked and marked (built once)."""
    config = sa.literal_column(f"'{PG_CONFIG}'::regconfig")
    # What must match (ranked and marked), and the whole query with its exclusions.
    positive = sa.func.websearch_to_tsquery(config, sa.bindparam("words", type_=sa.String()))
    whole = sa.func.websearch_to_tsquery(config, sa.bindparam("all_words", type_=sa.String()))
    tsv = _entries.c.tsv
    where = sa.and_(
        tsv.op("@@")(positive),
        tsv.op("@@")(whole),
        _where_visible(by_kind=variant.by_kind, by_author=variant.by_author),
    )
    # 2: every word and phrase is in the title (the A-weighted part of tsv); 1: some word.
    title = sa.func.ts_filter(tsv, sa.literal_column("'{a}'::\"char\"[]"))
    some = sa.func.websearch_to_tsquery(config, sa.bindparam("any_words", type_=sa.String()))
    title_hit = sa.case((title.op("@@")(positive), 2), (title.op("@@")(some), 1), else_=0)
    columns = (_entries.c.id, title_hit.label("title_hit"))
    floor = sa.select(sa.func.max(_entries.c.id)).scalar_subquery() - sa.bindparam("window")
    recent = (
        sa.select(*columns)
        .where(where, _entries.c.id > floor)
        .order_by(_entries.c.id.desc())
        .limit(sa.bindparam("cap"))
        .subquery("recent")
    )
    # No id condition inside: it would turn into a bitmap of the whole primary key.
    older = sa.select(*columns).where(where).cte("older").prefix_with("MATERIALIZED")
    newest = (
        sa.select(recent.c.id, recent.c.title_hit)
        .union_all(sa.select(older.c.id, older.c.title_hit).where(older.c.id <= floor))
        .limit(sa.bindparam("cap"))
        .subquery("newest")
    )
    titled_all = (
        sa.select(*columns)
        # A literal '', as in the partial index's predicate, so the planner may use it.
        .where(where, _entries.c.title != sa.literal_column("''"))
        .cte("titled_all")
        .prefix_with("MATERIALIZED")
    )
    titled = (
        sa.select(titled_all.c.id, titled_all.c.title_hit)
        .limit(sa.bindparam("titled"))
        .subquery("titled")
    )
    cand = sa.union(
        sa.select(newest.c.id, newest.c.title_hit),
        sa.select(titled.c.id, titled.c.title_hit),
    ).cte("cand")
    page, counts = _grouped_page(cand, cand, by_thread=variant.by_thread)
    rep = _entries.alias("rep")
    snip = _entries.alias("snip")
    marks = f'StartSel="{MARK_START}", StopSel="{MARK_END}"'
    shown = (
        sa.select(
            page,
            sa.func.ts_headline(config, rep.c.title, positive, f"HighlightAll=true, {marks}").label(
                "title"
            ),
            sa.func.ts_headline(
                config,
                sa.func.left(snip.c.body, 20_000),
                positive,
                f"MaxWords={SNIPPET_TOKENS}, MinWords=12, MaxFragments=2, "
                f'FragmentDelimiter=" … ", {marks}',
            ).label("snippet"),
        )
        .select_from(
            page.join(rep, rep.c.id == page.c.rep_id).join(snip, snip.c.id == page.c.snip_id)
        )
        .subquery("shown")
    )
    return _counted(counts, shown)


class PostgresBackend(_Backend):
    """tsvector @@ websearch_to_tsquery (of quoted words only), the title's A weight to tell a
    title match, ts_headline for snippets.

    One statement. The candidates (see the module doc) are:

    - `recent`: the newest MAX_RESULTS + 1 visible matches among the last RECENT_WINDOW ids.
      The planner walks the primary key backwards when the words are common (it stops after
      about MAX_RESULTS / frequency rows, never more than RECENT_WINDOW) and reads the GIN
      index when they are rare (few matches);
    - `older`: more matches below that window, through the GIN index, read only as far as
      needed to fill MAX_RESULTS + 1 (MATERIALIZED: planned for all its rows, so always the
      index, never a scan of the table hoping to meet matches early);
    - `titled`: TITLED_CANDIDATES visible matches among documents with a title (a partial
      GIN index, read in table order), so title matches are not crowded out by newer body
      matches.

    Only the candidates are ranked and counted; ts_headline runs on the page's rows only.
    """

    def query(
        self, conn: sa.Connection, q: Query, variant: Variant, params: dict[str, Any]
    ) -> Found:
        params.update(
            words=websearch_query(q, with_excluded=False),
            all_words=websearch_query(q),
            any_words=websearch_query(q, with_excluded=False, joined=" or "),
        )
        rows = conn.execute(_postgres_page_statement(variant), params).all()
        marks = {}
        for row in rows:
            if row.gkind is not None:
                marks[row.rep_id] = (row.title, marks.get(row.rep_id, ("", ""))[1])
                marks[row.snip_id] = (marks.get(row.snip_id, ("", ""))[0], row.snippet)
        return _found(rows, marks)


def _backend(dialect_name: str) -> _Backend:
    if dialect_name == "postgresql":
        return PostgresBackend()
    if dialect_name == "sqlite":
        return SQLiteBackend()
    raise ValueError(f"search does not support the {dialect_name!r} database")


# --------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------


def index(
    kind: str,
    object_id: int,
    title: str,
    body: str,
    visible: bool,
    visible_from: datetime | None = None,
    *,
    conn: sa.Connection | None = None,
) -> None:
    """Add or replace one document (in the current transaction)."""
    conn = conn or db.session.connection()
    upsert_many(
        conn,
        [
            {
                "kind": kind,
                "object_id": object_id,
                "title": title,
                "body": body,
                "visible": visible,
                "visible_from": visible_from,
            }
        ],
    )


def remove(kind: str, object_id: int, *, conn: sa.Connection | None = None) -> None:
    """Drop one document (in the current transaction)."""
    conn = conn or db.session.connection()
    conn.execute(
        sa.delete(_entries).where(_entries.c.kind == kind, _entries.c.object_id == object_id)
    )


def query(
    q: Query | str | None,
    kinds: Sequence[str] | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    *,
    author_id: int | None = None,
    by_thread: bool = False,
) -> Found:
    """Visible items matching the query, best first, at most MAX_RESULTS: every word and
    phrase, none of the excluded ones, of `kinds`, by `author_id` when given. One hit per
    item; with `by_thread` (the forum alone) the items are forum threads."""
    if not isinstance(q, Query):
        q = parse(q)
    if not q.has_terms or page < 1:
        return Found([], 0)
    page = min(page, MAX_PAGE)
    conn = db.session.connection()
    variant = Variant(
        by_kind=bool(kinds), by_author=author_id is not None, by_thread=bool(kinds) and by_thread
    )
    params = _params(kinds, author_id, page, per_page)
    return _backend(conn.dialect.name).query(conn, q, variant, params)
