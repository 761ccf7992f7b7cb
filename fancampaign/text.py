"""Text helpers: safe Markdown rendering, mentions, plain text, slugs and input cleaning.

Pure functions only; nothing here imports Flask or the rest of the package.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from html import escape as _html_escape
from typing import Any
from urllib.parse import unquote, urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "MAX_MENTIONS",
    "clean_multiline",
    "clean_text",
    "extract_mentions",
    "hide_quotes",
    "normalise_email",
    "plain_text",
    "quote_markdown",
    "quoted_post_ids",
    "reading_time",
    "render_markdown",
    "slugify",
    "summarise",
    "without_quotes",
]

MAX_MENTIONS = 20

# `@name` not preceded by a character that would make it part of an email address, a word,
# a path or another mention, and not followed by more name characters (31+ chars is no name).
_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_.+\-@/])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_@])")
_NOT_BEFORE_MENTION_RE = re.compile(r"[A-Za-z0-9_.+\-@/]")
_USERNAME_RE = re.compile(r"[A-Za-z0-9_]{3,30}")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Unicode category Cc, exactly: C0 controls, DEL and C1 controls.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)],
    None,
)
_MD_PUNCTUATION_RE = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~&])")
# A quote's source: quote_markdown's header, and what the rendered blockquote carries.
QUOTE_SOURCE_PATH = "/forum/p/{id}"
HIDDEN_QUOTE_NOTE = "Quoted post is hidden."
_QUOTE_ID_RE = re.compile(r"[1-9][0-9]{0,9}")
_QUOTE_SOURCE_RE = re.compile(r"@[^\n]{1,120}? \[wrote\]\(/forum/p/([1-9][0-9]{0,9})\):$")
_QUOTE_OPEN_RE = re.compile(r'<blockquote data-quote="([0-9]+)">')
_BLOCKQUOTE_TAG_RE = re.compile(r'<blockquote(?: data-quote="([0-9]+)")?>|</blockquote>')

_ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "blockquote": {"data-quote"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
_LINK_SCHEMES = {"http", "https", "mailto"}
_LINK_REL = "nofollow ugc noopener"


# --------------------------------------------------------------------------------------
# Input normalisation shared by everything that parses user text
# --------------------------------------------------------------------------------------


def _scrub(source: str) -> str:
    """Drop NUL bytes and replace lone surrogates by U+FFFD so every later step is safe."""
    return _SURROGATE_RE.sub("\ufffd", source.replace("\x00", ""))


# --------------------------------------------------------------------------------------
# URL policy
# --------------------------------------------------------------------------------------


def _is_local_path(url: str) -> bool:
    """A same-site path: starts with one `/`, never `//` or `/\\` (browsers read both as hosts)."""
    return url.startswith("/") and not url.startswith(("//", "/\\"))


def _is_allowed_link(url: str) -> bool:
    """Links may be http(s), mailto or a same-site path; everything else is dropped."""
    url = url.strip()
    if _is_local_path(url):
        return True
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return False
    return scheme in _LINK_SCHEMES and url.lower().startswith(scheme + ":")


def _is_external_image(url: str) -> bool:
    """An image on another host: shown as a link, so reading a page calls no third party."""
    url = url.strip()
    return url.lower().startswith("https://") and len(url) > len("https://")


def _is_allowed_image(url: str) -> bool:
    """Images load only from our own /uploads/, without dot segments."""
    url = url.strip()
    if url.startswith("/uploads/"):
        path = unquote(url.split("?", 1)[0].split("#", 1)[0]).replace("\\", "/")
        return not any(part in {".", ".."} for part in path.split("/"))
    return False


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    """nh3 hook: keep href/src only when they pass the link or image policy."""
    if attribute == "href":
        return value if _is_allowed_link(value) else None
    if attribute == "src":
        return value if element == "img" and _is_allowed_image(value) else None
    if attribute == "data-quote":
        return value if _QUOTE_ID_RE.fullmatch(value) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    attributes=_ALLOWED_ATTRIBUTES,
    attribute_filter=_attribute_filter,
    link_rel=_LINK_REL,
    url_schemes=_LINK_SCHEMES,
    allowed_classes={"a": {"mention"}},
    set_tag_attribute_values={"img": {"loading": "lazy"}},
    strip_comments=True,
)


# --------------------------------------------------------------------------------------
# Mentions
# --------------------------------------------------------------------------------------


def _mentionable_text(children: Sequence[Token]) -> Iterator[tuple[int, str]]:
    """Yield (index, preceding char) of inline `text` children outside links and code."""
    link_depth = 0
    for index, child in enumerate(children):
        if child.type == "link_open":
            link_depth += 1
        elif child.type == "link_close":
            link_depth = max(0, link_depth - 1)
        elif child.type == "text" and link_depth == 0:
            previous = children[index - 1] if index else None
            before = ""
            if previous is not None and previous.type in {"text", "text_special"}:
                before = previous.content[-1:]
            yield index, before


def _mention_matches(text: str, before: str) -> Iterator[re.Match[str]]:
    """Mentions in one text token, given the character that precedes the token."""
    for match in _MENTION_RE.finditer(text):
        if match.start() == 0 and _NOT_BEFORE_MENTION_RE.fullmatch(before):
            continue
        yield match


def _mention_rule(state: StateCore) -> None:
    """Core rule: turn `@name` of known users (env["mentions"]) into mention links."""
    known: Mapping[str, str] = state.env.get("mentions") or {}
    if not known:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children or "@" not in block.content:
            continue
        children = block.children
        replacements: list[tuple[int, list[Token]]] = []
        for index, before in _mentionable_text(children):
            token = children[index]
            nodes = _split_mentions(token, before, known)
            if nodes is not None:
                replacements.append((index, nodes))
        for index, nodes in reversed(replacements):
            children[index : index + 1] = nodes


def _split_mentions(token: Token, before: str, known: Mapping[str, str]) -> list[Token] | None:
    """Split a text token around known mentions; None when it has none."""
    text = token.content
    nodes: list[Token] = []
    last = 0
    for match in _mention_matches(text, before):
        canonical = known.get(match.group(1).lower())
        if canonical is None:
            continue
        if match.start() > last:
            nodes.append(_text_token(text[last : match.start()], token.level))
        link_open = Token("link_open", "a", 1, level=token.level, markup="mention", info="auto")
        link_open.attrs = {"href": f"/u/{canonical}", "class": "mention"}
        nodes.append(link_open)
        nodes.append(_text_token(match.group(0), token.level + 1))
        nodes.append(Token("link_close", "a", -1, level=token.level, markup="mention"))
        last = match.end()
    if not nodes:
        return None
    if last < len(text):
        nodes.append(_text_token(text[last:], token.level))
    return nodes


def _text_token(content: str, level: int) -> Token:
    """A plain inline text token."""
    return Token("text", "", 0, content=content, level=level)


# --------------------------------------------------------------------------------------
# Markdown parser
# --------------------------------------------------------------------------------------


def _demote_h1_rule(state: StateCore) -> None:
    """Core rule: user `# headings` become h2; the page owns the only h1."""
    for token in state.tokens:
        if token.type in {"heading_open", "heading_close"} and token.tag == "h1":
            token.tag = "h2"


def _quote_source_rule(state: StateCore) -> None:
    """Core rule: a blockquote headed `@name [wrote](/forum/p/<id>):` (see quote_markdown)
    carries its source post's id, so readers who may not see that post get a note instead."""
    tokens = state.tokens
    for index, token in enumerate(tokens[:-2]):
        if token.type != "blockquote_open" or tokens[index + 1].type != "paragraph_open":
            continue
        match = _QUOTE_SOURCE_RE.match(tokens[index + 2].content)
        if match:
            token.attrSet("data-quote", match.group(1))


def _inside_link(tokens: Sequence[Token], idx: int) -> bool:
    depth = 0
    for token in tokens[:idx]:
        depth += {"link_open": 1, "link_close": -1}.get(token.type, 0)
    return depth > 0


def _render_image(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """Our own uploads render as lazy images; an image on another host becomes a link to it
    (no reader's browser calls that host unasked); anything else is its escaped alt text."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children, options, env)
    if _is_external_image(src) and _is_allowed_link(src) and not _inside_link(tokens, idx):
        label = f"Image: {alt}" if alt.strip() else f"Image on {urlsplit(src.strip()).hostname}"
        return f'<a href="{_html_escape(src.strip())}">{_html_escape(label, quote=False)}</a>'
    if not _is_allowed_image(src):
        return _html_escape(alt, quote=False)
    token.attrSet("loading", "lazy")
    return RendererHTML.image(self, tokens, idx, options, env)


def _make_parser() -> MarkdownIt:
    """CommonMark + tables + strikethrough + linkify, with raw HTML disabled."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.core.ruler.after("linkify", "fancampaign_mentions", _mention_rule)
    md.core.ruler.push("fancampaign_demote_h1", _demote_h1_rule)
    md.core.ruler.push("fancampaign_quote_sources", _quote_source_rule)
    md.add_render_rule("image", _render_image)
    return md


_MD = _make_parser()


def _parse(source: str, env: dict[str, Any] | None = None) -> list[Token]:
    """Parse scrubbed Markdown into block tokens."""
    return _MD.parse(_scrub(source), {} if env is None else env)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def render_markdown(source: str, *, mentions: Iterable[str] = ()) -> str:
    """Markdown becomes sanitised HTML; raw HTML is text and only safe tags/URLs survive."""
    known = {name.lower(): name for name in mentions if _USERNAME_RE.fullmatch(name)}
    env: dict[str, Any] = {"mentions": known}
    tokens = _parse(source, env)
    return _CLEANER.clean(_MD.renderer.render(tokens, _MD.options, env))


def extract_mentions(source: str) -> set[str]:
    """Lowercased `@usernames` outside code, links and emails; at most the first 20."""
    found: list[str] = []
    for block in _parse(source):
        if block.type != "inline" or not block.children:
            continue
        for index, before in _mentionable_text(block.children):
            for match in _mention_matches(block.children[index].content, before):
                name = match.group(1).lower()
                if name not in found:
                    found.append(name)
                    if len(found) >= MAX_MENTIONS:
                        return set(found)
    return set(found)


def without_quotes(source: str) -> str:
    """The Markdown without its blockquotes: a post's own words. Quoting a post quotes these,
    never the quotes inside it (which may be of a post since hidden); search indexes these."""
    lines = source.split("\n")
    for token in _parse(source):
        if token.type == "blockquote_open" and token.level == 0 and token.map:
            start, end = token.map
            lines[start:end] = [None] * (end - start)  # type: ignore[list-item]
    kept = "\n".join(line for line in lines if line is not None)
    return re.sub(r"\n{3,}", "\n\n", kept).strip("\n")


def quote_markdown(author: str, source: str, post_id: int | None = None) -> str:
    """A blockquote of the post headed by `@author wrote:`, followed by a blank line; with
    `post_id`, "wrote" links to the source post and the rendered quote names it."""
    name = clean_text(author)
    if not _USERNAME_RE.fullmatch(name):
        name = _MD_PUNCTUATION_RE.sub(r"\\\1", name)
    body = without_quotes(clean_multiline(source))
    wrote = "wrote" if post_id is None else f"[wrote]({QUOTE_SOURCE_PATH.format(id=post_id)})"
    header = f"@{name} {wrote}:"
    lines = [header, "", *body.split("\n")] if body else [header]
    quoted = "\n".join(f"> {line}" if line else ">" for line in lines)
    return quoted + "\n\n"


def quoted_post_ids(html: str) -> set[int]:
    """The ids of the posts quoted in rendered HTML (nested quotes included)."""
    if 'data-quote="' not in html:
        return set()
    return {int(found) for found in _QUOTE_OPEN_RE.findall(html)}


def hide_quotes(html: str, hidden: Container[int], note: str = HIDDEN_QUOTE_NOTE) -> str:
    """Rendered HTML with each quote of a post in `hidden` (outermost first) replaced by `note`.

    Applied when a page is shown, to HTML sanitised when it was written: its blockquote tags
    are exactly `<blockquote>`, `<blockquote data-quote="N">` and `</blockquote>`.
    """
    if 'data-quote="' not in html:
        return html
    out: list[str] = []
    last = depth = 0
    hiding_at: int | None = None
    quoted = ""
    for match in _BLOCKQUOTE_TAG_RE.finditer(html):
        if match.group(0) == "</blockquote>":
            depth -= 1
            if hiding_at == depth:
                out.append(
                    f'<blockquote class="quote-hidden" data-quote="{quoted}">'
                    f"<p>{_html_escape(note, quote=False)}</p></blockquote>"
                )
                last, hiding_at = match.end(), None
            continue
        if hiding_at is None and match.group(1) and int(match.group(1)) in hidden:
            out.append(html[last : match.start()])
            hiding_at, quoted = depth, match.group(1)
        depth += 1
    out.append(html[last:])
    return "".join(out)


def plain_text(source: str) -> str:
    """Markdown without any markup: the visible words, whitespace collapsed to single spaces."""
    parts: list[str] = []
    for token in _parse(source):
        if token.type == "inline":
            parts.append(_inline_text(token.children or []))
        elif token.type in {"code_block", "fence"}:
            parts.append(token.content)
    return " ".join(" ".join(parts).split())


def plain_blocks(source: str) -> list[str]:
    """The visible words of each block (paragraph, heading, list item, code block) on its own,
    whitespace collapsed: what plain_text joins into one line, kept apart for search snippets."""
    blocks: list[str] = []
    for token in _parse(source):
        if token.type == "inline":
            text = _inline_text(token.children or [])
        elif token.type in {"code_block", "fence"}:
            text = token.content
        else:
            continue
        text = " ".join(text.split())
        if text:
            blocks.append(text)
    return blocks


def _inline_text(children: Sequence[Token]) -> str:
    """Visible text of inline children (image alt text included)."""
    out: list[str] = []
    for child in children:
        if child.type in {"text", "text_special", "code_inline"}:
            out.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            out.append(" ")
        elif child.type == "image":
            out.append(_inline_text(child.children or []))
    return "".join(out)


def summarise(source: str, length: int = 200) -> str:
    """Plain text of at most `length` chars, cut at a word boundary and ending in `…` if cut."""
    if length < 1:
        raise ValueError("length must be at least 1")
    text = plain_text(source)
    if len(text) <= length:
        return text
    room = text[: length - 1]
    if text[length - 1] != " ":
        head, space, _ = room.rpartition(" ")
        if space and head:
            room = head
    return room.rstrip(" ,;:.-\u2013\u2014") + "…"


def reading_time(source: str, wpm: int = 230) -> int:
    """Whole minutes to read the plain text at `wpm` words per minute, rounded up, at least 1."""
    if wpm < 1:
        raise ValueError("wpm must be at least 1")
    words = len(plain_text(source).split())
    return max(1, math.ceil(words / wpm))


def slugify(title: str, max_length: int = 80) -> str:
    """Lowercase ASCII words joined by single hyphens, cut at a hyphen; "item" if empty."""
    ascii_text = unicodedata.normalize("NFKD", _scrub(title)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        if slug[max_length] != "-" and "-" in cut:
            cut = cut.rsplit("-", 1)[0]
        slug = cut.strip("-")
    return slug or "item"


def _drop_controls(value: str, keep: str = "") -> str:
    """Remove C0/C1 controls (except those in `keep`), bidi overrides and lone surrogates."""
    value = _scrub(value).translate(_BIDI_CONTROLS)

    def replace(match: re.Match[str]) -> str:
        ch = match.group()
        return ch if ch in keep else (" " if ch.isspace() else "")

    return _CONTROL_RE.sub(replace, value)


def clean_text(value: str) -> str:
    """One line of text: NFC, no control characters, whitespace runs collapsed, stripped."""
    value = _drop_controls(unicodedata.normalize("NFC", _scrub(value)))
    return " ".join(value.split())


def clean_multiline(value: str) -> str:
    """Multi-line text: NFC, \\n newlines, no controls, no trailing spaces, no outer blank lines."""
    value = unicodedata.normalize("NFC", _scrub(value))
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\u2028", "\n").replace("\u2029", "\n")
    value = _drop_controls(value, keep="\n\t")
    lines = [line.rstrip() for line in value.split("\n")]
    return "\n".join(lines).strip("\n")


def normalise_email(email: str) -> str:
    """Canonical identity: lowercased; `+tag` dropped; Gmail dots dropped, googlemail→gmail."""
    email = email.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local:
        return email
    domain = domain.rstrip(".")
    if domain in {"gmail.com", "googlemail.com"}:
        domain = "gmail.com"
        local = local.split("+", 1)[0].replace(".", "") or local
    else:
        local = local.split("+", 1)[0] or local
    return f"{local}@{domain}"
