"""Model → JSON shapes of the read-only API (each one is a schema in api/openapi.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fancampaign.web import base_url


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC, e.g. 2026-11-26T06:00:00Z."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def absolute(path: str) -> str:
    return base_url() + path


def checkpoint(c: Any) -> dict[str, Any]:
    """A signed checkpoint of a petition's log, as the ledger publishes it."""
    return c.as_record()  # type: ignore[no-any-return]


def leaf(x: Any) -> dict[str, Any]:
    """One leaf of a petition's log, with what its hash is made of."""
    return {
        "index": x.index,
        "kind": x.kind,
        "leaf_hash": x.leaf_hash.hex(),
        "commitment": x.commitment.hex() if x.commitment is not None else None,
        "withdraws": x.withdraws,
    }


def petition_summary(p: Any) -> dict[str, Any]:
    return {
        "slug": p.slug,
        "title": p.title,
        "summary": p.summary,
        "status": p.effective_status,
        "signature_count": p.signature_count,
        "goal": p.goal,
        "deadline": iso(p.deadline),
        "url": absolute(f"/petitions/{quote(p.slug)}"),
        "updated_at": iso(p.updated_at),
    }


def petition(p: Any) -> dict[str, Any]:
    return {
        **petition_summary(p),
        "target": p.target,
        "body_html": p.body_html,
        "opened_at": iso(p.opened_at),
        "closed_at": iso(p.effective_closed_at),
    }


def news_summary(n: Any) -> dict[str, Any]:
    return {
        "slug": n.slug,
        "title": n.title,
        "standfirst": n.standfirst,
        "url": absolute(f"/news/{quote(n.slug)}"),
        "published_at": iso(n.published_at),
        "updated_at": iso(n.updated_at),
        "reading_minutes": n.reading_minutes,
        "is_developing": bool(n.is_developing),
        "tags": list(n.tag_names),
    }


def news_post(n: Any) -> dict[str, Any]:
    return {
        **news_summary(n),
        # Sanitised on write (text.render_markdown): no script, no event handlers.
        "body_html": n.body_html,
        "updates": [{"body_html": u.body_html, "created_at": iso(u.created_at)} for u in n.updates],
    }


def category(c: Any) -> dict[str, Any]:
    return {
        "slug": c.slug,
        "name": c.name,
        "description": c.description,
        "thread_count": c.thread_count,
        "post_count": c.post_count,
        "url": absolute(f"/forum/{quote(c.slug)}"),
        "threads_url": absolute(f"/api/v1/categories/{quote(c.slug)}/threads"),
    }


def _thread_path(t: Any) -> str:
    return f"/forum/t/{t.id}/{quote(t.slug)}" if t.slug else f"/forum/t/{t.id}"


def thread_summary(t: Any) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "author": t.author.username if t.author is not None and not t.author.is_deleted else None,
        "reply_count": t.reply_count,
        "is_pinned": bool(t.is_pinned),
        "is_locked": bool(t.is_locked),
        "created_at": iso(t.created_at),
        "last_activity_at": iso(t.last_activity_at),
        "url": absolute(_thread_path(t)),
        "api_url": absolute(f"/api/v1/threads/{t.id}"),
    }


def post(p: Any) -> dict[str, Any]:
    author = p.author
    return {
        "id": p.id,
        "author": author.username if author is not None and not author.is_deleted else None,
        "body_html": p.readable_html,
        "created_at": iso(p.created_at),
        "edited_at": iso(p.edited_at),
        "reply_to_id": p.reply_to_id,
        "url": absolute(f"/forum/p/{p.id}"),
    }
