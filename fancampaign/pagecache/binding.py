"""What the app tells the cache about itself (`Binding`), and the Redis client.

The cache knows nothing of the app's areas: the groups of tables, how to read the viewer with
a page's questions about them, what a member's stand-in looks like and the fills every page
shares (the account menu) come from here, set once by `init_app`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

# A fill: the html of each of a page's slots of one name, for this request, by argument
# ({arg: html}); it gets the args and the html stored for each.
Fill = Callable[[dict[str, str]], dict[str, str]]


def each(fill: Callable[[str, str], str]) -> Fill:
    """A fill made of a function of one slot's (arg, stored html)."""
    return lambda args: {arg: fill(arg, html) for arg, html in args.items()}


@dataclass(frozen=True)
class Viewer:
    """A logged-in viewer as the cache sees them: the user, the role whose shared pages
    describe them (None: they need pages of their own) and the answers to the page's
    questions about them (`Page.marks`)."""

    user: Any
    role: str | None
    marks: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Binding:
    # {group: its tables}: a page depends on groups (versions.py).
    groups: Mapping[str, frozenset[str]]
    # The viewer of this request, read with the page's marks ({name: question}) in the
    # login's own query and installed as the request's user; None: not logged in after all.
    load_viewer: Callable[[dict[str, Any]], Viewer | None]
    # The same questions for a viewer already loaded, in one query.
    read_marks: Callable[[Any, dict[str, Any]], dict[str, Any]]
    # The stand-in viewer of a role's shared pages, and the name it shows (if that name
    # shows outside a slot, the page says something about its viewer: not shared).
    standin: Callable[[str], Any]
    standin_name: str
    # Fills of slots that any page may have (the account menu), for a member viewer.
    member_fills: Callable[[Viewer], dict[str, Fill]]

    @property
    def group_of(self) -> dict[str, str]:
        return {table: group for group, tables in self.groups.items() for table in tables}


def init_app(app: Flask, found: Binding) -> None:
    app.extensions["fancampaign_pagecache"] = found
    # Computed once: every commit looks its tables up.
    app.extensions["fancampaign_pagecache_group_of"] = found.group_of
    app.extensions["fancampaign_pagecache_groups"] = frozenset(found.groups)


def binding(optional: bool = False) -> Any:
    found = current_app.extensions.get("fancampaign_pagecache")
    if found is None and not optional:
        raise RuntimeError("the page cache is not set up: call pagecache.init_app")
    return found


def group_of() -> dict[str, str]:
    return current_app.extensions.get("fancampaign_pagecache_group_of", {})  # type: ignore[no-any-return]


def group_names() -> frozenset[str]:
    """The app's group names (the same object every call: `Page` checks against it once)."""
    return current_app.extensions.get("fancampaign_pagecache_groups", frozenset())  # type: ignore[no-any-return]


def enabled() -> bool:
    """On, except under test (where databases are emptied behind its back) unless asked."""
    return bool(current_app.config.get("PAGE_CACHE_ENABLED", not current_app.testing))


def prefix() -> str:
    # Tests (and several sites sharing one Redis) keep their keys apart.
    return str(current_app.config.get("PAGE_CACHE_PREFIX", ""))


def redis_client() -> Any:
    """The app's Redis client, or None without REDIS_URL."""
    from fancampaign.redis_client import redis_client as client

    return client()
