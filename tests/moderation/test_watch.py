"""Watched words: whole words, any case, simple wildcards; block beats hold."""

from __future__ import annotations

import pytest

from fancampaign.extensions import db
from fancampaign.moderation import services, watch
from tests.factories import make_user
from tests.helpers import count_queries


@pytest.fixture
def words(app, moderator):
    services.add_word(moderator, "viagra", "block", "No pharmacy spam, please.")
    services.add_word(moderator, "free money", "hold")
    services.add_word(moderator, "spam*", "hold")
    db.session.commit()
    watch.forget()


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("Buy VIAGRA now", "block"),
        ("viagra.", "block"),
        ("viagras are not a word", "ok"),
        ("Get FREE   money today", "hold"),
        ("freemoney", "ok"),
        ("Such a spammer", "hold"),
        ("I like Spam", "hold"),
        ("antispam tools", "ok"),
        ("free money and viagra", "block"),
        ("", "ok"),
        ("   ", "ok"),
        ("Alita is great", "ok"),
    ],
)
def test_screen(words, text, action):
    assert watch.screen(text).action == action


def test_block_carries_the_entry_message(words):
    assert watch.screen("viagra").message == "No pharmacy spam, please."


def test_screen_is_ok_with_an_empty_list(app):
    assert watch.screen("anything at all") == watch.OK


def test_the_list_is_read_once_per_request(app, words):
    watch.forget()
    with count_queries() as statements:
        for _ in range(5):
            watch.screen("hello there")
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_a_new_word_applies_at_once(app, moderator):
    assert watch.screen("bad word").is_ok
    services.add_word(moderator, "bad", "block")
    assert watch.screen("bad word").action == "block"


@pytest.mark.parametrize("pattern", ["", "   ", "x" * 101, "(a|b)+", "a\\b", "..."])
def test_bad_patterns_are_refused(app, moderator, pattern):
    from fancampaign.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.add_word(moderator, pattern, "block")


def test_a_word_is_listed_once(app, moderator):
    services.add_word(moderator, "Spoiler", "hold")
    with pytest.raises(services.WordExists):
        services.add_word(moderator, "spoiler", "block")


def test_members_cannot_manage_words(app):
    from fancampaign.errors import NotAllowed

    with pytest.raises(NotAllowed):
        services.add_word(make_user(), "word", "block")
