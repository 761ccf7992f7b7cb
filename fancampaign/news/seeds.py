"""Demo news: the "Hope returns for Alita fans" lead story and a few older organiser updates.

Loaded through the services from seeds/news.json and the Markdown files in seeds/news/; runs
after the petitions' seeds (AREAS order), so the posts link to the campaign petition.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow
from fancampaign.news import services
from fancampaign.news.models import NewsPost
from fancampaign.petitions.models import Petition
from fancampaign.seeds import read_seed, seed_text
from fancampaign.text import slugify


def load(users: dict[str, User]) -> None:
    """Create the demo posts oldest first, so the lead story is the newest."""
    now = utcnow()
    for entry in sorted(read_seed("news.json"), key=lambda e: -e.get("hours_ago", 0)):
        _load_post(entry, users, now)


def _body(entry: dict[str, Any]) -> str:
    text = seed_text(entry["file"]).strip()
    first, _, rest = text.partition("\n")
    # The file may open with its headline as `# Title`: the page shows the title itself.
    if first.startswith("# ") and first[2:].strip() == entry["title"]:
        text = rest.strip()
    return text


def _petition_ids(names: list[str]) -> list[int]:
    """Petitions named by slug (or by a title that slugifies to it) in the petitions seeds."""
    ids: list[int] = []
    for name in names:
        petition = db.session.scalar(sa.select(Petition).where(Petition.slug == name))
        if petition is None:
            for candidate in db.session.scalars(sa.select(Petition)):
                if slugify(candidate.title) == name or candidate.title == name:
                    petition = candidate
                    break
        if petition is not None and petition.status in ("open", "closed", "won"):
            ids.append(petition.id)
    return ids


def _load_post(entry: dict[str, Any], users: dict[str, User], now: Any) -> None:
    if db.session.scalar(sa.select(NewsPost.id).where(NewsPost.title == entry["title"])):
        return
    author = users[entry.get("author", "ido")]
    published_at = now - timedelta(hours=entry.get("hours_ago", 0))
    post = services.create_post(
        author,
        title=entry["title"],
        standfirst=entry.get("standfirst", ""),
        body=_body(entry),
        tags=entry.get("tags", []),
        petition_ids=_petition_ids(entry.get("petitions", [])),
        is_developing=bool(entry.get("developing")),
        publish="draft",
    )
    # Demo history, not news to anyone: no "keep me updated" emails for seeded posts.
    post.announced_at = now
    services.update_post(
        author,
        post,
        title=post.title,
        standfirst=post.standfirst,
        body=post.body,
        tags=post.tag_names,
        petition_ids=[p.id for p in post.petitions],
        is_developing=post.is_developing,
        publish="now",
    )
    post.published_at = post.created_at = post.updated_at = published_at
    for update in entry.get("updates", []):
        row = services.add_update(author, post, update["body"])
        row.created_at = now - timedelta(hours=update.get("hours_ago", 0))
        post.updated_at = max(post.updated_at, row.created_at)
    _comments(post, entry.get("comments", []), users, now)
    db.session.flush()


def _comments(
    post: NewsPost, comments: list[dict[str, Any]], users: dict[str, User], now: Any
) -> None:
    """Backdate the post's discussion to its publication and add the demo fans' comments."""
    if post.thread_id is None:
        return
    from fancampaign.forum import services as forum
    from fancampaign.forum.models import Thread

    thread = db.session.get(Thread, post.thread_id)
    if thread is None:
        return
    first = forum.first_post(thread)
    first.created_at = thread.created_at = post.published_at
    for comment in comments:
        reply = forum.reply(users[comment["author"]], thread, comment["body"])
        reply.created_at = now - timedelta(hours=comment.get("hours_ago", 0))
    db.session.flush()
    forum.recount_thread(thread)
