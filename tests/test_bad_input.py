"""Bad values in any URL answer 4xx, never 500: every GET route of the URL map, every variable.

The routes are read from `app.url_map`, so a route added later is walked without editing this
file. Each variable in turn gets huge and negative numbers, a NUL, an undecodable byte and a
5 kB segment; then the pages that answer for real values get the same values in their query
string. As a visitor, a member and a moderator.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.routing import Rule

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.forum.models import Post
from fancampaign.routing import MAX_ID
from tests.factories import make_category, make_news_post, make_petition, make_thread, make_user

BAD_VALUES = {
    "huge": "99999999999999999999",
    "past_the_id_range": str(MAX_ID + 1),
    "negative": "-1",
    "zero": "0",
    "nul": "%00",
    "nul_inside": "alita%00fan",
    "ff": "%ff",
    "long": "x" * 5000,
    "long_number": "9" * 5000,
}
# Query arguments the views read, and a few they do not.
QUERY_ARGS = ("page", "q", "quote", "status", "sort", "tab", "kind", "cursor", "r", "next")
VIEWERS = ("visitor", "member", "moderator")

_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def get_rules(app: Any) -> list[Rule]:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())),
        key=lambda rule: rule.rule,
    )


def fill(rule: Rule, values: dict[str, str], default: str) -> str:
    """The rule's path with each variable replaced by values[name], else by `default`."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1), default), rule.rule)


def sample_content() -> dict[str, list[str]]:
    """Real values for the variables, per name: the first that makes a route answer is used."""
    organiser = make_user("organiser1", role=Role.ORGANISER)
    category = make_category("general")
    thread = make_thread(organiser, category, title="A thread about the sequel", replies=1)
    petition = make_petition(organiser, title="Make the sequel happen")
    news = make_news_post(organiser, title="The sequel news", tags="sequel")
    return {
        "slug": [category.slug, petition.slug, news.slug, thread.slug],
        "thread_id": [str(thread.id)],
        "post_id": [str(db.session.scalar(sa.select(sa.func.max(Post.id))))],
        "item_id": ["1"],
        "category_id": [str(category.id)],
        "username": [organiser.username],
        "tag": ["sequel"],
    }


def log_in_as(viewer: str, login: Any) -> None:
    if viewer == "member":
        login(make_user("member1"))
    elif viewer == "moderator":
        login(make_user("moderator1", role=Role.MODERATOR))


def no_server_errors(client: Any, urls: list[str]) -> list[str]:
    failures = []
    for url in urls:
        status = client.get(url).status_code
        if status >= 500:
            failures.append(f"{status} {url[:120]}")
        db.session.rollback()
    return failures


@pytest.mark.parametrize("viewer", VIEWERS)
def test_bad_values_in_any_path_are_never_a_server_error(app, client, login, viewer):
    log_in_as(viewer, login)
    urls = [
        fill(rule, {}, value)
        for rule in get_rules(app)
        if rule.arguments
        for value in BAD_VALUES.values()
    ]
    assert len(urls) > 100  # the map was read
    assert no_server_errors(client, urls) == []


@pytest.mark.parametrize("viewer", VIEWERS)
def test_bad_values_in_the_query_string_are_never_a_server_error(app, client, login, viewer):
    samples = sample_content()
    log_in_as(viewer, login)
    urls = []
    for rule in get_rules(app):
        candidates = [{}]
        for name in rule.arguments:
            candidates = [{**c, name: v} for c in candidates for v in samples.get(name, ["1"])]
        path = next(
            (
                fill(rule, values, "1")
                for values in candidates
                if client.get(fill(rule, values, "1")).status_code == 200
            ),
            None,
        )
        db.session.rollback()
        if path is None or path.startswith("/static/"):
            continue
        for value in BAD_VALUES.values():
            urls.append(f"{path}?" + "&".join(f"{arg}={value}" for arg in QUERY_ARGS))
            urls.extend(f"{path}?{arg}={value}" for arg in ("page", "q", "quote"))
    assert len(urls) > 100
    assert no_server_errors(client, urls) == []


def test_huge_ids_are_404(app, client):
    thread = make_thread()
    for url in (
        "/forum/t/99999999999999999999",
        f"/forum/t/{MAX_ID + 1}",
        "/forum/p/99999999999999999999",
        "/forum/p/99999999999999999999/revisions",
        "/api/v1/threads/99999999999999999999",
        f"/forum/t/{'9' * 5000}",
    ):
        assert client.get(url).status_code == 404, url
    # Ids in range still work, and one past the last row is a plain 404.
    assert client.get(f"/forum/t/{thread.id}").status_code in (200, 301)
    assert client.get(f"/forum/t/{MAX_ID}").status_code == 404


@pytest.mark.parametrize(
    "path", ["/forum/general", "/petitions", "/news", "/moderation", "/moderation/log"]
)
def test_huge_page_numbers_are_400(app, client, login, path):
    login(make_user(role=Role.MODERATOR))
    make_category("general")
    response = client.get(f"{path}?page=99999999999999999999")
    assert response.status_code == 400
    assert "no page that far" in response.get_data(as_text=True)
    assert client.get(f"{path}?page=2").status_code == 200


def test_huge_page_numbers_in_a_thread_are_400(app, client):
    thread = make_thread()
    assert client.get(f"/forum/t/{thread.id}?page=99999999999999999999").status_code == 400
    assert client.get(f"/forum/t/{thread.id}?page=last").status_code == 200


def test_huge_quote_id_is_ignored(app, client, login):
    thread = make_thread()
    login(make_user())
    assert client.get(f"/forum/t/{thread.id}?quote=99999999999999999999").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/petitions/%00",
        "/petitions/%00/embed",
        "/petitions/%00/signed",
        "/petitions/%00/edit",
        "/forum/%00",
        "/forum/%00/new",
        "/news/%00",
        "/news/a%00b",
        "/u/%00",
        "/news/tag/%00",
    ],
)
def test_nul_in_a_slug_is_404(app, client, login, path):
    login(make_user())
    assert client.get(path).status_code == 404
