"""Demo moderation: a few watched words, and a reported reply waiting in the queue."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fancampaign.accounts.models import User
from fancampaign.extensions import db
from fancampaign.moderation import services
from fancampaign.seeds import read_seed


def load(users: dict[str, User]) -> None:
    """Watched words (added by the demo moderator) and reports on one reply."""
    data = read_seed("moderation.json")
    moderator = users["gelda"]
    existing = {w.pattern_lower for w in services.words()}
    for entry in data["watched_words"]:
        if entry["pattern"].lower() not in existing:
            services.add_word(
                moderator, entry["pattern"], entry["action"], entry.get("message", "")
            )
    for entry in data["reported_replies"]:
        _reported_reply(entry, users)


def _reported_reply(entry: dict[str, Any], users: dict[str, User]) -> None:
    from fancampaign.forum import services as forum
    from fancampaign.forum.models import Category, Thread

    thread = db.session.scalar(
        sa.select(Thread)
        .join(Category, Category.id == Thread.category_id)
        .where(Category.slug == entry["category"], Thread.is_hidden.is_(False))
        .order_by(Thread.last_activity_at.desc())
        .limit(1)
    )
    if thread is None:
        return
    post = forum.reply(users[entry["author"]], thread, entry["body"])
    for report in entry["reports"]:
        services.report_item(
            users[report["reporter"]], "post", post.id, report["reason"], report.get("note", "")
        )
