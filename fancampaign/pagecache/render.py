"""Rendering a page to be stored: its slots marked, its meta and time boundary recorded.

What a template or a view can say to the cache while a page renders:
- `slot(name, arg, html)`: this html differs per viewer (or per request): mark it so that each
  request can put its own in its place;
- `page_meta(**values)`: what the page's fills need to know about it (ids on it, its authors),
  kept with the stored page, so a request served from the store has it without a query;
- `changes_at(when)`: the page changes by itself at this time (a deadline passing, a
  scheduled post coming due), so its entry must not outlive it.
Outside a rendering to be stored they cost nothing: `slot` returns its html.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app, g, has_app_context
from markupsafe import Markup

from fancampaign.pagecache.frozen import CSRF_MARK, marked_slot


@dataclass
class Rendering:
    shared: bool  # as a role's stand-in, for every member of that role
    meta: dict[str, Any] | None = None
    changes_at: float | None = None  # a POSIX time
    names: set[str] = field(default_factory=set)


def current() -> Rendering | None:
    return g.get("pagecache_rendering") if has_app_context() else None


@contextlib.contextmanager
def rendering(shared: bool) -> Iterator[Rendering]:
    """Render to be stored: slots marked, the CSRF token as CSRF_MARK (flask_wtf hands out the
    token kept in `g`), so that each request gets its own in its place."""
    state = Rendering(shared=shared)
    before = g.pop("csrf_token", None)
    g.pagecache_rendering = state
    g.csrf_token = CSRF_MARK
    try:
        yield state
    finally:
        g.pop("pagecache_rendering", None)
        g.pop("csrf_token", None)
        if before is not None:
            g.csrf_token = before


def slot(name: str, arg: Any = "", html: Any = "") -> Markup:
    """`html` (what this viewer sees), marked as the slot `name` in a rendering to be stored,
    so each request can put its own version in its place (see `Page`)."""
    state = current()
    if state is None:
        return Markup(html)  # noqa: S704  (the template's own output or escaped text)
    state.names.add(name)
    return Markup(marked_slot(name, _slot_arg(arg), str(html)))  # noqa: S704


def _slot_arg(arg: Any) -> str:
    text = str(arg)
    if not re.fullmatch(r"[\w.-]*", text):
        raise ValueError(f"a slot's argument must be a plain word, not {text!r}")
    return text


def page_meta(**values: Any) -> None:
    """What this page's fills need to know about it (JSON-able), kept with the stored page.
    Also kept for a rendering not to be stored, for the same fills."""
    g.pagecache_meta = values


def changes_at(when: datetime | None) -> None:
    """The page being rendered changes by itself at `when` (if that is in the future): its
    stored copy expires then."""
    state = current()
    if state is None or when is None:
        return
    at = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if state.changes_at is None or at < state.changes_at:
        state.changes_at = at


_PARTS: dict[tuple[Any, ...], str] = {}
_PARTS_MAX = 4096


def render_part(template: str, **context: Any) -> str:
    """A small template for a fill, rendered once per process for each `context` (plain
    values: their repr is the key) with a placeholder for the CSRF token, which the page gets
    at the end. Not for templates that read `request` or `g`."""
    key = (template, repr(sorted(context.items())))
    html = _PARTS.get(key)
    if html is None:
        # Every way a template asks for the token (the `csrf_token` global that imported
        # macros call, a form's field) gets the mark, never this request's own token: the
        # html is kept for every viewer, and each gets their own token in its place.
        before = g.pop("csrf_token", None)
        g.csrf_token = CSRF_MARK
        try:
            html = current_app.jinja_env.get_template(template).render(
                context, csrf_token=lambda: CSRF_MARK
            )
        finally:
            g.pop("csrf_token", None)
            if before is not None:
                g.csrf_token = before
        if len(_PARTS) >= _PARTS_MAX:
            _PARTS.clear()
        _PARTS[key] = html
    return html
