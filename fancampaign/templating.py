"""What every template can use: the policies, the unread count, filters."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

from flask import Flask
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from fancampaign import policies
from fancampaign.extensions import db, utcnow


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


def time_tag(value: datetime | None, fmt: str = "%-d %B %Y") -> Markup:
    """A <time> element with the ISO date and a readable one."""
    if value is None:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), value.strftime(fmt))


def number(value: int | None) -> str:
    return f"{value or 0:,}"


def register(app: Flask) -> None:
    for name, fn in inspect.getmembers(policies, inspect.isfunction):
        if fn.__module__ == policies.__name__:
            app.jinja_env.globals[name] = fn
    app.jinja_env.filters["timeago"] = timeago
    app.jinja_env.filters["time_tag"] = time_tag
    app.jinja_env.filters["number"] = number

    @app.context_processor
    def _globals() -> dict[str, Any]:
        unread = 0
        try:
            if current_user.is_authenticated:
                from fancampaign.notifications.services import unread_count

                unread = unread_count(current_user)
        except SQLAlchemyError:
            # An error page during a database outage must still render.
            db.session.rollback()
        return {"unread_notifications": unread, "site_name": app.config["SITE_NAME"]}
