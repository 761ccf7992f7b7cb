"""Specification tests for fancampaign.text: safe Markdown, mentions and text helpers."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fancampaign.text import (
    clean_multiline,
    clean_text,
    extract_mentions,
    hide_quotes,
    normalise_email,
    plain_text,
    quote_markdown,
    quoted_post_ids,
    reading_time,
    render_markdown,
    slugify,
    summarise,
)

# --------------------------------------------------------------------------------------
# Safety oracle
# --------------------------------------------------------------------------------------

FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "style",
    "link",
    "meta",
    "base",
    "form",
    "input",
    "button",
    "frame",
    "frameset",
    "applet",
    "template",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "background"}
BAD_SCHEMES = ("javascript:", "data:", "vbscript:")
_STRIP_URL_NOISE = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u2000-\u200f\u2028\u2029\ufeff]+")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def parse_elements(fragment: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    collector = _Collector()
    collector.feed(fragment)
    collector.close()
    return collector.elements


def url_scheme_is_dangerous(value: str) -> bool:
    # Unescape repeatedly (double-encoded entities), then drop whitespace/control chars the
    # way browsers do before reading the scheme.
    previous = None
    while previous != value:
        previous, value = value, html.unescape(value)
    squeezed = _STRIP_URL_NOISE.sub("", value).lower()
    return squeezed.startswith(BAD_SCHEMES)


def safety_problems(fragment: str) -> list[str]:
    problems = []
    for tag, attrs in parse_elements(fragment):
        if tag in FORBIDDEN_TAGS:
            problems.append(f"forbidden tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                problems.append(f"event handler {name} on <{tag}>")
            if name == "style":
                problems.append(f"style attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value and url_scheme_is_dangerous(value):
                problems.append(f"dangerous {name}={value!r} on <{tag}>")
    return problems


def assert_safe(fragment: str) -> None:
    assert safety_problems(fragment) == [], fragment


def attrs_of(fragment: str, tag: str) -> list[dict[str, str | None]]:
    return [dict(attrs) for name, attrs in parse_elements(fragment) if name == tag]


def test_oracle_flags_known_bad_html() -> None:
    assert safety_problems('<a href="jav&#x09;ascript:alert(1)">x</a>')
    assert safety_problems('<img src="x" onerror="alert(1)">')
    assert safety_problems("<svg><script>alert(1)</script></svg>")
    assert safety_problems('<p style="x:expression(alert(1))">x</p>')
    assert safety_problems('<a href="&amp;#106;avascript:alert(1)">x</a>')
    assert not safety_problems('<a href="https://example.org">x</a>')


# --------------------------------------------------------------------------------------
# XSS corpus (after OWASP's XSS filter evasion cheat sheet)
# --------------------------------------------------------------------------------------

XSS_VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    '<script src="https://evil.example/x.js"></script>',
    "<<script>alert(1);//<</script>",
    "<script\n>alert(1)</script\n>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=javascript:alert('XSS')>",
    '<img src="jav\tascript:alert(1)">',
    "<img src=`javascript:alert(1)`>",
    "<img src=# onmouseover=\"alert('xxs')\">",
    '<img """><script>alert("XSS")</script>">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1)  )",
    "[click](<javascript:alert(1)>)",
    "[click](javascript&colon;alert(1))",
    "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[click](&#x6A;avascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](jav&#x09;ascript:alert(1))",
    "[click](jav&#x0A;ascript:alert(1))",
    "[click](%6A%61%76%61%73%63%72%69%70%74:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](DATA:text/html,<script>alert(1)</script>)",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "[click][evil]\n\n[evil]: javascript:alert(1)",
    '[click][evil]\n\n[evil]: <javascript:alert(1)> "title"',
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![img](x" onerror="alert(1))',
    '[x](https://ok.example/" onmouseover="alert(1))',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>">',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="width: expression(alert(1));">x</div>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<body onload=alert("XSS")>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "<b onmouseover=alert(1)>x</b",
    '<img src="x" onerror="alert(1)"',
    '<IMG SRC="jav&#x0D;ascript:alert(1);">',
    "<meta http-equiv=refresh content=0;url=javascript:alert(1)>",
    '<link rel=stylesheet href="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<!--<script>alert(1)</script>-->",
    "```html\n<script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
    "    <script>alert(1)</script>",
    "**<script>**alert(1)**</script>**",
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    "![<svg onload=alert(1)>](https://ok.example/a.png)",
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105'
    '&#0000112&#0000116&#0000058alert(1)">x</a>',
    "\x00<script>alert(1)</script>",
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "| a |\n|---|\n| <script>alert(1)</script> |",
    "> <iframe src=javascript:alert(1)>",
    "@alice <script>alert(1)</script>",
]


def test_corpus_has_at_least_35_vectors() -> None:
    assert len(XSS_VECTORS) >= 35


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_xss_vector_renders_safely(vector: str) -> None:
    assert_safe(render_markdown(vector, mentions=["alice"]))


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_xss_vector_renders_safely_inside_markdown_context(vector: str) -> None:
    source = f"# Heading\n\n> quote {vector}\n\n- item {vector}\n\n*{vector}*"
    assert_safe(render_markdown(source, mentions=["alice"]))


def test_script_tags_never_survive() -> None:
    out = render_markdown("<script>alert(1)</script>")
    assert "<script" not in out.lower()
    assert "&lt;script&gt;" in out


def test_raw_html_is_shown_as_text_not_markup() -> None:
    out = render_markdown("<b>bold</b>")
    assert "<b>" not in out
    assert "&lt;b&gt;bold&lt;/b&gt;" in out


def test_style_id_and_class_never_come_from_users() -> None:
    out = render_markdown("| a |\n|:-:|\n| b |\n\n```python\nx = 1\n```\n\n# Head {#id}")
    for _tag, attrs in parse_elements(out):
        names = {name for name, _ in attrs}
        assert not names & {"style", "id", "class"}


# --------------------------------------------------------------------------------------
# Links and images
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "[x](https://example.org)",
        "[x](http://example.org)",
        "<https://example.org>",
        "https://example.org",
        "www.example.org",
        "[x](mailto:someone@example.org)",
        "someone@example.org",
        "[x](/campaigns/1)",
    ],
)
def test_every_link_gets_nofollow_ugc_noopener(source: str) -> None:
    links = attrs_of(render_markdown(source), "a")
    assert len(links) == 1
    assert set((links[0]["rel"] or "").split()) == {"nofollow", "ugc", "noopener"}
    assert links[0].get("href")


@pytest.mark.parametrize(
    "source",
    ["[x](//evil.example/path)", "[x](ftp://example.org)", "[x](relative/path)", "[x](#top)"],
)
def test_links_other_than_http_https_mailto_or_rooted_paths_lose_their_href(source: str) -> None:
    for link in attrs_of(render_markdown(source), "a"):
        assert "href" not in link


def test_markdown_tables_strikethrough_and_linkify_are_enabled() -> None:
    out = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ see example.org")
    tags = [tag for tag, _ in parse_elements(out)]
    assert {"table", "thead", "tbody", "tr", "th", "td", "s", "a"} <= set(tags)


def test_user_content_loads_no_third_party_image() -> None:
    out = render_markdown("![cat](https://img.example/cat.png) and ![](https://img.example/x)")
    assert attrs_of(out, "img") == []
    links = attrs_of(out, "a")
    assert [link["href"] for link in links] == [
        "https://img.example/cat.png",
        "https://img.example/x",
    ]
    assert "Image: cat" in out and "Image on img.example" in out
    # An external image inside a link leaves the link and its alt text, no nested link.
    linked = render_markdown("[![cover](https://img.example/c.png)](https://example.org)")
    assert [a["href"] for a in attrs_of(linked, "a")] == ["https://example.org"]
    assert "cover" in linked and "img" not in linked


def test_uploaded_images_are_allowed() -> None:
    images = attrs_of(render_markdown("![poster](/uploads/ab/cd.webp)"), "img")
    assert [image["src"] for image in images] == ["/uploads/ab/cd.webp"]
    assert images[0]["loading"] == "lazy"


@pytest.mark.parametrize(
    "src",
    [
        "http://img.example/cat.png",
        "//img.example/cat.png",
        "/static/cat.png",
        "/uploads/../secret",
        "/uploads/%2e%2e/secret",
        "data:image/png;base64,iVBORw0KGgo=",
        "cat.png",
    ],
)
def test_non_https_non_upload_images_are_replaced_by_alt_text(src: str) -> None:
    out = render_markdown(f"![a cat]({src})")
    assert attrs_of(out, "img") == []
    assert "a cat" in out


# --------------------------------------------------------------------------------------
# Headings
# --------------------------------------------------------------------------------------


def test_h1_is_downgraded_to_h2() -> None:
    out = render_markdown("# Big\n\nBig too\n=======\n\n## Small")
    tags = [tag for tag, _ in parse_elements(out)]
    assert "h1" not in tags
    assert tags.count("h2") == 3


# --------------------------------------------------------------------------------------
# Mentions
# --------------------------------------------------------------------------------------


def test_mentions_of_known_users_become_links_keeping_original_text() -> None:
    out = render_markdown("thanks @Alice!", mentions=["alice"])
    assert '<a href="/u/alice" class="mention" rel="nofollow ugc noopener">@Alice</a>' in out


def test_mentions_of_unknown_users_stay_plain_text() -> None:
    out = render_markdown("thanks @mallory", mentions=["alice"])
    assert attrs_of(out, "a") == []
    assert "@mallory" in out


@pytest.mark.parametrize(
    "source",
    [
        "`@alice`",
        "```\n@alice\n```",
        "    @alice",
        "[@alice](https://example.org)",
        "mail alice@alice.example",
        "bob@alice",
        "first.last@alice",
        "\\@alice",
        "@al",
        "@alice_has_a_name_longer_than_thirty",
    ],
)
def test_mentions_are_not_linked_in_code_links_emails_or_when_malformed(source: str) -> None:
    out = render_markdown(source, mentions=["alice", "al", "alice_has_a_name_longer_than_thirty"])
    assert 'class="mention"' not in out


def test_mentions_inside_emphasis_and_lists_are_linked() -> None:
    out = render_markdown("- **@alice** and _@Bob_", mentions=["alice", "bob"])
    assert [link["href"] for link in attrs_of(out, "a")] == ["/u/alice", "/u/bob"]


def test_extract_mentions_lowercases_and_skips_code_and_emails() -> None:
    source = "Hi @Alice, @bob and @BOB. `@carol` dave@example.org erin@frank\n\n```\n@gina\n```"
    assert extract_mentions(source) == {"alice", "bob"}


def test_extract_mentions_is_capped_at_20() -> None:
    source = " ".join(f"@user{i:02d}" for i in range(50))
    found = extract_mentions(source)
    assert found == {f"user{i:02d}" for i in range(20)}


# --------------------------------------------------------------------------------------
# Robustness
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "\x00",
        "a\x00b\x00<script>\x00",
        "\ud800 lone surrogate \udfff",
        "\udbff\udfff",
        "\u202e\u200f\u200d\ufeff right-to-left",
        "Z̸̢̛̪̫͚͈̝͉̿̈́̊̈a̶l̷g̴o̸",
        "\U0001f600 \U0001f1fa\U0001f1f8 \U0001f469\u200d\U0001f4bb",
        "\r\n\r\r\n\x0b\x0c\x1b[31m",
        "\uffff\ufffe\U0010ffff",
    ],
)
def test_odd_input_does_not_raise_and_is_safe(source: str) -> None:
    assert_safe(render_markdown(source, mentions=["alice"]))
    plain_text(source)
    extract_mentions(source)
    summarise(source)
    slugify(source)
    clean_text(source)
    clean_multiline(source)


def test_nul_bytes_are_removed() -> None:
    assert "\x00" not in render_markdown("a\x00b")
    assert "ab" in render_markdown("a\x00b")


def test_one_megabyte_input_does_not_raise() -> None:
    source = ("Some **text** with [a link](https://example.org) and @alice.\n\n" * 20_000)[
        :1_000_000
    ]
    out = render_markdown(source, mentions=["alice"])
    assert out.startswith("<p>")
    assert reading_time(source) > 1


_MARKDOWNISH = st.sampled_from(
    [
        "<",
        ">",
        "[",
        "]",
        "(",
        ")",
        "!",
        "`",
        "*",
        "_",
        "~",
        "|",
        "#",
        "\n",
        " ",
        "\t",
        "&",
        ";",
        "#x",
        ":",
        "/",
        "@alice",
        "javascript",
        "data",
        "script",
        "img",
        "onerror=",
        "href=",
        "https://a.example",
        "&#106;",
        "&colon;",
        '"',
        "'",
        "\x00",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.text(), st.lists(_MARKDOWNISH, max_size=60).map("".join)))
def test_render_never_raises_and_is_always_safe(source: str) -> None:
    assert_safe(render_markdown(source, mentions=["alice"]))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_text_helpers_never_raise(source: str) -> None:
    assert "\n" not in clean_text(source)
    assert slugify(source)
    assert reading_time(source) >= 1
    assert len(summarise(source, 50)) <= 50


# --------------------------------------------------------------------------------------
# Quoting, plain text, summaries, reading time
# --------------------------------------------------------------------------------------


def test_quote_markdown_is_an_attributed_blockquote_followed_by_a_blank_line() -> None:
    quoted = quote_markdown("alice", "Hello\r\n\r\nWorld  ")
    assert quoted == "> @alice wrote:\n>\n> Hello\n>\n> World\n\n"


def test_quote_markdown_quotes_the_posts_own_words_not_its_quotes() -> None:
    quoted = quote_markdown("bob", "> @amy wrote:\n>\n> earlier\n\nreply\n\n> more\n\nend")
    assert quoted == "> @bob wrote:\n>\n> reply\n>\n> end\n\n"
    out = render_markdown(quoted, mentions=["bob"])
    assert out.count("<blockquote>") == 1 and "earlier" not in out


def test_quote_markdown_names_its_source_post_and_the_rendered_quote_carries_it() -> None:
    quoted = quote_markdown("bob", "Hello", 42)
    assert quoted == "> @bob [wrote](/forum/p/42):\n>\n> Hello\n\n"
    out = render_markdown(quoted + "Me too.", mentions=["bob"])
    assert '<blockquote data-quote="42">' in out
    assert '<a href="/forum/p/42" rel="nofollow ugc noopener">wrote</a>' in out
    # Nobody forges the attribute: raw HTML is text, and only digits pass the sanitiser.
    forged = render_markdown(
        '<blockquote data-quote="7">x</blockquote>\n\n'
        '![<blockquote data-quote="7">](/uploads/a.png)'
    )
    assert "<blockquote" not in forged and quoted_post_ids(forged) == set()
    assert quoted_post_ids(out) == {42}


def test_hide_quotes_replaces_the_outermost_hidden_quote_only() -> None:
    inner = quote_markdown("amy", "Secret words", 7)
    outer_source = "> @bob [wrote](/forum/p/8):\n>\n> Public words\n>\n" + "".join(
        f"> {line}\n" if line else ">\n" for line in inner.rstrip("\n").split("\n")
    )
    html = render_markdown(outer_source + "\nMine.")
    assert quoted_post_ids(html) == {7, 8}
    only_inner = hide_quotes(html, {7})
    assert "Secret words" not in only_inner and "Public words" in only_inner
    assert only_inner.count("Quoted post is hidden.") == 1
    both = hide_quotes(html, {8, 7})
    assert "Public words" not in both and both.count("Quoted post is hidden.") == 1
    assert both.endswith("<p>Mine.</p>\n")
    assert hide_quotes(html, set()) == html


def test_plain_text_has_no_markup_and_collapsed_whitespace() -> None:
    source = "# Title\n\n**Bold**   and _em_\n\n- [link](https://x.example)\n\n```\ncode\n```"
    assert plain_text(source) == "Title Bold and em link code"


def test_plain_text_keeps_escaped_html_as_text() -> None:
    assert plain_text("a <b>c</b>") == "a <b>c</b>"


def test_summarise_returns_short_text_unchanged() -> None:
    assert summarise("Just **a** few words.") == "Just a few words."


def test_summarise_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    out = summarise("alpha beta gamma delta epsilon", 14)
    assert out == "alpha beta…"
    assert len(out) <= 14


def test_summarise_hard_cuts_a_single_long_word() -> None:
    assert summarise("x" * 50, 10) == "x" * 9 + "…"


def test_reading_time_is_at_least_one_minute() -> None:
    assert reading_time("") == 1
    assert reading_time("one word") == 1


def test_reading_time_rounds_up_whole_minutes_of_plain_text_words() -> None:
    assert reading_time("word " * 230) == 1
    assert reading_time("word " * 231) == 2
    assert reading_time("**word** " * 460, wpm=230) == 2
    assert reading_time("word " * 100, wpm=50) == 2


# --------------------------------------------------------------------------------------
# Slugs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("  Save   the  Whales  ", "save-the-whales"),
        ("Crème brûlée à l'œuvre", "creme-brulee-a-l-uvre"),
        ("ﬁne ① Ⅸ", "fine-1-ix"),
        ("--already--slugged--", "already-slugged"),
        ("Σωκράτης", "item"),
        ("日本語", "item"),
        ("", "item"),
        ("!!!", "item"),
    ],
)
def test_slugify_makes_lowercase_ascii_hyphenated_slugs(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_slugify_cuts_at_a_hyphen_boundary() -> None:
    assert slugify("alpha beta gamma", max_length=12) == "alpha-beta"
    assert slugify("alpha beta gamma", max_length=10) == "alpha-beta"
    assert slugify("alphabetagamma", max_length=5) == "alpha"


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=100))
def test_slugify_is_always_a_short_nonempty_ascii_slug(title: str, max_length: int) -> None:
    slug = slugify(title, max_length=max_length)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug)
    assert slug == "item" or len(slug) <= max_length


# --------------------------------------------------------------------------------------
# Cleaning user input
# --------------------------------------------------------------------------------------


def test_clean_text_normalises_strips_controls_and_collapses_whitespace() -> None:
    assert clean_text("  Cafe\u0301\x00 \t\n  au\x07 lait\r\n ") == "Café au lait"


def test_clean_text_removes_bidi_overrides() -> None:
    assert clean_text("abc\u202edef") == "abcdef"


def test_clean_multiline_keeps_newlines_and_indentation_but_trims() -> None:
    value = "\r\n  \r\n    code\x00  \r\nline two\t \rline three\n\n\n"
    assert clean_multiline(value) == "    code\nline two\nline three"


# --------------------------------------------------------------------------------------
# Email identity
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("  Alice@Example.ORG ", "alice@example.org"),
        ("alice+campaign@example.org", "alice@example.org"),
        ("a.l.i.c.e@example.org", "a.l.i.c.e@example.org"),
        ("A.Lice+news@gmail.com", "alice@gmail.com"),
        ("a.lice+x+y@googlemail.com", "alice@gmail.com"),
        ("alice@GoogleMail.com", "alice@gmail.com"),
    ],
)
def test_normalise_email_gives_one_identity_per_person(email: str, canonical: str) -> None:
    assert normalise_email(email) == canonical
