"""Moderation: reports, decisions on items, sanctions, watched words, and the audit log.

Every decision a moderator takes goes through `_log` (exactly one ModerationAction row) and
tells the person affected (notify kind "moderation": in the app and always by email).
Services flush, never commit; they take the acting user and never touch the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import has_app_context
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from fancampaign import policies
from fancampaign.accounts.models import User, new_session_token
from fancampaign.admin import sitesettings
from fancampaign.errors import DomainError, InvalidInput, NotAllowed, NotFoundError
from fancampaign.extensions import db, utcnow
from fancampaign.moderation import watch
from fancampaign.moderation.items import (
    HELD,
    HIDDEN_BY_MODERATOR,
    HIDDEN_BY_REPORTS,
    KINDS,
    Item,
    load_items,
)
from fancampaign.moderation.models import (
    ACTIONS,
    MAX_NOTE,
    MAX_REASON,
    REPORT_REASONS,
    SANCTIONS,
    WORD_ACTIONS,
    ModerationAction,
    Report,
    WatchedWord,
)
from fancampaign.notifications.services import notify
from fancampaign.text import clean_multiline, clean_text
from fancampaign.urls import base_url

# Errors ---------------------------------------------------------------------------------


class AlreadyReported(DomainError):
    status_code = 409
    message = "You have already reported this. Thank you: a moderator will look at it."


class OwnContent(NotAllowed):
    message = "You cannot report your own content."


class CannotSanction(NotAllowed):
    message = "You cannot sanction this user."


class NothingToDo(DomainError):
    status_code = 409
    message = "That has already been done."


class WordExists(DomainError):
    message = "That word is already on the list."


GONE = "That could not be found: it may have been removed."


# Input ----------------------------------------------------------------------------------


def check_reason(reason: str | None) -> str:
    """A moderator's reason: required (the author is shown it), at most 1,000 characters."""
    reason = clean_multiline(reason or "").strip()
    if not reason or not any(ch.isalnum() for ch in reason):
        raise InvalidInput("Give a reason: it is shown to the person affected.", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            f"The reason must be {MAX_REASON:,} characters or fewer.", field="reason"
        )
    return reason


def _site_url() -> str:
    return base_url() if has_app_context() else ""


def _tell(user: User | None, moderator: User | None, text: str, url: str = "") -> None:
    """A decision about you: in the app, and by email (kind "moderation" is always emailed)."""
    if user is None:
        return
    notify(user, "moderation", text, url, actor=moderator, base_url=_site_url())


def _log(
    moderator: User | None,
    action: str,
    kind: str,
    target_id: int,
    *,
    target_user: User | None = None,
    label: str = "",
    reason: str = "",
    details: str = "",
) -> ModerationAction:
    """Append one row to the audit log."""
    row = ModerationAction(
        moderator_id=moderator.id if moderator else None,
        action=action,
        target_kind=kind,
        target_id=target_id,
        target_user_id=target_user.id if target_user else None,
        target_label=label[:200],
        reason=reason[:MAX_REASON],
        details=details[:300],
    )
    db.session.add(row)
    db.session.flush()
    return row


# The writer and the messenger other areas share (the admin console, appeals).
log_action = _log
tell = _tell


def log_petition_action(
    actor: User | None, action: str, petition: Any, *, details: str = ""
) -> ModerationAction:
    """An organiser's (or the target's, actor None) action on a petition, in the audit log."""
    return _log(actor, action, "petition", petition.id, label=petition.title, details=details)


def _require_moderator(user: Any) -> None:
    if not policies.can_moderate(user):
        raise NotAllowed("Only moderators can do that.")


# Items ----------------------------------------------------------------------------------


def get_item(kind: str, item_id: int, *, allow_missing: bool = False) -> Item:
    """The item of this kind and id; raises NotFoundError.

    allow_missing: an item removed since it was reported comes back as a stand-in (no object),
    so that its reports can still be dismissed.
    """
    adapter = KINDS.get(kind)
    item = adapter.load(item_id) if adapter is not None else None
    if item is None and allow_missing and adapter is not None:
        return Item(
            kind=kind,
            id=item_id,
            obj=None,
            author=None,
            title=f"{adapter.label} #{item_id} (removed)",
            excerpt="",
            url="",
            is_hidden=True,
            hidden_reason="removed",
        )
    if item is None:
        raise NotFoundError()
    return item


def _close_reports(kind: str, item_id: int, status: str, moderator: User | None) -> list[int]:
    """Close the item's open reports; returns who had reported it."""
    reporter_ids = list(
        db.session.scalars(
            sa.select(Report.reporter_id).where(
                Report.item_kind == kind, Report.item_id == item_id, Report.open_key == 1
            )
        )
    )
    db.session.execute(
        sa.update(Report)
        .where(Report.item_kind == kind, Report.item_id == item_id, Report.open_key == 1)
        .values(
            status=status,
            open_key=None,
            closed_at=utcnow(),
            closed_by_id=moderator.id if moderator else None,
        ),
        execution_options={"synchronize_session": False},
    )
    return [r for r in reporter_ids if r is not None]


def _thank_reporters(reporter_ids: list[int], item: Item, moderator: User, outcome: str) -> None:
    if not reporter_ids:
        return
    for reporter in db.session.scalars(sa.select(User).where(User.id.in_(reporter_ids))):
        notify(
            reporter,
            "report",
            f"Thanks for your report of “{item.title[:80]}”: {outcome}",
            "",
            actor=moderator,
        )


def reportable_item(kind: str, item_id: int) -> Item:
    """An item members can see and report; raises NotFoundError (hidden ones included)."""
    adapter = KINDS.get(kind)
    item = adapter.load(item_id) if adapter is not None else None
    if item is None or adapter is None or not adapter.reportable(item.obj):
        raise NotFoundError(GONE)
    return item


def report_item(
    reporter: User,
    kind: str,
    item_id: int,
    reason: str,
    note: str = "",
    *,
    auto_hide_at: int | None = None,
) -> Report:
    """A member reports an item; raises NotAllowed, OwnContent, NotFoundError, InvalidInput,
    AlreadyReported (one open report per reporter per item; the schema enforces it too).

    When `auto_hide_at` distinct members have open reports on an item that can be auto-hidden,
    it is hidden until a moderator decides, and its author is told.
    """
    if not policies.can_participate(reporter):
        raise NotAllowed(policies.participation_problem(reporter) or NotAllowed.message)
    item = reportable_item(kind, item_id)
    adapter = KINDS[kind]
    if not policies.can_report(reporter, item):
        raise OwnContent()
    if reason not in REPORT_REASONS:
        raise InvalidInput("Choose why you are reporting this.", field="reason")
    note = clean_multiline(note or "").strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"The note must be {MAX_NOTE:,} characters or fewer.", field="note")
    # One report of an item at a time from here to the commit, so that the count below sees
    # every report committed before it: three members reporting at once hide the item.
    adapter.lock(item.obj)
    if not adapter.reportable(item.obj):  # hidden (or removed) while we waited
        raise NotFoundError(GONE)
    item = adapter.wrap(item.obj)
    existing = db.session.scalar(
        sa.select(Report.id).where(
            Report.reporter_id == reporter.id,
            Report.item_kind == kind,
            Report.item_id == item_id,
            Report.open_key == 1,
        )
    )
    if existing is not None:
        raise AlreadyReported()
    report = Report(
        reporter_id=reporter.id,
        item_kind=kind,
        item_id=item_id,
        item_author_id=item.author_id,
        reason=reason,
        note=note,
        status="open",
        open_key=1,
    )
    try:
        with db.session.begin_nested():
            db.session.add(report)
    except IntegrityError:
        raise AlreadyReported() from None
    if auto_hide_at is None:
        auto_hide_at = int(sitesettings.value("AUTO_HIDE_REPORTS"))
    if adapter.auto_hide and not item.is_hidden and auto_hide_at > 0:
        reporters = db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Report.reporter_id))).where(
                Report.item_kind == kind, Report.item_id == item_id, Report.open_key == 1
            )
        )
        if (reporters or 0) >= auto_hide_at:
            _auto_hide(item, reporters or 0)
    return report


def _auto_hide(item: Item, reporters: int) -> None:
    KINDS[item.kind].hide(item.obj, HIDDEN_BY_REPORTS)
    _log(
        None,
        "auto_hide",
        item.kind,
        item.id,
        target_user=item.author,
        label=item.title,
        reason=f"Reported by {reporters} members",
    )
    _tell(
        item.author,
        None,
        f"Your {_described(item)} was reported by several members and is hidden until a "
        "moderator reviews it.",
        item.url,
    )


def _require_action(item: Item, action: str) -> None:
    if action not in KINDS[item.kind].actions:
        raise InvalidInput("That cannot be done to this kind of item.")


def _checked_action(moderator: Any, item: Item, action: str, reason: str | None) -> str:
    """The checks every item action starts with: a moderator, an action the kind allows, and a
    reason; returns the cleaned reason."""
    _require_moderator(moderator)
    _require_action(item, action)
    return check_reason(reason)


def _described(item: Item) -> str:
    """How a message to its author names the item: kind and (shortened) title."""
    return f"{KINDS[item.kind].label.lower()} “{item.title[:80]}”"


def _decided(
    moderator: User,
    action: str,
    item: Item,
    reason: str,
    reporters: list[int] | None = None,
    *,
    details: str = "",
    told: str | None,
    outcome: str = "",
) -> ModerationAction:
    """Log a decision on an item, tell its author (unless `told` is None), and thank the
    reporters whose reports it closed (with the `outcome`)."""
    row = _log(
        moderator,
        action,
        item.kind,
        item.id,
        target_user=item.author,
        label=item.title,
        reason=reason,
        details=details,
    )
    if told is not None:
        _tell(item.author, moderator, told, item.url)
    if reporters:
        _thank_reporters(reporters, item, moderator, outcome)
    return row


def dismiss_reports(moderator: User, item: Item, reason: str) -> ModerationAction:
    """Keep the item as it is and close its reports; an item hidden by reports comes back."""
    _require_moderator(moderator)
    reason = check_reason(reason)
    restored = item.is_hidden and item.hidden_reason == HIDDEN_BY_REPORTS
    reporters = _close_reports(item.kind, item.id, "dismissed", moderator)
    if not reporters and not restored:
        raise NothingToDo("There are no open reports on this.")
    if restored:
        KINDS[item.kind].restore(item.obj)
    told = f"A moderator reviewed the reports of your {_described(item)} and restored it. {reason}"
    return _decided(
        moderator,
        "dismiss",
        item,
        reason,
        reporters,
        details="restored" if restored else "",
        told=told if restored else None,
        outcome="a moderator reviewed it and kept it.",
    )


def hide_item(moderator: User, item: Item, reason: str) -> ModerationAction:
    """Hide an item (visible then only to moderators and, marked hidden, its author)."""
    reason = _checked_action(moderator, item, "hide", reason)
    if item.hidden_reason == "deleted":
        raise NothingToDo("This has been deleted.")
    if item.is_hidden and item.hidden_reason == HIDDEN_BY_MODERATOR:
        raise NothingToDo("This is already hidden.")
    KINDS[item.kind].hide(item.obj, HIDDEN_BY_MODERATOR)
    reporters = _close_reports(item.kind, item.id, "resolved", moderator)
    return _decided(
        moderator,
        "hide",
        item,
        reason,
        reporters,
        told=f"A moderator hid your {_described(item)}. Reason: {reason}",
        outcome="a moderator hid it.",
    )


def restore_item(moderator: User, item: Item, reason: str) -> ModerationAction:
    """Show a hidden (or held) item again; its open reports are closed as dismissed."""
    reason = _checked_action(moderator, item, "restore", reason)
    if not item.is_hidden or item.hidden_reason == "deleted":
        raise NothingToDo("This is not hidden.")
    was_held = item.hidden_reason == HELD
    KINDS[item.kind].restore(item.obj)
    reporters = _close_reports(item.kind, item.id, "dismissed", moderator)
    what = "approved" if was_held else "restored"
    return _decided(
        moderator,
        "restore",
        item,
        reason,
        reporters,
        details="released from review" if was_held else "",
        told=f"A moderator {what} your {_described(item)}. {reason}",
        outcome="a moderator reviewed it and kept it.",
    )


def delete_item(moderator: User, item: Item, reason: str) -> ModerationAction:
    """Delete an item for good (posts: marked deleted; signature reasons: the words go)."""
    reason = _checked_action(moderator, item, "delete", reason)
    if item.hidden_reason == "deleted":
        raise NothingToDo("This is already deleted.")
    KINDS[item.kind].delete(moderator, item.obj)
    reporters = _close_reports(item.kind, item.id, "resolved", moderator)
    return _decided(
        moderator,
        "delete",
        item,
        reason,
        reporters,
        told=f"A moderator deleted your {_described(item)}. Reason: {reason}",
        outcome="a moderator deleted it.",
    )


def edit_item(moderator: User, item: Item, text: str, reason: str) -> ModerationAction:
    """Edit what an item says (posts keep their previous version as a revision)."""
    reason = _checked_action(moderator, item, "edit", reason)
    adapter = KINDS[item.kind]
    before = adapter.editable_text(item.obj)
    adapter.edit(moderator, item.obj, text)
    reporters = _close_reports(item.kind, item.id, "resolved", moderator)
    return _decided(
        moderator,
        "edit",
        item,
        reason,
        reporters,
        details=f"was: {before[:280]}",
        told=f"A moderator edited your {_described(item)}. Reason: {reason}",
        outcome="a moderator edited it.",
    )


THREAD_TOOLS = {
    "lock": ("is_locked", True, "locked"),
    "unlock": ("is_locked", False, "unlocked"),
    "pin": ("is_pinned", True, "pinned"),
    "unpin": ("is_pinned", False, "unpinned"),
}


def thread_tool(moderator: User, item: Item, action: str, reason: str) -> ModerationAction:
    """Lock, unlock, pin or unpin a thread; raises NothingToDo when it is already so."""
    _require_moderator(moderator)
    if item.kind != "thread" or action not in THREAD_TOOLS:
        raise InvalidInput("That cannot be done to this kind of item.")
    reason = check_reason(reason)
    attribute, value, word = THREAD_TOOLS[action]
    thread = item.obj
    if getattr(thread, attribute) == value:
        raise NothingToDo(f"This thread is already {word}.")
    setattr(thread, attribute, value)
    db.session.flush()
    return _decided(
        moderator,
        action,
        item,
        reason,
        told=f"A moderator {word} your thread “{thread.title[:80]}”. Reason: {reason}",
    )


def move_thread(moderator: User, item: Item, category: Any, reason: str) -> ModerationAction:
    """Move a thread to another category (counters stay exact)."""
    from fancampaign.forum.services import move_thread as forum_move

    _require_moderator(moderator)
    if item.kind != "thread":
        raise InvalidInput("Only threads can be moved.")
    reason = check_reason(reason)
    thread = item.obj
    if category is None:
        raise InvalidInput("Choose a category.", field="category")
    if thread.category_id == category.id:
        raise NothingToDo("The thread is already in that category.")
    old_name = thread.category.name
    forum_move(thread, category)
    return _decided(
        moderator,
        "move",
        item,
        reason,
        details=f"from {old_name} to {category.name}",
        told=f"A moderator moved your thread “{thread.title[:80]}” to {category.name}. "
        f"Reason: {reason}",
    )


# Petitions ------------------------------------------------------------------------------


def review_petition(moderator: User, petition: Any, approve: bool, reason: str) -> ModerationAction:
    """Approve (open) or reject a pending petition; the petitions area tells its creator."""
    from fancampaign.petitions import services as petitions

    _require_moderator(moderator)
    if approve:
        reason = clean_multiline(reason or "")[:MAX_REASON]
        petitions.approve_petition(moderator, petition)
    else:
        reason = check_reason(reason)
        petitions.reject_petition(moderator, petition, reason)
    return _log(
        moderator,
        "approve_petition" if approve else "reject_petition",
        "petition",
        petition.id,
        target_user=petition.creator,
        label=petition.title,
        reason=reason,
    )


# Sanctions ------------------------------------------------------------------------------

SUSPENSIONS = {
    "1d": ("1 day", timedelta(days=1)),
    "3d": ("3 days", timedelta(days=3)),
    "1w": ("1 week", timedelta(weeks=1)),
    "1m": ("1 month", timedelta(days=30)),
}
MAX_SUSPENSION = timedelta(days=3660)


def suspension_end(period: str, until: date | None, now: datetime | None = None) -> datetime:
    """When a suspension for `period` (or until the end of day `until`) ends; raises
    InvalidInput for an unknown period or a date that is not in the future."""
    now = now or utcnow()
    if period in SUSPENSIONS:
        return now + SUSPENSIONS[period][1]
    if period == "date":
        if until is None:
            raise InvalidInput("Give the date the suspension ends.", field="until")
        end = datetime.combine(until, time(23, 59, 59), tzinfo=UTC)
        if end <= now:
            raise InvalidInput("The end date must be in the future.", field="until")
        if end - now > MAX_SUSPENSION:
            raise InvalidInput("Suspend for at most ten years; ban instead.", field="until")
        return end
    raise InvalidInput("Choose how long the suspension lasts.", field="period")


def sanction_user(
    moderator: User,
    target: User,
    action: str,
    reason: str,
    *,
    period: str = "",
    until: date | None = None,
) -> ModerationAction:
    """Warn, suspend, ban or lift; raises CannotSanction (admins and yourself), InvalidInput,
    NothingToDo. A ban also rotates the session token: every session ends at once."""
    if not policies.can_sanction(moderator, target):
        raise CannotSanction(
            "You cannot sanction yourself."
            if moderator.id == target.id
            else "You cannot sanction this user."
        )
    if action not in ("warn", "suspend", "ban", "lift"):
        raise InvalidInput("Choose what to do.", field="action")
    reason = check_reason(reason)
    details = ""
    profile = f"/u/{target.username}"
    if action == "warn":
        text = f"A moderator warned you. Reason: {reason}"
    elif action == "suspend":
        end = suspension_end(period, until)
        target.suspended_until = end
        details = f"until {end:%Y-%m-%d %H:%M} UTC"
        text = (
            f"Your account is suspended until {end:%-d %B %Y, %H:%M} UTC: you can read but not "
            f"post, sign, report or start petitions. Reason: {reason}"
        )
    elif action == "ban":
        if target.is_banned:
            raise NothingToDo("This user is already banned.")
        target.is_banned = True
        target.session_token = new_session_token()
        text = f"Your account has been banned. Reason: {reason}"
    else:
        if not (target.is_banned or target.is_suspended):
            raise NothingToDo("This user has no suspension or ban to lift.")
        details = "ban lifted" if target.is_banned else "suspension lifted"
        target.is_banned = False
        target.suspended_until = None
        text = f"A moderator lifted the restrictions on your account. {reason}"
    db.session.flush()
    row = _log(
        moderator,
        action,
        "user",
        target.id,
        target_user=target,
        label=f"@{target.username}",
        reason=reason,
        details=details,
    )
    _tell(target, moderator, text, profile)
    return row


def find_users(query: str) -> sa.Select[tuple[User]]:
    """Users whose username or email starts with `query` (case-insensitive), by username."""
    query = clean_text(query or "").lower()[:100]
    stmt = sa.select(User).where(User.deleted_at.is_(None)).order_by(User.username_lower)
    if query:
        prefix = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            sa.or_(
                User.username_lower.like(prefix, escape="\\"),
                sa.func.lower(User.email).like(prefix, escape="\\"),
            )
        )
    return stmt


def sanction_counts(user_ids: list[int]) -> dict[int, int]:
    """How many warnings, suspensions and bans each of these users received (one query)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        sa.select(ModerationAction.target_user_id, sa.func.count())
        .where(
            ModerationAction.target_user_id.in_(user_ids),
            ModerationAction.action.in_(SANCTIONS),
        )
        .group_by(ModerationAction.target_user_id)
    ).all()
    return {int(user_id): int(n) for user_id, n in rows if user_id is not None}


def user_history(user: User) -> sa.Select[tuple[ModerationAction]]:
    """Every moderation action that affected this user, newest first."""
    return (
        sa.select(ModerationAction)
        .where(ModerationAction.target_user_id == user.id)
        .order_by(ModerationAction.id.desc())
        .options(joinedload(ModerationAction.moderator))
    )


def reports_about(user: User, limit: int = 20) -> list[Report]:
    """The latest reports of this user's content."""
    return list(
        db.session.scalars(
            sa.select(Report)
            .where(Report.item_author_id == user.id)
            .order_by(Report.id.desc())
            .limit(limit)
            .options(joinedload(Report.reporter))
        )
    )


# Watched words --------------------------------------------------------------------------

_WORD_RE = re.compile(r"^[\w' *-]+$")


def add_word(moderator: User, pattern: str, action: str, message: str = "") -> WatchedWord:
    """Add a watched word or phrase; raises InvalidInput or WordExists."""
    _require_moderator(moderator)
    pattern = clean_text(pattern or "")
    if not pattern or not any(ch.isalnum() for ch in pattern):
        raise InvalidInput("Enter a word or phrase.", field="pattern")
    if len(pattern) > 100:
        raise InvalidInput("A word or phrase is at most 100 characters.", field="pattern")
    if not _WORD_RE.match(pattern):
        raise InvalidInput(
            "Use letters, digits, spaces, apostrophes, hyphens and * (any letters).",
            field="pattern",
        )
    if action not in WORD_ACTIONS:
        raise InvalidInput("Choose block or hold.", field="action")
    message = clean_text(message or "")
    if len(message) > 200:
        raise InvalidInput("The message must be 200 characters or fewer.", field="message")
    lower = pattern.lower()
    if db.session.scalar(sa.select(WatchedWord.id).where(WatchedWord.pattern_lower == lower)):
        raise WordExists(field="pattern")
    word = WatchedWord(
        pattern=pattern,
        pattern_lower=lower,
        action=action,
        message=message if action == "block" else "",
        created_by_id=moderator.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(word)
    except IntegrityError:
        raise WordExists(field="pattern") from None
    _log(
        moderator,
        "add_word",
        "word",
        word.id,
        label=pattern,
        details=WORD_ACTIONS[action] + (f": {message}" if message else ""),
    )
    watch.forget()
    return word


def remove_word(moderator: User, word: WatchedWord) -> None:
    """Take a word off the list."""
    _require_moderator(moderator)
    _log(moderator, "remove_word", "word", word.id, label=word.pattern, details=word.action)
    db.session.delete(word)
    db.session.flush()
    watch.forget()


def words() -> list[WatchedWord]:
    return list(
        db.session.scalars(
            sa.select(WatchedWord)
            .order_by(WatchedWord.pattern_lower)
            .options(joinedload(WatchedWord.created_by))
        )
    )


# The queue ------------------------------------------------------------------------------


class _RowPagination(Pagination):
    """Offset pagination over a grouped select (rows, not entities)."""

    def _query_items(self) -> list[Any]:
        stmt = self._query_args["select"]
        return list(db.session.execute(stmt.limit(self.per_page).offset(self._query_offset)).all())

    def _query_count(self) -> int:
        stmt = self._query_args["select"].order_by(None)
        return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0


@dataclass
class QueueEntry:
    """One reported item with its open reports and its author's record."""

    kind: str
    item_id: int
    item: Item | None
    reports: list[Report] = field(default_factory=list)
    first_reported_at: datetime | None = None
    author_sanctions: int = 0

    @property
    def reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for report in self.reports:
            counts[report.reason_label] = counts.get(report.reason_label, 0) + 1
        return counts


def queue_page(page: int, per_page: int = 20) -> tuple[Pagination, list[QueueEntry]]:
    """Open reports grouped per item, the longest-waiting first. A fixed number of queries:
    count, page, reports, one per kind present, authors' sanctions."""
    first_at = sa.func.min(Report.created_at).label("first_at")
    grouped = (
        sa.select(Report.item_kind, Report.item_id, first_at)
        .where(Report.open_key == 1)
        .group_by(Report.item_kind, Report.item_id)
        .order_by(first_at, Report.item_kind, Report.item_id)
    )
    pagination = _RowPagination(page=page, per_page=per_page, error_out=False, select=grouped)
    keys = [(row.item_kind, row.item_id) for row in pagination.items]
    entries = {
        (row.item_kind, row.item_id): QueueEntry(
            row.item_kind, row.item_id, None, first_reported_at=row.first_at
        )
        for row in pagination.items
    }
    if keys:
        reports = db.session.scalars(
            sa.select(Report)
            .where(
                Report.open_key == 1,
                sa.or_(*(sa.and_(Report.item_kind == k, Report.item_id == i) for k, i in keys)),
            )
            .order_by(Report.id)
            .options(joinedload(Report.reporter))
        )
        for report in reports:
            entries[(report.item_kind, report.item_id)].reports.append(report)
        items = load_items(keys)
        for key, item in items.items():
            entries[key].item = item
        counts = sanction_counts(
            sorted({i.author_id for i in items.values() if i.author_id is not None})
        )
        for entry in entries.values():
            if entry.item is not None and entry.item.author_id is not None:
                entry.author_sanctions = counts.get(entry.item.author_id, 0)
    return pagination, [entries[k] for k in keys]


def held_posts_page(page: int, per_page: int = 20) -> tuple[Pagination, list[Item]]:
    """Posts the watched words held for review, oldest first."""
    from fancampaign.forum.models import Post, Thread

    stmt = (
        sa.select(Post)
        .where(Post.is_hidden.is_(True), Post.hidden_reason == HELD, Post.is_deleted.is_(False))
        .order_by(Post.id)
        .options(joinedload(Post.author), joinedload(Post.thread).joinedload(Thread.category))
    )
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    adapter = KINDS["post"]
    return pagination, [adapter.wrap(post) for post in pagination.items]


def pending_petitions_page(page: int, per_page: int = 20) -> Pagination:
    """Members' petitions waiting for review, oldest first."""
    from fancampaign.petitions.models import Petition

    stmt = (
        sa.select(Petition)
        .where(Petition.status == "pending")
        .order_by(Petition.created_at, Petition.id)
    )
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def queue_counts() -> dict[str, int]:
    """How many items wait in each tab (three small counts)."""
    from fancampaign.forum.models import Post
    from fancampaign.petitions.models import Petition

    grouped = (
        sa.select(Report.item_kind, Report.item_id)
        .where(Report.open_key == 1)
        .group_by(Report.item_kind, Report.item_id)
        .subquery()
    )
    return {
        "reports": db.session.scalar(sa.select(sa.func.count()).select_from(grouped)) or 0,
        "held": db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Post)
            .where(Post.is_hidden.is_(True), Post.hidden_reason == HELD, Post.is_deleted.is_(False))
        )
        or 0,
        "petitions": db.session.scalar(
            sa.select(sa.func.count()).select_from(Petition).where(Petition.status == "pending")
        )
        or 0,
    }


# The log --------------------------------------------------------------------------------


def log_query(
    *, moderator: User | None = None, action: str = "", kind: str = ""
) -> sa.Select[tuple[ModerationAction]]:
    """The audit log, newest first, optionally filtered."""
    stmt = (
        sa.select(ModerationAction)
        .order_by(ModerationAction.id.desc())
        .options(joinedload(ModerationAction.moderator), joinedload(ModerationAction.target_user))
    )
    if moderator is not None:
        stmt = stmt.where(ModerationAction.moderator_id == moderator.id)
    if action in ACTIONS:
        stmt = stmt.where(ModerationAction.action == action)
    if kind in (*KINDS, "word"):
        stmt = stmt.where(ModerationAction.target_kind == kind)
    return stmt


def export_reports(user: User) -> list[dict[str, Any]]:
    """The reports a user filed, for "export my data"."""
    return [
        {
            "item_kind": r.item_kind,
            "item_id": r.item_id,
            "reason": r.reason,
            "note": r.note,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
        }
        for r in db.session.scalars(
            sa.select(Report).where(Report.reporter_id == user.id).order_by(Report.id)
        )
    ]
