"""Full-text search behind one small interface, on SQLite (FTS5) and PostgreSQL (tsvector).

    index(kind, object_id, title, body, visible, visible_from=None)   upsert one document
    remove(kind, object_id)                                            drop one document
    query(text, kinds, page, per_page) -> (hits, total)                 ranked, highlighted

The rest of the app never learns which database runs. Documents live in `search_entries`
(search/models.py, a normal table in the metadata); the full-text part is built by
`search_ddl(dialect_name)` (migrations call it, and `setup()` runs it in tests):

- SQLite: an FTS5 external-content table `search_fts` (title, body) over `search_entries`,
  kept in step by triggers; ranked by bm25 with the title weighted 10 to the body's 1.
- PostgreSQL: `search_entries.tsv` = title weighted A || body weighted B, filled by a
  trigger, with a GIN index; ranked by ts_rank with A far above B.

User text never reaches a query language: it is cut to MAX_QUERY_CHARS, split into at most
MAX_TERMS words, and each word is quoted (FTS5) or handed to plainto_tsquery (PostgreSQL).
Snippets are made by the database between private-use sentinel characters, then escaped,
and only then are the sentinels turned into <mark> tags: no markup from users survives.
"""

from __future__ import annotations

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
    "DROP INDEX IF EXISTS ix_search_entries_tsv",
    "DROP TRIGGER IF EXISTS search_entries_tsv ON search_entries",
    "DROP FUNCTION IF EXISTS search_entries_tsv()",
]


def is_search_object(name: str, type_: str = "") -> bool:
    """Whether a schema object belongs to the full-text DDL (for Alembic's include_object)."""
    return name in ("search_fts", "ix_search_entries_tsv") or name.startswith("search_fts_")


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


def _kind_filter(kinds: Sequence[str] | None) -> Any:
    return _entries.c.kind.in_(list(kinds)) if kinds else sa.true()


def _visible_filter(now: datetime) -> Any:
    return sa.and_(
        _entries.c.is_visible.is_(True),
        sa.or_(_entries.c.visible_from.is_(None), _entries.c.visible_from <= now),
    )


class _Backend:
    def query(
        self,
        conn: sa.Connection,
        terms: list[str],
        kinds: Sequence[str] | None,
        page: int,
        per_page: int,
    ) -> tuple[list[Hit], int]:
        raise NotImplementedError


class SQLiteBackend(_Backend):
    """FTS5: MATCH on quoted terms, bm25 with column weights, snippet()/highlight()."""

    def query(
        self,
        conn: sa.Connection,
        terms: list[str],
        kinds: Sequence[str] | None,
        page: int,
        per_page: int,
    ) -> tuple[list[Hit], int]:
        fts = sa.table("search_fts", sa.column("rowid"), sa.column("search_fts"))
        match = sa.literal_column("search_fts").op("MATCH")(fts5_query(terms))
        now = utcnow()
        where = sa.and_(match, _visible_filter(now), _kind_filter(kinds))
        joined = fts.join(_entries, _entries.c.id == fts.c.rowid)
        total = conn.execute(
            sa.select(sa.func.count()).select_from(joined).where(where)
        ).scalar_one()
        if not total or (page - 1) * per_page >= total:
            return [], total
        rank = sa.func.bm25(sa.literal_column("search_fts"), FTS_TITLE_WEIGHT, FTS_BODY_WEIGHT)
        rows = conn.execute(
            sa.select(_entries.c.id, _entries.c.kind, _entries.c.object_id, rank.label("rank"))
            .select_from(joined)
            .where(where)
            .order_by(rank, _entries.c.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        ids = [row.id for row in rows]
        marked = conn.execute(
            sa.select(
                fts.c.rowid,
                sa.func.highlight(sa.literal_column("search_fts"), 0, MARK_START, MARK_END),
                sa.func.snippet(
                    sa.literal_column("search_fts"), 1, MARK_START, MARK_END, "…", SNIPPET_TOKENS
                ),
            )
            .select_from(fts)
            .where(match, fts.c.rowid.in_(ids))
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
        return hits, total


class PostgresBackend(_Backend):
    """tsvector @@ plainto_tsquery, ts_rank with A/B weights, ts_headline for snippets."""

    def query(
        self,
        conn: sa.Connection,
        terms: list[str],
        kinds: Sequence[str] | None,
        page: int,
        per_page: int,
    ) -> tuple[list[Hit], int]:
        tsquery = sa.func.plainto_tsquery(
            sa.literal_column(f"'{PG_CONFIG}'::regconfig"), " ".join(terms)
        )
        tsv = sa.literal_column("search_entries.tsv")
        now = utcnow()
        where = sa.and_(tsv.op("@@")(tsquery), _visible_filter(now), _kind_filter(kinds))
        total = conn.execute(
            sa.select(sa.func.count()).select_from(_entries).where(where)
        ).scalar_one()
        if not total or (page - 1) * per_page >= total:
            return [], total
        rank = sa.func.ts_rank(sa.literal_column(f"'{PG_WEIGHTS}'::float4[]"), tsv, tsquery).label(
            "rank"
        )
        page_rows = (
            sa.select(_entries.c.id, rank)
            .where(where)
            .order_by(sa.desc("rank"), _entries.c.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
            .subquery("page")
        )
        config = sa.literal_column(f"'{PG_CONFIG}'::regconfig")
        marks = f'StartSel="{MARK_START}", StopSel="{MARK_END}"'
        rows = conn.execute(
            sa.select(
                _entries.c.kind,
                _entries.c.object_id,
                page_rows.c.rank,
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
            .order_by(page_rows.c.rank.desc(), _entries.c.id.desc())
        ).all()
        hits = [
            Hit(
                kind=row.kind,
                object_id=row.object_id,
                title=highlight(row.title),
                snippet=highlight(row.snippet),
                rank=float(row.rank),
            )
            for row in rows
        ]
        return hits, total


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
) -> tuple[list[Hit], int]:
    """Visible documents matching every word of `text`, best first: (hits of the page, total)."""
    terms = query_terms(text)
    if not terms or page < 1:
        return [], 0
    page = min(page, MAX_PAGE)
    conn = db.session.connection()
    return _backend(conn.dialect.name).query(conn, terms, kinds, page, per_page)
