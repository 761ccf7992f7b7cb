"""What every template can use: the URL patterns that stand in for url_for in loops."""

from __future__ import annotations

from typing import Any

import pytest
from flask import url_for

from fancampaign.templating import UrlPattern

CASES: list[tuple[str, tuple[str, ...], dict[str, Any], list[tuple[Any, ...]]]] = [
    ("forum.post", ("post_id",), {}, [(1,), (987654,)]),
    ("forum.like", ("post_id",), {}, [(42,)]),
    ("forum.thread", ("thread_id", "slug"), {}, [(7, "a-slug"), (7, None), (8, "é x/y?#&")]),
    (
        "forum.thread",
        ("thread_id", "slug"),
        {"page": "last", "_anchor": "latest"},
        [(7, "alita"), (9, None)],
    ),
    (
        "forum.thread",
        ("quote",),
        {"thread_id": 3, "slug": "s", "page": "2", "_anchor": "reply"},
        [(11,), ("text",), (None,)],
    ),
    (
        "forum.thread",
        ("quote",),
        {"thread_id": 3, "slug": None, "page": None, "_anchor": "reply"},
        [(12,)],
    ),
    ("accounts.profile", ("username",), {}, [("fan_1",), ("a b%c/d",), (5,)]),
]


@pytest.mark.parametrize(("endpoint", "args", "values", "calls"), CASES)
def test_url_pattern_gives_what_url_for_gives(
    app: Any, endpoint: str, args: tuple[str, ...], values: dict[str, Any], calls: list[Any]
) -> None:
    with app.test_request_context("/"):
        pattern = UrlPattern(endpoint, *args, **values)
        for call in calls:
            expected = url_for(endpoint, **values, **dict(zip(args, call, strict=True)))
            assert pattern(*call) == expected


def test_url_pattern_follows_the_script_root(app: Any) -> None:
    with app.test_request_context("/", base_url="http://localhost/site/"):
        assert UrlPattern("forum.post", "post_id")(5) == url_for("forum.post", post_id=5)
        assert url_for("forum.post", post_id=5).startswith("/site/")
