"""Declared pages: what a cached page depends on, and how each request gets it.

A `Page` is declared once, next to its view, and decorates it. For each GET:
1. the request's query is cut to the page's declared arguments (the view never sees the
   others, so they can't change its HTML, and they are not part of the key);
2. a visitor (no login, no flashed message) gets the stored rendering at the current
   versions of the page's groups, with the `live` fills done for this request and their own
   CSRF token; on a miss the view renders once, marked, and the rendering is stored;
3. a member in good standing gets their role's shared rendering (members.py);
4. anyone else (a moderator, an author, a flashed message) gets the view's own rendering.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import Response, g, make_response, request, session
from werkzeug.datastructures import ImmutableMultiDict

from fancampaign.pagecache import clock, frozen, render, store
from fancampaign.pagecache.binding import Fill, Viewer, enabled, group_names, prefix

PAGE_PREFIX = "fc:page3:"
LOGIN_KEY = "_user_id"  # where Flask-Login keeps the login in the session

Marks = Callable[[dict[str, Any]], dict[str, Any]]
Fills = Callable[[Viewer, dict[str, Any]], "dict[str, Fill] | None"]
Live = Callable[[dict[str, Any], dict[str, Any]], "dict[str, Fill]"]


class Page:
    """A cached page (see the module doc).

    name: the page's name in keys and logs.
    depends: the groups of tables it shows (a write to any other never re-renders it).
    lagging, lag: groups whose writes may show up to `lag` seconds late (lists that move with
        every signature), however often they are written.
    args: the query arguments that matter.
    timeout: seconds an entry lives at most.
    marks(meta): the page's questions about a member viewer ({name: question}), answered in
        the login's own query.
    fills(viewer, meta): the member's fills for the shared page's slots, or None when the
        viewer needs a rendering of their own.
    live(meta, answers): fills done for every request, visitors too (an exact count);
        `answers`: a member's answers to `marks` (read with their login, as of the start of
        the request), {} for a visitor.
    everyone: the response says nothing about its viewer (JSON): everyone gets the visitors'
        copy and the login is not even read.
    read_only: the view writes nothing (its reads run outside a transaction; a write is an
        error, see fancampaign/extensions.py).
    """

    def __init__(
        self,
        name: str,
        *,
        depends: Iterable[str],
        lagging: Iterable[str] = (),
        lag: float = 10.0,
        args: Iterable[str] = (),
        timeout: float = 300.0,
        marks: Marks | None = None,
        fills: Fills | None = None,
        live: Live | None = None,
        everyone: bool = False,
        read_only: bool = True,
    ) -> None:
        self.name = name
        self.depends = tuple(sorted(set(depends)))
        self.lagging = tuple(sorted(set(lagging) - set(self.depends)))
        self.lag = lag
        self.args = frozenset(args)
        self.timeout = timeout
        self.marks = marks
        self.fills = fills
        self.live = live
        self.everyone = everyone
        self.read_only = read_only
        self._checked: frozenset[str] | None = None  # the app's groups it was checked against

    def __call__(self, view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            return self.serve(view, args, kwargs)

        wrapped.page = self  # type: ignore[attr-defined]
        return wrapped

    # Serving -----------------------------------------------------------------------------

    def serve(self, view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._check_groups()
        reading = request.method in ("GET", "HEAD")
        if reading:
            self._declared_args_only()
        if not reading:
            return self._own(view, args, kwargs)
        plain = "_flashes" not in session
        if plain and enabled() and not self.everyone and LOGIN_KEY in session:
            from fancampaign.pagecache import members

            shared = members.serve(self, view, args, kwargs)
            if shared is not None:
                return shared
        if not plain:
            return self._own(view, args, kwargs)
        if not self.everyone:
            from flask_login import current_user

            if current_user.is_authenticated:
                return self._own(view, args, kwargs)
        return self._visitor(view, args, kwargs)

    def _check_groups(self) -> None:
        known = group_names()
        if known is self._checked:
            return
        unknown = (set(self.depends) | set(self.lagging)) - known
        if unknown:
            raise ValueError(f"page {self.name!r} depends on unknown groups {sorted(unknown)}")
        self._checked = known

    def _declared_args_only(self) -> None:
        """The view sees only the declared query arguments (werkzeug caches `request.args` on
        the request: replace it there)."""
        given = request.args
        if given and any(name not in self.args for name in given):
            kept = [(k, v) for k, v in given.items(multi=True) if k in self.args]
            request.__dict__["args"] = ImmutableMultiDict(kept)

    def page_id(self) -> str:
        """The page's identity: its path and its declared arguments' values."""
        raw = json.dumps([request.path, sorted(request.args.items(multi=True))])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _own(self, view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The view's rendering for this viewer alone."""
        response = make_response(view(*args, **kwargs))
        if request.method in ("GET", "HEAD"):
            response.headers.setdefault("Cache-Control", "private, no-cache")
            response.vary.add("Cookie")
        return response

    def _visitor(
        self, view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Response:
        found = store.lookup(prefix() + PAGE_PREFIX + self.page_id(), self.depends, self.lagging)
        if found is None:
            response = make_response(view(*args, **kwargs))
            return finish(response, public=_no_token(response), etag=None)
        opened = self.usable(found)
        if opened is not None:
            g.page_cache = "hit"
        else:
            g.page_cache = "miss"
            response, kept, lifetime = self.render_frozen(view, args, kwargs, found, shared=False)
            if kept is None:
                return finish(response, public=_no_token(response), etag=None)
            store.keep(found.key, kept, lifetime)
            opened = frozen.open_(kept)
        # The entry's own identity (a lagging page is rendered again under the same key); a
        # page with live parts changes on every request and gets an ETag of its body instead.
        etag = None
        if not self.live:
            etag = (
                "a-" + hashlib.sha256(f"{found.key}:{opened.data['at']}".encode()).hexdigest()[:32]
            )
        if etag and request.if_none_match.contains(etag):
            response = Response(status=304)
            response.set_etag(etag)
            response.headers["Cache-Control"] = "public, no-cache"
            response.headers["Vary"] = "Cookie"
            return response
        data = opened.data
        fills = self.live(data["m"] or {}, {}) if self.live and data["m"] is not None else None
        response = Response(frozen.thaw(opened, fills), status=200)
        for name, value in data["h"]:
            response.headers[name] = value
        return finish(response, public=not data["t"], etag=etag)

    def usable(self, found: store.Found) -> frozen.Opened | None:
        """The stored entry opened, unless there is none or it lags behind its lagging groups
        by more than the page allows."""
        if found.stored is None:
            return None
        opened = frozen.open_(found.stored)
        data = opened.data
        behind = self.lagging and data.get("l") != list(found.lagging)
        if behind and clock.now() - data["at"] > self.lag:
            return None
        return opened

    def render_frozen(
        self,
        view: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        found: store.Found,
        *,
        shared: bool,
    ) -> tuple[Response, bytes | None, float]:
        """The view's rendering (made to be stored: slots marked, then unmarked for this
        request), what the store should keep of it (None: nothing) and for how long. The
        versions were read before rendering: a rendering racing a write is stored under the
        old versions and never served afterwards."""
        g.pop("pagecache_meta", None)
        with render.rendering(shared=shared) as state:
            response = make_response(view(*args, **kwargs))
        kept = None
        if response.status_code == 200:
            head = {"m": g.pop("pagecache_meta", None), "l": list(found.lagging)}
            kept = frozen.freeze(response, head, ("cache-control",) if shared else ())
        _unmark(response)
        return response, kept, self._lifetime(state.changes_at)

    def _lifetime(self, changes_at: float | None) -> float:
        """Seconds the entry may live: the page's timeout, or less when it changes by itself
        sooner (`render.changes_at`)."""
        if changes_at is None:
            return self.timeout
        return min(self.timeout, max(1.0, changes_at - clock.now()))


def finish(response: Response, *, public: bool, etag: str | None) -> Response:
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


def _unmark(response: Response) -> None:
    """This request's CSRF token and the slots' html where the rendering left markers."""
    if response.direct_passthrough or response.is_streamed:
        return
    body = response.get_data(as_text=True)
    if frozen.CSRF_MARK not in body and "<!--fc:" not in body:
        return
    body = frozen.SLOT_RE.sub(lambda m: m[3], body)
    if frozen.CSRF_MARK in body:
        body = body.replace(frozen.CSRF_MARK, frozen.csrf_token())
    response.set_data(body)


def _no_token(response: Response) -> bool:
    """No CSRF token in the page (nothing personal): shared caches may keep it."""
    token = g.get("csrf_token")
    if not token or response.is_streamed:
        return True
    return token not in response.get_data(as_text=True)
