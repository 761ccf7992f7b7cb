"""mail: the outbox records the normalised recipient of capped mail

A guest's confirmation mail is capped per address (however it is spelt: Gmail dots, +tags), so
that signing many times with one address cannot flood its mailbox; the cap counts the outbox
rows to that recipient in the last hour through this index.

Revision ID: cd214d9eb528
Revises: 5d2e8a7c4b10
Create Date: 2026-12-07 00:55:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "cd214d9eb528"
down_revision = "5d2e8a7c4b10"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("recipient", sa.String(length=254), nullable=True))
        batch.create_index("ix_outbox_messages_recipient", ["recipient", "created_at"])


def downgrade():
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index("ix_outbox_messages_recipient")
        batch.drop_column("recipient")
