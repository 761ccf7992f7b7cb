"""Appeals: the person a decision was about asks, once, for another moderator to look again.

An appeal is made from the item itself (a hidden or deleted post, the account for a sanction)
and waits in the review queue. Another moderator than the one who decided takes it: upheld,
the item is restored or the sanction lifted (through the services that do that, so it is
logged and told as any restore or lift); rejected, the decision stands. Either way the outcome
is logged and the person told.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from fancampaign import policies
from fancampaign.accounts.models import User
from fancampaign.errors import DomainError, InvalidInput, NotAllowed, NotFoundError
from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import Post
from fancampaign.forum.services import recount_thread
from fancampaign.moderation.models import MAX_NOTE, Appeal, ModerationAction
from fancampaign.moderation.services import (
    NothingToDo,
    check_reason,
    get_item,
    log_action,
    restore_item,
    sanction_user,
    tell,
)
from fancampaign.text import clean_multiline


class AlreadyAppealed(DomainError):
    status_code = 409
    message = "You have already appealed this decision. A moderator will look at it."


class NotAppealable(NotAllowed):
    message = "There is no decision about you here to appeal."


class SameModerator(NotAllowed):
    message = (
        "You took the decision this appeal is about: another moderator must decide the appeal."
    )


def appealable(user: Any, kind: str, item_id: int) -> ModerationAction:
    """The latest decision about `user` on this item (for "user": their account) that can be
    appealed; raises NotAppealable."""
    if not policies.is_member(user):
        raise NotAppealable()
    action = db.session.scalar(
        sa.select(ModerationAction)
        .where(
            ModerationAction.target_kind == kind,
            ModerationAction.target_id == item_id,
            ModerationAction.target_user_id == user.id,
            ModerationAction.action.in_(policies.APPEALABLE),
        )
        .order_by(ModerationAction.id.desc())
        .limit(1)
    )
    # Only a post's deletion can be undone (a signature's deleted reason is gone for good).
    if action is None or (action.action == "delete" and action.target_kind != "post"):
        raise NotAppealable()
    return action


def appeal_of(action: ModerationAction) -> Appeal | None:
    return db.session.scalar(sa.select(Appeal).where(Appeal.action_id == action.id))


def make_appeal(user: User, action: ModerationAction, note: str) -> Appeal:
    """Appeal a decision about you, once, with a note. Raises NotAppealable, AlreadyAppealed,
    InvalidInput."""
    existing = appeal_of(action)
    if existing is not None and existing.appellant_id == user.id:
        raise AlreadyAppealed()
    if not policies.can_appeal(user, action, existing):
        raise NotAppealable()
    note = clean_multiline(note or "").strip()
    if not note or not any(ch.isalnum() for ch in note):
        raise InvalidInput("Tell the moderators why the decision should change.", field="note")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"At most {MAX_NOTE:,} characters, please.", field="note")
    appeal = Appeal(action_id=action.id, appellant_id=user.id, note=note)
    try:
        with db.session.begin_nested():
            db.session.add(appeal)
    except IntegrityError:
        raise AlreadyAppealed() from None
    log_action(
        user,
        "appeal",
        action.target_kind,
        action.target_id,
        target_user=user,
        label=action.target_label,
        reason=note,
        details=f"appeal #{appeal.id} against log entry #{action.id}",
    )
    return appeal


def get_appeal(appeal_id: int, viewer: Any) -> Appeal:
    """An appeal the viewer may see (theirs, or any for moderators); else NotFoundError, so
    nobody learns of another's appeal."""
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or not policies.can_see_appeal(viewer, appeal):
        raise NotFoundError()
    return appeal


def _undo(moderator: User, action: ModerationAction, reason: str) -> None:
    """Put back what the decision changed, through the services that log and tell."""
    if action.action in ("hide", "auto_hide"):
        item = get_item(action.target_kind, action.target_id)
        if item.is_hidden and item.hidden_reason != "deleted":
            restore_item(moderator, item, reason)
    elif action.action == "delete":
        post = db.session.get(Post, action.target_id)
        if post is None or not post.is_deleted:
            return
        post.is_deleted = False
        post.deleted_at = None
        post.deleted_by_moderator = False
        recount_thread(post.thread)
        log_action(
            moderator,
            "restore",
            "post",
            post.id,
            target_user=post.author,
            label=action.target_label,
            reason=reason,
            details="deletion undone on appeal",
        )
    elif action.action in ("suspend", "ban"):
        target = db.session.get(User, action.target_id)
        if target is not None and (target.is_suspended or target.is_banned):
            sanction_user(moderator, target, "lift", reason)


def decide_appeal(moderator: User, appeal: Appeal, uphold: bool, reason: str) -> None:
    """Uphold (undo the decision) or reject an appeal, with a reason the appellant is told.
    Raises NotAllowed, SameModerator (the moderator who decided), NothingToDo (decided)."""
    if not policies.can_moderate(moderator):
        raise NotAllowed("Only moderators decide appeals.")
    if appeal.action.moderator_id == moderator.id:
        raise SameModerator()
    if not appeal.is_open:
        raise NothingToDo("This appeal has been decided.")
    if not policies.can_decide_appeal(moderator, appeal):
        raise NotAllowed("You cannot decide this appeal.")
    reason = check_reason(reason)
    action = appeal.action
    if uphold:
        _undo(moderator, action, reason)
    appeal.status = "upheld" if uphold else "rejected"
    appeal.decided_at = utcnow()
    appeal.decided_by_id = moderator.id
    appeal.decision_reason = reason
    db.session.flush()
    log_action(
        moderator,
        "uphold_appeal" if uphold else "reject_appeal",
        action.target_kind,
        action.target_id,
        target_user=appeal.appellant,
        label=action.target_label,
        reason=reason,
        details=f"appeal #{appeal.id} against log entry #{action.id}",
    )
    outcome = "upheld: the decision is undone" if uphold else "rejected: the decision stands"
    tell(
        appeal.appellant,
        moderator,
        f"Your appeal about “{action.target_label[:80]}” was {outcome}. {reason}",
        f"/moderation/appeals/{appeal.id}",
    )


def open_appeals(page: int = 1) -> Pagination:
    """Open appeals, oldest first, for the review queue."""
    stmt = (
        sa.select(Appeal)
        .where(Appeal.status == "open")
        .order_by(Appeal.id)
        .options(
            joinedload(Appeal.action).joinedload(ModerationAction.moderator),
            joinedload(Appeal.appellant),
        )
    )
    return db.paginate(stmt, page=max(page, 1), per_page=30, error_out=False)


def open_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).where(Appeal.status == "open")) or 0)
