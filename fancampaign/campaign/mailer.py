"""The campaign mail worker: claim due rows, render each from one template (plain text and
HTML), send them over one SMTP connection per batch, under a per-minute ceiling.

Claiming: `UPDATE ... SET claimed_until = now + lease WHERE id IN (SELECT ... FOR UPDATE
SKIP LOCKED) RETURNING id`, committed before anything is sent. On PostgreSQL, SKIP LOCKED lets
concurrent workers take disjoint rows; on SQLite the one-writer lock makes the statement
atomic. A worker that dies mid-batch leaves its rows claimed until the lease ends; then they
are due again (at least once, never twice while a worker lives).

SMTP unreachable: every claimed row is released with a later `next_attempt_at`, and such
failures never give a mail up: they go out once the server is back. A message the server
refuses for its recipient counts toward MAIL_MAX_ATTEMPTS like the outbox's.
"""

from __future__ import annotations

import contextlib
import email
import html
import logging
import smtplib
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.policy import default as default_policy
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import joinedload

from fancampaign.campaign.models import CampaignEvent, CampaignMail
from fancampaign.campaign.services import sweep_milestones, tell_due, unsubscribe_token
from fancampaign.extensions import db, utcnow
from fancampaign.notifications.services import work_once as notification_mail
from fancampaign.petitions.models import Petition, Signature
from fancampaign.petitions.services import manage_token

log = logging.getLogger("fancampaign.campaign")

TEMPLATE = "mail/campaign_event.html"
# Errors that say the server could not be reached (or dropped us): nobody's fault, retry all.
# Headers stay on one line (well under SMTP's 998): a List-Unsubscribe URL is never folded.
NO_FOLDING = compat32.clone(max_line_length=None)
UNREACHABLE = (OSError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)


def _due(now: Any) -> sa.ColumnElement[bool]:
    return sa.and_(
        CampaignMail.sent_at.is_(None),
        CampaignMail.failed_at.is_(None),
        CampaignMail.next_attempt_at <= now,
        sa.or_(CampaignMail.claimed_until.is_(None), CampaignMail.claimed_until < now),
    )


def claim(limit: int, lease_seconds: int = 300) -> list[int]:
    """Take up to `limit` due mails for this worker (committed); their ids, oldest first."""
    if limit <= 0:
        return []
    now = utcnow()
    pick = sa.select(CampaignMail.id).where(_due(now)).order_by(CampaignMail.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(
        db.session.scalars(
            sa.update(CampaignMail)
            .where(CampaignMail.id.in_(pick.scalar_subquery()))
            .values(
                claimed_until=now + timedelta(seconds=lease_seconds),
                attempts=CampaignMail.attempts + 1,
            )
            .returning(CampaignMail.id)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    return sorted(ids)


def sent_recently() -> int:
    """Mails sent in the last minute, plus those in flight (claimed): by every worker."""
    now = utcnow()
    return int(
        db.session.scalar(
            sa.select(sa.func.count()).where(
                sa.or_(
                    CampaignMail.sent_at >= now - timedelta(seconds=60),
                    sa.and_(CampaignMail.sent_at.is_(None), CampaignMail.claimed_until > now),
                )
            )
        )
        or 0
    )


def render(mail: CampaignMail, event: CampaignEvent, signature: Signature) -> Message:
    """The message for one signer: plain text and HTML from one template, unsubscribe headers."""
    config = current_app.config
    secret = config["SECRET_KEY"]
    base = config["BASE_URL"].rstrip("/")
    petition: Petition = signature.petition
    stop_petition = f"{base}/unsubscribe/{unsubscribe_token(mail.id, 'petition', secret)}"
    context = {
        "event": event,
        "petition": petition,
        "name": signature.user.name if signature.user is not None else signature.name,
        "event_url": (base + event.url) if event.url.startswith("/") else event.url,
        "petition_url": f"{base}/petitions/{petition.slug}",
        "manage_url": f"{base}/signatures/manage/{manage_token(signature, secret)}",
        "stop_petition_url": stop_petition,
        "stop_all_url": f"{base}/unsubscribe/{unsubscribe_token(mail.id, 'all', secret)}",
    }
    template = current_app.jinja_env.get_template(TEMPLATE)
    # In text mode the template's only escaping is of the values put in, so unescape undoes it.
    text = html.unescape(template.render(context, html=False)).strip() + "\n"
    # The MIME classes (compat32) build a message without parsing each header back: several
    # times cheaper than EmailMessage, and a long URL header is never folded or encoded.
    message = MIMEMultipart("alternative", policy=NO_FOLDING)
    message["From"] = config["MAIL_FROM"]
    message["To"] = mail.email
    message["Subject"] = Header(f"{event.label}: {petition.title}"[:200], "utf-8")
    message["List-Unsubscribe"] = f"<{stop_petition}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(template.render(context, html=True), "html", "utf-8"))
    return message


@contextlib.contextmanager
def transport() -> Iterator[Callable[[Message], None]]:
    """A sender for one batch: one SMTP connection (or the console / memory backend)."""
    config = current_app.config
    backend = config["MAIL_BACKEND"]
    if backend == "smtp":
        # Our name in EHLO from BASE_URL: smtplib's default asks DNS (getfqdn), which can hang.
        me = urlsplit(config["BASE_URL"]).hostname or "localhost"
        host, port = config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"]
        with smtplib.SMTP(host, port, local_hostname=me, timeout=30) as smtp:
            if config["MAIL_SMTP_STARTTLS"]:
                smtp.starttls()
            if config["MAIL_SMTP_USERNAME"]:
                smtp.login(config["MAIL_SMTP_USERNAME"], config["MAIL_SMTP_PASSWORD"] or "")
            yield smtp.send_message
    elif backend == "memory":
        # Kept as a reader parses it off the wire (what tests look at).
        kept = current_app.extensions.setdefault("mail_outbox", [])
        yield lambda message: kept.append(
            email.message_from_bytes(message.as_bytes(), policy=default_policy)
        )
    elif backend == "console":
        yield lambda email: print(f"\n----- email -----\n{email}\n----- end of email -----")
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def _retry_at(attempts: int) -> Any:
    base = current_app.config["CAMPAIGN_MAIL_RETRY_SECONDS"]
    return utcnow() + timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def send_batch(limit: int | None = None) -> tuple[int, int]:
    """Claim and send one batch within the per-minute ceiling; (sent, failed or retried)."""
    config = current_app.config
    room = min(
        limit or config["CAMPAIGN_MAIL_BATCH"],
        config["CAMPAIGN_MAIL_PER_MINUTE"] - sent_recently(),
    )
    # End the read before claiming: on SQLite a read transaction cannot become a write while
    # another worker writes (it fails at once instead of waiting).
    db.session.commit()
    ids = claim(room)
    if not ids:
        return 0, 0
    mails = list(
        db.session.scalars(
            sa.select(CampaignMail)
            .options(joinedload(CampaignMail.event))
            .where(CampaignMail.id.in_(ids))
            .order_by(CampaignMail.id)
        )
    )
    signatures = {
        s.id: s
        for s in db.session.scalars(
            sa.select(Signature)
            .options(joinedload(Signature.petition), joinedload(Signature.user))
            .where(Signature.id.in_({m.signature_id for m in mails}))
        )
    }
    messages = {}
    for mail in mails:
        signature = signatures.get(mail.signature_id)
        if signature is not None:  # else withdrawn meanwhile: nothing to send
            messages[mail.id] = render(mail, mail.event, signature)
    attempts = {mail.id: mail.attempts for mail in mails}
    # Nothing is read after this: the settling transaction starts with its writes (on SQLite a
    # read snapshot could not become a write while another worker writes).
    db.session.commit()
    outcome: dict[int, str | None] = {m: "gone" for m in attempts if m not in messages}
    error = ""
    try:
        with transport() as send:
            for mail_id, message in messages.items():
                try:
                    send(message)
                except UNREACHABLE:
                    raise
                except smtplib.SMTPException as exc:
                    outcome[mail_id] = f"{type(exc).__name__}: {exc}"[:2000]
                else:
                    outcome[mail_id] = None
    except UNREACHABLE as exc:
        log.warning(
            "SMTP unreachable (%s): %d mails stay queued", exc, len(attempts) - len(outcome)
        )
        error = f"unreachable: {type(exc).__name__}: {exc}"[:2000]
    return _settle(attempts, outcome, error)


def _set(ids: list[int], **values: Any) -> None:
    if ids:
        db.session.execute(
            sa.update(CampaignMail)
            .where(CampaignMail.id.in_(ids))
            .values(claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )


def _settle(
    attempts: dict[int, int], outcome: dict[int, str | None], error: str
) -> tuple[int, int]:
    """Record each claimed mail's fate and release the claims, in one transaction."""
    now = utcnow()
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    sent = [m for m, problem in outcome.items() if problem is None]
    _set(sent, sent_at=now, last_error=None)
    _set([m for m, p in outcome.items() if p == "gone"], failed_at=now, last_error="withdrawn")
    refused = [(m, p) for m, p in outcome.items() if p not in (None, "gone")]
    untried = [m for m in attempts if m not in outcome]  # the server went away first
    for mail_id, problem in refused:
        if attempts[mail_id] >= max_attempts:
            _set([mail_id], failed_at=now, last_error=problem)
        else:
            _set([mail_id], next_attempt_at=_retry_at(attempts[mail_id]), last_error=problem)
    for mail_id in untried:
        _set([mail_id], next_attempt_at=_retry_at(attempts[mail_id]), last_error=error)
    db.session.commit()
    return len(sent), len(refused) + len(untried)


def pending() -> int:
    """Mails waiting to go out (due or not)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count()).where(
                CampaignMail.sent_at.is_(None), CampaignMail.failed_at.is_(None)
            )
        )
        or 0
    )


def next_send_time() -> Any:
    """When the next waiting mail becomes due (None when nothing waits)."""
    return db.session.scalar(
        sa.select(sa.func.min(CampaignMail.next_attempt_at)).where(
            CampaignMail.sent_at.is_(None), CampaignMail.failed_at.is_(None)
        )
    )


def work_once() -> tuple[int, int]:
    """One round of the worker: notification mail whose quiet period ended and digests (into
    the outbox), the outbox, the milestones, the comments of scheduled news that came due,
    then a batch of campaign mail."""
    from fancampaign.mail.services import send_due

    try:
        notification_mail()
    except Exception:  # a failed batch or digest stays waiting; the mail already queued goes
        db.session.rollback()
        log.exception("notification mail round failed")
    outbox_sent, outbox_failed = send_due()
    db.session.commit()
    from fancampaign.news.services import open_due_discussions

    for sweep in (sweep_milestones, tell_due, open_due_discussions):
        try:
            sweep()
            db.session.commit()
        except Exception:  # a sweep that fails must not stop the mail
            db.session.rollback()
            log.exception("%s failed", sweep.__name__)
    sent, failed = send_batch()
    return outbox_sent + sent, outbox_failed + failed


class BackgroundWorker:
    """The worker in a thread of this process (the demo): started and stopped with it."""

    def __init__(self, app: Flask, interval: float = 2.0) -> None:
        self.app = app
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mail-worker", daemon=True)

    def start(self) -> BackgroundWorker:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            busy = False
            with self.app.app_context():
                try:
                    sent, _failed = work_once()
                    busy = sent > 0
                except Exception:  # keep the thread alive: the next round retries
                    db.session.rollback()
                    log.exception("mail worker round failed")
                finally:
                    db.session.remove()
            if not busy:
                self.stopping.wait(self.interval)
