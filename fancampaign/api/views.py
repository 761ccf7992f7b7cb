"""The read-only JSON API, v1: petitions, news, forum categories and threads.

Every answer is JSON; errors have the shape {"error": {"status", "title", "detail"}}
(errors.py renders it for /api/ paths). Lists page with an opaque, signed cursor and a
`next` link; thread posts page by number. Every 200 carries an ETag (and Last-Modified where
the resource has a time) and answers conditional GETs with 304. CORS is open for reading;
the whole API shares one per-IP rate limit (RATELIMIT_API). Hidden, draft, pending and
rejected things are never served.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.exceptions import MethodNotAllowed, NotFound

from fancampaign.api import serializers as out
from fancampaign.api.openapi import DEFAULT_LIMIT, MAX_ID, MAX_LIMIT, MAX_PAGE, spec
from fancampaign.campaign.services import timeline
from fancampaign.errors import InvalidInput, NotFoundError
from fancampaign.extensions import csrf, db, limiter, utcnow
from fancampaign.forum.models import Category, Post, Thread
from fancampaign.forum.services import apply_quote_visibility
from fancampaign.ledger import services as ledger
from fancampaign.news.models import NewsPost
from fancampaign.pagecache import Page
from fancampaign.petitions.models import PUBLIC_STATUSES, Petition
from fancampaign.web import base_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_API"], scope="api", methods=["GET", "HEAD"]
)(bp)

MAX_CURSOR = 512
PETITION_FILTERS = ("open", "closed", "won")
EXPOSED_HEADERS = (
    "ETag, Last-Modified, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)


_SLUG_RE = re.compile(r"[A-Za-z0-9_-]{1,200}")


def _check_slug(slug: str, what: str) -> str:
    """Slugs are short ASCII words: anything else (NUL bytes included) names nothing."""
    if not _SLUG_RE.fullmatch(slug):
        raise NotFoundError(f"There is no such {what}.")
    return slug


class BadParameter(InvalidInput):
    message = "A parameter is not valid."


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not low <= int(raw) <= high:
        raise BadParameter(f"`{name}` must be a whole number from {low} to {high}.")
    return int(raw)


def _limit() -> int:
    return _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="api-cursor")


def _read_cursor(scope: str) -> list[Any] | None:
    """The keyset position a `next` link carried, checked to belong to this very list."""
    raw = request.args.get("cursor")
    if raw is None:
        return None
    bad = BadParameter("`cursor` is not valid: use the `next` link of a previous page.")
    if not raw or len(raw) > MAX_CURSOR:
        raise bad
    try:
        data = _serializer().loads(raw)
    except (BadData, UnicodeError, ValueError) as err:
        raise bad from err
    if not isinstance(data, dict) or data.get("s") != scope or not isinstance(data.get("k"), list):
        raise bad
    return data["k"]


def _next_link(scope: str, key: list[Any], **args: Any) -> str:
    params = {k: v for k, v in args.items() if v is not None}
    params["cursor"] = _serializer().dumps({"s": scope, "k": key})
    return out.absolute(f"{request.path}?{urlencode(params)}")


def _keyset(
    stmt: sa.Select[Any],
    columns: Sequence[Any],
    cursor: list[Any] | None,
    limit: int,
) -> tuple[list[Any], bool]:
    """Rows after `cursor` in descending (time, id) or (id,) order, and whether more follow."""
    if cursor is not None:
        if len(cursor) != len(columns):
            raise BadParameter("`cursor` is not valid: use the `next` link of a previous page.")
        if len(columns) == 2:
            when, last_id = cursor
            try:
                when = datetime.fromisoformat(when)
            except (TypeError, ValueError) as err:
                raise BadParameter("`cursor` is not valid.") from err
            if not isinstance(last_id, int) or when.tzinfo is None:
                raise BadParameter("`cursor` is not valid.")
            time_col, id_col = columns
            stmt = stmt.where(sa.or_(time_col < when, sa.and_(time_col == when, id_col < last_id)))
        else:
            (last_id,) = cursor
            if not isinstance(last_id, int):
                raise BadParameter("`cursor` is not valid.")
            stmt = stmt.where(columns[0] < last_id)
    stmt = stmt.order_by(*(c.desc() for c in columns)).limit(limit + 1)
    rows = list(db.session.scalars(stmt).unique())
    return rows[:limit], len(rows) > limit


# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------


def respond(data: dict[str, Any], last_modified: datetime | None = None) -> Response:
    """JSON with an ETag (and Last-Modified), answering conditional requests with 304."""
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    if last_modified is not None:
        response.last_modified = min(last_modified, utcnow())
    return response.make_conditional(request)


def _latest(values: Sequence[datetime | None]) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


@bp.after_app_request
def _api_headers(response: Response) -> Response:
    """Open CORS for reading, the preflight answer, and an Allow header on 405s."""
    if not request.path.startswith(bp.url_prefix or "/api/"):
        return response
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = (
            "Accept, Accept-Language, If-None-Match, If-Modified-Since"
        )
        response.headers["Access-Control-Max-Age"] = "86400"
    if response.status_code == 405 and "Allow" not in response.headers:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        try:
            adapter.match(method="__none__")
        except MethodNotAllowed as err:
            response.headers["Allow"] = ", ".join(sorted(err.valid_methods or ()))
        except NotFound:
            pass
    return response


# --------------------------------------------------------------------------------------
# Petitions
# --------------------------------------------------------------------------------------


@bp.route("/petitions")
def petitions() -> Any:
    status = request.args.get("status")
    if status is not None and status not in PETITION_FILTERS:
        raise BadParameter("`status` must be one of: open, closed, won.")
    limit = _limit()
    scope = f"petitions:{status or ''}"
    cursor = _read_cursor(scope)
    now = utcnow()
    where: sa.ColumnElement[bool]
    if status == "open":
        where = Petition.open_clause(now)
    elif status == "closed":
        where = Petition.closed_clause(now)
    elif status == "won":
        where = Petition.status == "won"
    else:
        where = Petition.status.in_(PUBLIC_STATUSES)
    rows, more = _keyset(sa.select(Petition).where(where), [Petition.id], cursor, limit)
    return respond(
        {
            "items": [out.petition_summary(p) for p in rows],
            "next": _next_link(scope, [rows[-1].id], status=status, limit=limit) if more else None,
        },
        _latest([p.updated_at for p in rows]),
    )


@bp.route("/petitions/<slug>")
@Page("api-petition", depends=("petitions", "signatures", "people"), everyone=True)
def petition(slug: str) -> Any:
    _check_slug(slug, "petition")
    found = db.session.scalar(
        sa.select(Petition).where(Petition.slug == slug, Petition.status.in_(PUBLIC_STATUSES))
    )
    if found is None:
        raise NotFoundError("There is no such petition.")
    return respond(out.petition(found), found.updated_at)


@bp.route("/petitions/<slug>/timeline")
def petition_timeline(slug: str) -> Any:
    _check_slug(slug, "petition")
    found = db.session.scalar(
        sa.select(Petition).where(Petition.slug == slug, Petition.status.in_(PUBLIC_STATUSES))
    )
    if found is None:
        raise NotFoundError("There is no such petition.")
    entries = timeline(found)
    return respond(
        {
            "petition": found.slug,
            "items": [
                {
                    "kind": e.kind,
                    "label": e.label,
                    "title": e.title,
                    "body": e.body,
                    "url": e.url or None,
                    "at": out.iso(e.at),
                }
                for e in entries
            ],
        }
    )


# --------------------------------------------------------------------------------------
# A petition's signature log (ledger/): checkpoints and proofs
# --------------------------------------------------------------------------------------


def _public_petition(slug: str) -> Petition:
    _check_slug(slug, "petition")
    found = db.session.scalar(
        sa.select(Petition).where(Petition.slug == slug, Petition.status.in_(PUBLIC_STATUSES))
    )
    if found is None:
        raise NotFoundError("There is no such petition.")
    return found


@bp.route("/petitions/<slug>/checkpoints")
def log_checkpoints(slug: str) -> Any:
    found = _public_petition(slug)
    after = _int_arg("after", 0, 0, MAX_ID)
    limit = _limit()
    ledger.checkpoint_if_due(found)
    db.session.commit()
    rows = ledger.list_checkpoints(found.id, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return respond(
        {
            "petition_id": found.id,
            "slug": found.slug,
            "public_key_url": out.absolute("/.well-known/fancampaign-log-key"),
            "interval_seconds": ledger.checkpoint_interval(),
            "items": [out.checkpoint(c) for c in rows],
            "next": _next_plain(after=rows[-1].number, limit=limit) if more else None,
        }
    )


def _next_plain(**params: Any) -> str:
    return out.absolute(f"{request.path}?{urlencode(params)}")


@bp.route("/petitions/<slug>/consistency")
def log_consistency(slug: str) -> Any:
    found = _public_petition(slug)
    first = _int_arg("from", 0, 0, MAX_ID)
    second = _int_arg("to", 0, 0, MAX_ID)
    try:
        proof = ledger.consistency(found, first, second)
    except InvalidInput as err:
        raise BadParameter(err.message) from err
    db.session.commit()
    return respond({"from": first, "to": second, "proof": [h.hex() for h in proof]})


_HASH = re.compile(r"[0-9a-f]{64}")


@bp.route("/petitions/<slug>/inclusion")
def log_inclusion(slug: str) -> Any:
    found = _public_petition(slug)
    leaf_hash = request.args.get("leaf_hash", "")
    if not _HASH.fullmatch(leaf_hash):
        raise BadParameter("`leaf_hash` must be 64 lowercase hex digits (a receipt).")
    proven = ledger.inclusion(found, bytes.fromhex(leaf_hash))
    db.session.commit()
    return respond(
        {
            "leaf_index": proven.leaf_index,
            "leaf_hash": leaf_hash,
            "kind": proven.kind,
            "checkpoint": out.checkpoint(proven.checkpoint),
            "proof": [h.hex() for h in proven.proof],
        }
    )


MAX_LEAVES = 1000


@bp.route("/petitions/<slug>/leaves")
def log_leaves(slug: str) -> Any:
    found = _public_petition(slug)
    start = _int_arg("start", 0, 0, MAX_ID)
    limit = _int_arg("limit", MAX_LEAVES, 1, MAX_LEAVES)
    latest, leaves = ledger.list_leaves(found, start, limit)
    db.session.commit()
    end = start + len(leaves)
    return respond(
        {
            "tree_size": latest.tree_size,
            "items": [out.leaf(leaf) for leaf in leaves],
            "next": (
                _next_plain(start=end, limit=limit) if leaves and end < latest.tree_size else None
            ),
        }
    )


# --------------------------------------------------------------------------------------
# News
# --------------------------------------------------------------------------------------


@bp.route("/news")
def news() -> Any:
    limit = _limit()
    cursor = _read_cursor("news")
    stmt = (
        sa.select(NewsPost)
        .where(NewsPost.visible_clause(utcnow()))
        .options(selectinload(NewsPost.tags))
    )
    rows, more = _keyset(stmt, [NewsPost.published_at, NewsPost.id], cursor, limit)
    next_link = None
    if more:
        last = rows[-1]
        next_link = _next_link("news", [last.published_at.isoformat(), last.id], limit=limit)
    return respond(
        {"items": [out.news_summary(n) for n in rows], "next": next_link},
        _latest([n.updated_at for n in rows]),
    )


@bp.route("/news/<slug>")
def news_post(slug: str) -> Any:
    _check_slug(slug, "news post")
    found = db.session.scalar(
        sa.select(NewsPost)
        .where(NewsPost.slug == slug, NewsPost.visible_clause(utcnow()))
        .options(selectinload(NewsPost.tags), selectinload(NewsPost.updates))
    )
    if found is None:
        raise NotFoundError("There is no such news post.")
    return respond(
        out.news_post(found), _latest([found.updated_at, *(u.created_at for u in found.updates)])
    )


# --------------------------------------------------------------------------------------
# Forum
# --------------------------------------------------------------------------------------


@bp.route("/categories")
def categories() -> Any:
    rows = db.session.scalars(sa.select(Category).order_by(Category.position, Category.id))
    return respond({"items": [out.category(c) for c in rows]})


@bp.route("/categories/<slug>/threads")
def category_threads(slug: str) -> Any:
    _check_slug(slug, "category")
    category = db.session.scalar(sa.select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFoundError("There is no such category.")
    limit = _limit()
    scope = f"threads:{category.id}"
    cursor = _read_cursor(scope)
    stmt = (
        sa.select(Thread)
        .where(Thread.category_id == category.id, Thread.is_hidden.is_(False))
        .options(joinedload(Thread.author))
    )
    rows, more = _keyset(stmt, [Thread.last_activity_at, Thread.id], cursor, limit)
    next_link = None
    if more:
        last = rows[-1]
        next_link = _next_link(scope, [last.last_activity_at.isoformat(), last.id], limit=limit)
    return respond(
        {
            "category": out.category(category),
            "items": [out.thread_summary(t) for t in rows],
            "next": next_link,
        },
        _latest([t.last_activity_at for t in rows]),
    )


@bp.route("/threads/<int:thread_id>")
def thread(thread_id: int) -> Any:
    page = _int_arg("page", 1, 1, MAX_PAGE)
    per_page = _int_arg("per_page", DEFAULT_LIMIT, 1, MAX_LIMIT)
    found = (
        db.session.scalar(
            sa.select(Thread)
            .where(Thread.id == thread_id, Thread.is_hidden.is_(False))
            .options(joinedload(Thread.author), joinedload(Thread.category))
        )
        if thread_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFoundError("There is no such thread.")
    posts = db.paginate(
        sa.select(Post)
        .where(Post.thread_id == found.id, Post.is_hidden.is_(False), Post.is_deleted.is_(False))
        .options(joinedload(Post.author))
        .order_by(Post.id),
        page=page,
        per_page=per_page,
        error_out=False,
    )
    apply_quote_visibility(None, posts.items)  # the API reads as a visitor does
    next_link = None
    if posts.has_next:
        next_link = out.absolute(
            f"{request.path}?{urlencode({'page': page + 1, 'per_page': per_page})}"
        )
    return respond(
        {
            "thread": {**out.thread_summary(found), "category": found.category.slug},
            "posts": {
                "items": [out.post(p) for p in posts.items],
                "page": page,
                "per_page": per_page,
                "total": posts.total or 0,
                "next": next_link,
            },
        },
        _latest([found.last_activity_at, *(p.edited_at for p in posts.items)]),
    )


# --------------------------------------------------------------------------------------
# The description of all this
# --------------------------------------------------------------------------------------


@bp.route("/openapi.json")
def openapi() -> Any:
    return respond(spec(server_url=base_url() + (bp.url_prefix or "")))
