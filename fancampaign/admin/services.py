"""The admin console's actions on accounts: find, change role, resend confirmation, erase.

Each action checks its policy, writes through the owning area's service and appends one row to
the moderation audit log (moderation.services.log_action). Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination, SelectPagination

from fancampaign import policies
from fancampaign.accounts import services as accounts
from fancampaign.accounts.models import Role, User
from fancampaign.errors import InvalidInput, NotAllowed
from fancampaign.extensions import db
from fancampaign.forum.models import Post
from fancampaign.moderation.models import COMMAND_LINE, SANCTIONS, ModerationAction
from fancampaign.moderation.services import check_reason, log_action
from fancampaign.petitions.models import Signature
from fancampaign.text import clean_text

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
