"""The admin console in the browser: an admin renames the site and changes its accent colour,
and every page type shows both, in the light and the dark theme; axe finds nothing serious on
the console's pages (nor on the ledger and the appeals queue)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.a11y_kit import Site, context_as, fail_on_server_errors, running_site
from tests.e2e.test_a11y import STATUS, describe_violations, run_axe

NAME = "Alita Army HQ"
ACCENT = "#1d70b8"
THEMES = ("light", "dark")
CONSOLE = {
    "admin-dashboard": "/admin/",
    "admin-users": "/admin/users?q=",
    "admin-user": "/admin/users/hugo",
    "admin-settings": "/admin/settings",
    "admin-categories": "/admin/categories",
    "admin-mail": "/admin/mail",
    "ledger": "/moderation/transparency",
    "appeals-queue": "/moderation?tab=appeals",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from fancampaign.accounts.models import Role
    from fancampaign.extensions import db
    from tests.factories import make_user

    with running_site(tmp_path_factory.mktemp("admin")) as site:
        make_user("nova", role=Role.ADMIN, display_name="Desty Nova")
        db.session.commit()
        yield site


@pytest.fixture(autouse=True)
def _server_errors_fail(site: Site) -> Iterator[None]:
    yield from fail_on_server_errors(site)


@pytest.fixture(scope="module")
def admin_tab(browser: Any, site: Site) -> Iterator[Any]:
    """admin_tab(theme): a page logged in as the admin, in that colour scheme."""
    contexts: dict[str, Any] = {}
    pages: dict[str, Any] = {}

    def _tab(theme: str) -> Any:
        if theme not in pages:
            contexts[theme] = context_as(browser, site, "nova", color_scheme=theme)
            pages[theme] = contexts[theme].new_page()
        return pages[theme]

    yield _tab
    for context in contexts.values():
        context.close()


def _accent(page: Any) -> str:
    return page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--c-primary').trim()"
    )


def test_an_admin_renames_the_site_and_sees_it_on_every_page_in_both_themes(site, admin_tab):
    page = admin_tab("light")
    page.goto(site("/admin/settings"))
    page.get_by_label("Accent colour").fill("#ffdd00")
    page.get_by_role("button", name="Save settings").click()
    assert "fails WCAG AA in the light theme" in page.content()
    page.get_by_label("Site name").fill(NAME)
    page.get_by_label("Accent colour").fill(ACCENT)
    page.get_by_role("button", name="Save settings").click()
    assert "Settings saved." in page.content()
    assert site.pages, "the data set has page types"
    for theme in THEMES:
        page = admin_tab(theme)
        for name, path in sorted(site.pages.items()):
            response = page.goto(site(path))
            assert response is not None
            assert response.status == STATUS.get(name, 200), (name, response.status)
            assert page.title().endswith(f"\u2013 {NAME}"), (theme, name, page.title())
            assert _accent(page) == ACCENT, (theme, name)
            if name != "embed":  # the widget shows no site header
                header = page.locator(".site-header__name")
                assert header.inner_text().strip() == NAME, (theme, name)
        # And the buttons really wear it in this theme.
        page.goto(site("/admin/settings"))
        background = page.get_by_role("button", name="Save settings").evaluate(
            "b => getComputedStyle(b).backgroundColor"
        )
        assert re.sub(r"\s", "", background) == "rgb(29,112,184)", (theme, background)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("name", list(CONSOLE))
def test_console_pages_have_no_serious_axe_violations(site, admin_tab, theme, name):
    page = admin_tab(theme)
    response = page.goto(site(CONSOLE[name]))
    assert response is not None and response.status == 200, (name, response and response.status)
    violations = run_axe(page)
    assert not violations, describe_violations(f"{name} ({theme}: {page.url})", violations)
