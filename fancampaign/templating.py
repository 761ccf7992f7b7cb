"""What every template can use: the policies, the unread count, filters."""

from __future__ import annotations

import inspect
import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Flask, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from fancampaign import pagecache, policies
from fancampaign.accounts import avatars
from fancampaign.admin import sitesettings
from fancampaign.extensions import db, utcnow
from fancampaign.web import absolute_path, absolute_url


def timeago(value: datetime | None) -> str:
    """ "3 hours ago"-style relative time."""
    if value is None:
        return ""
    seconds = int((utcnow() - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (
        ("year", 31536000),
        ("month", 2592000),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= size:
            n = seconds // size
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def closes_in(value: datetime | None) -> str:
    """ "Closes in 12 days" for a deadline ("closes today" within the last day)."""
    if value is None:
        return ""
    seconds = (value - utcnow()).total_seconds()
    if seconds <= 0:
        return "Closed"
    days = int(seconds // 86400)
    if days == 0:
        hours = int(seconds // 3600)
        return f"Closes in {hours} hour{'s' if hours != 1 else ''}" if hours else "Closes soon"
    return f"Closes in {days} day{'s' if days != 1 else ''}"


_TIME_TAG = Markup('<time datetime="%s">%s</time>')


def time_tag(value: datetime | None, fmt: str = "%-d %B %Y") -> Markup:
    """A <time> element with the ISO date and a readable one."""
    if value is None:
        return Markup("")
    # %-formatting escapes like Markup.format, in about half the time (this runs for every post
    # and every thread row).
    return _TIME_TAG % (value.isoformat(), value.strftime(fmt))


def number(value: int | None) -> str:
    return f"{value or 0:,}"


# What UrlPattern builds in place of the values, then cuts out: numbers no route holds, all of
# the same length (so none is part of another).
_SLOT = 9_137_462_051_800
# What werkzeug's default (string and path) converters leave unquoted in a path segment.
_PATH_SAFE = "!$&'()*+,/:;=@"


class UrlPattern:
    """url_for() for one endpoint and many values of a few arguments, built once per page.

    `url_for` costs tens of microseconds; a page that links every post or row several times
    spends milliseconds in it. A pattern builds the URL once with placeholders for `args` and
    then only puts each row's values in:

        {% set post_url = url_pattern("forum.post", "post_id") %} ... {{ post_url(p.id) }}
        {% set thread_url = url_pattern("forum.thread", "thread_id", "slug") %}
        ... {{ thread_url(t.id, t.slug or None) }}

    The result is the URL url_for gives. The args take ints (in the path or the query string)
    or strings in a path segment with the default converter (quoted as werkzeug quotes them);
    for any other value (None, which url_for leaves out, a string in the query string...) or an
    endpoint whose URL does not show each placeholder once, the call falls back to url_for.
    Query-string args come after the other `values`, as in url_for(..., values..., arg=v).
    """

    __slots__ = ("_args", "_endpoint", "_in_path", "_order", "_parts", "_values")

    def __init__(self, endpoint: str, *args: str, **values: Any) -> None:
        self._endpoint, self._args, self._values = endpoint, args, values
        slots = {arg: _SLOT + i for i, arg in enumerate(args)}
        url = url_for(endpoint, **values, **slots)
        texts = [str(slot) for slot in slots.values()]
        self._parts: list[str] | None = None
        if any(url.count(text) != 1 for text in texts):
            return
        query = url.find("?")
        positions = [url.index(text) for text in texts]
        self._in_path = [query < 0 or position < query for position in positions]
        found = sorted((position, i) for i, position in enumerate(positions))
        self._order = [i for _, i in found]
        self._parts, start = [], 0
        for position, i in found:
            self._parts.append(url[start:position])
            start = position + len(texts[i])
        self._parts.append(url[start:])

    def __call__(self, *values: Any) -> str:
        if self._parts is not None and len(values) == len(self._args):
            texts = []
            for value, in_path in zip(values, self._in_path, strict=True):
                if type(value) is int:
                    texts.append(str(value))
                elif type(value) is str and in_path:
                    texts.append(quote(value, safe=_PATH_SAFE))
                else:
                    break
            else:
                out = [self._parts[0]]
                for n, i in enumerate(self._order, 1):
                    out += (texts[i], self._parts[n])
                return "".join(out)
        return url_for(self._endpoint, **self._values, **dict(zip(self._args, values, strict=True)))


def register(app: Flask) -> None:
    for name, fn in inspect.getmembers(policies, inspect.isfunction):
        if fn.__module__ == policies.__name__:
            app.jinja_env.globals[name] = fn
    app.jinja_env.filters["timeago"] = timeago
    app.jinja_env.filters["closes_in"] = closes_in
    app.jinja_env.filters["from_json"] = json.loads
    app.jinja_env.filters["time_tag"] = time_tag
    app.jinja_env.filters["number"] = number
    app.jinja_env.globals["url_pattern"] = UrlPattern
    app.jinja_env.globals["slot"] = pagecache.slot
    app.jinja_env.globals["absolute_url"] = absolute_url
    app.jinja_env.globals["absolute_path"] = absolute_path
    app.jinja_env.globals["avatar_url"] = avatars.avatar_url

    @app.context_processor
    def _globals() -> dict[str, Any]:
        unread = 0
        site = sitesettings.Settings()
        try:
            site = sitesettings.current()
            if current_user.is_authenticated:
                from fancampaign.notifications.services import unread_count

                unread = unread_count(current_user)
        except SQLAlchemyError:
            # An error page during a database outage must still render.
            db.session.rollback()
        return {"unread_notifications": unread, "site_name": site.name, "site": site}
