"""Tell people what happened to them: in the app, and by email or in a digest as they chose.

`notify` is the one place every producer goes through: it applies the member's choice for the
notification's type (`models.TYPES`: in the app, email, digest, off), groups what belongs
together into one row ("3 new replies in …", "Koyomi and 4 others liked …") and puts thread
mail into a batch that the worker sends once its quiet period ends (one mail per thread per
NOTIFICATION_MAIL_QUIET however many replies). Who is told at all (watch levels, mutes) is the
producer's business: the forum asks forum/tracking.py.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError

from fancampaign import signals
from fancampaign.accounts.models import User
from fancampaign.errors import InvalidInput
from fancampaign.extensions import db, utcnow
from fancampaign.mail.services import queue_email
from fancampaign.notifications.models import (
    APP,
    APP_ONLY,
    CHANNELS,
    DEFAULTS,
    DIGEST,
    DIGEST_FREQUENCIES,
    EMAIL,
    NOT_OFF,
    OFF,
    TYPE_OF_KIND,
    Notification,
    NotificationEmail,
    NotificationPreference,
)
from fancampaign.urls import base_url as site_url

log = logging.getLogger("fancampaign.notifications")

DEFAULT_QUIET = timedelta(minutes=10)


# Choices ----------------------------------------------------------------------------------


def type_of(kind: str) -> str:
    """The settings type whose choice applies to a notification of this kind."""
    return TYPE_OF_KIND.get(kind, kind)


def preferences(user: Any) -> NotificationPreference | None:
    """The member's stored choices, or None (every default)."""
    return db.session.get(NotificationPreference, user.id)


def channels_for(user: Any) -> dict[str, str]:
    """The member's channel for every type (their choices over the defaults)."""
    stored = preferences(user)
    chosen = json.loads(stored.choices or "{}") if stored is not None else {}
    return {name: chosen.get(name, default) for name, default in DEFAULTS.items()}


def channel_for(user: Any, kind: str) -> str:
    """The member's channel for a notification of this kind."""
    stored = preferences(user)
    name = type_of(kind)
    if stored is None:
        return DEFAULTS.get(name, APP)
    return stored.channel(name)


def digest_frequency(user: Any) -> str:
    stored = preferences(user)
    return stored.digest if stored is not None else "weekly"


def save_preferences(user: User, choices: dict[str, str], digest: str) -> NotificationPreference:
    """Store a member's channel per type and digest frequency; raises InvalidInput for a
    channel or frequency that does not exist, or moderation turned off."""
    for name, channel in choices.items():
        if name not in DEFAULTS:
            raise InvalidInput("Unknown notification type.", field=name)
        if (
            channel not in CHANNELS
            or (channel == OFF and name in NOT_OFF)
            or (channel not in (APP, OFF) and name in APP_ONLY)
        ):
            raise InvalidInput("Choose one of the offered options.", field=name)
    if digest not in DIGEST_FREQUENCIES:
        raise InvalidInput("Choose daily or weekly.", field="digest")
    stored = preferences(user)
    if stored is None:
        stored = NotificationPreference(user_id=user.id)
        db.session.add(stored)
    changed = {name: channel for name, channel in choices.items() if channel != DEFAULTS[name]}
    stored.choices = json.dumps(changed, sort_keys=True)
    stored.digest = digest
    stored.wants_digest = DIGEST in {**DEFAULTS, **choices}.values()
    db.session.flush()
    return stored


# Notifying --------------------------------------------------------------------------------


def notify(
    user: User,
    kind: str,
    text: str,
    url: str = "",
    *,
    actor: User | None = None,
    email_body: str | None = None,
    base_url: str | None = None,
    thread_id: int | None = None,
    subject: str = "",
    group_key: str | None = None,
    email_line: str | None = None,
) -> Notification | None:
    """Tell a member, as their choice for the kind's type says; never the actor themselves,
    never a deleted account. Returns the (new or grouped) row, None when nothing was added.

    `group_key`: events with the same key add up in one unread row. `thread_id`: its mail is
    batched per thread (`email_line` is the event's line in it); mail about anything else is
    queued at once.
    """
    if user.is_deleted or (actor is not None and actor.id == user.id):
        return None
    channel = channel_for(user, kind)
    if channel == OFF:
        return None
    notification = _add(user, kind, text, url, actor, thread_id, subject, group_key)
    user.loaded_unread = None  # what the login read is out of date now
    if channel == EMAIL and user.email and user.is_confirmed:
        root = site_url() if base_url is None else base_url
        if thread_id is not None:
            _batch_email(user, f"thread:{thread_id}", subject or text, email_line or text, url)
        else:
            body = email_body or f"{text}\n\n{root}{url}\n"
            queue_email(user.email, text[:200], body)
    db.session.flush()
    return notification


def notify_all(user_ids: sa.Select[Any], kind: str, text: str, url: str = "") -> int:
    """Tell many members at once, in the app only (one INSERT ... SELECT): those of `user_ids`
    whose account stands and who have not turned the kind's type off. For notices whose mail
    goes another way (petition updates: the campaign mail to signers). Returns how many."""
    now = utcnow()
    off = f'%"{type_of(kind)}": "{OFF}"%'
    turned_off = sa.exists().where(
        NotificationPreference.user_id == User.id, NotificationPreference.choices.like(off)
    )
    rows = sa.select(
        User.id,
        sa.literal(kind, sa.String),
        sa.literal(text[:500], sa.String),
        sa.literal(url[:500], sa.String),
        sa.literal(now, Notification.__table__.c.created_at.type),
        sa.literal(now, Notification.__table__.c.updated_at.type),
        sa.literal(1, sa.Integer),
        sa.literal("", sa.String),
    ).where(User.id.in_(user_ids), User.deleted_at.is_(None), ~turned_off)
    result = db.session.execute(
        sa.insert(Notification).from_select(
            ["user_id", "kind", "text", "url", "created_at", "updated_at", "count", "subject"],
            rows,
        )
    )
    return max(int(result.rowcount or 0), 0)


def _add(
    user: User,
    kind: str,
    text: str,
    url: str,
    actor: User | None,
    thread_id: int | None,
    subject: str,
    group_key: str | None,
) -> Notification:
    now = utcnow()
    if group_key is not None:
        grouped = _add_to_group(user.id, group_key, actor, now)
        if grouped is not None:
            return grouped
    notification = Notification(
        user_id=user.id,
        kind=kind,
        text=text[:500],
        url=url[:500],
        actor_id=actor.id if actor else None,
        thread_id=thread_id,
        group_key=group_key,
        subject=subject[:200],
        created_at=now,
        updated_at=now,
    )
    if group_key is None:
        db.session.add(notification)
        return notification
    try:
        with db.session.begin_nested():
            db.session.add(notification)
    except IntegrityError:  # a concurrent event opened the group first: join it
        grouped = _add_to_group(user.id, group_key, actor, now)
        if grouped is None:  # pragma: no cover - the row that won the race is there
            raise
        return grouped
    return notification


def _add_to_group(
    user_id: int, group_key: str, actor: User | None, now: datetime
) -> Notification | None:
    """Count one more event in the member's unread row of this group; None if there is none."""
    values: dict[str, Any] = {"count": Notification.count + 1, "updated_at": now}
    if actor is not None:
        values["actor_id"] = actor.id
    # The row comes back with the UPDATE (populating the session's copy, if it has one).
    return db.session.scalars(
        sa.update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.group_key == group_key,
            Notification.read_at.is_(None),
        )
        .values(**values)
        .returning(Notification),
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).first()


def _quiet() -> timedelta:
    if not has_app_context():
        return DEFAULT_QUIET
    value = current_app.config.get("NOTIFICATION_MAIL_QUIET", DEFAULT_QUIET)
    # From the environment it is a number of seconds.
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


def _batch_email(user: User, key: str, subject: str, line: str, url: str) -> None:
    """Add a line to the member's open mail for this key, or open one, due when the quiet
    period ends (from the first event, so busy threads are never held back for ever)."""
    line = line.replace("\n", " ")[:300] + "\n"
    if _append_line(user.id, key, line):
        return
    try:
        with db.session.begin_nested():
            db.session.add(
                NotificationEmail(
                    user_id=user.id,
                    batch_key=key,
                    subject=subject[:200],
                    lines=line,
                    count=1,
                    url=url[:500],
                    due_at=utcnow() + _quiet(),
                )
            )
    except IntegrityError:  # a concurrent event opened it first
        if not _append_line(user.id, key, line):  # pragma: no cover
            raise


def _append_line(user_id: int, key: str, line: str) -> bool:
    result = db.session.execute(
        sa.update(NotificationEmail)
        .where(
            NotificationEmail.user_id == user_id,
            NotificationEmail.batch_key == key,
            NotificationEmail.queued_at.is_(None),
        )
        .values(
            lines=NotificationEmail.lines + sa.literal(line, sa.Text),
            count=NotificationEmail.count + 1,
        ),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)


def drop_pending_mail(user: Any, thread_id: int) -> None:
    """Forget the mail still waiting about one thread (the member muted it)."""
    db.session.execute(
        sa.delete(NotificationEmail).where(
            NotificationEmail.user_id == user.id,
            NotificationEmail.batch_key == f"thread:{thread_id}",
            NotificationEmail.queued_at.is_(None),
        ),
        execution_options={"synchronize_session": False},
    )


# The worker: batched mail and digests -------------------------------------------------------


def send_batched_mail(now: datetime | None = None, limit: int = 200) -> int:
    """Put each batch whose quiet period has ended into the outbox as one message (the outbox
    sends it, retrying while SMTP is down); returns how many. Commits once for the lot: a
    crash before it leaves every batch waiting, after it every message queued."""
    now = now or utcnow()
    query = (
        sa.select(NotificationEmail)
        .where(NotificationEmail.queued_at.is_(None), NotificationEmail.due_at <= now)
        .order_by(NotificationEmail.id)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # several workers take their own rows
    batches = list(db.session.scalars(query))
    root = site_url()
    users = _users({batch.user_id for batch in batches})
    queued = 0
    for batch in batches:
        batch.queued_at = now
        user = users.get(batch.user_id)
        if user is None or user.is_deleted or not user.email or not user.is_confirmed:
            continue
        queue_email(
            user.email,
            _batch_subject(batch),
            _batch_body(batch, root),
            dedupe_key=f"notification-mail:{batch.id}",
        )
        queued += 1
    db.session.commit()
    return queued


def _users(ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def _batch_subject(batch: NotificationEmail) -> str:
    if batch.count == 1:
        return batch.lines.strip()[:200]
    return f"{batch.count} new posts in “{batch.subject}”"[:200]


def _batch_body(batch: NotificationEmail, root: str) -> str:
    lines = "".join(f"- {line}\n" for line in batch.lines.splitlines() if line)
    return (
        f"{batch.count} new in “{batch.subject}”:\n\n{lines}\n"
        f"Read from the first unread post: {root}{batch.url}\n\n"
        f"Choose what we email you: {root}/settings/notifications\n"
    )


def digest_period(frequency: str, now: datetime) -> tuple[datetime, datetime, str]:
    """The last whole period before `now`: (start, end, its name). Days and ISO weeks (from
    Monday) in UTC."""
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    if frequency == "daily":
        start = today - timedelta(days=1)
        return start, today, start.strftime("%Y-%m-%d")
    end = today - timedelta(days=today.weekday())
    start = end - timedelta(days=7)
    year, week, _day = start.isocalendar()
    return start, end, f"{year}-W{week:02d}"


# Receivers of signals.digest_sections return (order, title, [line, ...]) for a member's
# digest of a period; a line is text with its absolute link.
Section = tuple[int, str, list[str]]


def digest_for(user: User, start: datetime, end: datetime) -> list[Section]:
    """What a member's digest for [start, end) holds: their digest-routed notifications, and
    what the areas add (the forum: activity in watched threads and categories, when the
    member routes watched threads to the digest)."""
    channels = channels_for(user)
    root = site_url()
    sections: list[Section] = []
    digested = [kind for kind, channel in channels.items() if channel == DIGEST]
    kinds = {k for k in (*digested, *TYPE_OF_KIND) if type_of(k) in digested}
    # Watched threads come from the forum's own section, not one line per notification.
    kinds -= {"watching", "new_thread"}
    if kinds:
        rows = db.session.scalars(
            sa.select(Notification)
            .where(
                Notification.user_id == user.id,
                Notification.kind.in_(sorted(kinds)),
                Notification.updated_at >= start,
                Notification.updated_at < end,
            )
            .order_by(Notification.updated_at)
            .options(sa.orm.joinedload(Notification.actor))
        )
        lines = [f"{n.display_text}: {root}{n.url}" if n.url else n.display_text for n in rows]
        if lines:
            sections.append((10, "For you", lines))
    if channels["watching"] == DIGEST:
        for _receiver, found in signals.digest_sections.send(user, start=start, end=end, root=root):
            if found:
                sections.extend(found)
    return sorted(sections, key=lambda s: s[0])


def send_digests(now: datetime | None = None, limit: int = 200) -> int:
    """Queue the digest of the last whole period for each member who routes something to it
    and has not had it; never twice for a period (the member's mark, and the outbox's key
    per member per period). Empty digests are not sent. Returns how many were queued."""
    now = now or utcnow()
    pref = NotificationPreference
    due = sa.or_(
        pref.digest_sent_until.is_(None),
        sa.and_(pref.digest == "daily", pref.digest_sent_until <= now - timedelta(days=1)),
        sa.and_(pref.digest == "weekly", pref.digest_sent_until <= now - timedelta(days=7)),
    )
    rows = list(
        db.session.scalars(
            sa.select(pref)
            .where(pref.wants_digest.is_(True), due)
            .order_by(pref.user_id)
            .limit(limit)
        )
    )
    users = _users({row.user_id for row in rows})
    queued = 0
    for row in rows:
        start, end, name = digest_period(row.digest, now)
        if row.digest_sent_until is not None and row.digest_sent_until >= end:
            continue  # this period is done (the frequency changed since)
        row.digest_sent_until = end
        user = users.get(row.user_id)
        if user is None or user.is_deleted or not user.email or not user.is_confirmed:
            continue
        sections = digest_for(user, start, end)
        if not sections:
            continue
        queue_email(
            user.email,
            f"Your {row.digest} digest ({name})",
            _digest_body(user, row.digest, name, sections),
            dedupe_key=f"digest:{user.id}:{name}",
        )
        queued += 1
    db.session.commit()
    return queued


def _digest_body(user: User, frequency: str, name: str, sections: list[Section]) -> str:
    parts = [f"Hello {user.name},\n\nWhat happened in the period {name}:\n"]
    for _order, title, lines in sections:
        parts.append(f"\n{title}\n" + "".join(f"- {line}\n" for line in lines))
    parts.append(
        f"\nYou get this {frequency} digest because you chose it. "
        f"Change it: {site_url()}/settings/notifications\n"
    )
    return "".join(parts)


def work_once(now: datetime | None = None) -> int:
    """The worker's round for notifications: batches whose quiet period ended, then digests."""
    return send_batched_mail(now) + send_digests(now)


# Reading ----------------------------------------------------------------------------------


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


def mark_thread_read(user: Any, thread_id: int) -> int:
    """Mark the member's notifications about a thread read (they have read it to the end)."""
    result = db.session.execute(
        sa.update(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.thread_id == thread_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    user.loaded_unread = None
    return result.rowcount or 0


def list_for(user: User) -> sa.Select[tuple[Notification]]:
    """The user's notifications, the latest activity first, with their actors."""
    return (
        sa.select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.updated_at.desc(), Notification.id.desc())
        .options(sa.orm.joinedload(Notification.actor))
    )


def export_for(user: User) -> list[dict[str, Any]]:
    """The user's notifications for "export my data"."""
    rows = db.session.scalars(list_for(user))
    return [
        {
            "kind": n.kind,
            "text": n.display_text,
            "url": n.url,
            "created_at": n.created_at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at else None,
        }
        for n in rows
    ]


def erase_for(user: User) -> None:
    """Delete the notifications, choices and waiting mail of an account being erased."""
    for model in (Notification, NotificationEmail, NotificationPreference):
        db.session.execute(sa.delete(model).where(model.user_id == user.id))
