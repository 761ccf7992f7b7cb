"""admin: the site's settings, one row changed from the console

Revision ID: a41c2e7d9b03
Revises: a3c9e1f47b20
Create Date: 2026-12-07 00:45:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "a41c2e7d9b03"
down_revision = "a3c9e1f47b20"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "site_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("site_name", sa.String(length=60), nullable=True),
        sa.Column("tagline", sa.String(length=140), nullable=False),
        sa.Column("accent_colour", sa.String(length=7), nullable=True),
        sa.Column("logo_key", sa.String(length=64), nullable=True),
        sa.Column("share_image_key", sa.String(length=64), nullable=True),
        sa.Column("footer_text", sa.String(length=1000), nullable=False),
        sa.Column("registration_open", sa.Boolean(), nullable=False),
        sa.Column("ratelimit_posts", sa.String(length=60), nullable=True),
        sa.Column("ratelimit_threads", sa.String(length=60), nullable=True),
        sa.Column("ratelimit_reports", sa.String(length=60), nullable=True),
        sa.Column("ratelimit_sign", sa.String(length=60), nullable=True),
        sa.Column("ratelimit_register", sa.String(length=60), nullable=True),
        sa.Column("auto_hide_reports", sa.Integer(), nullable=True),
        sa.Column("abuse_email", sa.String(length=254), nullable=False),
        sa.Column("held_first_posts", sa.Integer(), nullable=False),
        sa.Column("links_after_posts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_site_settings_one_row")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_site_settings_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_settings")),
    )


def downgrade():
    op.drop_table("site_settings")
