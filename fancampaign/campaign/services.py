"""The campaign after signing: the only code that writes its events, mail queue, deliveries,
response links and responses.

Every event that signers hear about is a `CampaignEvent` row; its mail is queued in the same
transaction by one `INSERT ... SELECT` over the petition's signatures (one row per signer who
asked for updates and has not opted out of all campaign mail), never a Python loop over
signers: queueing is one statement however many signed. The worker (campaign/mailer.py)
renders and sends the rows later.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import joinedload

from fancampaign import policies
from fancampaign.accounts.models import User
from fancampaign.campaign.models import (
    DELIVERY_METHODS,
    MILESTONE_MAIL,
    CampaignEvent,
    CampaignMail,
    CampaignOptOut,
    CampaignSettings,
    Delivery,
    ResponseLink,
    TargetResponse,
)
from fancampaign.errors import DomainError, InvalidInput, InvalidToken, NotAllowed
from fancampaign.extensions import db, utcnow
from fancampaign.ledger import services as ledger
from fancampaign.moderation.services import log_petition_action
from fancampaign.notifications import services as notifications
from fancampaign.petitions import services as petitions
from fancampaign.petitions.models import MILESTONES, Petition, Signature
from fancampaign.text import clean_multiline, clean_text, normalise_email, render_markdown

UNSUBSCRIBE_SALT = "campaign-unsubscribe"
RESPONSE_LINK_DAYS = 30
SOURCE_URL_MAX = 500


class InvalidTransition(DomainError):
    status_code = 409
    message = "The petition cannot change to that status now."


class LinkUsed(InvalidToken):
    message = "This link has already been used."


# Events and their mail ------------------------------------------------------------------


def _record(
    petition: Petition,
    kind: str,
    title: str,
    *,
    body: str = "",
    url: str = "",
    key: str | None = None,
    actor: User | None = None,
    occurred_at: datetime | None = None,
    news_post_id: int | None = None,
    milestone: int | None = None,
    mail: bool = True,
    not_before: datetime | None = None,
) -> CampaignEvent:
    """Add an event to the petition's timeline and, if `mail`, queue its mail (same
    transaction) and tell member signers in the app. An update scheduled for `not_before`
    happens then: its mail waits, and the worker tells it (`tell_due`). An event with a
    `key` the petition already has is not recorded again."""
    if key is not None:
        existing = db.session.scalar(
            sa.select(CampaignEvent).where(
                CampaignEvent.petition_id == petition.id, CampaignEvent.key == key
            )
        )
        if existing is not None:
            return existing
    now = utcnow()
    scheduled = mail and not_before is not None and not_before > now
    event = CampaignEvent(
        petition_id=petition.id,
        kind=kind,
        key=key,
        title=title[:200],
        body=body,
        url=url,
        actor_id=actor.id if actor is not None else None,
        occurred_at=not_before if scheduled else (occurred_at or now),
        news_post_id=news_post_id,
        milestone=milestone,
        # Told now, or never (not mailed); a scheduled update waits for the worker.
        told_at=None if scheduled else now,
    )
    db.session.add(event)
    db.session.flush()
    if mail:
        event.mailed = queue_event_mail(event, not_before=not_before)
        if not scheduled:
            _tell_signers(petition, event)
    return event


def tell_due(now: datetime | None = None, limit: int = 100) -> int:
    """Tell signers in the app of the scheduled updates whose time has come (the worker's
    round), each exactly once: one UPDATE claims the events (told_at set where it is still
    null), and the notices are added in the same transaction, so a second worker claims
    nothing and a worker killed before its commit leaves them to the next round. Returns how
    many events were told."""
    now = now or utcnow()
    due = (
        sa.select(CampaignEvent.id)
        .where(CampaignEvent.told_at.is_(None), CampaignEvent.occurred_at <= now)
        .order_by(CampaignEvent.occurred_at, CampaignEvent.id)
        .limit(limit)
    )
    claimed = db.session.scalars(
        sa.update(CampaignEvent)
        .where(CampaignEvent.id.in_(due), CampaignEvent.told_at.is_(None))
        .values(told_at=now)
        .returning(CampaignEvent.id),
        execution_options={"synchronize_session": False},
    ).all()
    if not claimed:
        return 0
    events = db.session.scalars(
        sa.select(CampaignEvent)
        .where(CampaignEvent.id.in_(claimed))
        .order_by(CampaignEvent.occurred_at, CampaignEvent.id)
        .options(joinedload(CampaignEvent.petition))
        .execution_options(populate_existing=True)
    ).all()
    for event in events:
        _tell_signers(event.petition, event)
    return len(events)


def _tell_signers(petition: Petition, event: CampaignEvent) -> None:
    """The update in the app of every member who signed and asked for updates (a scheduled
    one when it goes out: `tell_due`)."""
    signers = sa.select(Signature.user_id).where(
        Signature.petition_id == petition.id,
        Signature.user_id.is_not(None),
        Signature.confirmed_at.is_not(None),
        Signature.keep_updated.is_(True),
    )
    notifications.notify_all(
        signers,
        "petition_update",
        f"Update on “{petition.title}”: {event.title}",
        f"/petitions/{petition.slug}",
    )


def recipients(petition_id: int, news_post_id: int | None = None) -> sa.Select[Any]:
    """(signature id, address) of the signers an event's mail goes to: confirmed, asked for
    updates, account not deleted, address not opted out of all campaign mail; for a news
    post, not already mailed about it through another linked petition."""
    email = sa.func.coalesce(User.email, Signature.email)
    opted_out = sa.exists().where(
        CampaignOptOut.email_normalised.in_(
            [Signature.email_normalised, sa.func.lower(sa.func.coalesce(User.email, ""))]
        )
    )
    query = (
        sa.select(Signature.id, email)
        .select_from(Signature)
        .outerjoin(User, User.id == Signature.user_id)
        .where(
            Signature.petition_id == petition_id,
            Signature.confirmed_at.is_not(None),
            Signature.keep_updated.is_(True),
            email.is_not(None),
            User.deleted_at.is_(None),
            ~opted_out,
        )
    )
    if news_post_id is not None:
        mailed = (
            sa.select(CampaignMail.id)
            .join(CampaignEvent, CampaignEvent.id == CampaignMail.event_id)
            .where(CampaignEvent.news_post_id == news_post_id, CampaignMail.email == email)
        )
        query = query.where(~mailed.exists())
    return query


def queue_event_mail(event: CampaignEvent, *, not_before: datetime | None = None) -> int:
    """One mail per signer who asked for updates, by a single INSERT ... SELECT; the count."""
    now = utcnow()
    columns = CampaignMail.__table__.c
    once_per_post = event.news_post_id if event.kind == "news" else None
    chosen = recipients(event.petition_id, once_per_post).subquery()
    rows = sa.select(
        sa.literal(event.id, sa.Integer),
        chosen.c.id,
        chosen.c[chosen.c.keys()[1]],
        sa.literal(now, columns.created_at.type),
        sa.literal(not_before or now, columns.next_attempt_at.type),
        sa.literal(0, sa.Integer),
    )
    result = db.session.execute(
        sa.insert(CampaignMail).from_select(
            ["event_id", "signature_id", "email", "created_at", "next_attempt_at", "attempts"],
            rows,
        )
    )
    if result.rowcount is not None and result.rowcount >= 0:
        return int(result.rowcount)
    # A driver that does not report the rows an INSERT ... SELECT wrote: count them.
    return int(
        db.session.scalar(sa.select(sa.func.count()).where(CampaignMail.event_id == event.id)) or 0
    )


def _site(path: str) -> str:
    from flask import current_app

    return current_app.config["BASE_URL"].rstrip("/") + path


def _require_campaigner(actor: User, petition: Petition) -> None:
    if not policies.can_run_campaign(actor, petition):
        raise NotAllowed("Only the petition's organisers can do that.")


# Status changes -------------------------------------------------------------------------


def close(actor: User, petition: Petition) -> CampaignEvent:
    """Close an open petition early (on the timeline and in the audit log); raises NotAllowed,
    InvalidTransition."""
    _require_campaigner(actor, petition)
    petitions.close_petition(actor, petition)
    log_petition_action(actor, "close_petition", petition)
    return _record(petition, "closed", "The petition was closed", actor=actor, mail=False)


def mark_won(actor: User, petition: Petition, note: str) -> CampaignEvent:
    """Declare victory with a note, mailed to the signers who asked for updates."""
    _require_campaigner(actor, petition)
    petitions.mark_won(actor, petition, note)
    log_petition_action(actor, "won_petition", petition)
    return _record(petition, "won", "Victory!", body=petition.victory_note, actor=actor)


def reopen(actor: User, petition: Petition) -> CampaignEvent:
    """Reopen a petition closed by hand whose deadline is still ahead."""
    _require_campaigner(actor, petition)
    if not policies.can_reopen_petition(actor, petition):
        raise InvalidTransition("Only a petition closed early, before its deadline, can reopen.")
    petition.status = "open"
    petition.closed_at = None
    db.session.flush()
    log_petition_action(actor, "reopen_petition", petition)
    return _record(petition, "reopened", "The petition was reopened", actor=actor, mail=False)


def set_milestone_mail(actor: User, petition: Petition, choice: str) -> CampaignSettings:
    """Which milestones are mailed to signers: all, the goal only, or none."""
    _require_campaigner(actor, petition)
    if choice not in MILESTONE_MAIL:
        raise InvalidInput("Choose which milestones to email.", field="milestone_mail")
    settings = db.session.get(CampaignSettings, petition.id)
    if settings is None:
        settings = CampaignSettings(petition_id=petition.id)
        db.session.add(settings)
    settings.milestone_mail = choice
    db.session.flush()
    log_petition_action(actor, "milestone_mail", petition, details=choice)
    return settings


def milestone_mail(petition: Petition) -> str:
    settings = db.session.get(CampaignSettings, petition.id)
    return settings.milestone_mail if settings is not None else "goal"


def record_milestones(petition: Petition) -> list[CampaignEvent]:
    """Milestones (the goal and the milestone table) the count has reached, recorded once each.
    Mail follows the organiser's choice; when several are reached at once only the highest
    is mailed (or the goal, for "goal only"), so a bulk import does not send a burst."""
    count = petition.signature_count
    marks = sorted({petition.goal, *MILESTONES})
    reached = [m for m in marks if m <= count]
    if not reached:
        return []
    keys = {f"milestone:{m}" for m in reached}
    have = set(
        db.session.scalars(
            sa.select(CampaignEvent.key).where(
                CampaignEvent.petition_id == petition.id, CampaignEvent.key.in_(keys)
            )
        )
    )
    new = [m for m in reached if f"milestone:{m}" not in have]
    choice = milestone_mail(petition)
    mailed = {"all": new[-1:], "goal": [petition.goal], "none": []}[choice]
    events = []
    for mark in new:
        title = (
            f"The goal of {mark:,} signatures was reached"
            if mark == petition.goal
            else f"{mark:,} signatures"
        )
        events.append(
            _record(
                petition,
                "milestone",
                title,
                key=f"milestone:{mark}",
                milestone=mark,
                mail=mark in mailed,
            )
        )
    return events


def sweep_milestones() -> int:
    """Record the milestones of every open petition (the worker runs this each round)."""
    found = 0
    for petition in db.session.scalars(sa.select(Petition).where(Petition.open_clause())):
        found += len(record_milestones(petition))
    return found


# News posts and developing-story updates --------------------------------------------------


def record_news(post: Any, linked: list[Petition], send_at: datetime | None) -> int:
    """A published news post linked to petitions: one timeline entry per petition, mailed to
    their signers (held until `send_at` for a scheduled post). Returns mails queued."""
    due = send_at if send_at is not None and send_at > utcnow() else None
    queued = 0
    for petition in linked:
        event = _record(
            petition,
            "news",
            post.title,
            body=post.standfirst or "",
            url=f"/news/{post.slug}",
            key=f"news:{post.id}",
            news_post_id=post.id,
            occurred_at=send_at or utcnow(),
            not_before=due,
        )
        queued += event.mailed
    return queued


def reschedule_news(post: Any) -> None:
    """A rescheduled post: its timeline entries and unsent mail follow the new time."""
    when = post.published_at or utcnow()
    events = sa.select(CampaignEvent.id).where(CampaignEvent.news_post_id == post.id)
    db.session.execute(
        sa.update(CampaignEvent)
        .where(CampaignEvent.news_post_id == post.id)
        .values(occurred_at=when)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(CampaignMail)
        .where(
            CampaignMail.event_id.in_(events),
            CampaignMail.sent_at.is_(None),
            CampaignMail.attempts == 0,
        )
        .values(next_attempt_at=when)
        .execution_options(synchronize_session=False)
    )


def withdraw_news(post: Any) -> None:
    """A post taken back to draft: off the timelines, and its unsent mail dropped."""
    events = sa.select(CampaignEvent.id).where(CampaignEvent.news_post_id == post.id)
    db.session.execute(
        sa.delete(CampaignMail)
        .where(CampaignMail.event_id.in_(events))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.delete(CampaignEvent)
        .where(CampaignEvent.news_post_id == post.id)
        .execution_options(synchronize_session=False)
    )


def record_story_update(post: Any, update: Any, *, email: bool) -> int:
    """A dated update on a developing story: on each linked petition's timeline, and mailed
    to their signers when the organiser ticked "email this update". Returns mails queued."""
    if not post.is_published:
        return 0
    queued = 0
    for petition in post.petitions:
        event = _record(
            petition,
            "update",
            f"{post.title}: update",
            body=update.body,
            url=f"/news/{post.slug}#updates",
            key=f"update:{update.id}",
            news_post_id=post.id,
            occurred_at=update.created_at,
            mail=email,
        )
        queued += event.mailed
    return queued


# Delivery -------------------------------------------------------------------------------


@dataclass
class DeliveryInput:
    recipient: str
    delivered_at: datetime | None
    method: str
    note: str
    with_countries: bool


def count_by_country(petition: Petition) -> dict[str, int]:
    """Confirmed signatures per country (code, "" for none given), most first."""
    n = sa.func.count().label("n")
    rows = db.session.execute(
        sa.select(Signature.country, n)
        .where(Signature.petition_id == petition.id, Signature.confirmed_at.is_not(None))
        .group_by(Signature.country)
        .order_by(n.desc(), Signature.country)
    )
    counts: dict[str, int] = {}
    for code, count in rows:  # NULL and "" both mean "none given"
        counts[code or ""] = counts.get(code or "", 0) + count
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def record_delivery(actor: User, petition: Petition, data: DeliveryInput) -> Delivery:
    """The petition was handed over: stored with the count (and by country) at this moment,
    on the timeline, mailed to signers and in the audit log. Raises NotAllowed, InvalidInput."""
    _require_campaigner(actor, petition)
    recipient = clean_text(data.recipient or "")
    if not 2 <= len(recipient) <= 200:
        raise InvalidInput(
            "Say who received the petition (2 to 200 characters).", field="recipient"
        )
    if data.method not in DELIVERY_METHODS:
        raise InvalidInput("Choose how it was delivered.", field="method")
    delivered_at = data.delivered_at or utcnow()
    if delivered_at > utcnow() + timedelta(minutes=5):
        raise InvalidInput("The delivery cannot be in the future.", field="delivered_at")
    note = clean_multiline(data.note or "")
    if len(note) > 5000:
        raise InvalidInput("The note must be at most 5,000 characters.", field="note")
    delivery = Delivery(
        petition_id=petition.id,
        recipient=recipient,
        delivered_at=delivered_at,
        method=data.method,
        note=note,
        signature_count=petition.signature_count,
        countries_json=json.dumps(count_by_country(petition)) if data.with_countries else None,
        created_by_id=actor.id,
    )
    # The count at delivery is a claim anyone can check: a signed checkpoint of the log.
    checkpoint = ledger.make_checkpoint(petition, "delivered")
    delivery.checkpoint = json.dumps(checkpoint.as_record())
    db.session.add(delivery)
    db.session.flush()
    log_petition_action(actor, "deliver_petition", petition, details=f"to {recipient}")
    _record(
        petition,
        "delivered",
        f"Delivered to {recipient} ({delivery.method_label.lower()}) with "
        f"{delivery.signature_count:,} signatures (log checkpoint {checkpoint.number}, "
        f"{checkpoint.standing_count:,} standing)",
        body=note,
        key=f"delivery:{delivery.id}",
        actor=actor,
        occurred_at=delivered_at,
    )
    return delivery


def deliveries(petition: Petition) -> list[Delivery]:
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .where(Delivery.petition_id == petition.id)
            .order_by(Delivery.delivered_at)
        )
    )


def log_export(actor: User, petition: Petition, kind: str) -> None:
    """An export of the signatures (CSV or PDF) in the audit log: who, when, which petition."""
    if not policies.can_export_signatures(actor, petition):
        raise NotAllowed("Only organisers export signatures.")
    log_petition_action(actor, "export_pdf" if kind == "pdf" else "export_csv", petition)


# The target's response ------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_response_link(
    actor: User, petition: Petition, contact: str, days: int = RESPONSE_LINK_DAYS
) -> tuple[ResponseLink, str]:
    """A one-time link for the target's contact; (link, the token: shown once, never stored)."""
    _require_campaigner(actor, petition)
    contact = clean_text(contact or "")
    if not 2 <= len(contact) <= 200:
        raise InvalidInput("Name the contact at the target (2 to 200 characters).", field="contact")
    if not 1 <= days <= 365:
        raise InvalidInput("The link must last 1 to 365 days.", field="days")
    token = secrets.token_urlsafe(32)
    link = ResponseLink(
        petition_id=petition.id,
        token_hash=_hash(token),
        contact=contact,
        created_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(link)
    db.session.flush()
    log_petition_action(actor, "response_link", petition, details=f"for {contact}")
    return link, token


def response_link_for(token: str) -> ResponseLink:
    """The usable link a token names; InvalidToken when unknown or expired, LinkUsed once used."""
    link = db.session.scalar(
        sa.select(ResponseLink).where(ResponseLink.token_hash == _hash(token or ""))
    )
    if link is None:
        raise InvalidToken()
    if link.used_at is not None:
        raise LinkUsed()
    if link.expires_at <= utcnow():
        raise InvalidToken(
            "This response link has expired. Please ask the organisers for a new one."
        )
    return link


def _check_response(responder: str, body: str) -> tuple[str, str]:
    responder = clean_text(responder or "")
    body = clean_multiline(body or "")
    if not 2 <= len(responder) <= 200:
        raise InvalidInput("Say who is responding (2 to 200 characters).", field="responder")
    if not 3 <= len(body) <= 20_000:
        raise InvalidInput("Write the response (3 to 20,000 characters).", field="body")
    return responder, body


def use_response_link(token: str, *, responder: str = "", body: str = "") -> ResponseLink:
    """The target acknowledges receipt and, if `body` is given, posts its response. The link
    works once: it is consumed atomically, so a second use raises LinkUsed."""
    link = response_link_for(token)
    petition = db.session.get(Petition, link.petition_id)
    assert petition is not None  # the link cascades with its petition
    answer = None
    if (body or "").strip():
        answer = _check_response(responder or link.contact, body)
    now = utcnow()
    claimed = db.session.execute(
        sa.update(ResponseLink)
        .where(ResponseLink.id == link.id, ResponseLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise LinkUsed()
    db.session.expire(link, ["used_at"])
    log_petition_action(None, "response_link_used", petition, details=f"by {link.contact}")
    _record(
        petition,
        "acknowledged",
        f"{link.contact} acknowledged receipt",
        key=f"acknowledged:{link.id}",
        occurred_at=now,
        mail=False,
    )
    if answer is not None:
        _post_response(petition, "target", answer[0], answer[1], link_id=link.id)
    return link


def post_response_elsewhere(
    actor: User,
    petition: Petition,
    *,
    responder: str,
    body: str,
    source_url: str,
    responded_at: datetime | None = None,
) -> TargetResponse:
    """An organiser posts a response received elsewhere, with the link to where it was
    published. Raises NotAllowed, InvalidInput."""
    _require_campaigner(actor, petition)
    responder, body = _check_response(responder, body)
    source_url = (source_url or "").strip()
    if not source_url.startswith(("https://", "http://")) or len(source_url) > SOURCE_URL_MAX:
        raise InvalidInput(
            "Give the web address where the response was published.", field="source_url"
        )
    if responded_at is not None and responded_at > utcnow() + timedelta(minutes=5):
        raise InvalidInput("The response cannot be dated in the future.", field="responded_at")
    response = _post_response(
        petition, "elsewhere", responder, body, source_url=source_url, when=responded_at, by=actor
    )
    log_petition_action(actor, "post_response", petition, details=source_url[:200])
    return response


def _post_response(
    petition: Petition,
    source: str,
    responder: str,
    body: str,
    *,
    link_id: int | None = None,
    source_url: str = "",
    when: datetime | None = None,
    by: User | None = None,
) -> TargetResponse:
    response = TargetResponse(
        petition_id=petition.id,
        source=source,
        responder=responder,
        body=body,
        body_html=render_markdown(body),
        source_url=source_url,
        responded_at=when or utcnow(),
        link_id=link_id,
        posted_by_id=by.id if by is not None else None,
    )
    db.session.add(response)
    db.session.flush()
    marked = "" if source == "target" else " (received elsewhere)"
    _record(
        petition,
        "response",
        f"Response from {responder}{marked}",
        body=body,
        url=source_url,
        key=f"response:{response.id}",
        actor=by,
        occurred_at=response.responded_at,
    )
    return response


def responses(petition: Petition) -> list[TargetResponse]:
    return list(
        db.session.scalars(
            sa.select(TargetResponse)
            .where(TargetResponse.petition_id == petition.id)
            .order_by(TargetResponse.responded_at)
        )
    )


# The timeline ---------------------------------------------------------------------------


@dataclass
class Entry:
    kind: str
    label: str
    title: str
    body: str
    url: str
    at: datetime
    key: str


def timeline(petition: Petition) -> list[Entry]:
    """The petition's campaign, oldest first: opened, every recorded event that is due, and a
    closing by deadline (which happens by time alone, so it has no row)."""
    entries = []
    if petition.opened_at is not None:
        entries.append(
            Entry(
                "opened",
                "Petition opened",
                "The petition opened",
                petition.summary,
                "",
                petition.opened_at,
                "opened",
            )
        )
    events = db.session.scalars(
        sa.select(CampaignEvent)
        .where(CampaignEvent.petition_id == petition.id, CampaignEvent.occurred_at <= utcnow())
        .order_by(CampaignEvent.occurred_at, CampaignEvent.id)
    )
    for event in events:
        url = _site(event.url) if event.url.startswith("/") else event.url
        entries.append(
            Entry(
                event.kind,
                event.label,
                event.title,
                event.body,
                url,
                event.occurred_at,
                f"event:{event.id}",
            )
        )
    if petition.status == "open" and petition.deadline_passed and petition.deadline:
        entries.append(
            Entry(
                "closed",
                "Petition closed",
                "The deadline passed",
                "",
                "",
                petition.deadline,
                "deadline",
            )
        )
    entries.sort(key=lambda e: e.at)
    return entries


# Links in mail: managing a signature, unsubscribing ----------------------------------------


def _serializer(secret: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=salt)


def signature_for_manage(token: str, secret: str) -> Signature:
    """The signature a manage link names; InvalidToken when tampered or withdrawn."""
    try:
        data = _serializer(secret, petitions.MANAGE_SALT).loads(token)
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken() from exc
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise InvalidToken()
    signature = db.session.scalar(
        sa.select(Signature)
        .options(joinedload(Signature.petition))
        .where(Signature.id == data["s"])
    )
    if signature is None or (signature.email_normalised or "") != data.get("e"):
        raise InvalidToken("This link no longer works: the signature was withdrawn.")
    return signature


def withdraw_by_link(token: str, secret: str) -> Petition:
    """Withdraw the signature a manage link names while its petition is open."""
    signature = signature_for_manage(token, secret)
    petition = signature.petition
    petitions.withdraw_signature_by_id(petition, signature.id)
    return petition


def updates_off_by_link(token: str, secret: str) -> Signature:
    """Stop the update mail for the signature a manage link names (and drop unsent mail)."""
    signature = signature_for_manage(token, secret)
    _stop_updates(signature)
    return signature


def _stop_updates(signature: Signature) -> None:
    db.session.execute(
        sa.update(Signature)
        .where(Signature.id == signature.id)
        .values(keep_updated=False)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(signature, ["keep_updated"])
    db.session.execute(
        sa.delete(CampaignMail)
        .where(CampaignMail.signature_id == signature.id, CampaignMail.sent_at.is_(None))
        .execution_options(synchronize_session=False)
    )


def unsubscribe_token(mail_id: int, scope: str, secret: str) -> str:
    """A one-use unsubscribe link in one mail: scope "petition" or "all"."""
    return str(_serializer(secret, UNSUBSCRIBE_SALT).dumps({"m": mail_id, "a": scope}))


@dataclass
class Unsubscribe:
    mail: CampaignMail
    signature: Signature
    scope: str


def unsubscribe_for(token: str, secret: str) -> Unsubscribe:
    """What an unsubscribe link would do; InvalidToken when forged, LinkUsed when used."""
    try:
        data = _serializer(secret, UNSUBSCRIBE_SALT).loads(token)
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken() from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("m"), int)
        or data.get("a") not in ("petition", "all")
    ):
        raise InvalidToken()
    mail = db.session.get(CampaignMail, data["m"])
    signature = db.session.scalar(
        sa.select(Signature)
        .options(joinedload(Signature.petition))
        .where(Signature.id == (mail.signature_id if mail else None))
    )
    if mail is None or signature is None:
        raise InvalidToken("This link no longer works.")
    if mail.unsubscribed_at is not None:
        raise LinkUsed()
    return Unsubscribe(mail, signature, data["a"])


def unsubscribe(token: str, secret: str) -> Unsubscribe:
    """Stop the mail about one petition, or all campaign mail to the address. The link works
    once (a reused or forged one raises and changes nothing)."""
    found = unsubscribe_for(token, secret)
    used = db.session.execute(
        sa.update(CampaignMail)
        .where(CampaignMail.id == found.mail.id, CampaignMail.unsubscribed_at.is_(None))
        .values(unsubscribed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise LinkUsed()
    _stop_updates(found.signature)
    if found.scope == "all":
        address = normalise_email(found.mail.email)
        if db.session.get(CampaignOptOut, address) is None:
            db.session.add(CampaignOptOut(email_normalised=address))
        db.session.execute(
            sa.delete(CampaignMail)
            .where(CampaignMail.email == found.mail.email, CampaignMail.sent_at.is_(None))
            .execution_options(synchronize_session=False)
        )
        db.session.flush()
    return found
