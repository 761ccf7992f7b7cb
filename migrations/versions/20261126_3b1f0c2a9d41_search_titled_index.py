"""search: a partial GIN index over the documents that have a title

Search ranks a bounded set of candidates: the newest matches plus the best title matches,
found through this index (PostgreSQL only; SQLite's FTS5 searches the title column itself).
The initial revision creates it too on a new database (it runs the current search DDL),
hence IF NOT EXISTS.

Revision ID: 3b1f0c2a9d41
Revises: 7439822d8c57
Create Date: 2026-11-26 09:50:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "3b1f0c2a9d41"
down_revision = "7439822d8c57"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_search_entries_titled_tsv ON search_entries "
            "USING gin (tsv) WHERE title <> ''"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_entries_titled_tsv")
