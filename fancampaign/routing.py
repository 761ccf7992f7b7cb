"""What a URL may carry: bounded ids, text segments without control characters, page numbers.

Every variable part of a URL and every number in a query string is read here, once, so that a
value no row can have (an id past the database's integer range, a NUL in a slug, a page number
whose offset overflows) is a 404 or a 400, never an error from the database driver.

`register(app)` replaces Werkzeug's `int`, `default` (`<name>`) and `path` converters before
the blueprints add their rules, so every route, including one added later, uses these.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, PathConverter, UnicodeConverter, ValidationError

# Primary keys are INTEGER columns: PostgreSQL's int4, the narrowest of our databases.
MAX_ID = 2**31 - 1
# A page past this is refused: its OFFSET would be absurd long before it overflowed.
MAX_PAGE = 100_000
# Characters no slug, username, tag, token or file name ever holds; PostgreSQL refuses a NUL
# in a text parameter outright.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class IdConverter(IntegerConverter):
    """`<int:...>`: a positive whole number a row id can be; anything else matches no route."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        # int() refuses strings of more than 4,300 digits with a ValueError, not a mismatch.
        if len(value) > len(str(self.max)):
            raise ValidationError()
        return super().to_python(value)


class TextConverter(UnicodeConverter):
    """`<name>`: one path segment without control characters."""

    def to_python(self, value: str) -> str:
        if _CONTROL.search(value):
            raise ValidationError()
        return value


class SafePathConverter(PathConverter):
    """`<path:...>`: like `<name>`, across slashes."""

    def to_python(self, value: str) -> str:
        if _CONTROL.search(value):
            raise ValidationError()
        return value


def register(app: Flask) -> None:
    """Use these converters for every route of `app`; call before the blueprints register."""
    app.url_map.converters.update(
        {
            "int": IdConverter,
            "default": TextConverter,
            "string": TextConverter,
            "path": SafePathConverter,
        }
    )


def parse_id(value: Any) -> int | None:
    """The row id a string names, or None when no row can have it."""
    text = str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def id_arg(name: str) -> int | None:
    """The row id in query argument `name`, or None when it is missing or no row can have it."""
    return parse_id(request.args.get(name))


def page_arg(name: str = "page") -> int:
    """The 1-based page number in query argument `name`.

    Missing, empty or not a positive whole number: page 1, as lists have always forgiven.
    A whole number past MAX_PAGE: 400, with words saying so.
    """
    text = request.args.get(name, "")
    if not (text.isascii() and text.isdigit()):
        return 1
    if len(text) > len(str(MAX_PAGE)) or int(text) > MAX_PAGE:
        abort(400, f"There is no page that far: pages go up to {MAX_PAGE:,} at most.")
    return max(int(text), 1)
