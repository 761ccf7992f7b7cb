"""Keyboard only: the main flows with Tab, Shift+Tab, Enter and Space (and typing into fields).

Each control is reached by tabbing until it has focus (a bounded number of presses); every
element that takes focus on the way must show a visible focus indicator (an outline or a box
shadow on :focus-visible). The first Tab reaches a "skip to main content" link, and tabbing
through a whole page leaves it again: no keyboard trap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.a11y_kit import Site, fail_on_server_errors, log_in, new_context, running_site
from tests.factories import PASSWORD

MAX_PRESSES = 120

FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const html = el.outerHTML.replace(/ data-kb="\\d+"/, '').slice(0, 140);
  if (!el.dataset.kb) { window.__kb = (window.__kb || 0) + 1; el.dataset.kb = String(window.__kb); }
  const cs = getComputedStyle(el);
  const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
  const shadow = !!cs.boxShadow && cs.boxShadow !== 'none';
  const box = el.getBoundingClientRect();
  return {
    key: el.dataset.kb,
    tag: el.tagName.toLowerCase(),
    id: el.id,
    name: el.getAttribute('name') || '',
    text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 60),
    html,
    skip: el.matches('a.skip-link'),
    indicator: outline || shadow,
    programmatic: el.getAttribute('tabindex') === '-1',
    size: box.width * box.height,
  };
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("keyboard")) as site:
        yield site


@pytest.fixture(autouse=True)
def _server_errors_fail(site: Site) -> Iterator[None]:
    yield from fail_on_server_errors(site)


@pytest.fixture
def kb_context(browser: Any) -> Iterator[Any]:
    context = new_context(browser)
    try:
        yield context
    finally:
        context.close()


class Keyboard:
    """Tabs through a page, remembering every focus stop and any that shows no focus."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []

    def focused(self) -> dict[str, Any] | None:
        info = self.page.evaluate(FOCUS_JS)
        if info and not info["programmatic"]:
            if not info["indicator"]:
                self.problems.append(f"{self.page.url}: no visible focus on {info['html']}")
            if info["size"] < 1:
                self.problems.append(f"{self.page.url}: focus on an invisible {info['html']}")
        return info

    def tab_to(self, selector: str, text: str | None = None, *, back: bool = False) -> None:
        """Press Tab (or Shift+Tab) until the focused element matches; fail after MAX_PRESSES."""
        key = "Shift+Tab" if back else "Tab"
        seen = []
        for _ in range(MAX_PRESSES):
            self.page.keyboard.press(key)
            info = self.focused()
            if info is None:
                continue
            seen.append(info["html"][:60])
            matches = self.page.evaluate("(s) => document.activeElement.matches(s)", selector)
            if matches and (text is None or text.lower() in info["text"].lower()):
                return
        raise AssertionError(
            f"{MAX_PRESSES} presses of {key} never reached {selector} {text or ''} on "
            f"{self.page.url}; focus went through:\n" + "\n".join(seen[-30:])
        )

    def type_into(self, selector: str, value: str, text: str | None = None) -> None:
        self.tab_to(selector, text)
        self.page.keyboard.type(value)

    def press(self, key: str) -> None:
        assert key in ("Enter", "Space", "Tab", "Shift+Tab"), key
        self.page.keyboard.press(key)

    def submit(self, text: str, selector: str = "button") -> None:
        """Tab to a button and press Enter; wait for the page it leads to."""
        self.tab_to(selector, text)
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")

    def assert_focus_was_visible(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def test_focus_check_catches_an_invisible_focus(kb_context):
    """The checker is not vacuous: a page that removes the focus ring is reported."""
    page = kb_context.new_page()
    page.set_content(
        "<style>a:focus { outline: none; box-shadow: none; }"
        " button:focus-visible { outline: 3px solid #fd0; }</style>"
        '<a href="#one">One</a> <button>Two</button>'
    )
    kb = Keyboard(page)
    kb.tab_to("a")
    kb.tab_to("button")
    assert len(kb.problems) == 1 and "One" in kb.problems[0], kb.problems


def test_skip_link_is_first_and_moves_focus_to_main(site, kb_context):
    page = kb_context.new_page()
    page.goto(site("/"))
    kb = Keyboard(page)
    kb.press("Tab")
    info = kb.focused()
    assert info and info["skip"], f"the first Tab reached {info}"
    assert info["text"] == "Skip to main content"
    box = page.locator("a.skip-link").bounding_box()
    assert box and box["y"] >= 0 and box["width"] > 20 and box["height"] > 10  # shown on focus
    kb.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.url.endswith("#main")
    # The next Tab continues inside the main content, not back in the header.
    kb.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')")
    kb.assert_focus_was_visible()


TRAVERSE = [
    ("visitor", "home"),
    ("visitor", "petition-open"),
    ("visitor", "register"),
    ("member", "thread"),
    ("moderator", "moderation-queue"),
]
ACCOUNTS = {"visitor": None, "member": "hugo", "moderator": "gelda"}


@pytest.mark.parametrize(("role", "name"), TRAVERSE, ids=[f"{r}-{n}" for r, n in TRAVERSE])
def test_tabbing_through_the_page_shows_focus_and_has_no_trap(site, kb_context, role, name):
    if name not in site.pages:
        pytest.skip(site.skipped.get(name, f"no {name} page (its area is not ready)"))
    page = kb_context.new_page()
    if ACCOUNTS[role]:
        log_in(page, site, ACCOUNTS[role])
    page.goto(site(site.pages[name]))
    bound = page.evaluate(
        "document.querySelectorAll('a[href], button, input, select, textarea, summary, "
        "[tabindex]').length"
    )
    kb = Keyboard(page)
    order: list[dict[str, Any]] = []
    for _ in range(bound + 5):
        kb.press("Tab")
        info = kb.focused()
        if info is None:
            continue  # focus left the document for the browser's own UI
        if info["skip"] and order:
            break  # round the page and back to the start: no trap
        assert all(o["key"] != info["key"] for o in order), (
            f"{info['html']} took focus twice before the end of the page: a keyboard trap?"
        )
        order.append(info)
    else:
        raise AssertionError(f"focus never came back round after {bound + 5} presses: a trap?")
    assert len(order) > 5
    assert order[0]["skip"]
    assert any(o["tag"] == "a" for o in order) and any(o["tag"] == "button" for o in order)
    # Shift+Tab walks back the same way.
    page.goto(site(site.pages[name]))
    for _ in range(4):
        kb.press("Tab")
    kb.press("Shift+Tab")
    back = kb.focused()
    assert back and back["html"] == order[2]["html"], (back, order[2])
    kb.assert_focus_was_visible()


def test_register_by_keyboard(site, kb_context):
    page = kb_context.new_page()
    page.goto(site("/register"))
    kb = Keyboard(page)
    kb.type_into("input#username", "keyboard_fan")
    kb.type_into("input#email", "keyboard.fan@example.com")
    kb.type_into("input#password", PASSWORD)
    kb.type_into("input#confirm", PASSWORD)
    kb.submit("Create account")
    assert "Check your inbox" in page.content()
    kb.assert_focus_was_visible()


def test_guest_signs_a_petition_by_keyboard(site, kb_context):
    if "petition-flow-1" not in site.pages:
        pytest.skip(site.skipped.get("petition-flow-1", "petitions area not ready"))
    page = kb_context.new_page()
    page.goto(site(site.pages["petition-flow-1"]))
    kb = Keyboard(page)
    kb.type_into("input#name", "Keyboard Guest")
    kb.type_into("input#email", "keyboard.guest@example.com")
    kb.tab_to("input#consent")
    kb.press("Space")
    assert page.locator("input#consent").is_checked()
    kb.submit("Sign the petition")
    assert "/signed" in page.url
    assert re.search(r"inbox", page.content(), re.I)
    kb.assert_focus_was_visible()


def test_member_signs_a_petition_by_keyboard(site, kb_context):
    if "petition-flow-2" not in site.pages:
        pytest.skip(site.skipped.get("petition-flow-2", "petitions area not ready"))
    page = kb_context.new_page()
    log_in(page, site, "chiren")
    page.goto(site(site.pages["petition-flow-2"]))
    kb = Keyboard(page)
    kb.submit("Sign the petition")
    assert "Thank you for signing" in page.content()
    assert page.get_by_text("You signed this petition").count() == 1
    kb.assert_focus_was_visible()


def test_reply_report_and_hide_by_keyboard(site, browser, kb_context):
    if "flow-thread" not in site.pages:
        pytest.skip(site.skipped.get("flow-thread", "forum area not ready"))
    from fancampaign.extensions import db
    from fancampaign.forum.models import Post

    thread_url = site(site.pages["flow-thread"])
    page = kb_context.new_page()
    log_in(page, site, "hugo")
    page.goto(thread_url)
    kb = Keyboard(page)

    # Reply.
    kb.type_into("textarea#body", "Typed with the keyboard alone: lovely sketch!")
    kb.submit("Post reply")
    assert "Typed with the keyboard alone" in page.content()

    # Report chiren's post: open the disclosure, choose a reason, send.
    db.session.rollback()
    post = db.session.scalar(
        sa.select(Post).where(Post.body.contains("Berserker body")).order_by(Post.id)
    )
    assert post is not None
    page.goto(thread_url)
    kb.tab_to(f"#post-{post.id} summary")
    kb.press("Enter")
    kb.tab_to(f"input#report-post-{post.id}-spam")
    kb.press("Space")
    assert page.locator(f"#report-post-{post.id}-spam").is_checked()
    kb.submit("Send report", selector=f"#post-{post.id} button")
    assert "your report was sent" in page.content()
    kb.assert_focus_was_visible()

    # A moderator hides it from the review queue.
    moderator = new_context(browser)
    try:
        mod_page = moderator.new_page()
        log_in(mod_page, site, "gelda")
        mod_page.goto(site("/moderation"))
        mod = Keyboard(mod_page)
        mod.type_into(f"textarea#decide-post-{post.id}-reason", "Spam: selling things.")
        mod.submit("Hide", selector=f"#post-{post.id} button")
        assert mod_page.locator(".flash--success").count() == 1
        mod.assert_focus_was_visible()
    finally:
        moderator.close()
    db.session.rollback()
    hidden = db.session.get(Post, post.id)
    assert hidden is not None and hidden.is_hidden
