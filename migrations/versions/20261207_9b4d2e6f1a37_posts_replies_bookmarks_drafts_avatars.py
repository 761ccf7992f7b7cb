"""forum posts: the post a reply answers, bookmarks, drafts; uploaded avatars

posts.reply_to_id records which post a reply answers (its Reply button; no foreign key, see
forum/models.py); post_bookmarks keeps
the posts a member bookmarked; post_drafts keeps what a member was writing, one draft per
thread (a reply) and per category (a new thread); users.avatar_key names an uploaded picture
(none: the generated letter avatar).

Revision ID: 9b4d2e6f1a37
Revises: b7e41f0c9d25
Create Date: 2026-12-07 03:31:27

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9b4d2e6f1a37"
down_revision = "b7e41f0c9d25"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "post_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=150), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(thread_id IS NULL) <> (category_id IS NULL)", name=op.f("ck_post_drafts_one_place")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_post_drafts_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_post_drafts_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_post_drafts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_drafts")),
        sa.UniqueConstraint("user_id", "category_id", name="uq_post_drafts_user_category"),
        sa.UniqueConstraint("user_id", "thread_id", name="uq_post_drafts_user_thread"),
    )
    with op.batch_alter_table("post_drafts", schema=None) as batch_op:
        batch_op.create_index("ix_post_drafts_category", ["category_id"], unique=False)
        batch_op.create_index("ix_post_drafts_thread", ["thread_id"], unique=False)

    op.create_table(
        "post_bookmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_bookmarks_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_post_bookmarks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_bookmarks")),
        sa.UniqueConstraint("user_id", "post_id", name="uq_post_bookmarks_user_post"),
    )
    with op.batch_alter_table("post_bookmarks", schema=None) as batch_op:
        batch_op.create_index("ix_post_bookmarks_post", ["post_id"], unique=False)

    # Plain ALTER TABLE ... ADD/DROP COLUMN: no batch rebuild of posts or users, which on
    # SQLite (foreign keys on) would delete or orphan the rows pointing at them.
    op.add_column("posts", sa.Column("reply_to_id", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("avatar_key", sa.String(length=80), nullable=True))


def downgrade():
    op.drop_column("users", "avatar_key")
    op.drop_column("posts", "reply_to_id")

    with op.batch_alter_table("post_bookmarks", schema=None) as batch_op:
        batch_op.drop_index("ix_post_bookmarks_post")

    op.drop_table("post_bookmarks")
    with op.batch_alter_table("post_drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_post_drafts_thread")
        batch_op.drop_index("ix_post_drafts_category")

    op.drop_table("post_drafts")
