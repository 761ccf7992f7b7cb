"""Search: ranking, visibility, escaped snippets, filters, paging, and the index kept in step."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fancampaign.accounts.models import Role
from fancampaign.extensions import db, utcnow
from fancampaign.forum.services import delete_post
from fancampaign.search import backend, indexer, services
from fancampaign.search.models import SearchEntry
from tests.factories import make_category, make_petition, make_reply, make_thread, make_user
from tests.helpers import count_queries
from tests.search.builders import make_news


def found(q: str, kind: str | None = None, page: int = 1) -> list[tuple[str, str]]:
    return [(r.kind, r.url) for r in services.search(q, kind, page).items]


# Ranking -----------------------------------------------------------------------------------


def test_title_match_ranks_above_body_match(app):
    body_only = make_news("Studio schedule", "The cyborg sequel " * 5 + "is coming.")
    in_title = make_news("Cyborg sequel confirmed", "Good news for everyone.")
    thread = make_thread(title="Weekend chat", body="Anyone seen the cyborg sequel rumours?")
    urls = [url for _kind, url in found("cyborg")]
    assert urls[0] == f"/news/{in_title.slug}"
    assert f"/news/{body_only.slug}" in urls
    assert f"/forum/t/{thread.id}/{thread.slug}" in urls


def test_every_word_must_match(app):
    make_news("Alita sequel", "Battle Angel")
    make_news("Alita figurine", "Collectors")
    assert len(found("alita")) == 2
    assert len(found("alita sequel")) == 1


def test_stemming_finds_other_forms(app):
    news = make_news("Fans are signing", "Thousands signed already.")
    assert found("sign") == [("news", f"/news/{news.slug}")]


# Visibility ---------------------------------------------------------------------------------


def test_drafts_and_scheduled_news_never_come_back(app):
    make_news("Secret zalem draft", status="draft", published_at=None)
    scheduled = make_news("Scheduled zalem post", published_at=utcnow() + timedelta(days=1))
    public = make_news("Public zalem post")
    assert found("zalem") == [("news", f"/news/{public.slug}")]
    assert services.search("zalem").total == 1
    scheduled.published_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert len(found("zalem")) == 2


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        ("draft", False),
        ("pending", False),
        ("rejected", False),
        ("open", True),
        ("closed", True),
        ("won", True),
    ],
)
def test_only_public_petitions_come_back(app, status, shown):
    petition = make_petition(title="Bring back Motorball", status=status)
    assert (("petition", f"/petitions/{petition.slug}") in found("motorball")) is shown
    assert services.search("motorball", "petitions").total == int(shown)


def test_hidden_and_deleted_posts_never_come_back(app):
    author = make_user()
    thread = make_thread(author, title="Panzer Kunst", body="Opening words")
    hidden = make_reply(author, thread, "Hidden scrapyard talk")
    deleted = make_reply(author, thread, "Deleted scrapyard talk")
    shown = make_reply(author, thread, "Visible scrapyard talk")
    hidden.is_hidden = True
    delete_post(author, deleted)
    db.session.commit()
    thread_url = f"/forum/t/{thread.id}/{thread.slug}"
    results = services.search("scrapyard")
    assert [(r.kind, r.url, r.via_url) for r in results.items] == [
        ("thread", thread_url, f"/forum/p/{shown.id}")
    ]
    assert results.total == 1 and results.items[0].more_text == ""
    hidden.is_hidden = False
    db.session.commit()
    results = services.search("scrapyard")
    assert [(r.kind, r.url) for r in results.items] == [("thread", thread_url)]
    assert results.items[0].more_text == "and 1 more post in this thread"


def test_hiding_a_thread_hides_its_posts(app):
    author = make_user()
    thread = make_thread(author, title="Iron City rumours", body="First ironcity post")
    make_reply(author, thread, "Second ironcity post")
    assert services.search("ironcity").total == 1  # one thread, two posts
    assert services.search("ironcity").items[0].more_text == "and 1 more post in this thread"
    thread.is_hidden = True
    db.session.commit()
    assert services.search("ironcity").total == 0
    assert found("rumours") == []
    thread.is_hidden = False
    db.session.commit()
    assert services.search("ironcity").items[0].more_text == "and 1 more post in this thread"


def test_stale_index_rows_are_filtered_by_the_live_check(app):
    author = make_user()
    thread = make_thread(author, title="Nothing here", body="A hunterwarrior post")
    # Behind the ORM's back: the index still says visible, the live row says hidden.
    db.session.execute(sa.text("UPDATE posts SET is_hidden = :h"), {"h": True})
    db.session.commit()
    assert services.search("hunterwarrior").items == []
    assert thread.id


def test_rolled_back_changes_leave_the_index_alone(app):
    make_news("Committed kaijin")
    from fancampaign.news.models import NewsPost

    db.session.add(
        NewsPost(
            slug="rolled",
            title="Rolled back kaijin",
            body="",
            body_html="",
            status="published",
            published_at=utcnow() - timedelta(minutes=1),
        )
    )
    db.session.flush()
    assert services.search("kaijin").total == 2
    db.session.rollback()
    assert services.search("kaijin").total == 1


def test_edits_and_deletes_keep_the_index_in_step(app):
    news = make_news("Tiphares gossip", "Old words")
    news.title = "Salem news"
    news.body = "Fresh berserker words"
    db.session.commit()
    assert found("tiphares") == []
    assert found("berserker") == [("news", f"/news/{news.slug}")]
    db.session.delete(news)
    db.session.commit()
    assert found("berserker") == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchEntry)) == 0


def test_deleting_a_thread_drops_its_posts_documents(app):
    author = make_user()
    thread = make_thread(author, title="Gone thread", body="nova talk", replies=2)
    db.session.delete(thread)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchEntry)) == 0


def test_optimize_compacts_without_losing_documents(app):
    news = make_news("Compact gelda news")
    backend.optimize(db.session.connection())  # what reindex_all ends with
    db.session.commit()
    assert found("gelda") == [("news", f"/news/{news.slug}")]


def test_reindex_rebuilds_every_document(app, runner):
    make_news("Rebuilt ido news")
    make_petition(title="Rebuilt ido petition")
    make_thread(title="Rebuilt ido thread")
    db.session.execute(sa.delete(SearchEntry))
    db.session.commit()
    assert services.search("rebuilt").total == 0
    result = runner.invoke(args=["search-reindex"])
    assert result.exit_code == 0, result.output
    # news, petition, its discussion thread (if any), the thread and its first post
    assert services.search("ido").total >= 3


# Snippets --------------------------------------------------------------------------------


def test_snippets_are_escaped_and_only_mark_survives(app, client):
    author = make_user()
    make_thread(
        author,
        title="<b>Bold</b> gunnm title",
        body='Look: <script>alert("gunnm")</script> <img src=x onerror=alert(1)> gunnm & co',
    )
    results = services.search("gunnm")
    assert results.items
    for r in results.items:
        for html in (str(r.title), str(r.snippet)):
            tags = re.findall(r"</?([a-zA-Z]+)", html)
            assert set(tags) <= {"mark"}, html
            assert "<script" not in html and "<img" not in html and "<b>" not in html
    page = client.get("/search?q=gunnm")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<mark>" in text
    assert "<script>alert" not in text and "<img src=x" not in text


def test_sentinel_characters_typed_by_users_cannot_forge_marks(app):
    make_thread(title="Plain", body="evil \ue000<i>x</i>\ue001 kansas")
    for r in services.search("kansas").items:
        assert "<i>" not in str(r.snippet)


# Filters and paging ------------------------------------------------------------------------


def test_kind_filter(app):
    news = make_news("Vector news")
    petition = make_petition(title="Vector petition")
    thread = make_thread(title="Vector thread", body="vector body")
    assert found("vector", "news") == [("news", f"/news/{news.slug}")]
    assert ("petition", f"/petitions/{petition.slug}") in found("vector", "petitions")
    assert all(kind == "petition" for kind, _ in found("vector", "petitions"))
    # The forum: one result per thread (its title and its posts matched).
    assert found("vector", "posts") == [("thread", f"/forum/t/{thread.id}/{thread.slug}")]


def test_results_are_paginated(app, client):
    for n in range(23):
        make_news(f"Grewishka report {n}")
    first = services.search("grewishka", page=1)
    second = services.search("grewishka", page=2)
    assert first.total == 23 and len(first.items) == 20 and len(second.items) == 3
    assert not {r.url for r in first.items} & {r.url for r in second.items}
    page = client.get("/search?q=grewishka&page=2")
    assert page.status_code == 200
    assert 'rel="prev"' in page.get_data(as_text=True)


def test_search_page_lists_results_and_filters(app, client):
    news = make_news("Chiren remembers", standfirst="A look back")
    response = client.get("/search?q=chiren")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'href="/news/{news.slug}"' in body
    assert "1 result" in body
    assert 'for="search-q"' in body
    empty = client.get("/search?q=chiren&kind=posts")
    assert "Nothing matches" in empty.get_data(as_text=True)
    assert client.get("/search").status_code == 200


# Bad input --------------------------------------------------------------------------------

NASTY = [
    '"',
    '""""',
    "AND OR NOT",
    "NEAR(a b)",
    "title:alita",
    "alita*",
    "^alita",
    "'; DROP TABLE posts; --",
    "1' OR '1'='1",
    "a & b | !c <-> d",
    "x" * 5000,
    "alita " * 20_000,
    "word " * 1000,
    "\x00",
    "alita\x00sequel",
    "\u202eevil\u202c",
    "\ufeff\u200b",
    "😀 🚀",
    "ア リ タ",
    "ѧ҉̢̛̙̙̟̞̘̘̙̃",
    "   ",
    "\ue000\ue001",
    "()[]{}",
    "-alita",
    ":",
    "*",
    "_",
    "__init__",
    "ǅ ﬁ ß",
    "the and of",
]


@pytest.mark.parametrize("q", NASTY)
def test_odd_queries_answer_200(app, client, q):
    make_news("Alita sequel")
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        {"q": "x", "kind": "users"},
        {"q": "x", "kind": "\x00"},
        {"q": "x", "page": "0"},
        {"q": "x", "page": "-1"},
        {"q": "x", "page": "abc"},
        {"q": "x", "page": "99999999999"},
        {"q": "x", "page": "\u0661"},
    ],
)
def test_bad_parameters_answer_400(app, client, args):
    response = client.get("/search", query_string=args)
    assert response.status_code == 400
    assert "field__error" in response.get_data(as_text=True)


def test_a_page_number_past_every_possible_page_is_refused(app, client):
    response = client.get("/search", query_string={"q": "x", "page": backend.MAX_PAGE + 1})
    assert response.status_code == 400
    last = -(-backend.MAX_RESULTS // 20)
    assert f"There are at most {last:,} pages of results." in response.get_data(as_text=True)


def test_a_page_past_the_end_is_empty(app, client):
    make_news("Lonely ouroboros")
    response = client.get("/search?q=ouroboros&page=7")
    assert response.status_code == 200
    assert "There is no page 7: the results stop at page 1" in response.get_data(as_text=True)


# Bounded work: capped results ----------------------------------------------------------------


@pytest.fixture
def small_cap(monkeypatch):
    """Results capped at 5, title candidates at 2 (the real limits need thousands of rows)."""
    monkeypatch.setattr(backend, "MAX_RESULTS", 5)
    monkeypatch.setattr(backend, "TITLED_CANDIDATES", 2)


def test_results_under_the_cap_are_counted_exactly(app, small_cap):
    for n in range(5):
        make_news(f"Makaku report {n}")
    results = services.search("makaku")
    assert results.total == 5 and not results.capped
    assert len(results.items) == 5


@pytest.mark.config(PER_PAGE=2)
def test_results_past_the_cap_are_capped_with_a_clear_message(app, client, small_cap):
    news = [make_news(f"Desty Nova report {n}") for n in range(8)]
    results = services.search("nova", per_page=2)
    assert results.total == 5 and results.capped
    assert results.pages == 3
    # The candidates are the newest matches.
    pages = [services.search("nova", page=page, per_page=2) for page in (1, 2, 3)]
    shown = {r.url for page in pages for r in page.items}
    assert shown == {f"/news/{n.slug}" for n in news[-5:]}
    body = client.get("/search?q=nova").get_data(as_text=True)
    assert "5+ results" in body and "page 1 of 3" in body
    assert "Only the first 5 results are shown" in body
    assert "Add words to narrow the search" in body
    past = client.get("/search?q=nova&page=4")
    assert past.status_code == 200
    text = past.get_data(as_text=True)
    assert "There is no page 4: the results stop at page 3" in text
    assert 'href="/search?q=nova&amp;page=3"' in text
    assert 'class="search-result ' not in text
    assert 'rel="prev"' not in text  # no pagination past the end, only the way back
    assert services.search("nova", page=4, per_page=2).items == []


def test_an_old_title_match_beats_many_newer_body_matches(app, small_cap):
    old = make_news("Jashugan interview", "An old post.")
    for n in range(8):
        make_thread(title=f"Weekend chat {n}", body=f"Has anyone read the jashugan interview {n}?")
    results = services.search("jashugan")
    assert results.capped
    assert results.items[0].url == f"/news/{old.slug}"


def test_capped_results_still_hide_what_is_not_visible(app, small_cap):
    author = make_user()
    category = make_category("scrapheap")
    threads = [make_thread(author, category, title=f"Scrapheap {n}") for n in range(8)]
    replies = [make_reply(author, thread, f"nomad reply {n}") for n, thread in enumerate(threads)]
    replies[-1].is_hidden = True
    delete_post(author, replies[-2])
    db.session.commit()
    # Behind the ORM's back: the index still says visible, the live row says hidden.
    db.session.execute(
        sa.text("UPDATE posts SET is_hidden = :h WHERE id = :id"), {"h": True, "id": replies[-3].id}
    )
    db.session.commit()
    results = services.search("nomad")
    assert results.capped  # six visible documents over a cap of five
    vias = [r.via_url for r in results.items]
    for reply in replies[-3:]:
        assert f"/forum/p/{reply.id}" not in vias
    assert len(vias) == 4  # five candidates, one of them stale and dropped by the live check


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(q=st.text(max_size=300))
def test_any_query_text_answers_200(app, client, q):
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200


def test_query_terms_are_capped():
    terms = backend.query_terms(" ".join(f"w{n}" for n in range(100)))
    assert len(terms) == backend.MAX_TERMS
    assert backend.query_terms("x" * 5000) == ["x" * backend.MAX_QUERY_CHARS]
    assert backend._fts5_string(['a"b']) == '"a""b"'


def test_ddl_is_given_per_dialect():
    assert any("fts5" in s for s in backend.search_ddl("sqlite"))
    assert any("gin" in s for s in backend.search_ddl("postgresql"))
    with pytest.raises(ValueError):
        backend.search_ddl("mysql")


def test_sources_cover_every_kind():
    assert {s.kind for s in indexer.SOURCES.values()} == {"news", "petition", "thread", "post"}


# Scale ------------------------------------------------------------------------------------

N_BULK = 100_000


def _bulk_posts(
    thread_id: int, author_id: int, seed_post_id: int, n: int = N_BULK, *, grouped: bool = False
) -> None:
    """`n` posts and their search rows, each in one INSERT ... SELECT; with `grouped` the rows
    name their thread as the indexer does, else each post is an item of its own (rows with no
    item columns, as from before they existed)."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        numbers = f"SELECT generate_series(1, {n}) AS i"
        cte = ""
        source = "numbers"
        concat = "'Bulk post number ' || i || ' about the motorball cyborg league'"
        db.session.execute(
            sa.text(
                "INSERT INTO posts (thread_id, author_id, is_first, body, body_html, created_at, "
                "is_hidden, hidden_reason, is_deleted, deleted_by_moderator, like_count) "
                f"SELECT :t, :a, false, {concat}, '', "
                "(SELECT created_at FROM posts WHERE id = :seed), false, '', false, false, 0 "
                f"FROM ({numbers}) AS {source}"
            ),
            {"t": thread_id, "a": author_id, "seed": seed_post_id},
        )
    else:
        cte = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) "
        concat = "'Bulk post number ' || i || ' about the motorball cyborg league'"
        db.session.execute(
            sa.text(
                cte
                + "INSERT INTO posts (thread_id, author_id, is_first, body, body_html, created_at, "
                "is_hidden, hidden_reason, is_deleted, deleted_by_moderator, like_count) "
                f"SELECT :t, :a, 0, {concat}, '', "
                "(SELECT created_at FROM posts WHERE id = :seed), 0, '', 0, 0, 0 FROM n"
            ),
            {"t": thread_id, "a": author_id, "seed": seed_post_id},
        )
    items = ", item_kind, item_id, thread_id, author_id" if grouped else ""
    values = ", 'thread', thread_id, thread_id, author_id" if grouped else ""
    db.session.execute(
        sa.text(
            "INSERT INTO search_entries (kind, object_id, title, body, is_visible, updated_at"
            f"{items}) SELECT 'post', id, '', body, :v, created_at{values} "
            "FROM posts WHERE id > :seed"
        ),
        {"v": True, "seed": seed_post_id},
    )
    db.session.commit()


@pytest.mark.config(PER_PAGE=20)
def test_search_over_100k_posts_runs_a_fixed_number_of_queries(app, client):
    author = make_user(role=Role.MEMBER)
    category = make_category("bulk")
    thread = make_thread(author, category, title="Bulk thread", body="seed post")
    seed = db.session.scalar(sa.text("SELECT max(id) FROM posts"))
    make_news("Motorball final", "The league final")
    _bulk_posts(thread.id, author.id, seed)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchEntry)) > N_BULK

    last = backend.MAX_RESULTS // 20  # the deepest page there is (results are capped)
    counts = []
    pages = [("motorball", 1), ("motorball", 3), ("motorball", last), ("cyborg", last)]
    for q, page in [*pages, ("motorball", 400), ("cyborg", 500)]:
        db.session.expire_all()
        with count_queries() as statements:
            response = client.get("/search", query_string={"q": q, "page": page})
        assert response.status_code == 200
        counts.append(len(statements))
    # the page (+ snippets on SQLite) + one visibility check for every kind on the page
    assert max(counts) <= 3 + 4, counts
    assert counts[1] == counts[2] == counts[3], counts  # deep pages cost the same
    assert max(counts[4:]) <= counts[1], counts  # past the last page: no more
    assert f"the results stop at page {last}" in response.get_data(as_text=True)
    first = services.search("motorball")
    # 100,001 matches: only the first MAX_RESULTS are ranked and offered, and the page says so.
    assert first.total == backend.MAX_RESULTS and first.capped
    assert first.items[0].kind == "news"  # the title match first
    assert len(first.items) == 20
    body = client.get("/search?q=motorball").get_data(as_text=True)
    assert f"{backend.MAX_RESULTS:,}+ results" in body
    assert "Add words to narrow the search" in body


@pytest.mark.config(PER_PAGE=20)
def test_thousands_of_matching_posts_in_one_thread_are_one_result(app, client):
    author = make_user(role=Role.MEMBER)
    thread = make_thread(author, make_category("bulk"), title="Bulk thread", body="seed post")
    seed = db.session.scalar(sa.text("SELECT max(id) FROM posts"))
    news = make_news("Motorball final", "The league final")
    _bulk_posts(thread.id, author.id, seed, 20_000, grouped=True)
    with count_queries() as statements:
        results = services.search("motorball")
    assert len(statements) <= 4, statements
    assert [(r.kind, r.url) for r in results.items] == [
        ("news", f"/news/{news.slug}"),
        ("thread", f"/forum/t/{thread.id}/{thread.slug}"),
    ]
    assert results.total == 2 and results.capped
    # Only the candidates were counted: the page says "at least".
    assert results.items[1].more_text == "and 1,000+ more posts in this thread"
    forum = services.search("motorball", "posts")
    assert [r.url for r in forum.items] == [f"/forum/t/{thread.id}/{thread.slug}"]


def test_ddl_can_be_dropped_and_rebuilt_over_existing_rows(app):
    news = make_news("Existing hamburg post")
    slug = news.slug
    db.session.close()
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        for statement in backend.search_drop_ddl(dialect):
            conn.exec_driver_sql(statement)
        if dialect == "postgresql":
            conn.exec_driver_sql("UPDATE search_entries SET tsv = NULL")
        for statement in backend.search_ddl(dialect):
            conn.exec_driver_sql(statement)
    assert found("hamburg") == [("news", f"/news/{slug}")]
    assert backend.is_search_object("search_fts_data", "table")
    assert not backend.is_search_object("search_entries", "table")
