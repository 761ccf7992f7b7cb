"""Petitions and signatures: the only code that writes them.

Counting: `Petition.signature_count` is the petition's base count plus its counter slots
(petition_counter_slots, at most COUNTER_SLOTS rows, summed on read). Confirming or removing
a signature adds `+ 1` / `- 1` to a random slot in the same transaction, as the last
statement before the caller's commit, so each row lock is held for the shortest time and
concurrent signers mostly lock different rows (measured on PostgreSQL with 32 writers: one
row ~550 commits/s, 16 slots ~3,000/s; PostgreSQL holds a row lock until the commit is on
disk, so one row caps the rate at one signature per fsync). The unique constraints on
(petition_id, user_id) and (petition_id, email_normalised) decide races: a member's
signature is `INSERT ... ON CONFLICT DO NOTHING` (on PostgreSQL with the slot's `+ 1` in
the same statement), and the loser gets AlreadySigned, as a sequential duplicate does.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload, lazyload, load_only, make_transient_to_detached

from fancampaign import policies, writes
from fancampaign.accounts.models import User
from fancampaign.errors import DomainError, InvalidInput, InvalidToken, NotAllowed, NotFoundError
from fancampaign.extensions import db, utcnow
from fancampaign.ledger import services as ledger
from fancampaign.mail.services import queue_capped_email, queue_email
from fancampaign.moderation.watch import screen
from fancampaign.petitions.countries import COUNTRIES
from fancampaign.petitions.models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    COUNTER_SLOTS,
    PUBLIC_STATUSES,
    REASON_MAX,
    SOURCE_LABEL_MAX,
    Petition,
    PetitionCounterSlot,
    RecruiterCode,
    Referral,
    Signature,
)
from fancampaign.slugs import unique_slug
from fancampaign.text import clean_multiline, clean_text, normalise_email, render_markdown, slugify

log = logging.getLogger("fancampaign.petitions")

TOKEN_SALT = "signature-confirm"  # noqa: S105  (a salt, not a secret)
MANAGE_SALT = "signature-manage"


# Errors ---------------------------------------------------------------------------------


class PetitionClosed(DomainError):
    status_code = 409
    message = "This petition is closed and no longer takes signatures."


class AlreadySigned(DomainError):
    status_code = 409
    message = "You have already signed this petition. Thank you!"


class NotSigned(DomainError):
    status_code = 409
    message = "You have not signed this petition."


class InvalidTransition(DomainError):
    status_code = 409
    message = "The petition cannot change to that status now."


# Petitions ------------------------------------------------------------------------------


@dataclass
class PetitionInput:
    title: str
    summary: str
    body: str
    target: str
    goal: int
    deadline: datetime | None


def _check_petition_input(
    *,
    title: str,
    summary: str,
    body: str,
    target: str,
    goal: int | None,
    deadline: datetime | None,
    previous_deadline: datetime | None = None,
) -> PetitionInput:
    title = clean_text(title or "")
    summary = clean_text(summary or "")
    body = clean_multiline(body or "")
    target = clean_text(target or "")
    if target.lower().startswith("to:"):
        target = target[3:].strip()
    if not 10 <= len(title) <= 150:
        raise InvalidInput("The title must be 10 to 150 characters long.", field="title")
    if not 10 <= len(summary) <= 300:
        raise InvalidInput("The summary must be 10 to 300 characters long.", field="summary")
    if len(body) > 20_000:
        raise InvalidInput("The text must be at most 20,000 characters long.", field="body")
    if not 2 <= len(target) <= 200:
        raise InvalidInput(
            "Say who the petition is addressed to (2 to 200 characters).", field="target"
        )
    if goal is None or not 1 <= goal <= 100_000_000:
        raise InvalidInput("The goal must be a number from 1 to 100,000,000.", field="goal")
    if deadline is not None:
        if deadline.tzinfo is None:
            raise InvalidInput("The deadline needs a time zone.", field="deadline")
        if deadline != previous_deadline and deadline <= utcnow():
            raise InvalidInput("The deadline must be in the future.", field="deadline")
        if deadline > utcnow() + timedelta(days=366):
            raise InvalidInput("The deadline must be within a year.", field="deadline")
    return PetitionInput(title, summary, body, target, goal, deadline)


def create_petition(
    creator: User,
    *,
    title: str,
    summary: str,
    body: str,
    target: str,
    goal: int | None,
    deadline: datetime | None = None,
) -> Petition:
    """Start a petition: open at once for organisers, else pending review.

    Raises NotAllowed (cannot participate) or InvalidInput (with `details["field"]`).
    """
    if not policies.can_start_petition(creator):
        raise NotAllowed(policies.participation_problem(creator) or NotAllowed.message)
    data = _check_petition_input(
        title=title, summary=summary, body=body, target=target, goal=goal, deadline=deadline
    )
    verdict = screen(f"{data.title}\n{data.summary}\n{data.body}")
    if verdict.action == "block":
        raise InvalidInput(verdict.message or "That text is not allowed here.", field="body")
    petition = Petition(
        title=data.title,
        summary=data.summary,
        body=data.body,
        body_html=render_markdown(data.body),
        target=data.target,
        goal=data.goal,
        deadline=data.deadline,
        creator_id=creator.id,
        status="pending",
    )
    for _attempt in range(5):
        petition.slug = unique_slug(Petition.slug, slugify(data.title, max_length=80))
        try:
            with db.session.begin_nested():
                db.session.add(petition)
                db.session.flush()
            break
        except sa.exc.IntegrityError:
            continue  # a concurrent petition took the slug: pick the next one
    else:
        raise DomainError("Please try again.")
    petition.creator = creator
    if policies.opens_petition_at_once(creator) and verdict.action != "hold":
        _open(petition, creator)
    return petition


def update_petition(actor: User, petition: Petition, **fields: Any) -> Petition:
    """Edit title, summary, text, target, goal and deadline; raises NotAllowed, InvalidInput."""
    if not policies.can_manage_petition(actor, petition):
        raise NotAllowed("You cannot edit this petition.")
    if petition.status in ("won", "rejected"):
        raise InvalidTransition("A won or rejected petition can no longer be edited.")
    data = _check_petition_input(
        title=fields.get("title", petition.title),
        summary=fields.get("summary", petition.summary),
        body=fields.get("body", petition.body),
        target=fields.get("target", petition.target),
        goal=fields.get("goal", petition.goal),
        deadline=fields.get("deadline", petition.deadline),
        previous_deadline=petition.deadline,
    )
    petition.title = data.title
    petition.summary = data.summary
    if data.body != petition.body:
        petition.body = data.body
        petition.body_html = render_markdown(data.body)
    petition.target = data.target
    petition.goal = data.goal
    petition.deadline = data.deadline
    petition.updated_at = utcnow()
    db.session.flush()
    return petition


def _open(petition: Petition, actor: User) -> None:
    petition.status = "open"
    petition.opened_at = utcnow()
    db.session.flush()
    _start_discussion(petition, actor)


def _start_discussion(petition: Petition, actor: User) -> None:
    """Give an open petition its discussion thread (in the forum's petition category)."""
    if petition.thread_id is not None:
        return
    try:
        from fancampaign.forum.discussions import start_discussion
    except ImportError:  # the forum is optional for the petitions to work
        return
    author = petition.creator or actor
    try:
        start_discussion(
            petition,
            kind="petition",
            author=author,
            title=petition.title,
            body=f"Discuss the petition “{petition.title}”.\n\n{petition.summary}",
            category_slug="petition-discussion",
        )
    except NotFoundError:  # no "petition-discussion" category yet: open without a thread
        log.warning("no petition-discussion category: %s opened without a thread", petition.slug)


def approve_petition(moderator: User, petition: Petition) -> Petition:
    """A moderator opens a pending petition; raises NotAllowed or InvalidTransition."""
    if not policies.can_moderate(moderator):
        raise NotAllowed("Only moderators review petitions.")
    if petition.status != "pending":
        raise InvalidTransition("Only a petition waiting for review can be approved.")
    _open(petition, moderator)
    _tell_creator(
        petition, moderator, f"Your petition “{petition.title}” was approved and is now open."
    )
    return petition


def reject_petition(moderator: User, petition: Petition, reason: str) -> Petition:
    """A moderator rejects a pending petition with a reason; raises NotAllowed, InvalidInput."""
    if not policies.can_moderate(moderator):
        raise NotAllowed("Only moderators review petitions.")
    if petition.status != "pending":
        raise InvalidTransition("Only a petition waiting for review can be rejected.")
    reason = clean_multiline(reason or "")
    if not 3 <= len(reason) <= 2000:
        raise InvalidInput("Give a reason (3 to 2,000 characters).", field="reason")
    petition.status = "rejected"
    petition.rejection_reason = reason
    petition.closed_at = utcnow()
    db.session.flush()
    _tell_creator(petition, moderator, f"Your petition “{petition.title}” was rejected: {reason}")
    return petition


def _tell_creator(petition: Petition, actor: User, text: str) -> None:
    from fancampaign.notifications.services import notify

    creator = petition.creator
    if creator is not None:
        notify(creator, "moderation", text, f"/petitions/{petition.slug}", actor=actor)


def close_petition(actor: User, petition: Petition) -> Petition:
    """Organisers close an open petition early; raises NotAllowed, InvalidTransition."""
    if not (policies.is_organiser(actor) and policies.can_manage_petition(actor, petition)):
        raise NotAllowed("Only organisers close petitions.")
    if petition.status != "open":
        raise InvalidTransition("Only an open petition can be closed.")
    petition.status = "closed"
    petition.closed_at = petition.effective_closed_at or utcnow()
    db.session.flush()
    ledger.make_checkpoint(petition, "closed")
    return petition


def mark_won(actor: User, petition: Petition, note: str) -> Petition:
    """Organisers declare victory on an open or closed petition, with a note."""
    if not (policies.is_organiser(actor) and policies.can_manage_petition(actor, petition)):
        raise NotAllowed("Only organisers mark petitions as won.")
    if petition.status not in ("open", "closed"):
        raise InvalidTransition("Only an open or closed petition can be marked as won.")
    note = clean_multiline(note or "")
    if not 3 <= len(note) <= 5000:
        raise InvalidInput("Tell people what was won (3 to 5,000 characters).", field="note")
    if petition.closed_at is None:
        petition.closed_at = petition.effective_closed_at or utcnow()
    petition.status = "won"
    petition.victory_note = note
    db.session.flush()
    ledger.make_checkpoint(petition, "won")
    return petition


# Signing --------------------------------------------------------------------------------


def _insert() -> Any:
    """The dialect's INSERT, for ON CONFLICT."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _slot_change(rows: Any = None) -> Any:
    """`count = count + :delta` on one of a petition's COUNTER_SLOTS rows (created on first
    use by an upsert); the slot is picked at random by the caller, so concurrent signers
    mostly lock different rows. Bind parameters :petition_id, :slot, :delta, or `rows`, a
    SELECT of (petition_id, slot, delta) to take them from."""
    table = PetitionCounterSlot.__table__
    if rows is None:
        statement = _insert()(table).values(
            petition_id=sa.bindparam("petition_id"),
            slot=sa.bindparam("slot"),
            count=sa.bindparam("delta"),
        )
    else:
        statement = _insert()(table).from_select(["petition_id", "slot", "count"], rows)
    return statement.on_conflict_do_update(
        index_elements=[table.c.petition_id, table.c.slot],
        set_={"count": table.c.count + statement.excluded.count},
    )


_SLOT_CHANGE: dict[str, Any] = {}
_SIGN: dict[tuple[str, bool], Any] = {}
_SIGNATURE_VALUES = (
    "petition_id",
    "user_id",
    "name",
    "email",
    "email_normalised",
    "country",
    "reason",
    "reason_hidden",
    "is_public",
    "keep_updated",
    "confirmed_at",
    "created_at",
)


def _statement(cache: dict[str, Any], build: Callable[[], Any]) -> Any:
    """A statement built once per database dialect (they only take bind parameters)."""
    dialect = db.engine.dialect.name
    if dialect not in cache:
        cache[dialect] = build()
    return cache[dialect]


def _bump(petition: Petition, delta: int) -> None:
    """The atomic counter change; the last statement of the signing transaction."""
    params = {"petition_id": petition.id, "slot": random.randrange(COUNTER_SLOTS), "delta": delta}
    db.session.execute(_statement(_SLOT_CHANGE, _slot_change), params)
    db.session.expire(petition, ["signature_count"])


def _build_sign(logged: bool) -> Any:
    """INSERT a signature unless the petition has it (`ON CONFLICT DO NOTHING`, so a lost race
    needs no SAVEPOINT), RETURNING its id. On PostgreSQL the slot's `+ 1` and, with the log
    on (`logged`), the log's `add` entry ride along as data-modifying CTEs fed only by the
    row inserted, and the petition's salt comes back for the receipt: one statement, one
    round trip, for the signature, its count and its entry."""
    table = Signature.__table__
    add = _insert()(table).values({name: sa.bindparam(name) for name in _SIGNATURE_VALUES})
    add = add.on_conflict_do_nothing()
    if db.engine.dialect.name != "postgresql":
        return add.returning(table.c.id)
    added = add.returning(table.c.id, table.c.petition_id).cte("added")
    rows = sa.select(added.c.petition_id, sa.bindparam("slot"), sa.literal(1))
    counted = _slot_change(rows).cte("counted")
    if not logged:
        return sa.select(added.c.id, sa.null()).add_cte(counted)
    entries, salt = ledger.additions_from(added)
    return sa.select(added.c.id, salt).add_cte(counted).add_cte(entries.cte("logged"))


def _insert_counted(petition: Petition, values: dict[str, Any]) -> int | None:
    """Insert a confirmed signature, count it and log it; its id, or None when a unique
    constraint says the petition already has it (then nothing was written). One round trip
    on PostgreSQL; on SQLite the slot's `+ 1` and the log's entry follow in the same
    transaction."""
    logged = ledger.is_enabled()
    dialect = db.engine.dialect.name
    statement = _SIGN.get((dialect, logged))
    if statement is None:
        statement = _SIGN[dialect, logged] = _build_sign(logged)
    params = {**values, "petition_id": petition.id, "slot": random.randrange(COUNTER_SLOTS)}
    if logged:
        params["logged_at"] = values["confirmed_at"]
    writes.note(db.session, "signatures")
    if dialect == "postgresql":
        row = db.session.execute(statement, params).first()
        if row is None:
            return None
        signature_id, salt = row
        if logged:
            ledger.remember_salt(petition.id, salt)
    else:
        signature_id = db.session.scalar(statement, params)
        if signature_id is None:
            return None
        ledger.record_addition(petition.id, signature_id)
        _bump(petition, +1)
    db.session.expire(petition, ["signature_count"])
    return signature_id


def _attach(signature: Signature) -> Signature:
    """A row written by a Core statement, as a persistent object, without reading it back."""
    make_transient_to_detached(signature)
    db.session.add(signature)
    return signature


def _check_signature_extras(reason: str, country: str | None) -> tuple[str, str | None, bool]:
    reason = clean_multiline(reason or "")
    if len(reason) > REASON_MAX:
        raise InvalidInput(
            f"Your reason must be at most {REASON_MAX} characters long.", field="reason"
        )
    country = (country or "").strip().upper() or None
    if country is not None and country not in COUNTRIES:
        raise InvalidInput("Choose a country from the list.", field="country")
    hidden = False
    if reason:
        verdict = screen(reason)
        if verdict.action == "block":
            raise InvalidInput(verdict.message or "That reason is not allowed.", field="reason")
        hidden = verdict.action == "hold"
    return reason, country, hidden


def sign_petition(
    user: User,
    petition: Petition,
    *,
    reason: str = "",
    country: str | None = None,
    is_public: bool = False,
    keep_updated: bool = False,
    recruiter_code: str | None = None,
) -> Signature:
    """A member signs, counted at once; `recruiter_code` (from the share link they came by)
    is credited with the signature unless it is unknown or their own. Raises NotAllowed,
    PetitionClosed, AlreadySigned."""
    if not policies.can_participate(user):
        raise NotAllowed(policies.participation_problem(user) or NotAllowed.message)
    if not petition.is_open:
        raise PetitionClosed()
    reason, country, hidden = _check_signature_extras(reason, country)
    # Looked up before the signature's INSERT takes its counter slot's lock.
    recruiter = _resolve_code(recruiter_code, petition)
    email_normalised = normalise_email(user.email) if user.email else None
    now = utcnow()
    values = {
        "user_id": user.id,
        "name": "",
        "email": None,
        "email_normalised": email_normalised,
        "country": country,
        "reason": reason,
        "reason_hidden": hidden,
        "is_public": bool(is_public),
        "keep_updated": bool(keep_updated),
        "confirmed_at": now,
        "created_at": now,
    }
    signature_id = _insert_counted(petition, values)
    if signature_id is None:
        return _claim_or_refuse(user, petition, email_normalised)
    if recruiter is not None:
        _credit(recruiter, petition, signature_id, user_id=user.id, email=email_normalised)
    return _attach(Signature(id=signature_id, petition_id=petition.id, **values))


def _claim_or_refuse(user: User, petition: Petition, email_normalised: str | None) -> Signature:
    # Lost the race, or signed before: a guest signature with the member's address is
    # theirs (claimed and, the address being proven, confirmed); anything else is a duplicate.
    existing = None
    if email_normalised is not None:
        existing = db.session.scalar(
            sa.select(Signature).where(
                Signature.petition_id == petition.id,
                Signature.email_normalised == email_normalised,
                Signature.user_id.is_(None),
            )
        )
    if existing is None or not user.is_confirmed:
        raise AlreadySigned()
    mine = db.session.scalar(
        sa.select(Signature.id).where(
            Signature.petition_id == petition.id, Signature.user_id == user.id
        )
    )
    if mine is not None:
        raise AlreadySigned()
    existing.user_id = user.id
    db.session.flush()
    if existing.confirmed_at is None and _mark_confirmed(existing):
        ledger.record_addition(petition.id, existing.id)
        _bump(petition, +1)
    return existing


def _mark_confirmed(signature: Signature) -> bool:
    """Set confirmed_at once; True only for the transaction that did it."""
    now = utcnow()
    result = db.session.execute(
        sa.update(Signature)
        .where(Signature.id == signature.id, Signature.confirmed_at.is_(None))
        .values(confirmed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        sa.orm.attributes.set_committed_value(signature, "confirmed_at", now)
        return True
    return False


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)


def make_signature_token(signature: Signature, secret_key: str) -> str:
    return _serializer(secret_key).dumps({"s": signature.id, "e": signature.email_normalised})


def manage_token(signature: Signature, secret_key: str) -> str:
    """The signer's own link to their signature (withdraw, updates off): signed, per signature;
    it names the row and its address, so it dies with the signature."""
    data = {"s": signature.id, "e": signature.email_normalised or ""}
    return str(URLSafeSerializer(secret_key, salt=MANAGE_SALT).dumps(data))


def sign_as_guest(
    petition: Petition,
    *,
    name: str,
    email: str,
    country: str | None = None,
    reason: str = "",
    is_public: bool = False,
    keep_updated: bool = False,
    consent: bool = False,
    secret_key: str,
    base_url: str,
    recruiter_code: str | None = None,
) -> None:
    """A visitor signs: stored unconfirmed and a confirmation link emailed.

    The answer is the same whether or not this address already signed (the mailbox is told
    instead), so the form never reveals who has signed. A new signature is credited to
    `recruiter_code` (unless unknown or the signer's own); the credit counts once the
    signature is confirmed. Raises PetitionClosed, InvalidInput.
    """
    from fancampaign.accounts.services import check_email

    if not petition.is_open:
        raise PetitionClosed()
    name = clean_text(name or "")
    if not 1 <= len(name) <= 100:
        raise InvalidInput("Enter your name (at most 100 characters).", field="name")
    try:
        email = check_email(email or "")
    except InvalidInput as err:
        raise InvalidInput(err.message, field="email") from err
    if not consent:
        raise InvalidInput(
            "Please agree that we store your name and email for this petition.", field="consent"
        )
    reason, country, hidden = _check_signature_extras(reason, country)
    email_normalised = normalise_email(email)
    signature = Signature(
        petition_id=petition.id,
        name=name,
        email=email,
        email_normalised=email_normalised,
        country=country,
        reason=reason,
        reason_hidden=hidden,
        is_public=bool(is_public),
        keep_updated=bool(keep_updated),
    )
    try:
        with db.session.begin_nested():
            db.session.add(signature)
            db.session.flush()
    except sa.exc.IntegrityError:
        existing = db.session.scalar(
            sa.select(Signature).where(
                Signature.petition_id == petition.id,
                Signature.email_normalised == email_normalised,
            )
        )
        if existing is not None and existing.confirmed_at is None and existing.email:
            _send_confirmation(petition, existing, secret_key, base_url)
        else:
            _mail_guest(
                email,
                f"You have already signed “{petition.title}”",
                f"Hello,\n\nSomeone (perhaps you) tried to sign the petition “{petition.title}” "
                f"with this email address, but it has already signed, so nothing changed.\n\n"
                f"{base_url}/petitions/{petition.slug}\n\n"
                f"If this was not you, you can ignore this email.\n",
            )
        return
    recruiter = _resolve_code(recruiter_code, petition)
    if recruiter is not None:
        _credit(recruiter, petition, signature.id, user_id=None, email=email_normalised)
    _send_confirmation(petition, signature, secret_key, base_url)


def _mail_guest(to: str, subject: str, body: str) -> None:
    """A signing mail to a guest, at most RATELIMIT_SIGN_MAIL to one address however it is
    spelt: signing over and over (as anyone can, with someone else's address) cannot flood a
    mailbox. Past the cap nothing is queued, and the guest is answered just the same."""
    limit = current_app.config.get("RATELIMIT_SIGN_MAIL")
    if limit:
        queue_capped_email(to, subject, body, recipient=normalise_email(to), limit=limit)
    else:
        queue_email(to, subject, body)


def _send_confirmation(
    petition: Petition, signature: Signature, secret_key: str, base_url: str
) -> None:
    token = make_signature_token(signature, secret_key)
    manage = manage_token(signature, secret_key)
    _mail_guest(
        signature.email or "",
        f"Confirm your signature on “{petition.title}”",
        f"Hello {signature.name},\n\n"
        f"Thank you for signing “{petition.title}”. Your signature counts once you open this "
        f"link and press the Confirm button:\n\n{base_url}/signatures/confirm/{token}\n\n"
        f"If you did not sign, ignore this email and nothing will be counted.\n\n"
        f"Later, to withdraw your signature or stop update emails, use this link:\n"
        f"{base_url}/signatures/manage/{manage}\n"
        f"{_receipt_lines(petition, signature)}",
    )


def _receipt_lines(petition: Petition, signature: Signature) -> str:
    receipt = ledger.receipt_text(petition.id, signature.id)
    return f"\n{receipt}\n" if receipt else ""


def signature_for_token(token: str, secret_key: str, max_age: int) -> Signature:
    """The guest signature a confirmation link is for; raises InvalidToken."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidToken("That confirmation link has expired. Please sign again.") from exc
    except BadSignature as exc:
        raise InvalidToken() from exc
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise InvalidToken()
    signature = db.session.scalar(
        sa.select(Signature)
        .options(joinedload(Signature.petition))
        .where(Signature.id == data["s"])
    )
    if signature is None or signature.email_normalised != data.get("e"):
        raise InvalidToken("That link is no longer valid.")
    return signature


def confirm_signature(token: str, secret_key: str, max_age: int) -> tuple[Signature, bool]:
    """Count a guest signature; (signature, False) when already confirmed (nothing changes).

    Raises InvalidToken (tampered, expired, withdrawn) or PetitionClosed.
    """
    signature = signature_for_token(token, secret_key, max_age)
    if signature.confirmed_at is not None:
        return signature, False
    petition = signature.petition
    if not petition.is_open:
        raise PetitionClosed()
    if not _mark_confirmed(signature):
        return signature, False
    ledger.record_addition(petition.id, signature.id)
    _bump(petition, +1)
    return signature, True


def withdraw_signature(user: User, petition: Petition) -> None:
    """Remove the member's own signature (and its count) while the petition is open.

    Raises NotAllowed, PetitionClosed, NotSigned.
    """
    if not policies.can_withdraw_signature(user):
        raise NotAllowed(policies.participation_problem(user) or NotAllowed.message)
    if not petition.is_open:
        raise PetitionClosed("This petition is closed: its signatures can no longer change.")
    removed = db.session.execute(
        sa.delete(Signature)
        .where(Signature.petition_id == petition.id, Signature.user_id == user.id)
        .returning(Signature.id, Signature.confirmed_at)
        .execution_options(synchronize_session=False)
    ).all()
    if not removed:
        raise NotSigned()
    if removed[0].confirmed_at is not None:
        ledger.record_withdrawal(petition.id, removed[0].id)
        _bump(petition, -1)


def withdraw_signature_by_id(petition: Petition, signature_id: int) -> None:
    """Remove a signature (and its count) through its signer's manage link while the petition
    is open. Raises PetitionClosed, NotSigned."""
    if not petition.is_open:
        raise PetitionClosed("This petition is closed: its signatures can no longer change.")
    removed = db.session.execute(
        sa.delete(Signature)
        .where(Signature.petition_id == petition.id, Signature.id == signature_id)
        .returning(Signature.id, Signature.confirmed_at)
        .execution_options(synchronize_session=False)
    ).all()
    if not removed:
        raise NotSigned()
    if removed[0].confirmed_at is not None:
        ledger.record_withdrawal(petition.id, removed[0].id)
        _bump(petition, -1)


def signature_of(user: Any, petition: Petition) -> Signature | None:
    """The viewer's signature on this petition, if any."""
    if not policies.is_member(user):
        return None
    return db.session.scalar(
        sa.select(Signature).where(
            Signature.petition_id == petition.id, Signature.user_id == user.id
        )
    )


@cache
def signature_mark() -> Any:
    """A column for the viewer's users row (see `cache.viewer_marks`): their signature on the
    petition `mark_petition_id`: 1 confirmed, 0 waiting for confirmation, NULL none."""
    signatures = Signature.__table__
    return (
        sa.select(sa.case((signatures.c.confirmed_at.is_(None), 0), else_=1))
        .where(
            signatures.c.user_id == User.id,
            signatures.c.petition_id == sa.bindparam("mark_petition_id"),
        )
        .scalar_subquery()
    )


@cache
def count_mark() -> Any:
    """A column for the viewer's users row: the petition `mark_petition_id`'s count as
    committed when the login's query runs (a member's petition page reads it there, not in a
    query of its own: `count_of`)."""
    return _count_where("mark_petition_id").scalar_subquery()


def signers_to_update(petition: Petition) -> sa.Select[Any]:
    """Who asked for updates: rows (signature_id, user_id, name, email) of confirmed
    signatures with keep_updated and an address (the account's, else the guest's)."""
    email = sa.func.coalesce(User.email, Signature.email)
    return (
        sa.select(
            Signature.id.label("signature_id"),
            Signature.user_id,
            sa.func.coalesce(User.display_name, Signature.name).label("name"),
            email.label("email"),
        )
        .outerjoin(User, User.id == Signature.user_id)
        .where(
            Signature.petition_id == petition.id,
            Signature.confirmed_at.is_not(None),
            Signature.keep_updated.is_(True),
            email.is_not(None),
            User.deleted_at.is_(None),
        )
        .order_by(Signature.id)
    )


# Recruiting: share links, their codes and the credit ------------------------------------
#
# A share link is /petitions/<slug>?r=<code>. A signature that came by one gets a Referral
# row (one per signature: the unique constraint settles concurrent signs), which counts only
# while the signature is confirmed and stands: a guest's credit waits for the confirmation
# link, a withdrawn signature takes its referral with it (ON DELETE CASCADE). Credit never
# touches the petition's count, and nobody recruits themselves.


@dataclass
class SourceCounts:
    """Where a petition's confirmed signatures came from, for its organisers."""

    direct: int
    personal: int
    sources: list[tuple[RecruiterCode, int]]


def normal_code(text: Any) -> str | None:
    """The code in a `?r=` value if it looks like one (any case, spaces around), else None."""
    if not isinstance(text, str):
        return None
    code = text.strip().lower()
    if len(code) != CODE_LENGTH or not set(code) <= set(CODE_ALPHABET):
        return None
    return code


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _add_code(owner: Any, **values: Any) -> RecruiterCode:
    """Insert a code for the owner that `owner` (a where clause) finds, unless it has one
    (a concurrent request may have just made it), drawing a new code on a collision."""
    table = RecruiterCode.__table__
    for _attempt in range(8):
        db.session.execute(
            _insert()(table)
            .values({"is_shown": False, "label": "", **values, "code": _new_code()})
            .values(created_at=utcnow())
            .on_conflict_do_nothing()
        )
        found = db.session.scalar(sa.select(RecruiterCode).where(owner))
        if found is not None:
            return found
    raise DomainError("Please try again.")  # eight collisions in 8.5e11 codes: never


def get_recruiter_code(user: Any) -> RecruiterCode | None:
    """The member's own code, if they have one yet."""
    if not policies.is_member(user):
        return None
    return db.session.scalar(sa.select(RecruiterCode).where(RecruiterCode.user_id == user.id))


def issue_recruiter_code(user: User) -> RecruiterCode:
    """The member's own code, the same on every petition they share (made on first use).
    Raises NotAllowed for visitors."""
    if not policies.is_member(user):
        raise NotAllowed("Log in to get your own share link.")
    found = get_recruiter_code(user)
    return found or _add_code(RecruiterCode.user_id == user.id, user_id=user.id)


def ensure_recruiter_code(user_id: int) -> None:
    """Make the code of a member who just signed unless they have one, in one statement (no
    read, not even of the member): the step after signing shows it. A code collision (one in
    8.5e11) leaves them without one, and the signed state offers a button that makes one."""
    db.session.execute(
        _insert()(RecruiterCode.__table__)
        .values(code=_new_code(), user_id=user_id, label="", is_shown=False, created_at=utcnow())
        .on_conflict_do_nothing()
    )


def get_guest_code(signature: Signature) -> RecruiterCode | None:
    """The code of a guest's signature, if it has one yet."""
    owner = RecruiterCode.signature_id == signature.id
    return db.session.scalar(sa.select(RecruiterCode).where(owner))


def issue_guest_code(signature: Signature) -> RecruiterCode:
    """A guest's code for the signature they confirmed (it goes if the signature does).
    Raises NotSigned while the signature is unconfirmed."""
    if signature.confirmed_at is None:
        raise NotSigned("Confirm your signature first.")
    found = get_guest_code(signature)
    return found or _add_code(RecruiterCode.signature_id == signature.id, signature_id=signature.id)


def create_source(actor: User, petition: Petition, label: str) -> RecruiterCode:
    """An organiser names a source of signatures for this petition ("newsletter") and gets
    its code. Raises NotAllowed or InvalidInput (`label`: 1 to 40 characters, not taken)."""
    if not policies.can_run_campaign(actor, petition):
        raise NotAllowed("Only the petition's organisers make source links.")
    label = clean_text(label or "")
    if not 1 <= len(label) <= SOURCE_LABEL_MAX:
        raise InvalidInput(f"Name the source in 1 to {SOURCE_LABEL_MAX} characters.", field="label")
    taken = sa.select(RecruiterCode.id).where(
        RecruiterCode.petition_id == petition.id,
        sa.func.lower(RecruiterCode.label) == label.lower(),
    )
    if db.session.scalar(taken) is not None:
        raise InvalidInput("This petition already has a source with that name.", field="label")
    owner = sa.and_(RecruiterCode.petition_id == petition.id, RecruiterCode.label == label)
    code = _add_code(owner, petition_id=petition.id, label=label, created_by_id=actor.id)
    if code.created_by_id != actor.id:  # a concurrent request made it first
        raise InvalidInput("This petition already has a source with that name.", field="label")
    return code


def set_recruiter_shown(user: User, shown: bool) -> RecruiterCode:
    """A member chooses whether their name is listed among petitions' top recruiters.
    Raises NotAllowed (not in good standing)."""
    if not policies.in_good_standing(user):
        raise NotAllowed(policies.participation_problem(user) or NotAllowed.message)
    code = issue_recruiter_code(user)
    code.is_shown = bool(shown)
    db.session.flush()
    return code


def _resolve_code(text: str | None, petition: Petition) -> RecruiterCode | None:
    """The code a share link carried, if it exists and counts on this petition (a member's
    anywhere; a source's, and a guest's, only on their own petition); anything else is
    ignored, as if there were no code."""
    code = normal_code(text)
    if code is None:
        return None
    row = db.session.execute(
        sa.select(RecruiterCode, Signature.petition_id)
        .outerjoin(Signature, Signature.id == RecruiterCode.signature_id)
        .where(RecruiterCode.code == code)
    ).first()
    if row is None:
        return None
    found, signed_on = row
    if found.petition_id not in (None, petition.id) or signed_on not in (None, petition.id):
        return None
    return found


def _is_self(code: RecruiterCode, user_id: int | None, email: str | None) -> bool:
    """Whether the signer owns the code: the same member, or the same address (a guest
    signing by their own account's or earlier signature's link)."""
    if code.user_id is not None:
        if code.user_id == user_id:
            return True
        owner_email = db.session.scalar(sa.select(User.email).where(User.id == code.user_id))
        return bool(email and owner_email and normalise_email(owner_email) == email)
    if code.signature_id is not None:
        owner = db.session.execute(
            sa.select(Signature.user_id, Signature.email_normalised).where(
                Signature.id == code.signature_id
            )
        ).first()
        if owner is None:
            return True  # its signature is gone: nobody to credit
        return (user_id is not None and owner.user_id == user_id) or (
            email is not None and owner.email_normalised == email
        )
    return False


def _credit(
    code: RecruiterCode, petition: Petition, signature_id: int, *, user_id: int | None, email: Any
) -> None:
    """Credit the code's owner with this (new) signature, once, unless it is their own."""
    if _is_self(code, user_id, email):
        return
    db.session.execute(
        _insert()(Referral.__table__)
        .values(
            signature_id=signature_id,
            petition_id=petition.id,
            code_id=code.id,
            recruiter_id=code.user_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )


def _counted_referrals() -> Any:
    """Referrals whose signature is confirmed (and, being a row, still stands)."""
    return (
        sa.select(sa.func.count())
        .select_from(Referral)
        .join(Signature, Signature.id == Referral.signature_id)
        .where(Signature.confirmed_at.is_not(None))
    )


def brought(user: Any, petition: Petition) -> int:
    """How many standing, confirmed signatures on the petition the member's link brought."""
    if not policies.is_member(user):
        return 0
    query = _counted_referrals().where(
        Referral.petition_id == petition.id, Referral.recruiter_id == user.id
    )
    return int(db.session.scalar(query) or 0)


def brought_by_code(code: RecruiterCode) -> int:
    """How many standing, confirmed signatures this code brought (a guest's link)."""
    return int(db.session.scalar(_counted_referrals().where(Referral.code_id == code.id)) or 0)


def brought_by(user: User) -> dict[int, int]:
    """{petition id: signatures the member's link brought} for every petition it brought any."""
    n = sa.func.count()
    rows = db.session.execute(
        sa.select(Referral.petition_id, n)
        .join(Signature, Signature.id == Referral.signature_id)
        .where(Referral.recruiter_id == user.id, Signature.confirmed_at.is_not(None))
        .group_by(Referral.petition_id)
    )
    return {petition_id: n for petition_id, n in rows}  # noqa: C416  (rows of a Result)


@cache
def brought_mark() -> Any:
    """A mark column (see `signature_mark`): what the viewer's link brought to the petition
    `mark_petition_id`."""
    referrals, signatures = Referral.__table__, Signature.__table__
    return (
        sa.select(sa.func.count())
        .select_from(referrals.join(signatures, signatures.c.id == referrals.c.signature_id))
        .where(
            referrals.c.recruiter_id == User.id,
            referrals.c.petition_id == sa.bindparam("mark_petition_id"),
            signatures.c.confirmed_at.is_not(None),
        )
        .scalar_subquery()
    )


@cache
def code_mark() -> Any:
    """A mark column: the viewer's own code and whether they are listed ("abcd2345:1"), NULL
    when they have none yet."""
    codes = RecruiterCode.__table__
    shown = sa.case((codes.c.is_shown.is_(True), ":1"), else_=":0")
    return sa.select(codes.c.code + shown).where(codes.c.user_id == User.id).scalar_subquery()


def top_recruiters(petition: Petition, limit: int = 5) -> list[tuple[str, int]]:
    """(name, signatures brought) of the petition's best recruiters who chose to be listed,
    most first; accounts that are deleted or banned are left out."""
    n = sa.func.count().label("n")
    rows = db.session.execute(
        sa.select(User, n)
        .select_from(Referral)
        .join(Signature, Signature.id == Referral.signature_id)
        .join(RecruiterCode, RecruiterCode.id == Referral.code_id)
        .join(User, User.id == Referral.recruiter_id)
        .where(
            Referral.petition_id == petition.id,
            Signature.confirmed_at.is_not(None),
            RecruiterCode.is_shown.is_(True),
            User.deleted_at.is_(None),
            User.is_banned.is_(False),
        )
        .group_by(User.id)
        .order_by(n.desc(), User.id)
        .limit(limit)
    )
    return [(user.name, count) for user, count in rows]


def sources(petition: Petition) -> list[RecruiterCode]:
    """The petition's named sources, oldest first."""
    return list(
        db.session.scalars(
            sa.select(RecruiterCode)
            .where(RecruiterCode.petition_id == petition.id)
            .order_by(RecruiterCode.id)
        )
    )


def source_counts(petition: Petition) -> SourceCounts:
    """Confirmed signatures by where they came from: each named source, personal links (all
    members' and guests' together) and direct (everything else, so the three add up to the
    count)."""
    n = sa.func.count()
    rows = db.session.execute(
        sa.select(RecruiterCode.petition_id, RecruiterCode.id, n)
        .select_from(Referral)
        .join(Signature, Signature.id == Referral.signature_id)
        .outerjoin(RecruiterCode, RecruiterCode.id == Referral.code_id)
        .where(Referral.petition_id == petition.id, Signature.confirmed_at.is_not(None))
        .group_by(RecruiterCode.petition_id, RecruiterCode.id)
    ).all()
    by_source = {code_id: count for source, code_id, count in rows if source is not None}
    personal = sum(count for source, _id, count in rows if source is None)
    named = [(code, by_source.get(code.id, 0)) for code in sources(petition)]
    referred = personal + sum(by_source.values())
    return SourceCounts(
        direct=max(petition.signature_count - referred, 0), personal=personal, sources=named
    )


def export_recruiting(user: User) -> dict[str, Any] | None:
    """The member's share code, whether they are listed, and what it brought per petition
    (by slug), for "export my data"; None if they never had a code."""
    code = get_recruiter_code(user)
    if code is None:
        return None
    counts = brought_by(user)
    slugs = db.session.execute(
        sa.select(Petition.id, Petition.slug).where(Petition.id.in_(list(counts)))
    )
    return {
        "code": code.code,
        "listed_among_top_recruiters": code.is_shown,
        "brought": {slug: counts[pid] for pid, slug in slugs},
    }


def forget_recruiter(user: User) -> None:
    """On account deletion: the code goes, and its credits stay (organisers' counts by
    source still add up) with no person behind them."""
    db.session.execute(
        sa.update(Referral)
        .where(Referral.recruiter_id == user.id)
        .values(recruiter_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.delete(RecruiterCode)
        .where(RecruiterCode.user_id == user.id)
        .execution_options(synchronize_session=False)
    )


# Reading --------------------------------------------------------------------------------

FILTERS = ("open", "closed", "won")
SORTS = ("popular", "recent", "trending")


def _last_day_subquery(now: datetime) -> Any:
    return (
        sa.select(Signature.petition_id, sa.func.count().label("n"))
        .where(Signature.confirmed_at >= now - timedelta(hours=24))
        .group_by(Signature.petition_id)
        .subquery()
    )


def count_of(petition_id: int) -> int | None:
    """The petition's signature count as committed now (one small query), or None. Run as a
    Core statement built once: it runs on every view of a petition page."""
    statement = _statement(_COUNT_OF, _build_count_of)
    return db.session.connection().execute(statement, {"petition_id": petition_id}).scalar()


_COUNT_OF: dict[str, Any] = {}


def _build_count_of() -> Any:
    return _count_where("petition_id")


def _count_where(param: str) -> Any:
    """The count of the petition whose id is the parameter `param` (base + counter slots)."""
    return sa.select(Petition.signature_count).where(Petition.id == sa.bindparam(param))


def progress_of(petition_id: int) -> Petition | None:
    """The petition with its count as committed now, for its progress (one query)."""
    return db.session.scalar(
        sa.select(Petition)
        .where(Petition.id == petition_id)
        .execution_options(populate_existing=True)
    )


def next_deadline() -> datetime | None:
    """When the next open petition's deadline passes (None: none has one ahead): lists of
    open petitions change by themselves then."""
    return db.session.scalar(
        sa.select(sa.func.min(Petition.deadline)).where(
            Petition.status == "open", Petition.deadline > utcnow()
        )
    )


def list_petitions(status: str = "open", sort: str = "popular") -> sa.Select[Any]:
    """Public petitions with this status ("open" excludes past deadlines), in this order
    (popular: most signatures; recent: newest; trending: most signatures in 24 hours)."""
    now = utcnow()
    query = sa.select(Petition)
    if status == "closed":
        query = query.where(Petition.closed_clause(now))
    elif status == "won":
        query = query.where(Petition.status == "won")
    elif status == "all":
        query = query.where(Petition.status.in_(PUBLIC_STATUSES))
    else:
        query = query.where(Petition.open_clause(now))
    if sort == "trending":
        recent = _last_day_subquery(now)
        query = query.outerjoin(recent, recent.c.petition_id == Petition.id)
        order = [sa.func.coalesce(recent.c.n, 0).desc(), Petition.signature_count.desc()]
    elif sort == "recent":
        order = [sa.func.coalesce(Petition.opened_at, Petition.created_at).desc()]
    else:
        order = [Petition.signature_count.desc()]
    return query.order_by(*order, Petition.id.desc())


def last_day_counts(petitions: list[Petition]) -> dict[int, int]:
    """Confirmed signatures in the last 24 hours, for these petitions (one query)."""
    ids = [p.id for p in petitions]
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Signature.petition_id, sa.func.count())
        .where(
            Signature.petition_id.in_(ids),
            Signature.confirmed_at >= utcnow() - timedelta(hours=24),
        )
        .group_by(Signature.petition_id)
    )
    return {pid: n for pid, n in rows.all()}  # noqa: C416  (a Result looks like a mapping)


_FOR_SIGNING = (
    lazyload(Petition.creator),
    load_only(Petition.id, Petition.slug, Petition.status, Petition.deadline, Petition.creator_id),
)


_SIGNING_COLUMNS = ("id", "status", "deadline", "creator_id")


@cache
def _signing_mark(column: str) -> Any:
    petitions = Petition.__table__
    return (
        sa.select(petitions.c[column])
        .where(petitions.c.slug == sa.bindparam("mark_slug"))
        .scalar_subquery()
    )


def signing_marks(slug: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    """What signing and the visibility check read of the petition, as columns for the
    signer's login query (see `accounts.viewer.load_viewer`): one round trip for the signer and the
    petition. `get_petition(..., marks=)` takes the values back."""
    return {
        f"signing_{name}": (_signing_mark(name), {"mark_slug": slug}) for name in _SIGNING_COLUMNS
    }


def _petition_from_marks(slug: str, marks: dict[str, Any]) -> Petition:
    """The petition `signing_marks` read, persistent in the session without a query of its
    own (what it did not read loads when asked, by primary key)."""
    petition_id = marks["signing_id"]
    if petition_id is None:
        raise NotFoundError("There is no petition at this address.")
    values = {name: marks[f"signing_{name}"] for name in _SIGNING_COLUMNS}
    known = db.session.identity_map.get(db.session.identity_key(Petition, petition_id))
    if known is None:
        petition = Petition(slug=slug, **values)
        make_transient_to_detached(petition)
        db.session.add(petition)
        return petition
    for name, value in values.items():  # what was just read, over what the session held
        sa.orm.attributes.set_committed_value(known, name, value)
    return known  # type: ignore[no-any-return]


def get_petition(
    slug: str, *, for_signing: bool = False, marks: dict[str, Any] | None = None
) -> Petition:
    """The petition with this slug; raises NotFoundError. `for_signing`: only what signing
    and the visibility check read (the signing path; anything else loads when asked), from
    `marks` when the login's query read them (`signing_marks`)."""
    if for_signing and marks and "signing_id" in marks:
        return _petition_from_marks(slug, marks)
    query = sa.select(Petition).where(Petition.slug == slug)
    if for_signing:
        query = query.options(*_FOR_SIGNING)
    petition = db.session.scalar(query)
    if petition is None:
        raise NotFoundError("There is no petition at this address.")
    return petition


def _latest_confirmed(petition: Petition, limit: int, *where: Any) -> list[Signature]:
    """The petition's latest confirmed signatures that also meet `where`, signers loaded."""
    return list(
        db.session.scalars(
            sa.select(Signature)
            .options(joinedload(Signature.user))
            .where(
                Signature.petition_id == petition.id,
                Signature.confirmed_at.is_not(None),
                *where,
            )
            .order_by(Signature.confirmed_at.desc(), Signature.id.desc())
            .limit(limit)
        )
    )


def recent_signers(petition: Petition, limit: int = 10) -> list[Signature]:
    """The latest confirmed signatures that chose to show their name."""
    return _latest_confirmed(petition, limit, Signature.is_public.is_(True))


def reasons(petition: Petition, limit: int = 10) -> list[Signature]:
    """Why people are signing: the latest visible reasons of confirmed signatures."""
    return _latest_confirmed(
        petition, limit, Signature.reason != "", Signature.reason_hidden.is_(False)
    )


def _day(column: Any) -> Any:
    if db.engine.dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def daily_counts(petition: Petition, days: int = 60) -> list[tuple[date, int]]:
    """Confirmed signatures per day over the petition's last `days` days (gaps filled).

    Memoised like top_countries, under the petition's count and the window's dates: the
    GROUP BY reads every signature in the window (9 ms for 300,000 on PostgreSQL).
    """
    from fancampaign.memo import memoise

    end = (petition.effective_closed_at or utcnow()).date()
    start_at = petition.opened_at or petition.created_at
    start = max(start_at.date(), end - timedelta(days=days - 1))
    stamp = petition.created_at.timestamp()
    key = f"daily_counts:{petition.id}:{stamp}:{petition.signature_count}:{start}:{end}"
    pairs = memoise(key, lambda: _count_days(petition, start_at, start))
    by_day = {date.fromisoformat(day): n for day, n in pairs}
    out = []
    current = start
    while current <= end:
        out.append((current, by_day.get(current, 0)))
        current += timedelta(days=1)
    return out


def _count_days(petition: Petition, start_at: datetime, start: date) -> list[tuple[str, int]]:
    since = datetime.combine(start, datetime.min.time(), tzinfo=start_at.tzinfo)
    day = _day(Signature.confirmed_at)
    rows = db.session.execute(
        sa.select(day.label("day"), sa.func.count())
        .where(Signature.petition_id == petition.id, Signature.confirmed_at >= since)
        .group_by(day)
    ).all()
    return [
        ((value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat(), n)
        for value, n in rows
    ]


def top_countries(petition: Petition, limit: int = 8) -> list[tuple[str, int]]:
    """Where the signatures come from: (country code, count), most first.

    Memoised (Redis, else this process) under the petition's count: the GROUP BY reads every
    signature (half a second at 300,000), and a new or withdrawn signature changes the key.
    """
    from fancampaign.memo import memoise

    stamp = petition.created_at.timestamp()
    key = f"top_countries:{petition.id}:{stamp}:{petition.signature_count}:{limit}"
    pairs = memoise(key, lambda: _count_countries(petition, limit))
    return [(code, count) for code, count in pairs]


def _count_countries(petition: Petition, limit: int) -> list[tuple[str, int]]:
    n = sa.func.count().label("n")
    return [
        (code, count)
        for code, count in db.session.execute(
            sa.select(Signature.country, n)
            .where(
                Signature.petition_id == petition.id,
                Signature.confirmed_at.is_not(None),
                Signature.country.is_not(None),
            )
            .group_by(Signature.country)
            .order_by(n.desc(), Signature.country)
            .limit(limit)
        )
    ]


def export_rows(petition: Petition, chunk: int = 2000) -> Iterator[tuple[str, str, str, str]]:
    """(name, country, date, reason) of confirmed signatures, oldest first: the delivery list.

    Every signer agreed that their name and country go to the target, so the name is given
    whatever "show my name publicly" says (that choice is about this site's pages); only an
    erased account's signature, which no longer has a name, is "anonymous". Keyset pagination
    by id: each chunk is one small query, so a million rows never sit in memory together.
    Never emails.
    """
    from fancampaign.petitions.countries import country_name

    last_id = 0
    name = sa.func.coalesce(
        sa.func.nullif(User.display_name, ""), User.username, sa.func.nullif(Signature.name, "")
    )
    while True:
        rows = db.session.execute(
            sa.select(
                Signature.id,
                name,
                User.deleted_at,
                Signature.country,
                Signature.confirmed_at,
                Signature.reason,
                Signature.reason_hidden,
            )
            .outerjoin(User, User.id == Signature.user_id)
            .where(
                Signature.petition_id == petition.id,
                Signature.confirmed_at.is_not(None),
                Signature.id > last_id,
            )
            .order_by(Signature.id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for sid, signer, deleted_at, country, confirmed_at, reason, hidden in rows:
            shown = "anonymous" if not signer or deleted_at is not None else signer
            yield (
                shown,
                country_name(country),
                confirmed_at.date().isoformat(),
                "" if hidden else reason,
            )
            last_id = sid


def recount(*, fix: bool = False) -> list[tuple[Petition, int, int]]:
    """Compare every count with its confirmed rows: [(petition, stored, actual)] that differ.

    With fix, each drifting petition's base is set from the rows and its slots emptied, in
    one transaction; on PostgreSQL the signatures table is locked in SHARE mode meanwhile
    (signing waits a moment) so no signature slips between the count and the repair.
    """
    if fix and db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("LOCK TABLE signatures IN SHARE MODE"))
    actual = (
        sa.select(sa.func.count())
        .where(Signature.petition_id == Petition.id, Signature.confirmed_at.is_not(None))
        .scalar_subquery()
    )
    drifts = [
        (petition, stored, n)
        for petition, stored, n in db.session.execute(
            sa.select(Petition, Petition.signature_count, actual).where(
                Petition.signature_count != actual
            )
        )
    ]
    if fix and drifts:
        ids = [p.id for p, _s, _a in drifts]
        db.session.execute(
            sa.delete(PetitionCounterSlot)
            .where(PetitionCounterSlot.petition_id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(Petition)
            .where(Petition.id.in_(ids))
            .values(signature_base=actual)
            .execution_options(synchronize_session=False)
        )
        for petition, _stored, _actual in drifts:
            db.session.expire(petition, ["signature_base", "signature_count"])
    return drifts


# Accounts: claiming, exporting, erasing -------------------------------------------------


def claim_guest_signatures(user: User) -> int:
    """Guest signatures made with this (now confirmed) address become the user's.

    Unconfirmed ones are confirmed and counted: the address is proven. Petitions the user
    already signed as a member keep that signature. Returns how many were claimed.
    """
    if not user.email:
        return 0
    address = normalise_email(user.email)
    already = sa.select(Signature.petition_id).where(Signature.user_id == user.id)
    guests = list(
        db.session.scalars(
            sa.select(Signature)
            .options(joinedload(Signature.petition))
            .where(
                Signature.email_normalised == address,
                Signature.user_id.is_(None),
                Signature.petition_id.not_in(already),
            )
        )
    )
    for signature in guests:
        signature.user_id = user.id
        db.session.flush()
        if (
            signature.confirmed_at is None
            and signature.petition.is_open
            and _mark_confirmed(signature)
        ):
            ledger.record_addition(signature.petition_id, signature.id)
            _bump(signature.petition, +1)
    return len(guests)


def anonymise_signatures(user: User) -> None:
    """On account deletion: signatures stay counted, as anonymous rows with no person."""
    db.session.execute(
        sa.update(Signature)
        .where(Signature.user_id == user.id)
        .values(
            user_id=None,
            name="",
            email=None,
            email_normalised=None,
            is_public=False,
            keep_updated=False,
        )
        .execution_options(synchronize_session=False)
    )
    if user.email:
        db.session.execute(
            sa.update(Signature)
            .where(Signature.email_normalised == normalise_email(user.email))
            .values(name="", email=None, email_normalised=None, is_public=False)
            .execution_options(synchronize_session=False)
        )


def export_signatures(user: User) -> list[dict[str, Any]]:
    """The user's signatures for "export my data"."""
    rows = db.session.execute(
        sa.select(Signature, Petition.slug, Petition.title)
        .join(Petition, Petition.id == Signature.petition_id)
        .where(Signature.user_id == user.id)
        .order_by(Signature.id)
    ).all()
    return [
        {
            "petition": slug,
            "title": title,
            "country": sig.country,
            "reason": sig.reason,
            "show_name": sig.is_public,
            "keep_updated": sig.keep_updated,
            "signed_at": sig.created_at.isoformat(),
            "confirmed_at": sig.confirmed_at.isoformat() if sig.confirmed_at else None,
        }
        for sig, slug, title in rows
    ]


def signed_by(user: User, *, public_only: bool, limit: int = 50) -> list[tuple[Petition, Any]]:
    """Petitions the user signed, newest first: (petition, signed at)."""
    query = (
        sa.select(Petition, Signature.created_at)
        .join(Signature, Signature.petition_id == Petition.id)
        .where(Signature.user_id == user.id, Signature.confirmed_at.is_not(None))
        .order_by(Signature.created_at.desc())
        .limit(limit)
    )
    if public_only:
        query = query.where(Signature.is_public.is_(True), Petition.status.in_(PUBLIC_STATUSES))
    return [(p, at) for p, at in db.session.execute(query)]
