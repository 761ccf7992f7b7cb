"""The outbox: mail is stored in the transaction that caused it, then sent by the worker."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fancampaign.extensions import db, utcnow


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.Index("ix_outbox_messages_due", "sent_at", "next_attempt_at"),
        sa.Index("ix_outbox_messages_recipient", "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    # A key that makes a message idempotent (e.g. "petition-update:7:42"): one send per key.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    # The normalised address, for mail capped per recipient (queue_capped_email); else None.
    recipient: Mapped[str | None] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None]
    # Given up after MAIL_MAX_ATTEMPTS: kept for the record, never silently dropped.
    failed_at: Mapped[datetime | None]
