"""Queue mail in the caller's transaction; send it later (worker) or at once (demo, tests)."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from limits import parse as parse_limit

from fancampaign.extensions import db, utcnow
from fancampaign.mail.models import OutboxMessage

log = logging.getLogger("fancampaign.mail")


def queue_email(
    to: str,
    subject: str,
    body: str,
    *,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
    recipient: str | None = None,
) -> OutboxMessage:
    """Store a message in the outbox (flushed, not committed). A repeated dedupe_key is a no-op."""
    if dedupe_key is not None:
        existing = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return existing
    message = OutboxMessage(
        to=to, subject=subject[:200], body=body, dedupe_key=dedupe_key, recipient=recipient
    )
    if not_before is not None:
        # Held until then (a scheduled post's announcement): only the worker sends it.
        message.next_attempt_at = not_before
    db.session.add(message)
    db.session.flush()
    _pending_ids().append(message.id)
    return message


def queue_capped_email(
    to: str, subject: str, body: str, *, recipient: str, limit: str
) -> OutboxMessage | None:
    """Queue a message unless `limit` (Flask-Limiter syntax: "3 per hour") messages to this
    recipient (its normalised address) were queued within the limit's window; then queue
    nothing and return None. The caller answers the same either way.

    Counted in the outbox, so the cap holds across workers and hosts. On PostgreSQL a lock
    per recipient, held to the commit, makes concurrent callers count one after another
    (SQLite serialises writers already).
    """
    rate = parse_limit(limit)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(recipient, 0)))
        )
    since = utcnow() - timedelta(seconds=rate.get_expiry())
    queued = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.recipient == recipient, OutboxMessage.created_at > since)
    )
    if (queued or 0) >= rate.amount:
        log.info("mail: not queued, %d messages to one recipient within %s", queued, limit)
        return None
    return queue_email(to, subject, body, recipient=recipient)


def queue_again(message: OutboxMessage) -> None:
    """A message made due again (the admin console's resend): sent with the commit, as new
    mail is, when sending at once is on; else by the worker."""
    _pending_ids().append(message.id)


def _pending_ids() -> list[int]:
    # Messages queued in the open transaction; they become sendable only when it commits.
    if not has_app_context():
        return []
    if "mail_pending" not in g:
        g.mail_pending = []
    return g.mail_pending


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _on_commit(_session: sa.orm.Session) -> None:
    if has_app_context() and g.get("mail_pending"):
        g.mail_committed = [*g.get("mail_committed", []), *g.pop("mail_pending")]


@sa.event.listens_for(sa.orm.Session, "after_transaction_end")
def _on_transaction_end(_session: sa.orm.Session, transaction: Any) -> None:
    # A rolled-back (or closed) outer transaction took its messages with it: never send them.
    if transaction.parent is None and has_app_context():
        g.pop("mail_pending", None)


def render_message(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email.set_content(message.body)
    return email


def console_text(email: EmailMessage) -> str:
    """The message as a person reads it: its headers, then the decoded body."""
    headers = "".join(f"{name}: {email[name]}\n" for name in ("From", "To", "Subject"))
    body = email.get_content()
    return f"{headers}\n{body if body.endswith(chr(10)) else body + chr(10)}"


def deliver(message: OutboxMessage) -> None:
    """Hand one message to the configured backend; raises on failure."""
    config = current_app.config
    email = render_message(message, config["MAIL_FROM"])
    backend = config["MAIL_BACKEND"]
    if backend == "console":
        # Printed decoded and once: a quoted-printable body would break the links in it.
        print(f"\n----- email -----\n{console_text(email)}----- end of email -----", flush=True)
    elif backend == "smtp":
        with smtplib.SMTP(config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], timeout=30) as smtp:
            if config["MAIL_SMTP_STARTTLS"]:
                smtp.starttls()
            if config["MAIL_SMTP_USERNAME"]:
                smtp.login(config["MAIL_SMTP_USERNAME"], config["MAIL_SMTP_PASSWORD"] or "")
            smtp.send_message(email)
    elif backend == "memory":
        current_app.extensions.setdefault("mail_outbox", []).append(email)
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def send_due(limit: int = 100) -> tuple[int, int]:
    """Send due messages, oldest first; failures are retried later with backoff, never lost.

    Returns (sent, failed). Commits after each message so a crash loses nothing.
    """
    now = utcnow()
    query = (
        sa.select(OutboxMessage)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        # Several workers can run at once: each takes its own rows.
        query = query.with_for_update(skip_locked=True)
    messages = list(db.session.scalars(query))
    return _send(messages)


def send_ids(ids: list[int]) -> tuple[int, int]:
    """Send the given (just committed) messages now."""
    if not ids:
        return 0, 0
    messages = list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.next_attempt_at <= utcnow(),
            )
            .order_by(OutboxMessage.id)
        )
    )
    return _send(messages)


def _send(messages: list[OutboxMessage]) -> tuple[int, int]:
    sent = failed = 0
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    for message in messages:
        message.attempts += 1
        try:
            deliver(message)
        except Exception as exc:  # any backend failure: keep the message, try again later
            failed += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= max_attempts:
                message.failed_at = utcnow()
            else:
                message.next_attempt_at = utcnow() + timedelta(seconds=30 * 2**message.attempts)
            log.warning("mail %s to %s failed: %s", message.id, message.to, message.last_error)
        else:
            sent += 1
            message.sent_at = utcnow()
            message.last_error = None
        db.session.commit()
    return sent, failed


def flush_after_commit(response: Any = None) -> Any:
    """After a request, send what its committed transactions queued when sending at once is on."""
    ids = g.pop("mail_committed", None)
    if ids and current_app.config.get("MAIL_SEND_IMMEDIATELY"):
        try:
            send_ids(ids)
        except Exception:  # the messages stay in the outbox for the worker
            log.exception("immediate send failed; the worker will retry")
            db.session.rollback()
    return response
