"""Fragments: parts of pages that are the same for every viewer, kept like pages.

A member's page rendered for them alone (a moderator's, an author's) still reuses the lists
every viewer sees, and a stored page that must be rendered again (its own groups moved)
reuses the fragments whose groups did not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import g
from markupsafe import Markup

from fancampaign.pagecache import clock, store
from fancampaign.pagecache import render as rendering
from fancampaign.pagecache.binding import prefix

FRAGMENT_PREFIX = "fc:fragment2:"


def fragment(
    name: str,
    render: Callable[[], Any],
    *,
    depends: Iterable[str],
    lagging: Iterable[str] = (),
    lag: float = 10.0,
    timeout: float = 300.0,
    changes_at: Any = None,
) -> Markup:
    """The HTML `render()` makes, kept at the current versions of the groups it shows
    (`depends`; `lagging`: groups it may show up to `lag` seconds late). Without a cache it
    is rendered each time.

    Only for HTML that depends on nothing about the viewer: `name` must say everything else
    it depends on. HTML holding the viewer's CSRF token is never stored. `changes_at`: when
    it changes by itself (a datetime), which also bounds the page it is on.
    """
    groups = tuple(sorted(set(depends)))
    lags = tuple(sorted(set(lagging) - set(groups)))
    rendering.changes_at(changes_at)
    found = store.lookup(prefix() + FRAGMENT_PREFIX + name, groups, lags)
    if found is None:
        return Markup(render())  # noqa: S704  (render() returns escaped template output)
    if found.stored is not None:
        head, _, html = found.stored.partition(b"\n")
        data = json.loads(head)
        if not lags or data["l"] == list(found.lagging) or clock.now() - data["at"] <= lag:
            return Markup(html.decode())  # noqa: S704  (what render() made)
    html = str(render())
    token = g.get("csrf_token")
    if not (token and token in html):
        head = json.dumps({"l": list(found.lagging), "at": clock.now()})
        lifetime = timeout
        if changes_at is not None:
            lifetime = min(timeout, max(1.0, changes_at.timestamp() - clock.now()))
        store.keep(found.key, head + "\n" + html, lifetime)
    return Markup(html)  # noqa: S704  (render() returns escaped template output)
