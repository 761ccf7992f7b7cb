"""Search results: one per item, the item above its discussion, one ranking on both databases,
snippets that keep sentences apart, and the index's item columns kept (and rebuilt) right.

Every test here runs on SQLite (FTS5) and, with TEST_DATABASE_URL, on PostgreSQL, with the
same expectations: the order is fixed in the test, not read from the database.
"""

from __future__ import annotations

import importlib
import re

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.search import indexer, services
from fancampaign.search.models import SearchEntry
from tests.factories import (
    make_category,
    make_news_post,
    make_petition,
    make_reply,
    make_thread,
    make_user,
)
from tests.search.builders import make_news

_migration = importlib.import_module(
    "migrations.versions.20261207_9e4d2a7c1f58_search_items_and_authors"
)


@pytest.fixture
def discussions(app):
    """The categories petitions' and news posts' discussion threads go to."""
    make_category("petition-discussion")
    make_category("news-discussion")


def entries() -> dict[tuple[str, int], tuple]:
    rows = db.session.execute(
        sa.select(
            SearchEntry.kind,
            SearchEntry.object_id,
            SearchEntry.item_kind,
            SearchEntry.item_id,
            SearchEntry.thread_id,
            SearchEntry.author_id,
            SearchEntry.dated_at,
        )
    )
    return {
        (r.kind, r.object_id): (r.item_kind, r.item_id, r.thread_id, r.author_id, r.dated_at)
        for r in rows
    }


# One result per item -------------------------------------------------------------------------


def test_a_petition_and_its_discussion_are_one_result(app, client, discussions):
    petition = make_petition(title="Alita sequel petition", summary="Ask for the Alita sequel.")
    thread_id = petition.thread_id
    assert thread_id is not None
    from fancampaign.forum.models import Thread

    thread = db.session.get(Thread, thread_id)
    for n in range(3):
        make_reply(make_user(), thread, f"Signed! Alita forever, number {n}.")
    results = services.search("alita")
    assert [(r.kind, r.url) for r in results.items] == [("petition", f"/petitions/{petition.slug}")]
    assert results.total == 1
    result = results.items[0]
    assert "<mark>Alita</mark>" in str(result.title)
    # The opening post and the three replies, under the petition, linking to the thread.
    assert result.more_text == "and 4 posts in its discussion"
    assert result.more_url == f"/forum/t/{thread_id}"
    body = client.get("/search?q=alita").get_data(as_text=True)
    assert body.count("sequel petition</a></h2>") == 1
    assert "and 4 posts in its discussion" in body
    assert "1 result" in body


def test_a_match_only_in_the_discussion_shows_the_petition_with_that_post(app, discussions):
    petition = make_petition(title="Bring back the cast", summary="The whole cast, please.")
    from fancampaign.forum.models import Thread

    thread = db.session.get(Thread, petition.thread_id)
    post = make_reply(make_user(), thread, "I would love to see Zapan again.")
    results = services.search("zapan")
    assert len(results.items) == 1
    result = results.items[0]
    assert (result.kind, result.url) == ("petition", f"/petitions/{petition.slug}")
    assert result.title == "Bring back the cast"  # not marked: its own text did not match
    assert result.via_url == f"/forum/p/{post.id}"
    assert result.via_text == "From a post in its discussion"
    assert "<mark>Zapan</mark>" in str(result.snippet)
    assert result.more_text == ""


def test_a_news_post_and_its_comments_are_one_result(app, discussions):
    news = make_news_post(
        title="Sequel news from Zalem", standfirst="Zalem has news.", body="News about Zalem."
    )
    assert news.thread_id is not None
    from fancampaign.forum.models import Thread

    thread = db.session.get(Thread, news.thread_id)
    make_reply(make_user(), thread, "Zalem at last!")
    results = services.search("zalem")
    assert [(r.kind, r.url) for r in results.items] == [("news", f"/news/{news.slug}")]
    assert results.items[0].more_text == "and 2 posts in its discussion"


def test_no_title_is_listed_twice(app, client, discussions):
    petition = make_petition(title="Motorball league petition", summary="Motorball for all.")
    thread = make_thread(title="Motorball league chat", body="Motorball talk.", replies=0)
    make_reply(make_user(), thread, "More motorball talk.")
    make_reply(make_user(), thread, "Even more motorball talk.")
    results = services.search("motorball")
    titles = [re.sub("<[^>]+>", "", str(r.title)) for r in results.items]
    assert sorted(titles) == ["Motorball league chat", "Motorball league petition"]
    chat = next(r for r in results.items if r.kind == "thread")
    assert chat.url == f"/forum/t/{thread.id}/{thread.slug}"
    assert chat.more_text == "and 2 more posts in this thread"
    assert petition.thread_id


def test_the_petition_ranks_above_its_own_discussion_in_the_forum_too(app, discussions):
    petition = make_petition(title="Iron City petition", summary="For Iron City.")
    # Searching everything: the petition, its discussion under it.
    assert [r.kind for r in services.search("iron city").items] == ["petition"]
    # The forum alone: the discussion thread, once.
    forum = services.search("iron city", "posts").items
    assert [r.kind for r in forum] == ["thread"]
    assert forum[0].url.startswith(f"/forum/t/{petition.thread_id}/")


# One ranking on both databases ----------------------------------------------------------------


def _ranking_corpus() -> dict[str, str]:
    """Items at every level of the ranking rule (search/backend._grouped_page), oldest first;
    the URLs by name."""
    organiser = make_user(role=Role.ORGANISER)
    # "motorball" in the title, twice or once: the same level; the newer first.
    first = make_news("Motorball motorball final", "Tickets on sale.")
    second = make_news("Motorball weekend news", "Tickets on sale.")
    # In the text only (and in their discussions' opening posts): the newer first.
    older = make_petition(organiser, title="Save the old league one", summary="A motorball league.")
    newer = make_petition(organiser, title="Save the old league two", summary="A motorball league.")
    # Matched only through its discussion, the newest of all: last.
    quiet = make_petition(organiser, title="A quiet petition here", summary="Nothing more.")
    from fancampaign.forum.models import Thread

    make_reply(make_user(), db.session.get(Thread, quiet.thread_id), "Motorball? Motorball!")
    return {
        "first": f"/news/{first.slug}",
        "second": f"/news/{second.slug}",
        "older": f"/petitions/{older.slug}",
        "newer": f"/petitions/{newer.slug}",
        "quiet": f"/petitions/{quiet.slug}",
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("motorball", ["second", "first", "newer", "older", "quiet"]),
        ("motorball -weekend", ["first", "newer", "older", "quiet"]),
        ("motorball final", ["first"]),
        ("motorball tickets", ["second", "first"]),
        ('"motorball league"', ["newer", "older"]),
        ("motorball in:petitions", ["newer", "older"]),
        ("league", ["newer", "older"]),
    ],
)
def test_the_same_corpus_ranks_the_same_on_every_database(app, discussions, q, expected):
    url = _ranking_corpus()
    assert [r.url for r in services.search(q).items] == [url[name] for name in expected]


def test_an_item_with_every_word_in_its_title_beats_a_newer_one_with_some(app):
    every = make_news("Zalem sky city", "Nothing else.")
    some = make_news("Zalem report", "The sky over the city is blue today.")
    text = make_news("Daily report", "Zalem, its sky and its city.")
    assert [r.url for r in services.search("zalem sky city").items] == [
        f"/news/{every.slug}",
        f"/news/{some.slug}",
        f"/news/{text.slug}",
    ]


# Snippets ------------------------------------------------------------------------------------


def test_snippets_keep_sentences_apart(app, client):
    news = make_news(
        "Release dates",
        "## Dates in the UK and Ireland\n\nThe film opens in cinemas everywhere on Friday",
    )
    results = services.search("ireland film")
    assert [r.url for r in results.items] == [f"/news/{news.slug}"]
    text = re.sub("</?mark>", "", str(results.items[0].snippet))
    assert "UK and Ireland. The film opens" in text
    page = client.get("/search?q=ireland+film").get_data(as_text=True)
    assert "<mark>Ireland</mark>. The <mark>film</mark>" in page


def test_a_petition_summary_target_and_body_read_as_sentences(app):
    make_petition(
        title="Deliver it to the studio",
        summary="We want the sequel in the UK and Ireland",
        target="The studio",
        body="The cast is ready",
    )
    text = re.sub("</?mark>", "", str(services.search("ireland cast").items[0].snippet))
    assert "UK and Ireland. The studio. The cast is ready" in text


def test_document_text_ends_each_block_as_a_sentence():
    assert indexer.join_sentences(["Heading", "Ends well.", "Asks?", "Quoted.”", ""]) == (
        "Heading.\nEnds well.\nAsks?\nQuoted.”"
    )
    assert indexer.document_text("# A title\n\n- one\n- two\n\nText *here*.") == (
        "A title.\none.\ntwo.\nText here."
    )


# The index's item columns --------------------------------------------------------------------


def test_documents_name_their_item_thread_and_author(app, discussions):
    koyomi = make_user("koyomi", role=Role.ORGANISER)
    petition = make_petition(koyomi, title="A petition by koyomi")
    from fancampaign.forum.models import Thread

    discussion = db.session.get(Thread, petition.thread_id)
    reply = make_reply(koyomi, discussion, "A reply.")
    thread = make_thread(koyomi, title="A thread by koyomi")
    first_post = thread_first_post(thread.id)
    found = {key: value[:4] for key, value in entries().items()}
    assert found[("petition", petition.id)] == ("petition", petition.id, None, koyomi.id)
    assert found[("thread", discussion.id)] == ("petition", petition.id, discussion.id, koyomi.id)
    assert found[("post", reply.id)] == ("petition", petition.id, discussion.id, koyomi.id)
    assert found[("thread", thread.id)] == ("thread", thread.id, thread.id, koyomi.id)
    assert found[("post", first_post)] == ("thread", thread.id, thread.id, koyomi.id)
    assert all(value[4] is not None for value in entries().values())


def thread_first_post(thread_id: int) -> int:
    from fancampaign.forum.models import Post

    return db.session.scalar(
        sa.select(Post.id).where(Post.thread_id == thread_id, Post.is_first.is_(True))
    )


def test_a_thread_that_starts_discussing_takes_its_posts_along(app):
    thread = make_thread(title="Soon a discussion")
    reply = make_reply(make_user(), thread, "An early reply.")
    petition = make_petition(title="The petition it discusses")
    thread.subject_kind, thread.subject_id = "petition", petition.id
    db.session.commit()
    found = entries()
    assert found[("post", reply.id)][:2] == ("petition", petition.id)
    assert found[("thread", thread.id)][:2] == ("petition", petition.id)
    thread.subject_kind, thread.subject_id = None, None
    db.session.commit()
    assert entries()[("post", reply.id)][:2] == ("thread", thread.id)


def test_the_migration_fills_what_the_indexer_writes(app, discussions):
    koyomi = make_user("koyomi", role=Role.ORGANISER)
    petition = make_petition(koyomi, title="Filled by the migration")
    from fancampaign.forum.models import Thread

    make_reply(make_user(), db.session.get(Thread, petition.thread_id), "A reply.")
    make_thread(koyomi, title="A plain thread", replies=2)
    make_news_post(koyomi, title="A news post with comments")
    expected = entries()
    db.session.execute(
        sa.update(SearchEntry).values(
            item_kind=None, item_id=None, thread_id=None, author_id=None, dated_at=None
        )
    )
    for statement in _migration._FILL:
        db.session.execute(sa.text(statement))
    db.session.commit()
    assert entries() == expected


def test_reindex_rebuilds_items_and_sentence_boundaries(app, runner, discussions):
    petition = make_petition(title="Rebuilt petition here", summary="Rebuilt in the UK and Ireland")
    make_thread(title="Rebuilt thread", body="## Rebuilt heading\n\nRebuilt text")
    expected = entries()
    # An index from before: no item columns, sentences run together.
    db.session.execute(
        sa.update(SearchEntry).values(
            item_kind=None,
            item_id=None,
            thread_id=None,
            author_id=None,
            dated_at=None,
            body=sa.func.replace(SearchEntry.body, ".\n", " "),
        )
    )
    db.session.commit()
    result = runner.invoke(args=["search-reindex"])
    assert result.exit_code == 0, result.output
    assert entries() == expected
    results = services.search("rebuilt")
    assert sorted(r.kind for r in results.items) == ["petition", "thread"]
    text = re.sub("</?mark>", "", str(results.items[0].snippet) + str(results.items[1].snippet))
    assert "UK and Ireland. 20th Century Studios." in text or "Rebuilt heading. Rebuilt" in text
    assert petition.thread_id


def test_a_discussion_outlives_its_petition_in_results(app, discussions):
    petition = make_petition(title="Soon to be rejected", summary="Nothing here.")
    from fancampaign.forum.models import Thread

    thread = db.session.get(Thread, petition.thread_id)
    post = make_reply(make_user(), thread, "Still talking about Tiphares.")
    petition.status = "rejected"
    db.session.commit()
    results = services.search("tiphares")
    assert [(r.kind, r.via_url) for r in results.items] == [("thread", f"/forum/p/{post.id}")]
    assert results.items[0].url.startswith(f"/forum/t/{thread.id}/")
    assert results.items[0].title == thread.title
