"""Small builders for the search tests (news has no factory of its own yet)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from fancampaign.extensions import db, utcnow

_seq = itertools.count(1)


def make_news(
    title: str = "A news post",
    body: str = "Some news.",
    *,
    status: str = "published",
    published_at: datetime | str | None = "now",
    standfirst: str = "",
) -> Any:
    from fancampaign.news.models import NewsPost

    if published_at == "now":
        published_at = utcnow() - timedelta(minutes=1)
    post = NewsPost(
        slug=f"news-{next(_seq)}",
        title=title,
        standfirst=standfirst,
        body=body,
        body_html="",
        status=status,
        published_at=published_at,
    )
    db.session.add(post)
    db.session.commit()
    return post
