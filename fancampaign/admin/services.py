"""The admin console's actions on accounts: find, change role, resend confirmation, erase.

Each action checks its policy, writes through the owning area's service and appends one row to
the moderation audit log (moderation.services.log_action). Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from flask_sqlalchemy.pagination import Pagination, SelectPagination
from limits import parse_many

from fancampaign import policies
from fancampaign.accounts import services as accounts
from fancampaign.accounts.models import Role, User
from fancampaign.admin import models, sitesettings
from fancampaign.errors import InvalidInput, NotAllowed
from fancampaign.extensions import db, utcnow
from fancampaign.forum import services as forum
from fancampaign.forum.models import Post
from fancampaign.mail import services as mail
from fancampaign.mail.models import OutboxMessage
from fancampaign.moderation.models import COMMAND_LINE, SANCTIONS, ModerationAction
from fancampaign.moderation.services import check_reason, log_action
from fancampaign.news import images
from fancampaign.petitions.models import Signature
from fancampaign.text import clean_multiline, clean_text

PER_PAGE = 30


def _require_admin(user: Any) -> None:
    if not policies.can_use_console(user):
        raise NotAllowed("Only admins can do that.")


# Finding users ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    """One line of the console's user list: the account and its counts."""

    user: User
    posts: int
    signatures: int
    sanctions: int


class RowPagination(SelectPagination):
    """db.paginate for a select of several columns: the items are whole rows."""

    def _query_items(self) -> list[Any]:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def user_rows(query: str = "", role: str = "", page: int = 1) -> tuple[Pagination, list[UserRow]]:
    """Accounts whose username, display name or email contains `query` (any case), of `role`
    when given, newest first; with their post, signature and sanction counts. Two queries
    (the count and the page) however many users there are."""
    query = clean_text(query or "").lower()[:100]
    posts = (
        sa.select(sa.func.count(Post.id))
        .where(Post.author_id == User.id, Post.is_deleted.is_(False))
        .scalar_subquery()
    )
    signatures = (
        sa.select(sa.func.count(Signature.id))
        .where(Signature.user_id == User.id, Signature.confirmed_at.is_not(None))
        .scalar_subquery()
    )
    sanctions = (
        sa.select(sa.func.count(ModerationAction.id))
        .where(ModerationAction.target_user_id == User.id, ModerationAction.action.in_(SANCTIONS))
        .scalar_subquery()
    )
    stmt = (
        sa.select(User, posts, signatures, sanctions)
        .where(User.deleted_at.is_(None))
        .order_by(User.created_at.desc(), User.id.desc())
    )
    if query:
        pattern = _like(query)
        stmt = stmt.where(
            sa.or_(
                User.username_lower.like(pattern, escape="\\"),
                sa.func.lower(User.display_name).like(pattern, escape="\\"),
                sa.func.lower(User.email).like(pattern, escape="\\"),
            )
        )
    if role:
        stmt = stmt.where(User.role == Role(role))
    pagination = RowPagination(
        select=stmt, session=db.session(), page=max(page, 1), per_page=PER_PAGE, error_out=False
    )
    return pagination, [UserRow(u, int(p), int(s), int(n)) for u, p, s, n in pagination.items]


def user_counts(user: User) -> UserRow:
    """One account's counts (one query)."""
    row = db.session.execute(
        sa.select(
            sa.select(sa.func.count(Post.id))
            .where(Post.author_id == user.id, Post.is_deleted.is_(False))
            .scalar_subquery(),
            sa.select(sa.func.count(Signature.id))
            .where(Signature.user_id == user.id, Signature.confirmed_at.is_not(None))
            .scalar_subquery(),
            sa.select(sa.func.count(ModerationAction.id))
            .where(
                ModerationAction.target_user_id == user.id,
                ModerationAction.action.in_(SANCTIONS),
            )
            .scalar_subquery(),
        )
    ).one()
    return UserRow(user, int(row[0]), int(row[1]), int(row[2]))


# Acting on accounts -----------------------------------------------------------------------


def change_role(actor: User | None, target: User, role: str, reason: str) -> None:
    """Give `target` a role and log it; actor None is the command line (logged as such).
    Raises NotAllowed (not an admin, or their own role), InvalidInput (unknown role, no
    reason)."""
    if role not in {r.value for r in Role}:
        raise InvalidInput("Choose one of the roles.", field="role")
    reason = check_reason(reason) if actor is not None else (reason or "set-role command")
    before = Role(target.role)
    if before == Role(role):
        raise InvalidInput(f"{target.username} is already {before.label.lower()}.", field="role")
    accounts.set_role(actor, target, Role(role))
    log_action(
        actor,
        "set_role",
        "user",
        target.id,
        target_user=target,
        label=target.username,
        reason=reason,
        details=f"{before.value} → {role}" if actor is not None else COMMAND_LINE,
    )


def resend_confirmation(actor: User, target: User, secret_key: str, base_url: str) -> None:
    """Send the confirmation link again; raises NotAllowed when the account needs none."""
    if not policies.can_resend_confirmation(actor, target):
        raise NotAllowed("This account has no address waiting for confirmation.")
    accounts.send_confirmation(target, secret_key, base_url)
    log_action(
        actor,
        "resend_confirmation",
        "user",
        target.id,
        target_user=target,
        label=target.username,
        reason="Confirmation link sent again from the admin console.",
    )


def erase_account(actor: User, target: User, confirm: str, reason: str) -> None:
    """Erase an account on its owner's request, as their own "delete my account" does.
    Raises NotAllowed (policy), InvalidInput (the username not typed back, no reason)."""
    if not policies.can_erase_account(actor, target):
        raise NotAllowed("You cannot erase this account (admins are demoted first).")
    if (confirm or "").strip().lower() != target.username_lower:
        raise InvalidInput("Type the account's username to confirm.", field="confirm")
    reason = check_reason(reason)
    accounts.erase_user(target)
    # Logged after the erasure: the log keeps the act, not the name that was erased.
    log_action(
        actor,
        "erase_account",
        "user",
        target.id,
        target_user=target,
        label=target.username,
        reason=reason,
    )


# Site settings ----------------------------------------------------------------------------

LIMIT_FIELDS = (
    "ratelimit_posts",
    "ratelimit_threads",
    "ratelimit_reports",
    "ratelimit_sign",
    "ratelimit_register",
)
TEXT_FIELDS = {
    "site_name": models.MAX_SITE_NAME,
    "tagline": models.MAX_TAGLINE,
    "footer_text": models.MAX_FOOTER,
}
COUNT_FIELDS = ("auto_hide_reports", "held_first_posts", "links_after_posts")
IMAGE_FIELDS = {"logo_key": "The logo", "share_image_key": "The default share image"}


class ColourContrast(InvalidInput):
    message = "That colour does not have enough contrast."


def settings_row() -> models.SiteSettings:
    """The settings row, made with the configuration's defaults when there is none yet."""
    row = db.session.get(models.SiteSettings, 1)
    if row is None:
        row = models.SiteSettings(id=1, version=0)
        db.session.add(row)
        db.session.flush()
    return row


def _check_values(values: dict[str, Any]) -> dict[str, Any]:
    """The changes, cleaned; raises InvalidInput (with field=) for the first bad one."""
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name in TEXT_FIELDS:
            text = clean_multiline(value or "").strip() if name == "footer_text" else None
            text = text if text is not None else clean_text(value or "").strip()
            if len(text) > TEXT_FIELDS[name]:
                raise InvalidInput(f"At most {TEXT_FIELDS[name]:,} characters, please.", field=name)
            if name == "site_name" and not text:
                raise InvalidInput("The site needs a name.", field=name)
            clean[name] = text
        elif name == "accent_colour":
            colour = (value or "").strip().lower()
            if colour and not sitesettings.HEX.match(colour):
                raise InvalidInput("Give the colour as #rrggbb, e.g. #1d70b8.", field=name)
            problem = sitesettings.contrast_problem(colour) if colour else None
            if problem:
                raise ColourContrast(problem, field=name)
            clean[name] = colour or None
        elif name in LIMIT_FIELDS:
            text = clean_text(value or "").strip()
            if text:
                try:
                    parse_many(text)
                except ValueError:
                    raise InvalidInput(
                        "Write a limit as “30 per hour” (several with “;”).", field=name
                    ) from None
            clean[name] = text or None
        elif name in COUNT_FIELDS:
            if value is None and name == "auto_hide_reports":
                clean[name] = None
                continue
            if not isinstance(value, int) or not 0 <= value <= 1000:
                raise InvalidInput("A whole number from 0 to 1,000, please.", field=name)
            if name == "auto_hide_reports" and value < 1:
                raise InvalidInput("At least 1 report, or leave it empty.", field=name)
            clean[name] = value
        elif name == "abuse_email":
            try:
                clean[name] = accounts.check_email(value) if (value or "").strip() else ""
            except InvalidInput as err:
                raise InvalidInput(err.message, field=name) from err
        elif name == "registration_open":
            clean[name] = bool(value)
        else:
            raise InvalidInput(f"Unknown setting {name}.")
    return clean


def _store_image(upload: IO[bytes], field: str) -> str:
    """Process an upload as cover images are (checked, re-encoded, no metadata); the name of
    the file to show."""
    try:
        data = images.read_limited(upload, current_app.config["UPLOAD_MAX_BYTES"])
        image = images.process(data)
    except InvalidInput as err:
        raise InvalidInput(
            err.message.replace("The cover image", IMAGE_FIELDS[field]), field=field
        ) from err
    images.write(image)
    # The logo is small: its narrowest version; a share image: its widest (at most 1,600).
    width = image.widths[0] if field == "logo_key" else image.widths[-1]
    return images.filename(image.key, width)


def update_settings(
    actor: User, values: dict[str, Any], uploads: dict[str, IO[bytes] | None] | None = None
) -> list[str]:
    """Change the site's settings; every worker reads them on its next request. Returns
    the names changed (logged). Raises NotAllowed, InvalidInput, ColourContrast."""
    if not policies.can_change_settings(actor):
        raise NotAllowed("Only admins change the site's settings.")
    clean = _check_values(values)
    for field, upload in (uploads or {}).items():
        if field not in IMAGE_FIELDS:
            raise InvalidInput(f"Unknown image {field}.")
        if upload is not None:
            clean[field] = _store_image(upload, field)
    row = settings_row()
    changed = sorted(name for name, value in clean.items() if getattr(row, name) != value)
    if not changed:
        return []
    for name in changed:
        setattr(row, name, clean[name])
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    # In SQL, not read-modify-write: two admins saving at once both move the version.
    db.session.flush()
    db.session.execute(
        sa.update(models.SiteSettings)
        .where(models.SiteSettings.id == 1)
        .values(version=models.SiteSettings.version + 1)
    )
    log_action(
        actor,
        "change_settings",
        "site",
        1,
        label="Site settings",
        reason="Changed in the admin console.",
        details=", ".join(changed),
    )
    sitesettings.forget()
    return changed


def remove_image(actor: User, field: str) -> None:
    """Go back to no logo (or no default share image)."""
    if field not in IMAGE_FIELDS:
        raise InvalidInput(f"Unknown image {field}.")
    if not policies.can_change_settings(actor):
        raise NotAllowed("Only admins change the site's settings.")
    row = settings_row()
    if getattr(row, field) is None:
        return
    setattr(row, field, None)
    db.session.flush()
    db.session.execute(
        sa.update(models.SiteSettings)
        .where(models.SiteSettings.id == 1)
        .values(version=models.SiteSettings.version + 1)
    )
    log_action(actor, "change_settings", "site", 1, label="Site settings", details=field)
    sitesettings.forget()


# Forum categories -------------------------------------------------------------------------


def save_category(actor: User, category: Any, **fields: Any) -> Any:
    """Add or change a forum category (forum.services.save_category) and log it."""
    is_new = category is None
    saved = forum.save_category(actor, category, **fields)
    log_action(
        actor,
        "add_category" if is_new else "edit_category",
        "category",
        saved.id,
        label=saved.name,
        reason="In the admin console.",
    )
    return saved


def shift_category(actor: User, category: Any, step: int) -> None:
    """Move a category up or down (forum.services.shift_category) and log it."""
    forum.shift_category(actor, category, step)
    log_action(
        actor,
        "edit_category",
        "category",
        category.id,
        label=category.name,
        reason="In the admin console.",
        details="moved up" if step < 0 else "moved down",
    )


# The mail outbox --------------------------------------------------------------------------

MAIL_STATES = ("queued", "retrying", "failed", "sent")


def _mail_state(state: str) -> Any:
    unsent = OutboxMessage.sent_at.is_(None)
    return {
        "queued": sa.and_(unsent, OutboxMessage.failed_at.is_(None), OutboxMessage.attempts == 0),
        "retrying": sa.and_(unsent, OutboxMessage.failed_at.is_(None), OutboxMessage.attempts > 0),
        "failed": sa.and_(unsent, OutboxMessage.failed_at.is_not(None)),
        "sent": OutboxMessage.sent_at.is_not(None),
    }[state]


def mail_counts() -> dict[str, int]:
    """How many messages wait, are being retried, failed for good, were sent (one query)."""
    row = db.session.execute(
        sa.select(
            *(
                sa.func.count(OutboxMessage.id).filter(_mail_state(state)).label(state)
                for state in MAIL_STATES
            )
        )
    ).one()
    return {state: int(getattr(row, state) or 0) for state in MAIL_STATES}


def mail_page(state: str, page: int = 1) -> Pagination:
    """Messages in one state, newest first."""
    if state not in MAIL_STATES:
        raise InvalidInput("Unknown state.")
    stmt = sa.select(OutboxMessage).where(_mail_state(state)).order_by(OutboxMessage.id.desc())
    return db.paginate(stmt, page=max(page, 1), per_page=PER_PAGE, error_out=False)


def resend_mail(actor: User, message: OutboxMessage) -> None:
    """Give a message the worker gave up on a fresh set of attempts, at once. Raises
    NotAllowed when it did not fail (or the actor is no admin)."""
    if not policies.can_resend_mail(actor, message):
        raise NotAllowed("Only a message that failed can be sent again.")
    message.failed_at = None
    message.attempts = 0
    message.next_attempt_at = utcnow()
    db.session.flush()
    mail.queue_again(message)
    log_action(
        actor,
        "resend_mail",
        "mail",
        message.id,
        label=message.subject,
        reason="Sent again from the admin console.",
        details=(message.last_error or "")[:300],
    )
