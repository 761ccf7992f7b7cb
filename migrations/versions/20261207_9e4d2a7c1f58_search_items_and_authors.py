"""search: each document names its item, its forum thread, its author and its date

Search shows one result per item: a forum thread or post discussing a news post or a petition
is shown under it, a post under its thread (`item_kind`, `item_id`; `thread_id` when the
forum is searched alone), `author:name` filters by `author_id`, and equal matches come newest
first by `dated_at`. This adds the columns and fills them from the live rows in SQL.

The documents' text is unchanged here: documents written before keep their run-together
sentences in snippets ("…UK and Ireland The film…") until `fancampaign search-reindex`
rebuilds them (blocks now end a sentence and start a line).

Revision ID: 9e4d2a7c1f58
Revises: 5c0e7b2f94a1
Create Date: 2026-12-07 04:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9e4d2a7c1f58"
down_revision = "5c0e7b2f94a1"
branch_labels = None
depends_on = None

_COLUMNS = ("item_kind", "item_id", "thread_id", "author_id", "dated_at")

_FILL = [
    # News posts and petitions are their own items.
    "UPDATE search_entries SET item_kind = kind, item_id = object_id, "
    "author_id = (SELECT author_id FROM news_posts WHERE news_posts.id = search_entries.object_id), "
    "dated_at = (SELECT coalesce(published_at, created_at) FROM news_posts "
    "WHERE news_posts.id = search_entries.object_id) "
    "WHERE kind = 'news'",
    "UPDATE search_entries SET item_kind = kind, item_id = object_id, "
    "author_id = (SELECT creator_id FROM petitions WHERE petitions.id = search_entries.object_id), "
    "dated_at = (SELECT coalesce(opened_at, created_at) FROM petitions "
    "WHERE petitions.id = search_entries.object_id) "
    "WHERE kind = 'petition'",
    # Threads and posts: their thread, and the thread's news post or petition when it has one.
    "UPDATE search_entries SET thread_id = object_id, "
    "author_id = (SELECT author_id FROM threads WHERE threads.id = search_entries.object_id), "
    "dated_at = (SELECT created_at FROM threads WHERE threads.id = search_entries.object_id) "
    "WHERE kind = 'thread'",
    "UPDATE search_entries SET "
    "thread_id = (SELECT thread_id FROM posts WHERE posts.id = search_entries.object_id), "
    "author_id = (SELECT author_id FROM posts WHERE posts.id = search_entries.object_id), "
    "dated_at = (SELECT created_at FROM posts WHERE posts.id = search_entries.object_id) "
    "WHERE kind = 'post'",
    "UPDATE search_entries SET "
    "item_kind = coalesce((SELECT t.subject_kind FROM threads t "
    "WHERE t.id = search_entries.thread_id "
    "AND t.subject_kind IN ('news', 'petition') AND t.subject_id IS NOT NULL), 'thread'), "
    "item_id = coalesce((SELECT t.subject_id FROM threads t "
    "WHERE t.id = search_entries.thread_id "
    "AND t.subject_kind IN ('news', 'petition')), search_entries.thread_id) "
    "WHERE kind IN ('thread', 'post')",
]


def upgrade():
    with op.batch_alter_table("search_entries", recreate="never") as batch:
        batch.add_column(sa.Column("item_kind", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("item_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("thread_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_search_entries_thread", "search_entries", ["thread_id"])
    for statement in _FILL:
        op.execute(statement)


def downgrade():
    op.drop_index("ix_search_entries_thread", table_name="search_entries")
    # ALTER TABLE … DROP COLUMN on both databases (SQLite 3.35+): no copy of the table, so
    # the full-text table and triggers over it stay as they are.
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE search_entries DROP COLUMN {column}")
