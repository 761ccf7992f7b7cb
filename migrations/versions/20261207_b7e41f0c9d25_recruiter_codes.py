"""petitions: recruiter codes (members', guests' and organisers' named sources) and referrals

Revision ID: b7e41f0c9d25
Revises: 5c548d1b2340
Create Date: 2026-12-07 03:45:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e41f0c9d25"
down_revision = "5c548d1b2340"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "recruiter_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("signature_id", sa.Integer(), nullable=True),
        sa.Column("petition_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("is_shown", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(CASE WHEN user_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN signature_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN petition_id IS NULL THEN 0 ELSE 1 END) = 1",
            name=op.f("ck_recruiter_codes_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recruiter_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_recruiter_codes_signature_id_signatures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_recruiter_codes_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_recruiter_codes_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recruiter_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_recruiter_codes_code")),
        sa.UniqueConstraint("user_id", name=op.f("uq_recruiter_codes_user_id")),
        sa.UniqueConstraint("signature_id", name=op.f("uq_recruiter_codes_signature_id")),
        sa.UniqueConstraint(
            "petition_id", "label", name=op.f("uq_recruiter_codes_petition_label")
        ),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.Column("recruiter_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_referrals_signature_id_signatures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_referrals_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["code_id"],
            ["recruiter_codes.id"],
            name=op.f("fk_referrals_code_id_recruiter_codes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recruiter_id"],
            ["users.id"],
            name=op.f("fk_referrals_recruiter_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("signature_id", name=op.f("uq_referrals_signature_id")),
    )
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.create_index(
            "ix_referrals_petition_recruiter", ["petition_id", "recruiter_id"], unique=False
        )
        batch_op.create_index("ix_referrals_recruiter", ["recruiter_id"], unique=False)
        batch_op.create_index("ix_referrals_code", ["code_id"], unique=False)


def downgrade():
    op.drop_table("referrals")
    op.drop_table("recruiter_codes")
