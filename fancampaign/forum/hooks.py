"""What the forum adds when other areas ask (signal receivers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fancampaign import signals
from fancampaign.forum import tracking


@signals.digest_sections.connect
def _digest(
    user: Any, start: datetime, end: datetime, root: str, **_kw: Any
) -> list[tuple[int, str, list[str]]]:
    lines = tracking.watched_activity(user, start, end, root)
    return [(20, "In threads and categories you watch", lines)] if lines else []


@signals.account_exporting.connect
def _export(user: Any, **_kw: Any) -> tuple[str, Any]:
    return "forum_following", tracking.export_for(user)


@signals.account_deleting.connect
def _erase(user: Any, **_kw: Any) -> None:
    tracking.erase_for(user)
