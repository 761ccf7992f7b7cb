"""Caching for anonymous visitors: rendered pages in Redis, and HTTP caching headers.

Decorate a GET view with `@anonymous_page()`. For a visitor who is not logged in (and has no
flashed message waiting) the page is served from Redis when REDIS_URL is set, else rendered
and stored; logged-in people always get a fresh render marked `private`.

Invalidation is automatic and exact: a listener on every session flush notes which content
tables a transaction wrote (ORM objects and ORM/Core UPDATE, DELETE and INSERT statements run
through the session), and after the commit it bumps a version number per table in Redis.
A page's key holds the versions of the tables it depends on (all content by default), so a
write makes every page built from the old rows unreachable at once: a signature shows in the
count on the next request, as the rules demand. Versions are read *before* rendering, so a
render racing a write is stored under the old versions and never served afterwards. Entries
also expire after `timeout` seconds, which bounds what time alone changes (a scheduled news
post going out, a deadline passing).

A page holding a CSRF token (the guest signing form) is cached with a placeholder in the
token's place and each visitor gets their own token on the way out; such pages are `private`.
Other anonymous pages get `Cache-Control: public, no-cache` with an ETag built from the
versions, so a browser's conditional GET is answered 304 without rendering or reading Redis.

Nothing here may break a page: if Redis fails, the page is rendered as if there were no cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, g, has_app_context, make_response, request, session
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# The tables whose rows anonymous pages show. Writes to anything else (sessions, mail,
# notifications, rate limits, login times) never invalidate a page.
CONTENT_TABLES = frozenset(
    {
        "categories",
        "threads",
        "posts",
        "post_likes",
        "petitions",
        "signatures",
        "news_posts",
        "news_updates",
        "news_post_tags",
        "news_post_petitions",
        "tags",
        "users",
    }
)
# A users row matters to pages only when what they show of a person changes.
USER_SHOWN = ("username", "display_name", "deleted_at", "is_banned", "role", "bio")

PAGE_PREFIX = "fc:page:"
VERSION_PREFIX = "fc:ver:"
CSRF_MARK = "__fancampaign_csrf_token__"
_PENDING = "fc_cache_pending"


# Redis ----------------------------------------------------------------------------------


def _redis() -> Any:
    """The app's Redis client for the cache, or None without REDIS_URL (or with the cache off)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("REDIS_URL") or not enabled():
        return None
    client = app.extensions.get("fancampaign_cache_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5
        )
        app.extensions["fancampaign_cache_redis"] = client
    return client


def enabled() -> bool:
    """On, except under test (where databases are emptied behind its back) unless asked."""
    return bool(current_app.config.get("PAGE_CACHE_ENABLED", not current_app.testing))


def _prefix() -> str:
    # Tests (and several sites sharing one Redis) keep their keys apart.
    return str(current_app.config.get("PAGE_CACHE_PREFIX", ""))


def bump(tables: Iterable[str]) -> None:
    """Make every cached page built on these tables unreachable (after a commit)."""
    names = sorted(set(tables) & CONTENT_TABLES)
    if not names or not has_app_context():
        return
    client = _redis()
    if client is None:
        return
    prefix = _prefix() + VERSION_PREFIX
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.incr(prefix + name)
            pipe.execute()
    except Exception:
        # Pages built on the old rows live until their timeout: say so loudly.
        log.error("page cache: could not invalidate %s", names, exc_info=True)


# Invalidation: what a transaction wrote --------------------------------------------------


def _table_of(obj: Any) -> str | None:
    table = getattr(type(obj), "__table__", None)
    return table.name if table is not None else None


def _user_shown_changed(obj: Any) -> bool:
    state = sa.inspect(obj)
    return any(
        state.attrs[name].history.has_changes() for name in USER_SHOWN if name in state.attrs
    )


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    pending = session.info.setdefault(_PENDING, set())
    for obj in session.new:
        if (name := _table_of(obj)) in CONTENT_TABLES and name != "users":
            pending.add(name)
    for obj in session.deleted:
        if (name := _table_of(obj)) in CONTENT_TABLES:
            pending.add(name)
    for obj in session.dirty:
        name = _table_of(obj)
        if name not in CONTENT_TABLES:
            continue
        if name == "users" and not _user_shown_changed(obj):
            continue
        pending.add(name)


def note_write(session: Session, name: str | None) -> None:
    """The transaction writes table `name`: pages showing it go stale at the commit.
    Listeners call it for ORM flushes and DML statements; a statement they cannot see into
    (DML inside a CTE) says so itself."""
    if name in CONTENT_TABLES:
        session.info.setdefault(_PENDING, set()).add(name)


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: Any) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        note_write(state.session, getattr(getattr(state.statement, "table", None), "name", None))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        bump(pending)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


# Serving pages ----------------------------------------------------------------------------


def is_anonymous_request() -> bool:
    """A visitor who is not logged in and has nothing personal waiting (flashed messages)."""
    if request.method not in ("GET", "HEAD"):
        return False
    if "_flashes" in session:
        return False
    return not current_user.is_authenticated


def _page_id() -> str:
    args = sorted(request.args.items(multi=True))
    raw = json.dumps([request.path, args], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


# One round trip: read the versions, build the page's key from them, fetch the page.
_LOOKUP = """
local parts = {}
for i, key in ipairs(KEYS) do parts[i] = redis.call('GET', key) or '0' end
local page_key = ARGV[1] .. ':' .. table.concat(parts, '.')
return {page_key, redis.call('GET', page_key)}
"""


def lookup(tables: Iterable[str]) -> tuple[str, bytes | None] | None:
    """(the page's key at the current versions, the stored page or None); None without Redis."""
    return _lookup(_prefix() + PAGE_PREFIX + _page_id(), tables)


def _lookup(base: str, tables: Iterable[str]) -> tuple[str, bytes | None] | None:
    """(`base` + the tables' current versions, what is stored there or None); None without
    Redis."""
    client = _redis()
    if client is None:
        return None
    script = current_app.extensions.get("fancampaign_cache_lookup")
    if script is None:
        script = client.register_script(_LOOKUP)
        current_app.extensions["fancampaign_cache_lookup"] = script
    prefix = _prefix()
    try:
        key, frozen = script(keys=[prefix + VERSION_PREFIX + name for name in tables], args=[base])
    except Exception:  # the cache must never break a page
        log.warning("page cache: Redis unavailable", exc_info=True)
        return None
    return (key.decode() if isinstance(key, bytes) else key), frozen


def _etag(key: str) -> str:
    return "a-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _freeze(response: Response, token: str | None) -> str | None:
    """The response as JSON for Redis, the visitor's CSRF token swapped for a placeholder."""
    if response.direct_passthrough or response.is_streamed:
        return None
    body = response.get_data(as_text=True)
    has_token = bool(token) and token in body
    if has_token:
        body = body.replace(token, CSRF_MARK)
    headers = [
        [k, v]
        for k, v in response.headers.items()
        if k.lower() not in ("set-cookie", "content-length", "vary", "etag")
    ]
    return json.dumps({"h": headers, "b": body, "t": has_token})


def _revive(frozen: str) -> tuple[Response, bool]:
    data = json.loads(frozen)
    body = data["b"]
    if data["t"]:
        from flask_wtf.csrf import generate_csrf

        body = body.replace(CSRF_MARK, generate_csrf())
    response = Response(body, status=200)
    for name, value in data["h"]:
        response.headers[name] = value
    return response, bool(data["t"])


def _finish(response: Response, *, public: bool, etag: str | None) -> Response:
    """Caching headers; what the view set itself stays, unless it would leak a cookie."""
    response.vary.add("Cookie")
    if session.modified:
        # The response sets a cookie (a form made a CSRF token): never for shared caches.
        response.headers["Cache-Control"] = "private, no-cache"
        return response
    if not public:
        response.headers.setdefault("Cache-Control", "private, no-cache")
        return response
    response.headers.setdefault("Cache-Control", "public, no-cache")
    if etag:
        response.set_etag(etag)
    elif response.status_code == 200 and not response.is_streamed:
        response.add_etag()
    return response.make_conditional(request)


def anonymous_page(
    timeout: int = 300, tables: Iterable[str] = CONTENT_TABLES
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve this GET view's page to anonymous visitors from the cache (see the module doc)."""
    depends = tuple(sorted(set(tables)))

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not is_anonymous_request():
                response = make_response(view(*args, **kwargs))
                if request.method in ("GET", "HEAD"):
                    response.headers.setdefault("Cache-Control", "private, no-cache")
                    response.vary.add("Cookie")
                return response
            found = lookup(depends)
            if found is None:
                response = make_response(view(*args, **kwargs))
                return _finish(response, public=_no_token(response), etag=None)
            key, frozen = found
            etag = _etag(key)
            if request.if_none_match.contains(etag):
                response = Response(status=304)
                response.set_etag(etag)
                response.headers["Cache-Control"] = "public, no-cache"
                response.headers["Vary"] = "Cookie"
                return response
            if frozen is not None:
                g.page_cache = "hit"
                response, has_token = _revive(frozen.decode())
                return _finish(response, public=not has_token, etag=etag)
            g.page_cache = "miss"
            response = make_response(view(*args, **kwargs))
            if response.status_code != 200:
                return response
            frozen_text = _freeze(response, g.get("csrf_token"))
            if frozen_text is not None:
                try:
                    _redis().set(key, frozen_text, ex=timeout)
                except Exception:
                    log.warning("page cache: could not store %s", request.path, exc_info=True)
            return _finish(response, public=_no_token(response), etag=etag)

        return wrapped

    return decorator


def _no_token(response: Response) -> bool:
    """No CSRF token in the page (nothing personal): shared caches may keep it."""
    token = g.get("csrf_token")
    if not token or response.is_streamed:
        return True
    return token not in response.get_data(as_text=True)


# Fragments: parts of pages that are the same for every viewer -----------------------------

FRAGMENT_PREFIX = "fc:fragment:"


def fragment(
    name: str,
    render: Callable[[], Any],
    tables: Iterable[str] = CONTENT_TABLES,
    timeout: int = 300,
) -> Markup:
    """The HTML `render()` makes, kept in Redis at the current versions of the tables it shows,
    so logged-in pages reuse it as anonymous ones do (invalidated as pages are: a commit that
    writes one of the tables makes it unreachable). Without Redis it is rendered each time.

    Only for HTML that depends on nothing about the viewer: `name` must say everything else
    it depends on. HTML holding the viewer's CSRF token is never stored.
    """
    found = _lookup(_prefix() + FRAGMENT_PREFIX + name, sorted(set(tables)))
    if found is None:
        return Markup(render())  # noqa: S704  (render() returns escaped template output)
    key, stored = found
    if stored is not None:
        return Markup(stored.decode())  # noqa: S704  (what render() made)
    html = str(render())
    token = g.get("csrf_token")
    if not (token and token in html):
        try:
            _redis().set(key, html, ex=timeout)
        except Exception:
            log.warning("fragment cache: could not store %s", name, exc_info=True)
    return Markup(html)  # noqa: S704  (render() returns escaped template output)


# Computed values --------------------------------------------------------------------------

_LOCAL: dict[str, Any] = {}
_LOCAL_MAX = 512
VALUE_PREFIX = "fc:value:"


def memoise(key: str, compute: Callable[[], Any], timeout: int = 300) -> Any:
    """`compute()`'s JSON-able result, kept under `key` (in Redis, else in this process).

    The key must name everything the value depends on (say a petition's id *and* its
    signature count), so that a stale value is never found, only an absent one.
    """
    if has_app_context() and not enabled():
        return compute()
    client = _redis() if has_app_context() else None
    if client is not None:
        full = _prefix() + VALUE_PREFIX + key
        try:
            stored = client.get(full)
        except Exception:
            stored = None
        if stored is not None:
            return json.loads(stored)
        value = compute()
        try:
            client.set(full, json.dumps(value), ex=timeout)
        except Exception:
            log.warning("cache: could not store %s", key, exc_info=True)
        return value
    if key in _LOCAL:
        return _LOCAL[key]
    value = compute()
    if len(_LOCAL) >= _LOCAL_MAX:
        _LOCAL.clear()
    _LOCAL[key] = json.loads(json.dumps(value))
    return _LOCAL[key]
