"""Members' pages: one rendering per role, shared by every member in good standing.

The view runs once as the role's stand-in, a viewer who wrote nothing, liked nothing and
signed nothing; what differs per viewer is a slot in that HTML. Each request fills the slots
for its viewer: the app's fills for every page (the account menu), the page's own
(`Page.fills`, from the answers to `Page.marks`, which the login's query reads along with the
viewer), and the page's live ones. A viewer the shared page can't describe (the author of
something on it, a moderator, a suspended account) gets a rendering of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Response, g, request
from werkzeug.exceptions import HTTPException

from fancampaign.errors import DomainError
from fancampaign.pagecache import frozen, store
from fancampaign.pagecache.binding import Fill, Viewer, binding, prefix

if TYPE_CHECKING:
    from fancampaign.pagecache.pages import Page

log = logging.getLogger(__name__)

MEMBER_PREFIX = "fc:member3:"


def serve(
    page: Page, view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Response | None:
    """This member's page made from their role's shared rendering, or None when they need a
    rendering of their own (or are not logged in after all, or the cache can't answer).

    Most viewers are members: that role's page is looked up before the login is read, so
    that the page's questions about its viewer come with the login's query.
    """
    base = prefix() + MEMBER_PREFIX + page.page_id()
    found = store.lookup(base + ":member", page.depends, page.lagging)
    if found is None:
        return None
    opened = page.usable(found)
    questions = _questions(page, opened) if opened is not None else {}
    viewer = binding().load_viewer(questions)
    if viewer is None or viewer.role is None:
        return None
    if viewer.role != "member":
        # The answers read with the login were about the member page's meta, not this one's.
        viewer = Viewer(viewer.user, viewer.role, {})
        found = store.lookup(f"{base}:{viewer.role}", page.depends, page.lagging)
        if found is None:
            return None
        opened = page.usable(found)
    source = "hit"
    if opened is None:
        source = "miss"
        kept = _render_shared(page, view, args, kwargs, viewer.role, found)
        if kept is None:
            return None
        opened = frozen.open_(kept)
    data = opened.data
    meta = data["m"]
    fills: dict[str, Fill] = dict(binding().member_fills(viewer))
    if page.fills is not None:
        if meta is None:
            return None  # the view said nothing about its page: the viewer gets their own
        if page.marks is not None:
            wanted = _questions(page, opened)
            missing = {name: q for name, q in wanted.items() if name not in viewer.marks}
            if missing:
                answers = binding().read_marks(viewer.user, missing)
                viewer = Viewer(viewer.user, viewer.role, {**viewer.marks, **answers})
        own = page.fills(viewer, meta)
        if own is None:
            return None
        fills.update(own)
    if page.live is not None and meta is not None:
        fills.update(page.live(meta, viewer.marks))
    g.page_cache = source
    response = Response(frozen.thaw(opened, fills), status=200)
    for name, value in data["h"]:
        response.headers[name] = value
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response


def _questions(page: Page, opened: frozen.Opened) -> dict[str, Any]:
    """The page's questions about its viewer for this entry (`Page.marks` of its meta),
    worked out once per entry and process: they are the same for every viewer."""
    found = opened.memo.get("marks")
    if found is None:
        meta = opened.data["m"]
        found = page.marks(meta) if page.marks is not None and meta is not None else {}
        opened.memo["marks"] = found
    return found  # type: ignore[no-any-return]


def _render_shared(
    page: Page,
    view: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    role: str,
    found: store.Found,
) -> bytes | None:
    """The view's page as the role's stand-in sees it, slots marked, stored; None if it can't
    be shared (not a plain 200, or something about the viewer shows outside the slots)."""
    before = dict(vars(g))
    g._login_user = binding().standin(role)
    try:
        response, kept, lifetime = page.render_frozen(view, args, kwargs, found, shared=True)
    except (HTTPException, DomainError):
        return None
    finally:
        # What the rendering kept in `g` (say the Report controls' viewer) was about the
        # stand-in: the real viewer's own rendering must work it out afresh.
        vars(g).clear()
        vars(g).update(before)
    if kept is None or response.status_code != 200:
        return None
    if binding().standin_name.encode() in frozen.open_(kept).body:
        log.warning("page cache: %s shows its viewer outside a slot; not shared", request.path)
        return None
    store.keep(found.key, kept, lifetime)
    return kept
