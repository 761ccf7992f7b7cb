"""Layouts that hold on a phone, a tablet and a desktop, and text that survives 200% zoom.

Every page type is opened at 320, 768 and 1280 px wide and none may scroll sideways; the main
pages are screenshotted (full length) under the test's temporary directory (<width>px/<page>.png)
for a person to look at. At 200% zoom (a 1280 px window zoomed in:
640 CSS px at twice the pixel density) nothing scrolls sideways either, and with the browser's
text size doubled (html font-size 200%) the text really grows (relative units) and still fits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.a11y_kit import Site, context_as, fail_on_server_errors, running_site

WIDTHS = (320, 768, 1280)
# page type -> who looks at it
PAGES = {
    "home": None,
    "news-list": None,
    "article": None,
    "petition-list": None,
    "petition-open": None,
    "petition-won": None,
    "embed": None,
    "forum-index": None,
    "forum-category": "hugo",  # with the notification level control (default: normal)
    "register": None,
    "search": None,
    "thread": "hugo",
    "new-thread": "hugo",
    "settings": "hugo",
    "notifications": "hugo",
    "moderation-queue": "gelda",
    "audit-log": "gelda",
}

SCREENSHOTS = (
    "home",
    "news-list",
    "article",
    "petition-list",
    "petition-open",
    "forum-index",
    "thread",
    "register",
    "moderation-queue",
)

OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const wide = [];
  if (doc.scrollWidth > doc.clientWidth + 1) {
    for (const el of document.querySelectorAll('body *')) {
      const box = el.getBoundingClientRect();
      if (box.right > doc.clientWidth + 1 && box.width > 0 && !el.closest('.table-wrap')) {
        wide.push(el.outerHTML.slice(0, 100));
        if (wide.length >= 5) break;
      }
    }
  }
  return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, wide};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("layout")) as site:
        yield site


@pytest.fixture(autouse=True)
def _server_errors_fail(site: Site) -> Iterator[None]:
    yield from fail_on_server_errors(site)


def _visit_all(
    browser: Any, site: Site, check: Any, **context_options: Any
) -> tuple[list[str], list[str]]:
    """Open every page (as its viewer) and run check(page, name) -> problems."""
    problems: list[str] = []
    missing: list[str] = []
    contexts: dict[str | None, Any] = {}
    try:
        for name, viewer in PAGES.items():
            if name not in site.pages:
                missing.append(f"{name}: {site.skipped.get(name, 'area not ready')}")
                continue
            if viewer not in contexts:
                contexts[viewer] = context_as(browser, site, viewer, **context_options)
                contexts[viewer].new_page()
            page = contexts[viewer].pages[0]
            response = page.goto(site(site.pages[name]))
            assert response is not None and response.status == 200, (name, response)
            problems.extend(f"{name}: {p}" for p in check(page, name))
    finally:
        for context in contexts.values():
            context.close()
    return problems, missing


def _no_sideways_scroll(page: Any) -> list[str]:
    info = page.evaluate(OVERFLOW_JS)
    if info["scrollWidth"] > info["clientWidth"] + 1:
        return [
            f"scrolls sideways ({info['scrollWidth']} > {info['clientWidth']} px); "
            f"too wide: {info['wide']}"
        ]
    return []


# Each visible select whose chosen option's text is wider than the room inside it (its box less
# its padding and the ~20 px of the native arrow): a phone shows it cut off.
CLIPPED_SELECTS_JS = """() => {
  const canvas = document.createElement('canvas').getContext('2d');
  const clipped = [];
  for (const select of document.querySelectorAll('select')) {
    if (!select.offsetParent || select.selectedIndex < 0) continue;
    const style = getComputedStyle(select);
    canvas.font = style.font;
    const text = select.options[select.selectedIndex].text;
    const room = select.clientWidth - parseFloat(style.paddingLeft)
      - parseFloat(style.paddingRight) - 20;
    if (canvas.measureText(text).width > room) clipped.push(`${select.id || select.name}: ${text}`);
  }
  return clipped;
}"""


def _selects_show_their_choice(page: Any) -> list[str]:
    return [f"select cuts its choice off ({item})" for item in page.evaluate(CLIPPED_SELECTS_JS)]


@pytest.mark.parametrize("width", WIDTHS)
def test_pages_fit_the_width_and_are_screenshotted(site, browser, tmp_path: Path, width):
    shots = tmp_path / f"{width}px"
    shots.mkdir()

    def check(page: Any, name: str) -> list[str]:
        if name in SCREENSHOTS:
            path = shots / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 0
        return _no_sideways_scroll(page) + _selects_show_their_choice(page)

    problems, missing = _visit_all(browser, site, check, viewport={"width": width, "height": 800})
    assert not problems, f"at {width}px:\n" + "\n".join(problems)
    taken = {p.stem for p in shots.glob("*.png")}
    assert taken == {n for n in SCREENSHOTS if n in site.pages}, taken
    if missing:
        pytest.skip("page types not checked: " + "; ".join(missing))


def test_pages_reflow_at_200_percent_zoom(site, browser):
    problems, missing = _visit_all(
        browser,
        site,
        lambda page, name: _no_sideways_scroll(page),
        viewport={"width": 640, "height": 450},
        device_scale_factor=2,
    )
    assert not problems, "at 200% zoom:\n" + "\n".join(problems)
    if missing:
        pytest.skip("page types not checked: " + "; ".join(missing))


TEXT_SIZE_JS = """() => {
  const p = document.querySelector('main p, main li, main label') || document.body;
  const before = parseFloat(getComputedStyle(p).fontSize);
  document.documentElement.style.fontSize = '200%';
  const after = parseFloat(getComputedStyle(p).fontSize);
  return {before, after};
}"""


def test_text_doubles_with_the_browser_text_size_and_still_fits(site, browser):
    def check(page: Any, name: str) -> list[str]:
        sizes = page.evaluate(TEXT_SIZE_JS)
        found = []
        if sizes["after"] < 1.8 * sizes["before"]:
            found.append(f"text does not grow with the browser's text size: {sizes}")
        return found + _no_sideways_scroll(page)

    problems, missing = _visit_all(browser, site, check, viewport={"width": 1280, "height": 800})
    assert not problems, "with text at 200%:\n" + "\n".join(problems)
    if missing:
        pytest.skip("page types not checked: " + "; ".join(missing))


NOTIFICATION_BOXES_JS = """() => {
  const main = document.querySelector('main').getBoundingClientRect();
  return [...document.querySelectorAll('.notification')].map((li) => {
    const text = li.querySelector('.notification__text').getBoundingClientRect();
    const time = li.querySelector('.notification__time').getBoundingClientRect();
    const overlap = !(time.bottom <= text.top || time.top >= text.bottom ||
                      time.right <= text.left || time.left >= text.right);
    return {text: text.width, content: main.width, overlap};
  });
}"""


@pytest.mark.parametrize("width", (375, 1280))
def test_each_notification_reads_across_the_page(site, browser, width):
    """The text of a notification takes at least half the content width, and its time sits
    beside it, never over it (it was once a ~50 px button overlapped by the timestamp)."""
    if "notifications" not in site.pages:
        pytest.skip(site.skipped.get("notifications", "area not ready"))
    context = context_as(browser, site, "hugo", viewport={"width": width, "height": 740})
    try:
        page = context.new_page()
        page.goto(site(site.pages["notifications"]))
        boxes = page.evaluate(NOTIFICATION_BOXES_JS)
    finally:
        context.close()
    assert boxes, "the notifications page lists nothing"
    for box in boxes:
        assert box["text"] >= box["content"] / 2, box
        assert not box["overlap"], box


@pytest.mark.parametrize("javascript", (True, False))
def test_the_header_folds_into_a_menu_on_phones(site, browser, javascript):
    """At 375 px the header keeps the name and the account links and folds the sections and
    the search under "Menu" (it took ~240 of 740 px); the menu opens without JS; at 1280 px
    everything is in view with no toggle."""
    for width, viewer in ((375, None), (375, "hugo"), (1280, None)):
        context = context_as(
            browser,
            site,
            viewer,
            viewport={"width": width, "height": 740},
            java_script_enabled=javascript,
        )
        try:
            page = context.new_page()
            page.goto(site("/"))
            header = page.locator(".site-header").bounding_box()
            search = page.locator("#site-search-q")
            toggle = page.locator(".site-menu__toggle")
            if width == 1280:
                assert not toggle.is_visible()
                assert search.is_visible()
                continue
            assert header is not None and header["height"] <= 160, (viewer, header)
            assert not search.is_visible()
            toggle.click()
            assert search.is_visible()
            assert page.get_by_role("link", name="Petitions").first.is_visible()
        finally:
            context.close()
