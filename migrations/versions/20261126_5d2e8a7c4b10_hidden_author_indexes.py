"""forum: partial indexes of the hidden posts and threads by author

Every logged-in request reads, with the user, whether they wrote anything hidden (only they
and the moderators see it, so the pages shared by every member cannot describe them). These
indexes hold only hidden rows, so that check costs the same for a user with 10 posts or 10,000.

Revision ID: 5d2e8a7c4b10
Revises: 3b1f0c2a9d41
Create Date: 2026-11-26 13:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5d2e8a7c4b10"
down_revision = "3b1f0c2a9d41"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("posts", "threads"):
        hidden = sa.column("is_hidden") == sa.true()
        op.create_index(
            f"ix_{table}_hidden_author",
            table,
            ["author_id"],
            postgresql_where=hidden,
            sqlite_where=hidden,
        )


def downgrade():
    for table in ("posts", "threads"):
        op.drop_index(f"ix_{table}_hidden_author", table_name=table)
