"""Tell people what happened to them: in the app, and by email when they asked for it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow
from fancampaign.mail.services import queue_email
from fancampaign.notifications.models import Notification
from fancampaign.urls import base_url as site_url

# Kinds that are always emailed (decisions about you), whatever the notification setting.
ALWAYS_EMAILED = {"moderation"}


def notify(
    user: User,
    kind: str,
    text: str,
    url: str = "",
    *,
    actor: User | None = None,
    email_body: str | None = None,
    base_url: str | None = None,
) -> Notification | None:
    """Add an in-app notification (never to the actor themselves or to deleted accounts)."""
    if user.is_deleted or (actor is not None and actor.id == user.id):
        return None
    notification = Notification(
        user_id=user.id,
        kind=kind,
        text=text[:500],
        url=url[:500],
        actor_id=actor.id if actor else None,
    )
    db.session.add(notification)
    user.loaded_unread = None  # what the login read is out of date now
    wants_email = user.notify_by_email or kind in ALWAYS_EMAILED
    if wants_email and user.email and user.is_confirmed:
        root = site_url() if base_url is None else base_url
        body = email_body or f"{text}\n\n{root}{url}\n"
        queue_email(user.email, text[:200], body)
    db.session.flush()
    return notification


# A Core statement on the table, built once: every logged-in page runs it (for the header), and
# it costs half as much CPU as the same query through the ORM.
_notifications = Notification.__table__
_UNREAD_COUNT = (
    sa.select(sa.func.count())
    .select_from(_notifications)
    .where(_notifications.c.user_id == sa.bindparam("user_id"), _notifications.c.read_at.is_(None))
)


def unread_count(user: Any) -> int:
    """How many unread notifications the user has (read with the session's user, if so)."""
    loaded = getattr(user, "loaded_unread", None)
    if loaded is not None:
        return int(loaded)
    return db.session.scalar(_UNREAD_COUNT, {"user_id": user.id}) or 0


def mark_read(user: User, notification_id: int | None = None) -> int:
    """Mark one notification (or all) as read; returns how many changed."""
    stmt = sa.update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    result = db.session.execute(stmt.values(read_at=utcnow()))
    user.loaded_unread = None  # what the login read is out of date now
    return result.rowcount or 0


def list_for(user: User) -> sa.Select[tuple[Notification]]:
    """The user's notifications, newest first."""
    return (
        sa.select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
    )


def export_for(user: User) -> list[dict[str, Any]]:
    """The user's notifications for "export my data"."""
    rows = db.session.scalars(list_for(user))
    return [
        {
            "kind": n.kind,
            "text": n.text,
            "url": n.url,
            "created_at": n.created_at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at else None,
        }
        for n in rows
    ]


def erase_for(user: User) -> None:
    """Delete the notifications addressed to an account being erased."""
    db.session.execute(sa.delete(Notification).where(Notification.user_id == user.id))
