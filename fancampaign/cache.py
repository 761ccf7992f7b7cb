"""Caching for anonymous visitors: rendered pages in Redis, and HTTP caching headers.

Decorate a GET view with `@anonymous_page()`. For a visitor who is not logged in (and has no
flashed message waiting) the page is served from Redis when REDIS_URL is set, else rendered
and stored; logged-in people always get a fresh render marked `private`.

Invalidation is automatic and exact: a listener on every session flush notes which content
tables a transaction wrote (ORM objects and ORM/Core UPDATE, DELETE and INSERT statements run
through the session), and after the commit it bumps a version number per table: in Redis, or
on SQLite (every worker on one machine) in a small file mapped into each worker's memory,
which a page read checks without a round trip (`LocalVersions`; PAGE_CACHE_VERSIONS).
A page's key holds the versions of the tables it depends on (all content by default), so a
write makes every page built from the old rows unreachable at once: a signature shows in the
count on the next request, as the rules demand. Versions are read *before* rendering, so a
render racing a write is stored under the old versions and never served afterwards. Entries
also expire after `timeout` seconds, which bounds what time alone changes (a scheduled news
post going out, a deadline passing).

Members get the same treatment, one rendering per role (member, organiser) shared by every
member in good standing: the view runs once as a stand-in viewer who wrote nothing, liked
nothing and signed nothing, and what differs per viewer is marked as a slot in that HTML
(`{{ slot(name, arg, html) }}`: the account menu, a Like button's word, the signing box). Each
request fills the slots for its viewer from the view's `personal(viewer, meta, marks)` hook;
what it needs to know about the viewer (`marks`: their likes among the page's posts, say) is
read in the login's own query. A viewer the shared page cannot describe (the author of
something on it, a moderator, a suspended account, someone with hidden posts) gets a full
rendering as before.

A page holding a CSRF token (the guest signing form) is cached with the token's places
recorded and each visitor gets their own token on the way out; such pages are `private`. The
places are where the template emitted the token (and the slots), written as markers holding
this process's random secret (`_SECRET`): user-written text, which cannot know it, is never
taken for a marker, and no marker leaves the process (a stored page holds the pieces between
them, not the markers).
Other anonymous pages get `Cache-Control: public, no-cache` with an ETag built from the
versions, so a browser's conditional GET is answered 304 without rendering or reading Redis.

Nothing here may break a page: if Redis fails, the page is rendered as if there were no cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import mmap
import os
import re
import secrets
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, g, has_app_context, make_response, request, session
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

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
        # The site's name, colour, logo and footer are on every page (admin/sitesettings.py).
        "site_settings",
        "campaign_events",
        "target_responses",
    }
)
# A users row matters to pages only when what they show of a person changes.
USER_SHOWN = ("username", "display_name", "deleted_at", "is_banned", "role", "bio")

# The stored pages' format is in their prefix: a change of format leaves the old entries unread.
PAGE_PREFIX = "fc:page2:"
VERSION_PREFIX = "fc:ver:"
# Markers are unforgeable: made with a secret that never leaves this process (module doc).
_SECRET = secrets.token_hex(16)
# What a rendering to be stored writes where the visitor's CSRF token goes.
CSRF_MARK = f"fc-csrf-{_SECRET}"
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
    local = _local_versions()
    try:
        if local is not None:
            local.bump(names)
            return
        prefix = _prefix() + VERSION_PREFIX
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.incr(prefix + name)
            pipe.execute()
    except Exception:
        # Pages built on the old rows live until their timeout: say so loudly.
        log.error("page cache: could not invalidate %s", names, exc_info=True)


# Versions on this machine (SQLite) ------------------------------------------------------------

_COUNTER = struct.Struct("<Q")
_UNPACK, _PACK = _COUNTER.unpack_from, _COUNTER.pack_into
_SLOTS = 64  # version counters in the file; CONTENT_TABLES must fit
_HEAD = 16  # bytes of the file's random identity, before the counters


class LocalVersions:
    """The content tables' version numbers in a small file beside a SQLite database, mapped
    into the memory of every process that serves it.

    SQLite puts every process that writes the database on one machine, so the versions can
    live there too: a page read then checks them without a round trip to Redis (which, on
    this machine, costs ~100-250 us: as much as the page's SQL). A bump increments them under
    a lock (`lockf`: per process, so forked workers exclude each other; and a thread lock).

    The file starts with 16 random bytes made with it: they are part of every page key, so a
    file made afresh (the database reset beside it) never meets the pages of the old one.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._slot = {name: _HEAD + 8 * i for i, name in enumerate(sorted(CONTENT_TABLES))}
        assert len(self._slot) <= _SLOTS
        self._open()

    def _open(self) -> None:
        if self.path is None:  # an in-memory database: one process, anonymous memory
            self._file: tuple[int, int] | None = None
            self._map = mmap.mmap(-1, _HEAD + 8 * _SLOTS)
            self._map[:_HEAD] = os.urandom(_HEAD)
            self._identify()
            return
        with self._locked() as fd:
            self._map_file(fd)

    def _map_file(self, fd: int) -> None:
        """Map the file open (and locked) as `fd`, making it if it is new."""
        size = _HEAD + 8 * _SLOTS
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, 0)
            os.write(fd, os.urandom(_HEAD) + bytes(size - _HEAD))
        self._map = mmap.mmap(fd, size)  # holds the file itself: the fd can close
        found = os.fstat(fd)
        self._file = (found.st_dev, found.st_ino)
        self._identify()

    def _identify(self) -> None:
        # The file's random bytes, and the tables in slot order (a new table moves the slots).
        layout = ",".join(sorted(CONTENT_TABLES)).encode()
        self.identity = hashlib.sha256(self._map[:_HEAD] + layout).hexdigest()[:16]

    def _current(self) -> mmap.mmap:
        """The map of the file now at the path: one made afresh while this process ran (the
        old one deleted) is mapped again, with its new identity."""
        if self.path is not None:
            try:
                found = os.stat(self.path)
                same = (found.st_dev, found.st_ino) == self._file
            except FileNotFoundError:
                same = False
            if not same:
                self._open()
        return self._map

    @contextlib.contextmanager
    def _locked(self) -> Any:
        """The file open and locked against every other process and thread (opened for the
        occasion: a process holds no descriptor between bumps)."""
        with self._thread_lock:
            if self.path is None:
                yield None
                return
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX)  # released with the close
                yield fd
            finally:
                os.close(fd)

    def read(self, names: Iterable[str]) -> list[int]:
        unpack, data, slot = _UNPACK, self._current(), self._slot
        return [unpack(data, slot[name])[0] for name in names]

    def bump(self, names: Iterable[str]) -> None:
        with self._locked() as fd:
            if fd is not None:
                found = os.fstat(fd)
                if (found.st_dev, found.st_ino) != self._file:
                    self._map_file(fd)  # the file was made afresh: count in the new one
            data = self._map
            for name in names:
                offset = self._slot[name]
                _PACK(data, offset, _UNPACK(data, offset)[0] + 1)


def _local_versions() -> LocalVersions | None:
    """This app's LocalVersions when the versions are kept on this machine, else None (they
    are in Redis).

    PAGE_CACHE_VERSIONS says where: "local" by default on SQLite (in a file beside the
    database, or in memory for an in-memory one), "redis" otherwise. "local" on another
    database is for a site whose every worker runs on one machine; the file is then
    PAGE_CACHE_VERSIONS_FILE (default: page-versions in the instance folder).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("fancampaign_cache_versions", False)
    if found is not False:
        return found  # type: ignore[no-any-return]
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    sqlite = url.get_backend_name() == "sqlite"
    where = app.config.get("PAGE_CACHE_VERSIONS") or ("local" if sqlite else "redis")
    found = None
    if where == "local":
        path = app.config.get("PAGE_CACHE_VERSIONS_FILE")
        if not path and sqlite:
            database = url.database
            in_memory = not database or database == ":memory:" or database.startswith("file:")
            path = None if in_memory else database + "-page-versions"
        elif not path:
            os.makedirs(app.instance_path, exist_ok=True)
            path = os.path.join(app.instance_path, "page-versions")
        found = LocalVersions(path)
    elif where != "redis":
        raise ValueError(f'PAGE_CACHE_VERSIONS must be "local" or "redis", not {where!r}')
    app.extensions["fancampaign_cache_versions"] = found
    return found


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
    return _is_plain_read() and not current_user.is_authenticated


def _is_plain_read() -> bool:
    return request.method in ("GET", "HEAD") and "_flashes" not in session


def _page_id() -> str:
    args = sorted(request.args.items(multi=True))
    raw = json.dumps([request.path, args], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def lookup(tables: Iterable[str]) -> tuple[str, bytes | None] | None:
    """(the page's key at the current versions, the stored page or None); None without Redis."""
    return _lookup(_prefix() + PAGE_PREFIX + _page_id(), tables)


# The versions each set of version keys last had, as this process read them: the guess that
# lets one MGET read the versions and the page stored under them together.
_SEEN: dict[tuple[str, ...], list[bytes | None]] = {}
_KEYS: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}


def _lookup(base: str, tables: Iterable[str]) -> tuple[str, bytes | None] | None:
    """(`base` + the tables' current versions, what is stored there or None); None without
    Redis.

    On SQLite the versions are read from this machine's memory (`LocalVersions`) and the page
    from this process's own copies before Redis: most page reads touch no other process.
    Otherwise, usually one round trip: a single MGET of the version keys and of the page under
    the versions this process saw last. Only when a write has moved a version since (the MGET
    says so, atomically) does a second GET fetch the page under the new ones. (A Lua script
    doing both costs twice as much: Redis spends ~80 us handing a large page back from Lua.)
    """
    client = _redis()
    if client is None:
        return None
    tables = tuple(tables)
    local = _local_versions()
    if local is not None:
        key = f"{base}:{local.identity}:" + ".".join(map(str, local.read(tables)))
        return key, _recall(client, key)
    prefix = _prefix()
    keys = _KEYS.get((prefix, tables))
    if keys is None:
        keys = tuple(prefix + VERSION_PREFIX + name for name in tables)
        if len(_KEYS) >= _PARTS_MAX:  # only tests make many (a prefix each)
            _KEYS.clear()
            _SEEN.clear()
        _KEYS[(prefix, tables)] = keys
    seen = _SEEN.get(keys)
    try:
        if seen is None:
            versions = client.mget(keys)
        else:
            *versions, frozen = client.mget(*keys, _versioned(base, seen))
            if versions == seen:
                return _versioned(base, seen), frozen
        key = _versioned(base, versions)
        frozen = client.get(key)
    except Exception:  # the cache must never break a page
        log.warning("page cache: Redis unavailable", exc_info=True)
        return None
    _SEEN[keys] = versions
    return key, frozen


# This process's own copies of pages under local versions: {key: (expires, stored)}, the
# most recently used last, at most PAGE_CACHE_LOCAL_BYTES in all.
_COPIES: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
_COPIES_SIZE = [0]
_COPIES_LOCK = threading.Lock()


def _recall(client: Any, key: str) -> bytes | None:
    """What is stored under `key` (a key at local versions): this process's copy, else
    Redis's (copied here for as long as Redis keeps it)."""
    now = time.monotonic()
    copy = _COPIES.get(key)
    if copy is not None:
        if copy[0] > now:
            with contextlib.suppress(KeyError):  # another thread may have just dropped it
                _COPIES.move_to_end(key)
            return copy[1]
        with _COPIES_LOCK:
            _forget(key)
    try:
        with client.pipeline(transaction=False) as pipe:
            stored, ttl = pipe.get(key).pttl(key).execute()
    except Exception:  # the cache must never break a page
        log.warning("page cache: Redis unavailable", exc_info=True)
        return None
    if stored is not None and ttl > 0:
        _keep(key, stored, now + ttl / 1000)
    return stored


def _keep(key: str, stored: bytes, expires: float) -> None:
    limit = int(current_app.config.get("PAGE_CACHE_LOCAL_BYTES", 32 * 1024 * 1024))
    if len(stored) > limit:
        return
    with _COPIES_LOCK:
        _forget(key)
        _COPIES[key] = (expires, stored)
        _COPIES_SIZE[0] += len(stored)
        while _COPIES_SIZE[0] > limit:
            _forget(next(iter(_COPIES)))


def _forget(key: str) -> None:
    copy = _COPIES.pop(key, None)
    if copy is not None:
        _COPIES_SIZE[0] -= len(copy[1])


def _store(key: str, stored: bytes | str, timeout: int) -> None:
    """Keep a page (or fragment) under its key for `timeout` seconds, for every process."""
    try:
        _redis().set(key, stored, ex=timeout)
    except Exception:
        log.warning("page cache: could not store %s", key, exc_info=True)
        return
    if _local_versions() is not None:
        data = stored.encode() if isinstance(stored, str) else stored
        _keep(key, data, time.monotonic() + timeout)


def _versioned(base: str, versions: list[bytes | None]) -> str:
    return base + ":" + ".".join(v.decode() if v is not None else "0" for v in versions)


def _etag(key: str) -> str:
    return "a-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _freeze(
    response: Response, mark: str | None, meta: Any = None, drop: tuple[str, ...] = ()
) -> bytes | None:
    """The response as Redis keeps it, or None if it can't be kept; `mark` is what the
    rendering wrote where the visitor's CSRF token goes (CSRF_MARK: see `_render_marked`).

    A line of JSON (the headers but the per-response ones, `meta`, whether it held a CSRF
    token, and the slots: see `slot`, each with its html cut where a token goes), then the
    body cut at each slot and each CSRF token, the pieces joined by NUL bytes (which HTML
    never holds). Serving it is a split and a join of bytes: no JSON decoding, search or
    re-encoding of the whole page per request. No marker is stored, only where they were.
    """
    if response.direct_passthrough or response.is_streamed:
        return None
    body = response.get_data(as_text=True)
    if "\x00" in body:
        return None
    has_token = bool(mark) and mark in body
    texts, items = [""], []

    def cut(piece: str) -> list[str]:
        return piece.split(mark) if has_token and mark else [piece]

    def text(piece: str) -> None:
        first, *rest = cut(piece)
        texts[-1] += first
        for after in rest:
            items.append(None)  # the viewer's CSRF token goes here
            texts.append(after)

    end = 0
    for found in SLOT_RE.finditer(body):
        text(body[end : found.start()])
        items.append([found[1], found[2], cut(found[3])])
        texts.append("")
        end = found.end()
    text(body[end:])
    skip = ("set-cookie", "content-length", "vary", "etag", *drop)
    headers = [[k, v] for k, v in response.headers.items() if k.lower() not in skip]
    head = json.dumps({"h": headers, "m": meta, "t": has_token, "i": items})
    return head.encode() + b"\n" + "\x00".join(texts).encode()


def _open(frozen: bytes) -> tuple[dict[str, Any], bytes]:
    """(what `_freeze` put in its first line, the body's pieces still joined)."""
    head, _, body = frozen.partition(b"\n")
    return json.loads(head), body


def _thaw(data: dict[str, Any], body: bytes, fills: dict[str, Fill] | None = None) -> bytes:
    """The body for this request: each slot filled (by `fills[name](arg, html)`, else its
    html as stored) and this visitor's CSRF token where the rendering had one. A fill's html
    (a `render_part`) has CSRF_MARK where its token goes."""
    items = data["i"]
    if not items:
        return body
    token: str | None = None

    def csrf() -> str:
        nonlocal token
        if token is None:
            token = _csrf_token()
        return token

    texts = body.split(b"\x00")
    out = [texts[0]]
    for item, after in zip(items, texts[1:], strict=True):
        if item is None:
            piece = csrf()
        else:
            name, arg, pieces = item
            if fills and name in fills:
                piece = fills[name](arg, CSRF_MARK.join(pieces))
                if CSRF_MARK in piece:
                    piece = piece.replace(CSRF_MARK, csrf())
            else:
                piece = pieces[0] if len(pieces) == 1 else csrf().join(pieces)
        out += (piece.encode(), after)
    return b"".join(out)


_SIGNED: dict[tuple[str, str], tuple[float, str]] = {}
_SIGNED_FOR = 60.0  # seconds; a token is good for an hour (WTF_CSRF_TIME_LIMIT)


def _csrf_token() -> str:
    """This visitor's signed CSRF token, as `generate_csrf()` makes it, signed once a minute
    per session and process rather than on every request (signing is a twentieth of a page
    served from the cache). A token signed 59 s ago is as good as a new one, 59 s shorter."""
    from flask_wtf.csrf import generate_csrf

    raw = session.get("csrf_token")
    if raw is None or "csrf_token" in g:
        return generate_csrf()
    key = (str(current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key), raw)
    now = time.monotonic()
    signed = _SIGNED.get(key)
    if signed is not None and now - signed[0] < _SIGNED_FOR:
        g.csrf_token = signed[1]  # where flask_wtf looks first
        return signed[1]
    token = generate_csrf()
    if len(_SIGNED) >= _PARTS_MAX:
        _SIGNED.clear()
    _SIGNED[key] = (now, token)
    return token


def _revive(frozen: bytes) -> tuple[Response, bool]:
    data, body = _open(frozen)
    response = Response(_thaw(data, body), status=200)
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


Personal = Callable[[Any, Any, "dict[str, Any]"], "dict[str, Fill] | None"]
# A page's marks: {name: (a column correlated to users.id, its parameters)} for this meta.
Marks = Callable[[Any], "dict[str, tuple[Any, dict[str, Any]]]"]


def anonymous_page(
    timeout: int = 300,
    tables: Iterable[str] = CONTENT_TABLES,
    personal: Personal | None = None,
    marks: Marks | None = None,
    everyone: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve this GET view's page from the cache to anonymous visitors and, personalised, to
    members in good standing (see the module doc).

    `personal(viewer, meta, marks)`: the slot fillers for this viewer of the shared page, or
    None when the viewer needs a page of their own; `meta` is what the view put in
    `page_meta()`, `marks` the values of what `marks(meta)` asked about the viewer (their likes
    among the page's posts, say), read in the same query as the login when the page is in the
    cache, else in one query of their own.
    `everyone=True`: the response says nothing about its viewer at all (JSON), so everyone
    gets the anonymous copy and the login is not even read.
    """
    depends = tuple(sorted(set(tables)))
    if not set(depends) <= CONTENT_TABLES:  # writes to others never invalidate anything
        raise ValueError(
            f"pages can only depend on content tables, not {set(depends) - CONTENT_TABLES}"
        )

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not everyone and _is_plain_read() and _LOGIN_KEY in session:
                # Before the login is read: the page's marks can come with it.
                shared = _member_page(view, args, kwargs, depends, timeout, personal, marks)
                if shared is not None:
                    return shared
            if not (_is_plain_read() if everyone else is_anonymous_request()):
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
                response, has_token = _revive(frozen)
                return _finish(response, public=not has_token, etag=etag)
            g.page_cache = "miss"
            response = _render_marked(view, args, kwargs)
            if response.status_code == 200:
                frozen_page = _freeze(response, CSRF_MARK)
                if frozen_page is not None:
                    _store(key, frozen_page, timeout)
            _unmark(response)
            if response.status_code != 200:
                return response
            return _finish(response, public=_no_token(response), etag=etag)

        return wrapped

    return decorator


def _render_marked(view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The view's response with CSRF_MARK wherever its templates asked for the CSRF token
    (flask_wtf hands out the token kept in `g`): the places to put each visitor's own."""
    before = g.pop("csrf_token", None)
    g.csrf_token = CSRF_MARK
    try:
        return make_response(view(*args, **kwargs))
    finally:
        g.pop("csrf_token", None)
        if before is not None:
            g.csrf_token = before


def _unmark(response: Response) -> None:
    """This visitor's CSRF token where `_render_marked` left markers in the response."""
    if response.direct_passthrough or response.is_streamed:
        return
    body = response.get_data()
    mark = CSRF_MARK.encode()
    if mark in body:
        response.set_data(body.replace(mark, _csrf_token().encode()))


def _no_token(response: Response) -> bool:
    """No CSRF token in the page (nothing personal): shared caches may keep it."""
    token = g.get("csrf_token")
    if not token or response.is_streamed:
        return True
    return token not in response.get_data(as_text=True)


# Members: a shared rendering per role, personalised through slots -------------------------

MEMBER_PREFIX = "fc:member2:"
# The stand-in viewer's name: if it shows anywhere outside a slot, the page says something
# about its viewer that no slot covers, and it is not shared.
STANDIN_NAME = "fc-standin-viewer"
SLOT_RE = re.compile(rf"<!--fc:{_SECRET}:(\w+):([\w.-]*)-->(.*?)<!--/fc:{_SECRET}-->", re.S)
Fill = Callable[[str, str], str]


def slot(name: str, arg: Any = "", html: Any = "") -> Markup:
    """`html` (what this viewer sees), marked as the slot `name` in a shared rendering so each
    member's request can put their own version in its place (see `anonymous_page`)."""
    if not _is_shared_render():
        return Markup(html)  # noqa: S704  (the template's own output or escaped text)
    return Markup(marked_slot(name, _slot_arg(arg), str(html)))  # noqa: S704


def marked_slot(name: str, arg: str, html: str) -> str:
    """`html` between the markers of the slot `name` (which `SLOT_RE` finds)."""
    return f"<!--fc:{_SECRET}:{name}:{arg}-->{html}<!--/fc:{_SECRET}-->"


def _slot_arg(arg: Any) -> str:
    text = str(arg)
    if not re.fullmatch(r"[\w.-]*", text):
        raise ValueError(f"a slot's argument must be a plain word, not {text!r}")
    return text


def page_meta(**values: Any) -> None:
    """What this view's `personal` hook needs to know about the page (JSON-able): kept with
    the shared rendering, so a request served from the cache has it without a query."""
    g.page_meta = values


def _is_shared_render() -> bool:
    """The page is being rendered once for every member (as a stand-in who did nothing)."""
    return has_app_context() and bool(g.get("shared_render"))


_LOGIN_KEY = "_user_id"  # where Flask-Login keeps the login in the session


def viewer_role(user: Any) -> str | None:
    """The role whose shared pages describe this viewer, or None when they need their own:
    moderators (tools on every item), anyone who may not take part (their notices), and
    anyone with hidden posts or threads (which only they see)."""
    from fancampaign import policies

    if not policies.can_participate(user) or policies.can_moderate(user):
        return None
    if getattr(user, "has_hidden_content", None) is not False:  # unknown counts as yes
        return None
    return str(getattr(user.role, "value", user.role))


def _standin(role: str) -> Any:
    from fancampaign.accounts.models import Role, User

    # Never added to the session; id 0 is no row's id (ids start at 1).
    return User(
        id=0,
        username=STANDIN_NAME,
        username_lower=STANDIN_NAME,
        display_name=STANDIN_NAME,
        email=f"{STANDIN_NAME}@example.invalid",
        role=Role(role),
        email_confirmed_at=_epoch(),
        is_banned=False,
        session_token="",
    )


def _epoch() -> Any:
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)


def _member_page(
    view: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    depends: tuple[str, ...],
    timeout: int,
    personal: Personal | None,
    marks: Marks | None,
) -> Response | None:
    """This member's page made from the shared rendering for their role, or None when they
    need a rendering of their own (or there is no Redis).

    Most viewers are members: their role's page is looked up before the login is read, so
    that what the page asks about its viewer (`marks`) comes with the login's query.
    """
    base = _prefix() + MEMBER_PREFIX
    page_id = _page_id()
    found = _lookup(base + "member:" + page_id, depends)
    if found is None:
        return None
    opened = _open(found[1]) if found[1] is not None else None
    if opened is not None and marks is not None and opened[0]["m"] is not None:
        g.login_marks = marks(opened[0]["m"])
    try:
        viewer = current_user._get_current_object()  # type: ignore[attr-defined]
    finally:
        g.pop("login_marks", None)
    role = viewer_role(viewer) if viewer.is_authenticated else None
    if role is None:
        return None
    if role != "member":
        viewer.login_marks = None  # asked for another page than theirs
        found = _lookup(base + role + ":" + page_id, depends)
        if found is None:
            return None
        opened = _open(found[1]) if found[1] is not None else None
    key, frozen = found
    source = "hit"
    if opened is None:
        source = "miss"
        frozen = _render_shared(view, args, kwargs, role)
        if frozen is None:
            return None
        _store(key, frozen, timeout)
        opened = _open(frozen)
    data, body = opened
    fills: dict[str, Fill] = {"nav": _account_nav}
    if personal is not None:
        if data["m"] is None:
            return None  # the view said nothing about its page: the viewer gets their own
        values = viewer_marks(viewer, marks(data["m"])) if marks is not None else {}
        own = personal(viewer, data["m"], values)
        if own is None:
            return None
        fills.update(own)
    g.page_cache = source
    response = Response(_thaw(data, body, fills), status=200)
    for name, value in data["h"]:
        response.headers[name] = value
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response


def id_mark(ids: Any, user_id: Any, param: str) -> Any:
    """A mark column: which of the ids in the parameter `param` (a list) the viewer has rows
    for, as "5,9" (NULL for none); `ids` and `user_id` are columns of one table (likes,
    signatures). Read it with `id_set`.

    The list goes to the database as one JSON parameter, not an IN list of one parameter
    each: the statement's text is the same for any number of ids (one prepared statement on
    PostgreSQL, no re-rendering of the SQL per request: ~90 us of a 20-post page's login).
    """
    from fancampaign.accounts.models import User

    elements = _json_array(sa.bindparam(param, type_=_IdList())).table_valued("value")
    return (
        sa.select(_comma_joined(sa.cast(ids, sa.Text)))
        .where(user_id == User.id, ids.in_(sa.select(sa.cast(elements.c.value, sa.Integer))))
        .scalar_subquery()
    )


class _IdList(sa.types.TypeDecorator[list[int]]):
    """A list of ids bound as a JSON array."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps([int(item) for item in value])


def _sql_function(name: str, sqlite: str, postgresql: str, type_: Any = None) -> Any:
    """A SQL function spelt per dialect: `sqlite` (the default) and `postgresql` are its SQL
    with `{}` where its arguments go."""
    function = type(name, (FunctionElement,), {"inherit_cache": True, "name": name})
    if type_ is not None:
        function.type = type_
    for dialect, spelling in ((None, sqlite), ("postgresql", postgresql)):

        def render(element: Any, compiler: Any, _spelling: str = spelling, **kw: Any) -> str:
            return _spelling.format(compiler.process(element.clauses, **kw))

        compiles(function, *([dialect] if dialect else []))(render)
    return function


# The elements of a JSON array, as rows of one `value` column.
_json_array = _sql_function(
    "json_array", "json_each({})", "json_array_elements_text(CAST({} AS json))"
)
# The values joined by commas ("5,9"): aggregate_strings with its separator in the SQL text,
# where SQLAlchemy's own renders it again on every execution.
_comma_joined = _sql_function(
    "comma_joined", "group_concat({}, ',')", "string_agg({}, ',')", sa.Text()
)


def id_set(marked: str | None) -> set[int]:
    """The ids in a mark such as "5,9" (see `id_mark`)."""
    return {int(part) for part in marked.split(",")} if marked else set()


def ids_marked(viewer: Any, name: str, mark: Any, param: str, ids: list[int]) -> set[int]:
    """Which of these ids the viewer has rows for, by the mark `name` (an `id_mark` column
    with its list in `param`), read now in one query: for a page rendered for its viewer
    alone. None for visitors."""
    from fancampaign import policies
    from fancampaign.accounts.services import read_marks

    if not ids or not policies.is_member(viewer):
        return set()
    return id_set(read_marks(viewer.id, {name: (mark, {param: ids})})[name])


def login_marks() -> dict[str, tuple[Any, dict[str, Any]]]:
    """What the page being served asks about its viewer, for the login's query to read too."""
    return (g.get("login_marks") or {}) if has_app_context() else {}


def viewer_marks(viewer: Any, wanted: dict[str, tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    """The values of these marks for the viewer: read with the login if it could, else now,
    in one query."""
    loaded = getattr(viewer, "login_marks", None) or {}
    missing = {name: spec for name, spec in wanted.items() if name not in loaded}
    if not missing:
        return loaded
    from fancampaign.accounts.services import read_marks

    return {**loaded, **read_marks(viewer.id, missing)}


def _render_shared(
    view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], role: str
) -> bytes | None:
    """The view's page as the role's stand-in sees it, slots marked; None if it can't be
    shared (not a plain 200, or something about the viewer shows outside the slots)."""
    from werkzeug.exceptions import HTTPException

    from fancampaign.errors import DomainError

    before = dict(vars(g))
    g.pop("page_meta", None)
    g._login_user = _standin(role)
    g.shared_render = True
    g.csrf_token = CSRF_MARK  # where each viewer's own token goes (`_render_marked`)
    try:
        response = make_response(view(*args, **kwargs))
    except (HTTPException, DomainError):
        return None
    finally:
        meta = g.get("page_meta")
        # What the rendering kept in `g` (say the Report controls' viewer) was about the
        # stand-in: the real viewer's own rendering must work it out afresh.
        vars(g).clear()
        vars(g).update(before)
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed:
        return None
    if STANDIN_NAME in SLOT_RE.sub("", response.get_data(as_text=True)):
        log.warning("page cache: %s shows its viewer outside a slot; not shared", request.path)
        return None
    return _freeze(response, CSRF_MARK, meta, drop=("cache-control",))


def _account_nav(_arg: str, _html: str) -> str:
    """The account menu for this request's viewer (the `nav` slot of every page)."""
    from fancampaign.notifications.services import unread_count

    viewer = current_user._get_current_object()  # type: ignore[attr-defined]
    # Everything the menu of a member in good standing shows (viewer_role() said so).
    return render_part(
        "_account_nav.html",
        current_user={"username": viewer.username, "is_authenticated": True},
        unread_notifications=unread_count(viewer),
        request=None,  # no shared page is the notifications or settings page
    )


_PARTS: dict[tuple[Any, ...], str] = {}
_PARTS_MAX = 4096


def render_part(template: str, **context: Any) -> str:
    """A small template for a slot, rendered once per process for each `context` (plain
    values: their repr is the key) with a placeholder for the CSRF token, which the page
    gets at the end. Not for templates that read `request` or `g`."""
    key = (template, repr(sorted(context.items())))
    html = _PARTS.get(key)
    if html is None:
        html = current_app.jinja_env.get_template(template).render(
            context, csrf_token=lambda: CSRF_MARK
        )
        if len(_PARTS) >= _PARTS_MAX:
            _PARTS.clear()
        _PARTS[key] = html
    return html


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
        _store(key, html, timeout)
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
