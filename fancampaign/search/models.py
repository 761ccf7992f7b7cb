"""The search index: one row per searchable thing, kept in step by search/indexer.py.

The full-text machinery lives next to this table and outside the metadata (see
search/backend.py): an FTS5 external-content table on SQLite, a trigger-maintained
`tsv` column with a GIN index on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from fancampaign.extensions import db, utcnow

# A tsvector on PostgreSQL (filled by a trigger); an unused NULL column on SQLite.
TSVECTOR = sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")

KINDS = ("news", "petition", "thread", "post")


class SearchEntry(db.Model):
    __tablename__ = "search_entries"
    __table_args__ = (
        sa.UniqueConstraint("kind", "object_id", name="uq_search_entries_kind_object"),
        # A post's documents follow their thread when it starts discussing something.
        sa.Index("ix_search_entries_thread", "thread_id"),
        # The GIN index on `tsv` is made by backend.search_ddl("postgresql").
    )

    # INTEGER PRIMARY KEY: the rowid the SQLite FTS5 table points at.
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    object_id: Mapped[int]
    title: Mapped[str] = mapped_column(sa.Text, default="")
    # Plain text (no markup): what snippets are cut from.
    body: Mapped[str] = mapped_column(sa.Text, default="")
    # False for hidden, deleted, draft, pending or rejected things (they stay out of results).
    is_visible: Mapped[bool] = mapped_column(default=True)
    # A scheduled news post is visible from its publication time on.
    visible_from: Mapped[datetime | None]
    # The thing a result stands for: the document's own (kind, object_id), except for a forum
    # thread or post discussing a news post or petition (under it), and a post (under its
    # thread). Search shows one result per item (search/backend.py).
    item_kind: Mapped[str | None] = mapped_column(sa.String(20))
    item_id: Mapped[int | None]
    # A forum document's thread (a thread's own id): the item when searching the forum alone.
    thread_id: Mapped[int | None]
    # Who wrote it (for `author:`); no foreign key: the index never blocks deleting anyone.
    author_id: Mapped[int | None]
    # When it appeared (published, opened, posted): the newest first among equal matches.
    dated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    tsv: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)

    def __repr__(self) -> str:
        return f"<SearchEntry {self.kind} {self.object_id}>"
