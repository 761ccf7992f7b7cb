"""Automated accessibility checks (WCAG 2.2 AA) on every page type, in both colour schemes.

axe-core (bundled in the axe-playwright-python wheel, injected into the page: nothing is fetched)
runs on each page type as a visitor, a member and a moderator, light and dark; any serious or
critical violation fails the test with a readable list. The same pages are checked for
structure: lang on <html>, one h1, the landmarks, a title that says where you are, a skip link.
One live server and one data set serve the whole module; one browser context per role and
colour scheme is logged in once and reused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.a11y_kit import Site, context_as, fail_on_server_errors, new_context, running_site

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = ("serious", "critical")

# role -> (account to log in as, or None; page types it visits)
ROLES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "visitor": (
        None,
        (
            "home",
            "news-list",
            "article",
            "petition-list",
            "petition-open",
            "petition-closed",
            "petition-won",
            "sign-confirm",
            "check-inbox",
            "embed",
            "forum-index",
            "forum-category",
            "thread",
            "register",
            "login",
            "search",
            "error-404",
        ),
    ),
    "member": (
        "hugo",
        (
            "home",
            "article",
            "petition-open",
            "petition-flow-4",
            "forum-category",
            "thread",
            "new-thread",
            "settings",
            "notification-settings",
            "notifications",
            "search",
            "profile",
            "error-403",
        ),
    ),
    "organiser": ("ido", ("petition-sources",)),
    "moderator": (
        "gelda",
        ("moderation-queue", "audit-log", "moderation-users", "thread", "petition-open"),
    ),
}
THEMES = ("light", "dark")
STATUS = {"error-404": 404, "error-403": 403}
EXTRA_PAGES = {
    "error-403": "/moderation",
    "moderation-users": "/moderation/users",
    "profile": "/u/koyomi",
}


def _cases() -> list[Any]:
    return [
        pytest.param(role, theme, name, id=f"{role}-{theme}-{name}")
        for role, (_user, names) in ROLES.items()
        for theme in THEMES
        for name in names
    ]


def _structure_cases() -> list[Any]:
    return [
        pytest.param(role, name, id=f"{role}-{name}")
        for role, (_user, names) in ROLES.items()
        for name in names
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("a11y")) as site:
        site.pages.update(EXTRA_PAGES)
        yield site


@pytest.fixture(autouse=True)
def _server_errors_fail(site: Site) -> Iterator[None]:
    yield from fail_on_server_errors(site)


@pytest.fixture(scope="module")
def tab(browser: Any, site: Site) -> Iterator[Callable[[str, str], Any]]:
    """tab(role, theme): a page in a context logged in as the role, in that colour scheme."""
    contexts: dict[tuple[str, str], Any] = {}
    pages: dict[tuple[str, str], Any] = {}

    def _tab(role: str, theme: str) -> Any:
        key = (role, theme)
        if key not in pages:
            context = context_as(browser, site, ROLES[role][0], color_scheme=theme)
            contexts[key], pages[key] = context, context.new_page()
        return pages[key]

    yield _tab
    for context in contexts.values():
        context.close()


def _path(site: Site, name: str) -> str:
    if name in site.skipped:
        pytest.skip(site.skipped[name])
    if name not in site.pages:
        pytest.skip(f"no {name} page in the data set (its area is not ready)")
    return site.pages[name]


def _open(page: Any, site: Site, name: str) -> None:
    response = page.goto(site(_path(site, name)))
    assert response is not None
    expected = STATUS.get(name, 200)
    assert response.status == expected, f"{name}: HTTP {response.status}, expected {expected}"


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
    )
    return [v for v in results.response["violations"] if v.get("impact") in FAILING_IMPACTS]


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    """A readable list: rule, impact, what it means, each offending element and why."""
    lines = [f"{len(violations)} serious/critical axe violation(s) on {where}:"]
    for v in violations:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:10]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"    at {target}")
            lines.append(f"       {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n       ")
            if summary:
                lines.append(f"       {summary}")
        if len(v["nodes"]) > 10:
            lines.append(f"    … and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


def test_axe_runs_from_the_bundled_engine_and_catches_violations(browser):
    """The checker is not vacuous: a page with known faults fails, with no network at all."""
    context = new_context(browser, offline=True)
    try:
        page = context.new_page()
        page.set_content(
            '<html><body><main><img src="x.png"><a href="#"></a>'
            '<p style="color:#777;background:#888">low contrast</p></main></body></html>'
        )
        found = {v["id"] for v in run_axe(page)}
        assert {"image-alt", "link-name", "color-contrast"} <= found, found
        assert "html-has-lang" in found
    finally:
        context.close()


def test_dark_theme_is_applied(site, tab):
    """The dark run checks dark colours (prefers-color-scheme is emulated)."""
    backgrounds = {}
    for theme in THEMES:
        page = tab("visitor", theme)
        _open(page, site, "home")
        backgrounds[theme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert backgrounds["light"] != backgrounds["dark"], backgrounds


@pytest.mark.parametrize(("role", "theme", "name"), _cases())
def test_page_has_no_serious_axe_violations(site, tab, role, theme, name):
    page = tab(role, theme)
    _open(page, site, name)
    violations = run_axe(page)
    assert not violations, describe_violations(f"{name} ({role}, {theme}: {page.url})", violations)


STRUCTURE_JS = """() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const first = document.querySelector('a[href], button, input, select, textarea, [tabindex]');
  return {
    lang: document.documentElement.getAttribute('lang') || '',
    title: document.title,
    h1: Array.from(document.querySelectorAll('h1')).map((h) => h.textContent.trim()),
    banner: document.querySelectorAll('body > header, [role=banner]').length,
    nav: document.querySelectorAll('nav, [role=navigation]').length,
    main: document.querySelectorAll('main, [role=main]').length,
    contentinfo: document.querySelectorAll('body > footer, [role=contentinfo]').length,
    skip: first && first.matches('a.skip-link') ? first.getAttribute('href') : null,
    mainId: (document.querySelector('main') || {}).id || '',
    embed: document.body.classList.contains('embed'),
    hiddenLabels: Array.from(document.querySelectorAll(
        'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea'))
      .filter((el) => visible(el))
      .filter((el) => el.id !== 'site-search-q')
      .filter((el) => Array.from(el.labels || []).filter(visible).length === 0)
      .map((el) => el.outerHTML.slice(0, 120)),
  };
}"""

DASH = "\N{EN DASH}"
TITLE = re.compile(rf"^(?:Error: )?\S.* {DASH} fancampaign$")


def structure_problems(info: dict[str, Any]) -> list[str]:
    problems = []
    if not info["lang"]:
        problems.append("<html> has no lang")
    if not TITLE.match(info["title"]):
        problems.append(
            f"title {info['title']!r} does not say where you are ('… {DASH} fancampaign')"
        )
    if len(info["h1"]) != 1:
        problems.append(f"{len(info['h1'])} h1 elements (want exactly one): {info['h1']}")
    if info["main"] != 1:
        problems.append(f"{info['main']} main landmarks")
    if not info["embed"]:
        for landmark in ("banner", "nav", "contentinfo"):
            if info[landmark] < 1:
                problems.append(f"no {landmark} landmark")
        if info["skip"] != f"#{info['mainId']}" or not info["mainId"]:
            problems.append("the first focusable element is not a skip link to <main>")
    if info["hiddenLabels"]:
        problems.append(f"form fields without a visible label: {info['hiddenLabels']}")
    return problems


@pytest.mark.parametrize(("role", "name"), _structure_cases())
def test_page_structure(site, tab, role, name):
    page = tab(role, "light")
    _open(page, site, name)
    info = page.evaluate(STRUCTURE_JS)
    problems = structure_problems(info)
    assert not problems, f"{name} ({role}: {page.url}):\n- " + "\n- ".join(problems)
    # The page title names the thing the page is about.
    if name in ("article", "petition-open", "petition-closed", "petition-won", "thread"):
        assert info["h1"][0] in info["title"], (info["h1"], info["title"])


def test_progress_bar_is_a_progressbar_with_its_value(site, tab):
    page = tab("visitor", "light")
    _open(page, site, "petition-open")
    bar = page.get_by_role("progressbar", name="Signatures towards the goal")
    assert bar.count() == 1
    # 3 member signatures confirmed (the guest's waits for its link); goal 10.
    assert bar.get_attribute("value") == "3"
    assert bar.get_attribute("max") == "10"
    assert page.locator(".goal__count").inner_text().startswith("3 signed · 7 to the goal of 10")
    _open(page, site, "embed")
    assert page.get_by_role("progressbar", name="Signatures towards the goal").count() == 1


def test_signature_chart_has_a_table_of_its_figures(site, tab):
    page = tab("visitor", "light")
    _open(page, site, "petition-open")
    chart = page.locator("svg.chart")
    assert chart.count() == 1
    # The picture is hidden from screen readers; the table beside it carries the figures.
    assert chart.get_attribute("aria-hidden") == "true"
    table = page.get_by_role("table", name="Confirmed signatures per day")
    page.get_by_text("Signatures per day as a table").click()
    rows = table.locator("tbody tr")
    assert rows.count() >= 1
    total = sum(int(r.locator("td").nth(1).inner_text().replace(",", "")) for r in rows.all())
    assert total == 3


FORM_ERROR_JS = """() => {
  const summary = document.querySelector('.error-summary');
  if (!summary) return null;
  const form = summary.closest('form') || document;
  const links = Array.from(summary.querySelectorAll('a[href^="#"]')).map((a) => {
    const field = document.getElementById(a.getAttribute('href').slice(1));
    const ids = (field && field.getAttribute('aria-describedby') || '').split(/\\s+/);
    const described = ids.map((id) => document.getElementById(id)).filter(Boolean)
      .map((el) => el.textContent.trim()).join(' ');
    return {
      text: a.textContent.trim(),
      field: field ? field.id : null,
      invalid: field ? field.getAttribute('aria-invalid') : null,
      described,
    };
  });
  const firstInForm = form.querySelector('.error-summary, .field');
  return {
    role: summary.getAttribute('role'),
    title: summary.querySelector('h2') ? summary.querySelector('h2').textContent.trim() : '',
    atTop: firstInForm === summary,
    focused: document.activeElement === summary,
    links,
  };
}"""


def _check_error_summary(page: Any, where: str) -> dict[str, Any]:
    info = page.evaluate(FORM_ERROR_JS)
    assert info, f"{where}: no error summary"
    assert info["role"] == "alert" and info["title"] == "There is a problem", info
    assert info["atTop"], f"{where}: the error summary is not at the top of the form"
    assert info["focused"], f"{where}: the error summary does not take focus"
    assert page.title().startswith("Error: "), page.title()
    assert info["links"], f"{where}: the summary links to no field"
    for link in info["links"]:
        assert link["field"], f"{where}: summary link {link['text']!r} points nowhere"
        assert link["invalid"] == "true", f"{where}: {link['field']} is not aria-invalid"
        assert link["text"] in link["described"], (
            f"{where}: {link['field']} is not described by its error {link['text']!r}"
        )
    return info


@pytest.mark.parametrize("theme", THEMES)
def test_form_errors_are_summarised_linked_and_described(site, browser, theme):
    context = new_context(browser, color_scheme=theme)
    try:
        page = context.new_page()
        page.goto(site("/register"))
        # Required fields say so in words, not only by colour.
        for label in page.locator("label.field__label").all():
            assert re.search(r"\((required|optional)\)", label.inner_text()), label.inner_text()
        page.get_by_role("button", name="Create account").click()
        page.wait_for_load_state()
        info = _check_error_summary(page, "register")
        violations = run_axe(page)
        assert not violations, describe_violations(f"register with errors ({theme})", violations)
        # A summary link takes you to its field.
        page.locator(".error-summary a").first.click()
        assert page.evaluate("document.activeElement.id") == info["links"][0]["field"]

        if "petition-flow-4" in site.pages:
            page.goto(site(site.pages["petition-flow-4"]))
            page.get_by_role("button", name="Sign the petition").click()
            page.wait_for_load_state()
            _check_error_summary(page, "guest sign form")
            violations = run_axe(page)
            assert not violations, describe_violations(f"sign with errors ({theme})", violations)
    finally:
        context.close()
