"""when people were told: scheduled petition updates and held posts; users.notify_by_email goes

campaign_events.told_at: when signers were told of the event in the app. A scheduled update is
told by the worker once its time comes (one UPDATE ... WHERE told_at IS NULL claims it), so
every event already due is marked told here and is never told again; one still scheduled waits
for its time.

posts.told_at: when those a post concerns were told of it. A post held for review before anyone
heard of it stays null, and releasing it tells them once. Posts that were shown are marked told
here (a held post that was edited may have been held by the edit, after it was shown: marked
told too, so nobody hears of it twice).

users.notify_by_email: dead since the per-type notification choices replaced it (5c548d1b2340
turned it into each member's choices); the downgrade turns "replies by email" back into it.

The columns are added and dropped in place (recreate="never"): rebuilding `users` or `posts` on
SQLite would DROP the old table, and with foreign keys on that deletes every row that
cascades from it.

Revision ID: d9fc5d74eb89
Revises: 9b4d2e6f1a37
Create Date: 2026-12-07 07:10:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d9fc5d74eb89"
down_revision = "9b4d2e6f1a37"
branch_labels = None
depends_on = None

events = sa.table(
    "campaign_events",
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("told_at", sa.DateTime(timezone=True)),
)
posts = sa.table(
    "posts",
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("edited_at", sa.DateTime(timezone=True)),
    sa.column("is_hidden", sa.Boolean),
    sa.column("hidden_reason", sa.String),
    sa.column("told_at", sa.DateTime(timezone=True)),
)
users = sa.table("users", sa.column("id", sa.Integer), sa.column("notify_by_email", sa.Boolean))
preferences = sa.table(
    "notification_preferences", sa.column("user_id", sa.Integer), sa.column("choices", sa.Text)
)


def upgrade():
    with op.batch_alter_table("campaign_events", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("told_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        op.f("ix_campaign_events_told_at"), "campaign_events", ["told_at"], unique=False
    )
    now = datetime.now(UTC)
    op.execute(
        events.update()
        .where(events.c.occurred_at <= sa.bindparam("now", now, sa.DateTime(timezone=True)))
        .values(told_at=events.c.occurred_at)
    )

    with op.batch_alter_table("posts", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("told_at", sa.DateTime(timezone=True), nullable=True))
    never_shown = sa.and_(
        posts.c.is_hidden.is_(True), posts.c.hidden_reason == "held", posts.c.edited_at.is_(None)
    )
    op.execute(posts.update().where(sa.not_(never_shown)).values(told_at=posts.c.created_at))

    with op.batch_alter_table("users", recreate="never") as batch_op:
        batch_op.drop_column("notify_by_email")


def downgrade():
    with op.batch_alter_table("users", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column(
                "notify_by_email", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    # Replies by email (the default, or chosen) is what the switch said.
    reply_elsewhere = sa.select(preferences.c.user_id).where(
        preferences.c.choices.like('%"reply": "%'),
        preferences.c.choices.not_like('%"reply": "email"%'),
    )
    op.execute(
        users.update()
        .where(users.c.id.not_in(reply_elsewhere))
        .values(notify_by_email=sa.true())
    )

    with op.batch_alter_table("posts", recreate="never") as batch_op:
        batch_op.drop_column("told_at")

    op.drop_index(op.f("ix_campaign_events_told_at"), table_name="campaign_events")
    with op.batch_alter_table("campaign_events", recreate="never") as batch_op:
        batch_op.drop_column("told_at")
