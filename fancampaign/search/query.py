"""What a person typed in the search box, understood: words, phrases, exclusions, filters.

    alita sequel            every word must appear
    "battle angel"          the words next to each other, in this order
    -trailer  -"box office" leave out what has this word (or phrase)
    author:koyomi           only what this member wrote
    in:petitions            only petitions (also in:news, in:forum)

`parse()` never fails. What it cannot use it leaves out and says why in `Query.notes` (an
unclosed quote, an unknown `in:`, a lone `-`, AND/OR/NOT typed as operators, too many words,
too long a text), so the page can show both the results and what was done with the query.
No text typed here ever reaches a query language as syntax: the backends get only the words
(runs of letters and digits) and build their own expressions from them (search/backend.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_QUERY_CHARS = 200
MAX_TERMS = 20
# A word of the index: what both FTS5 (unicode61) and PostgreSQL split on, near enough.
WORD_RE = re.compile(r"\w+")
# Control characters, lone surrogates and the snippet sentinels (backend.MARK_START / END).
_UNWANTED_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000\ue001]")
# One piece of the query: an optional '-', then a quoted phrase (maybe unclosed) or a run of
# anything but spaces and quotes.
_PIECE_RE = re.compile(r'(-?)(?:"([^"]*)("?)|([^\s"]+))')
_FILTER_RE = re.compile(r"(author|by|in):(.*)", re.IGNORECASE)
_OPERATORS = frozenset({"AND", "OR", "NOT"})

# `in:` values and the search page's `kind` they mean (services.FILTERS).
PLACES = {
    "petitions": "petitions",
    "petition": "petitions",
    "news": "news",
    "forum": "posts",
    "posts": "posts",
    "threads": "posts",
}
PLACE_NAMES = {"petitions": "petitions", "news": "news", "posts": "forum"}


def scrub(text: str) -> str:
    """No NULs or other control characters, no lone surrogates, no sentinels."""
    return _UNWANTED_RE.sub("", text or "")


@dataclass(frozen=True)
class Part:
    """One filter or exclusion the query holds, as typed (`raw`) and as said on the page."""

    kind: str  # "in", "author" or "without"
    raw: str
    label: str


@dataclass(frozen=True)
class Query:
    text: str
    # What must match: single words, and phrases of two or more words.
    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    # What must not match: each a word or a phrase (a tuple of its words).
    excluded: tuple[tuple[str, ...], ...] = ()
    author: str | None = None
    kind: str | None = None
    parts: tuple[Part, ...] = ()
    notes: tuple[str, ...] = ()
    # The pieces of the text kept, as typed (to write the query again without one part).
    pieces: tuple[str, ...] = field(default=(), repr=False)

    @property
    def has_terms(self) -> bool:
        """Something to look for (exclusions and filters only narrow a search)."""
        return bool(self.words or self.phrases)

    @property
    def terms(self) -> list[str]:
        """Every word that must match, phrases' words included, in order."""
        return [*self.words, *(w for phrase in self.phrases for w in phrase)]

    def without(self, part: Part | None = None, *, kind: bool = False) -> str:
        """The query's text with one part taken out (or every `in:` with kind=True)."""
        kept = [
            piece
            for piece in self.pieces
            if piece != (part.raw if part else None)
            and not (kind and piece.lower().startswith("in:"))
        ]
        return " ".join(kept)


def _words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def parse(text: str | None) -> Query:
    """The query in `text` (see the module doc); never raises."""
    raw = text or ""
    notes: list[str] = []
    if len(raw) > MAX_QUERY_CHARS:
        notes.append(f"Only the first {MAX_QUERY_CHARS} characters were searched.")
    clean = unicodedata.normalize("NFC", scrub(raw[: MAX_QUERY_CHARS * 2]))[:MAX_QUERY_CHARS]

    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[tuple[str, ...]] = []
    parts: list[Part] = []
    pieces: list[str] = []
    author: str | None = None
    kind: str | None = None
    dropped_terms = False

    def add_terms(found: list[str], *, negate: bool, as_phrase: bool) -> bool:
        nonlocal dropped_terms
        room = MAX_TERMS - len(words) - sum(map(len, phrases)) - sum(map(len, excluded))
        if room <= 0 or not found:
            dropped_terms = dropped_terms or bool(found)
            return False
        if len(found) > room:
            dropped_terms = True
            found = found[:room]
        if negate:
            excluded.append(tuple(found))
        elif as_phrase and len(found) > 1:
            phrases.append(tuple(found))
        else:
            words.extend(found)
        return True

    for match in _PIECE_RE.finditer(clean):
        minus, quoted, closing, bare = match.groups()
        piece = match.group(0)
        negate = minus == "-"
        if quoted is not None:
            if not closing:
                notes.append(
                    "A quote mark was not closed, so the words after it were searched one by one."
                )
            found = _words(quoted)
            if add_terms(found, negate=negate, as_phrase=bool(closing)):
                pieces.append(piece)
                if negate:
                    parts.append(Part("without", piece, f"without “{' '.join(found)}”"))
            elif not found and negate:
                notes.append("A “-” must come right before a word, to leave that word out.")
            continue
        if minus and not bare:
            notes.append("A “-” must come right before a word, to leave that word out.")
            continue
        filtered = _FILTER_RE.fullmatch(bare) if not negate else None
        if filtered:
            name, value = filtered.group(1).lower(), filtered.group(2)
            if name == "in":
                place = PLACES.get(value.lower())
                if place is None:
                    shown = value[:30] or "…"
                    notes.append(
                        f"“in:{shown}” is not a part of the site: use in:petitions, "
                        "in:news or in:forum. Everything was searched."
                    )
                elif kind is not None and place != kind:
                    notes.append("Only one in: can be used: the first one was kept.")
                elif kind is None:
                    kind = place
                    pieces.append(piece)
                    parts.append(Part("in", piece, f"in {PLACE_NAMES[place]}"))
                continue
            name_words = value.strip()
            if not name_words:
                notes.append("Put a member's username right after author:, as in author:koyomi.")
            elif author is not None and name_words.lower() != author.lower():
                notes.append("Only one author: can be used: the first one was kept.")
            elif author is None:
                author = name_words
                pieces.append(piece)
                parts.append(Part("author", piece, f"by {name_words}"))
            continue
        if not negate and bare in _OPERATORS:
            notes.append(
                "AND, OR and NOT are not operators here: every word must appear; "
                "put a “-” right before a word to leave it out."
            )
            continue
        found = _words(bare)
        if add_terms(found, negate=negate, as_phrase=negate):
            pieces.append(piece)
            if negate:
                parts.append(Part("without", piece, f"without “{' '.join(found)}”"))
        elif not found and (negate or bare.startswith("-")):
            notes.append("A “-” must come right before a word, to leave that word out.")
    if dropped_terms:
        notes.append(f"Only the first {MAX_TERMS} words were searched.")
    return Query(
        text=raw,
        words=tuple(words),
        phrases=tuple(phrases),
        excluded=tuple(excluded),
        author=author,
        kind=kind,
        parts=tuple(parts),
        notes=tuple(dict.fromkeys(notes)),
        pieces=tuple(pieces),
    )
