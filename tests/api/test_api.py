"""API v1: what it serves, what it never serves, paging, caching, CORS, limits, errors."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fancampaign.accounts.models import Role
from fancampaign.extensions import db, utcnow
from fancampaign.forum.services import delete_post, reply
from fancampaign.petitions.models import Petition
from tests.api.helpers import check_response
from tests.factories import (
    make_category,
    make_news_post,
    make_petition,
    make_reply,
    make_thread,
    make_user,
)


def get(client, url, **kwargs):
    response = client.get(url, **kwargs)
    check_response(url, response)
    return response


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


# Petitions -----------------------------------------------------------------------------------


def test_petition_list_shows_only_public_petitions(app, client):
    shown = {make_petition(status=s).slug for s in ("open", "closed", "won")}
    for status in ("draft", "pending", "rejected"):
        make_petition(status=status)
    data = get(client, "/api/v1/petitions").get_json()
    assert {p["slug"] for p in data["items"]} == shown
    assert data["next"] is None


@pytest.mark.parametrize("status", ["open", "closed", "won"])
def test_petition_list_filters_by_status(app, client, status):
    for s in ("open", "closed", "won", "pending"):
        make_petition(status=s)
    data = get(client, f"/api/v1/petitions?status={status}").get_json()
    assert [p["status"] for p in data["items"]] == [status]


def test_an_open_petition_past_its_deadline_lists_as_closed(app, client):
    petition = make_petition(status="open")
    petition.deadline = utcnow() - timedelta(days=1)
    db.session.commit()
    assert get(client, "/api/v1/petitions?status=open").get_json()["items"] == []
    closed = get(client, "/api/v1/petitions?status=closed").get_json()["items"]
    assert [(p["slug"], p["status"]) for p in closed] == [(petition.slug, "closed")]


def test_cursor_pagination_walks_every_petition_once(app, client):
    slugs = {make_petition().slug for _ in range(5)}
    seen: list[str] = []
    url = "/api/v1/petitions?limit=2"
    pages = 0
    while url:
        data = get(client, url).get_json()
        seen += [p["slug"] for p in data["items"]]
        url = local(data["next"]) if data["next"] else None
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(slugs) and len(seen) == 5


@pytest.mark.parametrize(
    "query",
    [
        "status=draft",
        "status=pending",
        "status=",
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "limit=1e3",
        "cursor=",
        "cursor=not-a-cursor",
        "cursor=%00",
        "cursor=" + "x" * 600,
    ],
)
def test_bad_list_parameters_answer_400(app, client, query):
    response = get(client, f"/api/v1/petitions?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == 400


def test_a_cursor_only_works_for_its_own_list(app, client):
    for _ in range(3):
        make_petition(status="won")
    data = get(client, "/api/v1/petitions?status=won&limit=1").get_json()
    cursor = urlsplit(data["next"]).query.split("cursor=")[1]
    assert get(client, f"/api/v1/petitions?status=open&cursor={cursor}").status_code == 400
    assert get(client, f"/api/v1/news?cursor={cursor}").status_code == 400
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert get(client, f"/api/v1/petitions?status=won&cursor={tampered}").status_code == 400


def test_one_petition_with_its_count(app, client):
    petition = make_petition(status="open", summary="Make the sequel.")
    db.session.execute(
        sa.update(Petition).where(Petition.id == petition.id).values(signature_count=42)
    )
    db.session.commit()
    data = get(client, f"/api/v1/petitions/{petition.slug}").get_json()
    assert data["signature_count"] == 42
    assert data["title"] == petition.title and data["summary"] == "Make the sequel."
    assert data["goal"] == petition.goal and data["status"] == "open"
    assert data["url"] == f"http://localhost/petitions/{petition.slug}"
    assert data["updated_at"].endswith("Z")


@pytest.mark.parametrize("status", ["draft", "pending", "rejected"])
def test_non_public_petitions_are_404(app, client, status):
    petition = make_petition(status=status)
    response = get(client, f"/api/v1/petitions/{petition.slug}")
    assert response.status_code == 404
    assert response.get_json()["error"]["title"]


# News ----------------------------------------------------------------------------------------


def test_news_lists_published_posts_only(app, client):
    public = make_news_post(title="Out now")
    make_news_post(title="Still a draft", publish="draft")
    scheduled = make_news_post(title="Later")
    scheduled.published_at = utcnow() + timedelta(days=2)
    db.session.commit()
    data = get(client, "/api/v1/news").get_json()
    assert [n["slug"] for n in data["items"]] == [public.slug]
    assert get(client, f"/api/v1/news/{scheduled.slug}").status_code == 404


def test_news_post_html_is_sanitised(app, client):
    post = make_news_post(body="Hi <script>alert(1)</script> [x](javascript:alert(1)) **bold**")
    data = get(client, f"/api/v1/news/{post.slug}").get_json()
    assert "<strong>bold</strong>" in data["body_html"]
    assert "<script" not in data["body_html"]
    assert 'href="javascript' not in data["body_html"]


def test_news_cursor_pagination(app, client):
    posts = [make_news_post(title=f"Story {n}") for n in range(3)]
    first = get(client, "/api/v1/news?limit=2").get_json()
    second = get(client, local(first["next"])).get_json()
    slugs = [n["slug"] for n in first["items"] + second["items"]]
    assert sorted(slugs) == sorted(p.slug for p in posts)
    assert second["next"] is None


def test_draft_news_is_404(app, client):
    post = make_news_post(publish="draft")
    assert get(client, f"/api/v1/news/{post.slug}").status_code == 404


# Forum ---------------------------------------------------------------------------------------


def test_categories_and_their_visible_threads(app, client):
    category = make_category("general")
    author = make_user()
    shown = make_thread(author, category, title="Shown")
    hidden = make_thread(author, category, title="Hidden")
    hidden.is_hidden = True
    db.session.commit()
    data = get(client, "/api/v1/categories").get_json()
    assert [c["slug"] for c in data["items"]] == ["general"]
    threads = get(client, "/api/v1/categories/general/threads").get_json()
    assert [t["id"] for t in threads["items"]] == [shown.id]
    assert get(client, "/api/v1/categories/nope/threads").status_code == 404


def test_thread_with_visible_posts_paginated(app, client):
    author = make_user()
    thread = make_thread(author, title="Talk", body="First", replies=4)
    hidden = make_reply(author, thread, "Hidden one")
    hidden.is_hidden = True
    deleted = make_reply(author, thread, "Deleted one")
    delete_post(author, deleted)
    db.session.commit()
    page1 = get(client, f"/api/v1/threads/{thread.id}?per_page=3").get_json()
    assert page1["thread"]["title"] == "Talk"
    assert page1["posts"]["total"] == 5 and len(page1["posts"]["items"]) == 3
    page2 = get(client, local(page1["posts"]["next"])).get_json()
    bodies = [p["body_html"] for p in page1["posts"]["items"] + page2["posts"]["items"]]
    assert len(bodies) == 5 and not any("Hidden one" in b or "Deleted one" in b for b in bodies)
    assert page2["posts"]["next"] is None
    assert get(client, f"/api/v1/threads/{thread.id}?page=99").get_json()["posts"]["items"] == []


def test_a_post_names_the_post_it_answers_and_null_when_it_answers_the_thread(app, client):
    author = make_user()
    thread = make_thread(author, title="Talk", body="First")
    answered = make_reply(author, thread, "The answered one")
    answer = reply(make_user(), thread, "Answering it", reply_to=answered.id)
    db.session.commit()
    items = get(client, f"/api/v1/threads/{thread.id}").get_json()["posts"]["items"]
    assert [(p["id"], p["reply_to_id"]) for p in items] == [
        (items[0]["id"], None),
        (answered.id, None),
        (answer.id, answered.id),
    ]


def test_hidden_threads_are_404(app, client):
    thread = make_thread()
    thread.is_hidden = True
    db.session.commit()
    assert get(client, f"/api/v1/threads/{thread.id}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/threads/0",
        "/api/v1/threads/99999999999999999999",
        "/api/v1/threads/-1",
        "/api/v1/threads/abc",
        "/api/v1/nothing",
        "/api/v1/petitions/no-such",
        "/api/v1/news/no-such",
        "/api/v1/petitions/%00",
        "/api/v1/news/a%00b",
        "/api/v1/categories/%00/threads",
        "/api/v1/petitions/%F0%9F%98%80",
        "/api/v1/petitions/" + "a" * 300,
    ],
)
def test_unknown_things_are_404_with_the_error_body(app, client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert set(response.get_json()["error"]) == {"status", "title", "detail"}


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=0", "per_page=1000"])
def test_bad_thread_parameters_answer_400(app, client, query):
    thread = make_thread()
    assert get(client, f"/api/v1/threads/{thread.id}?{query}").status_code == 400


# Caching -------------------------------------------------------------------------------------


def test_etag_answers_304_until_the_petition_changes(app, client):
    petition = make_petition(status="open")
    url = f"/api/v1/petitions/{petition.slug}"
    first = get(client, url)
    etag = first.headers["ETag"]
    again = get(client, url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    db.session.execute(
        sa.update(Petition).where(Petition.id == petition.id).values(signature_count=7)
    )
    db.session.commit()
    changed = get(client, url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_last_modified_answers_304(app, client):
    petition = make_petition(status="open")
    url = f"/api/v1/petitions/{petition.slug}"
    first = get(client, url)
    stamp = first.headers["Last-Modified"]
    assert get(client, url, headers={"If-Modified-Since": stamp}).status_code == 304
    assert get(client, url, headers={"If-Modified-Since": "garbage"}).status_code == 200


def test_lists_answer_conditional_requests_too(app, client):
    make_petition()
    etag = get(client, "/api/v1/petitions").headers["ETag"]
    assert get(client, "/api/v1/petitions", headers={"If-None-Match": etag}).status_code == 304
    etag = get(client, "/api/v1/categories").headers["ETag"]
    assert get(client, "/api/v1/categories", headers={"If-None-Match": etag}).status_code == 304


# CORS, methods, CSRF, limits ---------------------------------------------------------------


def test_cors_is_open_for_reading(app, client):
    response = get(client, "/api/v1/petitions", headers={"Origin": "https://fans.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    missing = client.get("/api/v1/petitions/none")
    assert missing.headers["Access-Control-Allow-Origin"] == "*"


def test_preflight_is_answered(app, client):
    response = client.options(
        "/api/v1/petitions",
        headers={
            "Origin": "https://fans.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]


@pytest.mark.config(WTF_CSRF_ENABLED=True)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_are_405_with_allow_not_csrf_errors(app, client, method):
    response = getattr(client, method)("/api/v1/petitions", data={"x": "1"})
    assert response.status_code == 405
    assert response.get_json()["error"]["status"] == 405
    assert "GET" in response.headers["Allow"]


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_API="3 per minute")
def test_api_is_rate_limited_per_ip(app, client):
    for url in ("/api/v1/petitions", "/api/v1/news", "/api/v1/categories"):
        assert client.get(url).status_code == 200
    limited = client.get("/api/v1/petitions")
    assert limited.status_code == 429
    assert limited.get_json()["error"]["status"] == 429
    other_ip = client.get("/api/v1/petitions", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other_ip.status_code == 200


# Never a 500 ---------------------------------------------------------------------------------

_PATHS = [
    "/api/v1/petitions",
    "/api/v1/news",
    "/api/v1/categories/general/threads",
    "/api/v1/threads/1",
]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(_PATHS),
    params=st.dictionaries(
        st.sampled_from(["status", "limit", "cursor", "page", "per_page", "q", "x"]),
        st.text(max_size=80),
        max_size=4,
    ),
)
def test_any_parameters_answer_200_400_or_404(app, client, path, params):
    response = client.get(path, query_string=params)
    assert response.status_code in (200, 400, 404)
    check_response(path, response)


def test_member_roles_do_not_change_what_the_api_shows(app, client, login):
    make_petition(status="pending", creator=make_user(role=Role.MEMBER))
    login(make_user(role=Role.ADMIN))
    assert get(client, "/api/v1/petitions").get_json()["items"] == []
