"""Helpers shared by the area tests (fixtures stay in tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g
from flask.testing import FlaskClient

from fancampaign.extensions import db


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL statements run on db.engine inside the block."""
    statements: list[str] = []

    def _before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", _before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", _before)


def make_login(client: FlaskClient) -> Any:
    """A login(user) for `client` that also takes None to log out (the shared `login` fixture
    only logs in). The test app context stays pushed across requests, so Flask-Login's cached
    user on `g` is dropped too."""

    def _login(user: Any) -> Any:
        with client.session_transaction() as session:
            if user is None:
                session.pop("_user_id", None)
            else:
                session["_user_id"] = user.get_id()
                session["_fresh"] = True
        g.pop("_login_user", None)
        g.pop("fc_login_row", None)
        return user

    return _login


REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"


def _redis_up() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.3).ping()
    except Exception:
        return False
    return True


_REDIS_UP = _redis_up()


def redis_is_up() -> bool:
    return _REDIS_UP


# For tests of the Redis paths (the page cache): they run wherever a Redis answers.
needs_redis = pytest.mark.skipif(not _REDIS_UP, reason="Redis is not running")


# Elements whose start tag closes an open <p> (HTML's parsing rules): inside a paragraph in
# the template, such an element ends it early, and what follows spills out of it.
_CLOSES_P = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "details",
        "dialog",
        "div",
        "dl",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "ul",
    ]
)


def blocks_in_paragraphs(html: str) -> list[str]:
    """The block elements the page's HTML puts inside a <p> ("<details> in <p class=meta>")."""
    from html.parser import HTMLParser

    found: list[str] = []
    open_p: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if open_p and tag in _CLOSES_P:
                found.append(f"<{tag}> in <p class={open_p[-1]}>")
            if tag == "p":
                open_p.append(dict(attrs).get("class") or "")

        def handle_endtag(self, tag: str) -> None:
            if tag == "p" and open_p:
                open_p.pop()

    Finder().feed(html)
    return found
