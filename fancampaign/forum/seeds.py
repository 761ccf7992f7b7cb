"""Demo forum: the seven categories and a few lively threads, loaded through the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow
from fancampaign.forum import services
from fancampaign.forum.models import Category, Post, Thread
from fancampaign.seeds import read_seed
from fancampaign.text import quote_markdown


def load(users: dict[str, User]) -> None:
    """Create the categories (if missing) and the demo threads with their replies."""
    data = read_seed("forum.json")
    categories: dict[str, Category] = {}
    for position, entry in enumerate(data["categories"]):
        existing = db.session.scalar(db.select(Category).where(Category.slug == entry["slug"]))
        categories[entry["slug"]] = existing or services.save_category(
            None,
            None,
            name=entry["name"],
            slug=entry["slug"],
            description=entry.get("description", ""),
            position=position,
            is_staff_only=entry.get("staff_only", False),
        )
    now = utcnow()
    for entry in data["threads"]:
        _load_thread(entry, categories, users, now)


def _load_thread(
    entry: dict[str, Any], categories: dict[str, Category], users: dict[str, User], now: Any
) -> None:
    author = users[entry["author"]]
    thread = services.create_thread(
        author, categories[entry["category"]], entry["title"], entry["body"]
    )
    posts: list[Post] = [services.first_post(thread)]
    _backdate(thread, posts[0], now - timedelta(hours=entry.get("hours_ago", 0)))
    for reply in entry.get("replies", []):
        body = reply["body"]
        if "quote" in reply:
            quoted = posts[reply["quote"]]
            body = quote_markdown(quoted.author.username, quoted.body, quoted.id) + body
        post = services.reply(users[reply["author"]], thread, body)
        _backdate(None, post, now - timedelta(hours=reply.get("hours_ago", 0)))
        posts.append(post)
    thread.is_pinned = bool(entry.get("pinned"))
    services.recount_thread(thread)


def _backdate(thread: Thread | None, post: Post, when: Any) -> None:
    """Demo posts look written over the past days (recount_thread then sets last activity)."""
    post.created_at = when
    if thread is not None:
        thread.created_at = when
    db.session.flush()
