"""moderation: a reason code on each audit-log row, for the public ledger

Rows written before it count as "other".

Revision ID: c7d2b9e4a160
Revises: a41c2e7d9b03
Create Date: 2026-12-07 01:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c7d2b9e4a160"
down_revision = "a41c2e7d9b03"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("moderation_actions") as batch_op:
        batch_op.add_column(
            sa.Column("reason_code", sa.String(length=20), nullable=False, server_default="other")
        )


def downgrade():
    with op.batch_alter_table("moderation_actions") as batch_op:
        batch_op.drop_column("reason_code")
