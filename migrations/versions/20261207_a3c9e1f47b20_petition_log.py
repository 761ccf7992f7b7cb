"""ledger: each petition's signature log (entries, complete subtrees, signed checkpoints)

Existing confirmed signatures get their `add` entries here, in id order, so the log counts
what the petitions count from the start; the first checkpoint places them in the tree.

Revision ID: a3c9e1f47b20
Revises: cd214d9eb528
Create Date: 2026-12-07 00:50:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a3c9e1f47b20"
down_revision = "cd214d9eb528"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "petition_logs",
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("standing", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_petition_logs_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("petition_id", name=op.f("pk_petition_logs")),
    )
    op.create_table(
        "log_entries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("withdraws_id", sa.BigInteger(), nullable=True),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('add', 'withdraw')", name=op.f("ck_log_entries_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_log_entries_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_entries")),
        sa.UniqueConstraint("petition_id", "leaf_index", name="uq_log_entries_petition_leaf"),
    )
    op.create_index(
        "ix_log_entries_petition_signature", "log_entries", ["petition_id", "signature_id"]
    )
    op.create_index("ix_log_entries_petition_hash", "log_entries", ["petition_id", "leaf_hash"])
    op.create_table(
        "log_nodes",
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_log_nodes_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("petition_id", "level", "idx", name=op.f("pk_log_nodes")),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("standing_count", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=10), nullable=False),
        sa.Column("created_at_text", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_log_checkpoints_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_checkpoints")),
        sa.UniqueConstraint("petition_id", "number", name="uq_log_checkpoints_petition_number"),
    )
    op.execute(
        "INSERT INTO log_entries (petition_id, kind, signature_id, created_at) "
        "SELECT petition_id, 'add', id, confirmed_at FROM signatures "
        "WHERE confirmed_at IS NOT NULL ORDER BY id"
    )


def downgrade():
    op.drop_table("log_checkpoints")
    op.drop_table("log_nodes")
    op.drop_index("ix_log_entries_petition_hash", table_name="log_entries")
    op.drop_index("ix_log_entries_petition_signature", table_name="log_entries")
    op.drop_table("log_entries")
    op.drop_table("petition_logs")
