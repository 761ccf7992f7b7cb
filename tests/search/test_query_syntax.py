"""Search query syntax: -word, "phrase", author:, in:, their combinations, and bad input.

Every test here runs on SQLite (FTS5) and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fancampaign.accounts.models import Role
from fancampaign.search import services
from fancampaign.search.query import MAX_QUERY_CHARS, MAX_TERMS, parse
from tests.factories import make_category, make_petition, make_reply, make_thread, make_user
from tests.search.builders import make_news


def urls(q: str, kind: str | None = None) -> list[str]:
    return [r.url for r in services.search(q, kind).items]


# The parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "phrases", "excluded", "author", "kind"),
    [
        ("alita sequel", ("alita", "sequel"), (), (), None, None),
        ('"battle angel"', (), (("battle", "angel"),), (), None, None),
        ("alita -trailer", ("alita",), (), (("trailer",),), None, None),
        ('alita -"box office"', ("alita",), (), (("box", "office"),), None, None),
        ("alita author:Koyomi", ("alita",), (), (), "Koyomi", None),
        ("alita by:koyomi", ("alita",), (), (), "koyomi", None),
        ("alita in:petitions", ("alita",), (), (), None, "petitions"),
        ("alita IN:Forum", ("alita",), (), (), None, "posts"),
        ("in:news alita", ("alita",), (), (), None, "news"),
        ('"one word"', (), (("one", "word"),), (), None, None),
        ('"single"', ("single",), (), (), None, None),
        ("x-men", ("x", "men"), (), (), None, None),
        ("-x-men alita", ("alita",), (), (("x", "men"),), None, None),
        # Typed operators and syntax of either database are plain words or nothing.
        ("NEAR(alita sequel)", ("NEAR", "alita", "sequel"), (), (), None, None),
        ("alita* ^sequel (x)", ("alita", "sequel", "x"), (), (), None, None),
        ("title:alita", ("title", "alita"), (), (), None, None),
        ("alita AND sequel OR NOT x", ("alita", "sequel", "x"), (), (), None, None),
        ("alita & !b | c <-> d", ("alita", "b", "c", "d"), (), (), None, None),
    ],
)
def test_the_parser_understands(text, words, phrases, excluded, author, kind):
    q = parse(text)
    assert (q.words, q.phrases, q.excluded, q.author, q.kind) == (
        words,
        phrases,
        excluded,
        author,
        kind,
    )


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ('alita "battle angel', "A quote mark was not closed"),
        ("alita -", "A “-” must come right before a word"),
        ('alita -""', "A “-” must come right before a word"),
        ("alita in:games", "“in:games” is not a part of the site"),
        ("alita in:news in:forum", "Only one in: can be used"),
        ("alita author:", "Put a member's username right after author:"),
        ("alita author:a author:b", "Only one author: can be used"),
        ("alita AND sequel", "AND, OR and NOT are not operators here"),
        ("x" * (MAX_QUERY_CHARS + 1), f"Only the first {MAX_QUERY_CHARS} characters"),
        (" ".join(f"w{n}" for n in range(MAX_TERMS + 5)), f"Only the first {MAX_TERMS} words"),
    ],
)
def test_what_cannot_be_used_is_said(text, note):
    assert any(n.startswith(note) for n in parse(text).notes), parse(text).notes


def test_an_unclosed_quote_searches_its_words_one_by_one():
    q = parse('alita "battle angel')
    assert q.words == ("alita", "battle", "angel") and q.phrases == ()


def test_a_part_can_be_taken_out_of_the_query():
    q = parse('alita -trailer author:koyomi in:forum "battle angel"')
    assert [p.label for p in q.parts] == ["without “trailer”", "by koyomi", "in forum"]
    without = {p.kind: q.without(p) for p in q.parts}
    assert without["without"] == 'alita author:koyomi in:forum "battle angel"'
    assert without["author"] == 'alita -trailer in:forum "battle angel"'
    assert without["in"] == 'alita -trailer author:koyomi "battle angel"'
    assert q.without(kind=True) == 'alita -trailer author:koyomi "battle angel"'


# On the database ---------------------------------------------------------------------------


def test_minus_word_leaves_out_what_has_it(app):
    keep = make_news("Gunnm news", "The cast is back.")
    make_news("Gunnm trailer", "A new trailer.")
    assert urls("gunnm -trailer") == [f"/news/{keep.slug}"]
    assert len(urls("gunnm")) == 2


def test_minus_phrase_leaves_out_only_the_phrase(app):
    keep = make_news("Zalem office", "The office in Zalem is open.")
    make_news("Zalem box office", "Box office figures for Zalem.")
    assert urls('zalem -"box office"') == [f"/news/{keep.slug}"]


def test_a_phrase_matches_the_words_together_in_order(app):
    together = make_news("Panzer kunst", "A battle angel in Iron City.")
    make_news("Apart", "The angel of panzer kunst won the battle.")
    assert urls('"battle angel"') == [f"/news/{together.slug}"]
    assert len(urls("battle angel")) == 2


def test_author_filters_by_who_wrote_it(app, client):
    koyomi = make_user("koyomi")
    other = make_user("someone")
    thread = make_thread(koyomi, title="Motorball tips", body="Motorball is fast.")
    make_thread(other, title="Motorball rules", body="Motorball has rules.")
    assert urls("motorball author:koyomi") == [f"/forum/t/{thread.id}/{thread.slug}"]
    assert urls("motorball author:KOYOMI") == [f"/forum/t/{thread.id}/{thread.slug}"]
    assert len(urls("motorball")) == 2


def test_author_finds_their_posts_in_other_threads(app):
    koyomi = make_user("koyomi")
    thread = make_thread(make_user(), title="Weekend chat", body="Say hello.")
    post = make_reply(koyomi, thread, "Hello from a hunter warrior.")
    make_reply(make_user(), thread, "Another hunter warrior here.")
    results = services.search("hunter author:koyomi")
    assert [(r.url, r.via_url) for r in results.items] == [
        (f"/forum/t/{thread.id}/{thread.slug}", f"/forum/p/{post.id}")
    ]


def test_an_unknown_author_is_said_not_an_error(app, client):
    make_news("Kansas news")
    results = services.search("kansas author:nobody_here")
    assert results.items == [] and "No member is called “nobody_here”." in results.notes
    page = client.get("/search", query_string={"q": "kansas author:nobody_here"})
    assert page.status_code == 200
    assert "No member is called “nobody_here”." in page.get_data(as_text=True)


def test_in_filters_by_kind(app):
    make_category("petition-discussion")
    news = make_news("Ido news")
    petition = make_petition(title="Ido petition")
    thread = make_thread(title="Ido thread", body="ido talk")
    assert urls("ido in:news") == [f"/news/{news.slug}"]
    assert urls("ido in:petitions") == [f"/petitions/{petition.slug}"]
    forum = urls("ido in:forum")
    # The forum alone: every thread, a petition's discussion thread included, once each.
    assert f"/forum/t/{thread.id}/{thread.slug}" in forum
    assert f"/forum/t/{petition.thread_id}" in " ".join(forum)
    assert len(forum) == len(set(forum)) == 2
    # The page's own filter gives way to an in: in the text.
    assert urls("ido in:news", "petitions") == [f"/news/{news.slug}"]


def test_combinations(app):
    koyomi = make_user("koyomi", role=Role.ORGANISER)
    make_category("petition-discussion")
    wanted = make_petition(
        koyomi, title="Sequel now, please", summary="A battle angel sequel, soon."
    )
    make_petition(koyomi, title="Sequel trailer, please", summary="A battle angel trailer.")
    make_petition(
        make_user(role=Role.ORGANISER), title="Sequel for everyone", summary="A battle angel."
    )
    make_news("Sequel news", "A battle angel sequel.")
    q = 'sequel "battle angel" -trailer author:koyomi in:petitions'
    assert urls(q) == [f"/petitions/{wanted.slug}"]


def test_only_exclusions_and_filters_ask_for_a_word(app, client):
    make_news("Nova news")
    for q in ("-nova", "author:someone", "in:news", "-nova in:forum"):
        results = services.search(q)
        assert results.items == []
        assert any("Add a word to search for" in n for n in results.notes), q
    page = client.get("/search", query_string={"q": "-nova"})
    assert page.status_code == 200
    assert "Add a word to search for" in page.get_data(as_text=True)


def test_the_page_shows_the_parsed_filters_each_with_a_way_out(app, client):
    koyomi = make_user("koyomi")
    make_thread(koyomi, title="Scrapyard finds", body="A scrapyard find.")
    response = client.get(
        "/search", query_string={"q": "scrapyard in:forum author:koyomi -trailer"}
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "in forum" in body and "by koyomi" in body and "without “trailer”" in body
    removes = re.findall(r'class="search-parsed__remove" href="([^"]+)"', body)
    assert len(removes) == 3
    assert "/search?q=scrapyard+author:koyomi+-trailer" in [r.replace("%3A", ":") for r in removes]
    assert "/search?q=scrapyard+in:forum+-trailer" in [r.replace("%3A", ":") for r in removes]
    assert "/search?q=scrapyard+in:forum+author:koyomi" in [r.replace("%3A", ":") for r in removes]
    # The forum filter link is the current one, from the in: in the text.
    assert re.search(r'href="[^"]*kind=posts"\s*aria-current="page"', body)


def test_notes_show_on_the_page(app, client):
    make_news("Alita sequel")
    response = client.get("/search", query_string={"q": 'alita in:games "sequel'})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "is not a part of the site" in body and "A quote mark was not closed" in body
    assert "1 result" in body


TYPED = [
    "-",
    "--",
    "- -",
    '"',
    '-"',
    '""',
    '"alita',
    'alita"',
    '"a" "b',
    "in:",
    "in:xyz",
    "author:",
    "author:-",
    "author:\x00",
    "author:" + "a" * 300,
    "in:petitions in:news",
    "NEAR(alita sequel, 2)",
    "alita NEAR sequel",
    "alita AND",
    "OR",
    "NOT alita",
    "alita NOT",
    "*",
    "alita*",
    "^alita",
    "(alita",
    "alita)",
    "{title}: alita",
    "title : alita",
    "alita:",
    ":alita",
    "a & b | !c <-> d",
    "-alita -sequel",
    '-"alita sequel"',
    "\ue000alita\ue001",
    "alita\x00sequel",
    "-" * 500,
    '"' * 501,
    "alita -" + "x " * 300,
    '😀 -🚀 "ア リ" author:ア in:news',
    '_ -_ "_"',
]


@pytest.mark.parametrize("q", TYPED)
def test_malformed_queries_answer_200(app, client, q):
    make_news("Alita sequel", "Battle angel.")
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "fts5" not in body.lower() and "syntax error" not in body.lower()


QUERY_ALPHABET = st.sampled_from(
    [
        "alita",
        "sequel",
        "angel",
        "the",
        "or",
        "NEAR",
        "AND",
        "OR",
        "NOT",
        "-",
        '"',
        "*",
        "^",
        "(",
        ")",
        ":",
        "in:",
        "author:",
        "petitions",
        "forum",
        "koyomi",
        " ",
        " ",
        "{",
        "}",
        "'",
        "&",
        "|",
        "!",
        "<->",
        "\x00",
        "é",
        "ア",
    ]
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pieces=st.lists(QUERY_ALPHABET | st.text(max_size=5), max_size=25))
def test_any_query_string_searches_without_a_database_error(app, pieces):
    """Random strings made of the query syntax and the databases' own operators never reach
    either database as syntax (a database error would raise here, on SQLite and PostgreSQL)."""
    if not hasattr(app, "_search_seeded"):
        koyomi = make_user("koyomi")
        make_thread(koyomi, title="Alita sequel", body="The battle angel sequel, or not.")
        make_news("Alita news", "A sequel for the angel.")
        app._search_seeded = True
    q = "".join(pieces)
    for kind in (None, "posts"):
        results = services.search(q, kind)
        assert results.total >= len(results.items)
