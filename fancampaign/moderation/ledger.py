"""The public moderation ledger (/moderation/transparency): what moderation decided, counted.

Read from the audit log itself (ModerationAction), so the two cannot disagree: per month, how
many items were hidden, deleted and restored and how many accounts were warned, suspended and
banned, by reason code; and the decisions of the last 30 days with their date and reason code.
Nobody is named and no content is quoted: not the moderator, not the author, not the item's
title or the moderator's words. The author of an item sees their own entries in full (what,
and the reason they were told); the log's `details` are staff-only and never shown here.

Each audit-log row gets its reason code when it is written (a before_insert listener, so every
writer is covered): the most common reason among the reports on the item (for an account:
on the account and on what it wrote), or "other" when nobody reported it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from fancampaign.extensions import db, utcnow
from fancampaign.moderation.models import REPORT_REASONS, ModerationAction, Report

# The ledger's columns: what it calls an outcome, and the audit-log actions counted in it.
OUTCOMES: dict[str, tuple[str, ...]] = {
    "hidden": ("hide", "auto_hide"),
    "deleted": ("delete",),
    "restored": ("restore",),
    "warned": ("warn",),
    "suspended": ("suspend",),
    "banned": ("ban",),
}
OUTCOME_OF = {action: outcome for outcome, actions in OUTCOMES.items() for action in actions}
LEDGER_ACTIONS = tuple(OUTCOME_OF)
CONTENT_KINDS = ("post", "thread", "signature", "petition")
KIND_WORDS = {
    "post": "a post",
    "thread": "a thread",
    "signature": "a signature's reason",
    "petition": "a petition",
    "user": "an account",
}
RECENT_DAYS = 30
PER_PAGE = 50


def reason_label(code: str) -> str:
    return REPORT_REASONS.get(code, "Other")


# Reason codes ------------------------------------------------------------------------------


def _reason_code(connection: sa.Connection, row: ModerationAction) -> str:
    """The most common reason among the reports behind this decision; "other" when none."""
    if row.target_kind == "user":
        about = sa.or_(
            sa.and_(Report.item_kind == "user", Report.item_id == row.target_id),
            Report.item_author_id == row.target_id,
        )
    else:
        about = sa.and_(Report.item_kind == row.target_kind, Report.item_id == row.target_id)
    found = connection.execute(
        sa.select(Report.reason)
        .where(about)
        .group_by(Report.reason)
        .order_by(sa.func.count().desc(), Report.reason)
        .limit(1)
    ).scalar()
    return found if found in REPORT_REASONS else "other"


@sa.event.listens_for(ModerationAction, "before_insert")
def _set_reason_code(_mapper: Any, connection: sa.Connection, row: ModerationAction) -> None:
    if not row.reason_code:
        row.reason_code = _reason_code(connection, row) if row.action in OUTCOME_OF else "other"


# Reading the ledger ------------------------------------------------------------------------


def _ledger_rows() -> Any:
    """The audit-log rows the ledger counts: content decisions on content, sanctions on
    accounts."""
    return sa.or_(
        sa.and_(
            ModerationAction.action.in_(
                OUTCOMES["hidden"] + OUTCOMES["deleted"] + OUTCOMES["restored"]
            ),
            ModerationAction.target_kind.in_(CONTENT_KINDS),
        ),
        sa.and_(
            ModerationAction.action.in_(
                OUTCOMES["warned"] + OUTCOMES["suspended"] + OUTCOMES["banned"]
            ),
            ModerationAction.target_kind == "user",
        ),
    )


def _month(column: Any) -> Any:
    if db.engine.dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


@dataclass
class Month:
    """One month of the ledger: counts[reason code][outcome]."""

    month: str
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return datetime.strptime(self.month, "%Y-%m").strftime("%B %Y")

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())


def monthly() -> list[Month]:
    """Every month with decisions, newest first (one GROUP BY query)."""
    month = _month(ModerationAction.created_at)
    rows = db.session.execute(
        sa.select(month, ModerationAction.action, ModerationAction.reason_code, sa.func.count())
        .where(_ledger_rows())
        .group_by(month, ModerationAction.action, ModerationAction.reason_code)
    ).all()
    months: dict[str, Month] = {}
    for key, action, code, n in rows:
        entry = months.setdefault(str(key), Month(str(key)))
        entry.counts.setdefault(code or "other", Counter())[OUTCOME_OF[action]] += int(n)
    return sorted(months.values(), key=lambda m: m.month, reverse=True)


@dataclass(frozen=True)
class Decision:
    """One recent decision as the ledger shows it to a viewer."""

    when: datetime
    outcome: str
    kind: str
    reason_code: str
    # Only for the person it was about: what, and the reason they were told.
    own: bool = False
    label: str = ""
    reason: str = ""
    target: tuple[str, int] | None = None


def recent(
    viewer: Any, page: int = 1, days: int = RECENT_DAYS
) -> tuple[Pagination, list[Decision]]:
    """The decisions of the last `days` days, newest first; the viewer's own in full."""
    since = utcnow() - timedelta(days=days)
    stmt = (
        sa.select(ModerationAction)
        .where(_ledger_rows(), ModerationAction.created_at >= since)
        .order_by(ModerationAction.id.desc())
    )
    pagination = db.paginate(stmt, page=max(page, 1), per_page=PER_PAGE, error_out=False)
    viewer_id = viewer.id if getattr(viewer, "is_authenticated", False) else None
    decisions = []
    for row in pagination.items:
        own = viewer_id is not None and row.target_user_id == viewer_id
        decisions.append(
            Decision(
                when=row.created_at,
                outcome=OUTCOME_OF[row.action],
                kind=KIND_WORDS.get(row.target_kind, "an item"),
                reason_code=row.reason_code or "other",
                own=own,
                label=row.target_label if own else "",
                reason=row.reason if own else "",
                target=(row.target_kind, row.target_id) if own else None,
            )
        )
    return pagination, decisions
