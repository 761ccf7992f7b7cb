"""The console's dashboard: the last weeks in figures, drawn with the petition chart."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import Post
from fancampaign.moderation.models import Report
from fancampaign.petitions.chart import bar_chart
from fancampaign.petitions.models import Signature

DAYS = 30


@dataclass(frozen=True)
class Series:
    """One figure per day, oldest first, and its chart."""

    title: str
    days: list[tuple[date, int]]

    @property
    def total(self) -> int:
        return sum(n for _d, n in self.days)

    @property
    def chart(self) -> Markup:
        return bar_chart(self.days)


def _day(column: Any) -> Any:
    if db.engine.dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def _per_day(column: Any, *where: Any, days: int = DAYS) -> list[tuple[date, int]]:
    """How many rows per UTC day over the last `days` days (gaps filled with 0)."""
    end = utcnow().date()
    start = end - timedelta(days=days - 1)
    since = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    day = _day(column)
    rows = db.session.execute(
        sa.select(day, sa.func.count()).where(column >= since, *where).group_by(day)
    ).all()
    found = {
        (value if isinstance(value, date) else date.fromisoformat(str(value))): int(n)
        for value, n in rows
    }
    return [
        (start + timedelta(days=i), found.get(start + timedelta(days=i), 0)) for i in range(days)
    ]


def series() -> list[Series]:
    """Signatures, new members and posts per day (three GROUP BY queries)."""
    return [
        Series("Signatures", _per_day(Signature.confirmed_at)),
        Series("New members", _per_day(User.created_at)),
        Series("Posts", _per_day(Post.created_at)),
    ]


def open_reports() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).where(Report.open_key == 1)) or 0)


def median_decision_time(days: int = DAYS) -> timedelta | None:
    """The median time from a report to its decision, over reports closed in the last days."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        sa.select(Report.created_at, Report.closed_at).where(
            Report.closed_at.is_not(None), Report.closed_at >= since
        )
    ).all()
    waits = [(closed - created).total_seconds() for created, closed in rows]
    return timedelta(seconds=statistics.median(waits)) if waits else None


def duration(value: timedelta | None) -> str:
    """ "3 h 20 min"-style, for the dashboard."""
    if value is None:
        return "no decisions yet"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"
