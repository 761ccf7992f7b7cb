"""Full-text search behind one small interface, on SQLite (FTS5) and PostgreSQL (tsvector).

    index(kind, object_id, title, body, visible, visible_from=None)   upsert one document
    remove(kind, object_id)                                            drop one document
    query(text, kinds, page, per_page) -> Found(hits, total, capped)   ranked, highlighted

The rest of the app never learns which database runs. Documents live in `search_entries`
(search/models.py, a normal table in the metadata); the full-text part is built by
`search_ddl(dialect_name)` (migrations call it, and `setup()` runs it in tests):

- SQLite: an FTS5 external-content table `search_fts` (title, body) over `search_entries`,
  kept in step by triggers; ranked by bm25 with the title weighted 10 to the body's 1.
- PostgreSQL: `search_entries.tsv` = title weighted A || body weighted B, filled by a
  trigger, with a GIN index; ranked by ts_rank with A far above B.

The work per query is bounded, however many documents match (issue 8): a query ranks at
most MAX_RESULTS + 1 candidates, the newest matching documents, plus up to TITLED_CANDIDATES
matching documents that have a title (news, petitions, threads), so title matches are not
crowded out by thousands of newer body matches. Only those candidates are ranked and counted:
past MAX_RESULTS the count is reported as capped ("1,000+ results") and paging stops at
MAX_RESULTS. Exact counts and a rank over every match cost time in proportion to the matches
(a common word matches a quarter of the forum), which is what this avoids.

User text never reaches a query language: it is cut to MAX_QUERY_CHARS, split into at most
MAX_TERMS words, and each word is quoted (FTS5) or handed to plainto_tsquery (PostgreSQL).
Snippets are made by the database between private-use sentinel characters, then escaped,
and only then are the sentinels turned into <mark> tags: no markup from users survives.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from fancampaign.extensions import db, utcnow
from fancampaign.search.models import SearchEntry

MAX_QUERY_CHARS = 200
MAX_TERMS = 20
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
_TERM_RE = re.compile(r"\w+")
_UNWANTED_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000\ue001]")

PG_CONFIG = "english"
# ts_rank weights for {D, C, B, A}: a title (A) match outranks any body (B) match.
PG_WEIGHTS = "{0.01, 0.02, 0.05, 1.0}"
FTS_TITLE_WEIGHT = 10.0
FTS_BODY_WEIGHT = 1.0
SNIPPET_TOKENS = 30


@dataclass(frozen=True)
class Hit:
    kind: str
    object_id: int
    title: Markup
    snippet: Markup
    rank: float


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
    """Text as it goes into the index: scrubbed and bounded."""
    return _scrub(text)[:limit]


def query_terms(text: str | None) -> list[str]:
    """The words of a user's query: at most MAX_TERMS from its first MAX_QUERY_CHARS chars."""
    if not text:
        return []
    text = unicodedata.normalize("NFC", _scrub(text[: MAX_QUERY_CHARS * 2]))[:MAX_QUERY_CHARS]
    return _TERM_RE.findall(text)[:MAX_TERMS]


def fts5_query(terms: Sequence[str]) -> str:
    """Each term as an FTS5 string (so no operator or column filter can be written)."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def highlight(raw: str | None) -> Markup:
    """Escape text the database marked with sentinels, then turn the sentinels into <mark>."""
    escaped = str(escape(raw or ""))
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


def _counted_page(cand: Any, shown: Any, *, ascending: bool) -> Any:
    """The page's rows with the number of candidates on each; one row (of NULLs) past the end.

    The candidates are every match when there are at most MAX_RESULTS (the titled ones are
    then among the newest), and more than MAX_RESULTS otherwise: their count says both.
    """
    counts = sa.select(
        sa.select(sa.func.count()).select_from(cand).scalar_subquery().label("n"),
    ).subquery("counts")
    rank = shown.c.rank if ascending else shown.c.rank.desc()
    return (
        sa.select(counts.c.n, shown)
        .select_from(counts.outerjoin(shown, sa.true()))
        .order_by(rank, shown.c.id.desc())
    )


def _where_visible(*, by_kind: bool) -> Any:
    """Visible now (`:now`), and of the `:kinds` asked for when `by_kind`."""
    now = sa.bindparam("now", type_=sa.DateTime())
    visible = sa.and_(
        _entries.c.is_visible.is_(True),
        sa.or_(_entries.c.visible_from.is_(None), _entries.c.visible_from <= now),
    )
    if by_kind:
        return sa.and_(visible, _entries.c.kind.in_(sa.bindparam("kinds", expanding=True)))
    return visible


def _params(kinds: Sequence[str] | None, page: int, per_page: int) -> dict[str, Any]:
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
    return params


class _Backend:
    def query(
        self,
        conn: sa.Connection,
        terms: list[str],
        kinds: Sequence[str] | None,
        page: int,
        per_page: int,
    ) -> Found:
        raise NotImplementedError


_fts = sa.table("search_fts", sa.column("rowid"), sa.column("search_fts"))


def _fts_match(param: str) -> Any:
    return sa.literal_column("search_fts").op("MATCH")(sa.bindparam(param, type_=sa.String()))


@functools.cache
def _sqlite_page_statement(by_kind: bool) -> Any:
    """The candidates, counted, and one page of them ranked (built once, then cached)."""
    joined = _fts.join(_entries, _entries.c.id == _fts.c.rowid)
    # bm25 is computed for the rows each candidate query returns, and no others.
    rank = sa.func.bm25(sa.literal_column("search_fts"), FTS_TITLE_WEIGHT, FTS_BODY_WEIGHT)

    def candidates(param: str, limit: Any) -> Any:
        return (
            sa.select(_entries.c.id, rank.label("rank"))
            .select_from(joined)
            .where(_fts_match(param), _where_visible(by_kind=by_kind))
            .order_by(_fts.c.rowid.desc())
            .limit(limit)
            .subquery()
        )

    newest = candidates("words", sa.bindparam("cap"))
    titled = candidates("title_words", sa.bindparam("titled"))
    both = sa.union_all(
        sa.select(newest.c.id, newest.c.rank), sa.select(titled.c.id, titled.c.rank)
    ).subquery("both")
    # A document found by both keeps its rank for the whole query (the lower, bm25 being
    # negative); a title match found only by the title query is ranked by its title.
    cand = (
        sa.select(both.c.id, sa.func.min(both.c.rank).label("rank")).group_by(both.c.id).cte("cand")
    )
    page_rows = (
        sa.select(cand.c.id, cand.c.rank)
        .order_by(cand.c.rank, cand.c.id.desc())
        .limit(sa.bindparam("page_size"))
        .offset(sa.bindparam("page_offset"))
        .subquery("page")
    )
    shown = (
        sa.select(page_rows.c.id, page_rows.c.rank, _entries.c.kind, _entries.c.object_id)
        .select_from(page_rows.join(_entries, _entries.c.id == page_rows.c.id))
        .subquery("shown")
    )
    return _counted_page(cand, shown, ascending=True)


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
    """FTS5: MATCH on quoted terms, bm25 with column weights, snippet()/highlight().

    FTS5 walks a term's rowids newest first at no extra cost, so the candidates are the
    newest MAX_RESULTS + 1 visible matches (bm25 is computed for those rows only) and the
    newest TITLED_CANDIDATES visible documents matching in the title column.
    """

    def query(
        self,
        conn: sa.Connection,
        terms: list[str],
        kinds: Sequence[str] | None,
        page: int,
        per_page: int,
    ) -> Found:
        words = fts5_query(terms)
        params = _params(kinds, page, per_page)
        params.update(words=words, title_words="{title} : (" + words + ")")
        rows = conn.execute(_sqlite_page_statement(bool(kinds)), params).all()
        total, capped = _capped(rows[0].n, MAX_RESULTS)
        rows = [row for row in rows if row.id is not None]
        if not rows:
            return Found([], total, capped)
        marked = conn.execute(
            _sqlite_marks_statement(), {"words": words, "ids": [row.id for row in rows]}
        ).all()
        texts = {row[0]: (row[1], row[2]) for row in marked}
        hits = [
            Hit(
                kind=row.kind,
                object_id=row.object_id,
                title=highlight(texts.get(row.id, ("", ""))[0]),
                snippet=highlight(texts.get(row.id, ("", ""))[1]),
                rank=-float(row.rank),
            )
            for row in rows
        ]
        return Found(hits, total, capped)


@functools.cache
def _postgres_page_statement(by_kind: bool) -> Any:
    """The candidates, counted, and one page of them ranked and marked (built once)."""
    config = sa.literal_column(f"'{PG_CONFIG}'::regconfig")
    tsquery = sa.func.plainto_tsquery(config, sa.bindparam("words", type_=sa.String()))
    tsv = _entries.c.tsv
    where = sa.and_(tsv.op("@@")(tsquery), _where_visible(by_kind=by_kind))
    rank = sa.func.ts_rank(sa.literal_column(f"'{PG_WEIGHTS}'::float4[]"), tsv, tsquery)
    floor = sa.select(sa.func.max(_entries.c.id)).scalar_subquery() - sa.bindparam("window")
    recent = (
        sa.select(_entries.c.id, rank.label("rank"))
        .where(where, _entries.c.id > floor)
        .order_by(_entries.c.id.desc())
        .limit(sa.bindparam("cap"))
        .subquery("recent")
    )
    # No id condition inside: it would turn into a bitmap of the whole primary key.
    older = (
        sa.select(_entries.c.id, rank.label("rank"))
        .where(where)
        .cte("older")
        .prefix_with("MATERIALIZED")
    )
    newest = (
        sa.select(recent.c.id, recent.c.rank)
        .union_all(sa.select(older.c.id, older.c.rank).where(older.c.id <= floor))
        .limit(sa.bindparam("cap"))
        .subquery("newest")
    )
    titled_all = (
        sa.select(_entries.c.id, rank.label("rank"))
        # A literal '', as in the partial index's predicate, so the planner may use it.
        .where(where, _entries.c.title != sa.literal_column("''"))
        .cte("titled_all")
        .prefix_with("MATERIALIZED")
    )
    titled = (
        sa.select(titled_all.c.id, titled_all.c.rank)
        .limit(sa.bindparam("titled"))
        .subquery("titled")
    )
    cand = sa.union(
        sa.select(newest.c.id, newest.c.rank), sa.select(titled.c.id, titled.c.rank)
    ).cte("cand")
    page_rows = (
        sa.select(cand.c.id, cand.c.rank)
        .order_by(cand.c.rank.desc(), cand.c.id.desc())
        .limit(sa.bindparam("page_size"))
        .offset(sa.bindparam("page_offset"))
        .subquery("page")
    )
    marks = f'StartSel="{MARK_START}", StopSel="{MARK_END}"'
    shown = (
        sa.select(
            page_rows.c.id,
            page_rows.c.rank,
            _entries.c.kind,
            _entries.c.object_id,
            sa.func.ts_headline(
                config, _entries.c.title, tsquery, f"HighlightAll=true, {marks}"
            ).label("title"),
            sa.func.ts_headline(
                config,
                sa.func.left(_entries.c.body, 20_000),
                tsquery,
                f"MaxWords={SNIPPET_TOKENS}, MinWords=12, MaxFragments=2, "
                f'FragmentDelimiter=" … ", {marks}',
            ).label("snippet"),
        )
        .select_from(page_rows.join(_entries, _entries.c.id == page_rows.c.id))
        .subquery("shown")
    )
    return _counted_page(cand, shown, ascending=False)


class PostgresBackend(_Backend):
    """tsvector @@ plainto_tsquery, ts_rank with A/B weights, ts_headline for snippets.

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
        self,
        conn: sa.Connection,
        terms: list[str],
        kinds: Sequence[str] | None,
        page: int,
        per_page: int,
    ) -> Found:
        params = _params(kinds, page, per_page)
        params["words"] = " ".join(terms)
        rows = conn.execute(_postgres_page_statement(bool(kinds)), params).all()
        total, capped = _capped(rows[0].n, MAX_RESULTS)
        hits = [
            Hit(
                kind=row.kind,
                object_id=row.object_id,
                title=highlight(row.title),
                snippet=highlight(row.snippet),
                rank=float(row.rank),
            )
            for row in rows
            if row.id is not None
        ]
        return Found(hits, total, capped)


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
    text: str | None,
    kinds: Sequence[str] | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Found:
    """Visible documents matching every word of `text`, best first, at most MAX_RESULTS."""
    terms = query_terms(text)
    if not terms or page < 1:
        return Found([], 0)
    page = min(page, MAX_PAGE)
    conn = db.session.connection()
    return _backend(conn.dialect.name).query(conn, terms, kinds, page, per_page)
