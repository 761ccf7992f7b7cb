"""Watched words: screen text users write before it is stored.

screen(text) -> Verdict: "ok", "hold" (stored hidden, waiting for review) or "block" (refused,
with the entry's message). The moderation area owns the list and this function.

Entries match whole words (or phrases), in any case; `*` inside an entry matches any run of
letters ("spam*" matches "spammer"). The compiled list is cached on `g` for the rest of the
request, so screening costs at most one query per request (zero with an empty list once read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import g, has_app_context

from fancampaign.extensions import db


@dataclass(frozen=True)
class Verdict:
    action: str  # "ok" | "hold" | "block"
    message: str = ""

    @property
    def is_ok(self) -> bool:
        return self.action == "ok"


OK = Verdict("ok")
DEFAULT_BLOCK_MESSAGE = "Your post contains a word that is not allowed here."
HOLD_MESSAGE = "Your post will appear once a moderator has reviewed it."


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A whole-word, case-insensitive regex for a watched entry (`*`: any letters)."""
    parts = [re.escape(word).replace(r"\*", r"\w*") for word in pattern.split()]
    body = r"\s+".join(parts)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class _Compiled:
    blocks: tuple[tuple[re.Pattern[str], str], ...]
    holds: tuple[re.Pattern[str], ...]


def _load() -> _Compiled:
    from fancampaign.moderation.models import WatchedWord

    rows = db.session.execute(
        sa.select(WatchedWord.pattern, WatchedWord.action, WatchedWord.message).order_by(
            WatchedWord.id
        )
    ).all()
    blocks = tuple(
        (compile_pattern(p), m or DEFAULT_BLOCK_MESSAGE) for p, a, m in rows if a == "block"
    )
    holds = tuple(compile_pattern(p) for p, a, _m in rows if a == "hold")
    return _Compiled(blocks, holds)


def _compiled() -> _Compiled:
    if not has_app_context():
        return _load()
    cached = g.get("_watched_words")
    if cached is None:
        cached = _load()
        g._watched_words = cached
    return cached


def forget() -> None:
    """Drop the cached list (after the list changed)."""
    if has_app_context():
        g.pop("_watched_words", None)


def screen(text: str) -> Verdict:
    """What the watched-word list says of this text: blocking entries win over holding ones."""
    if not text or not text.strip():
        return OK
    compiled = _compiled()
    for regex, message in compiled.blocks:
        if regex.search(text):
            return Verdict("block", message)
    for regex in compiled.holds:
        if regex.search(text):
            return Verdict("hold", HOLD_MESSAGE)
    return OK
