"""Reading the site's settings: cached in each worker, reloaded when the database says so.

Every worker keeps the last SiteSettings row it read, as a frozen `Settings`. A request that
needs a setting asks the database for the row only if its `version` differs from the copy's
(one primary-key lookup, once per request, which returns nothing while the copy is current):
a change made through one worker shows on the very next request to any other. Pages in the
page cache are keyed by the content tables' versions, site_settings among them (cache.py), so
no cached page keeps an old name or colour either.

Also here: the accent colour's contrast rules (WCAG 2.x relative luminance), and the small
stylesheet that applies the accent to both themes.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request

from fancampaign.admin.models import SiteSettings
from fancampaign.extensions import db

# Settings that stand in for a configuration value when set (NULL: the configuration's).
CONFIG_NAMES = {
    "SITE_NAME": "site_name",
    "RATELIMIT_POSTS": "ratelimit_posts",
    "RATELIMIT_THREADS": "ratelimit_threads",
    "RATELIMIT_REPORTS": "ratelimit_reports",
    "RATELIMIT_SIGN": "ratelimit_sign",
    "RATELIMIT_REGISTER": "ratelimit_register",
    "AUTO_HIDE_REPORTS": "auto_hide_reports",
}


@dataclass(frozen=True)
class Settings:
    """The settings as one worker last read them (0: no row yet, the configuration's)."""

    version: int = 0
    site_name: str | None = None
    tagline: str = ""
    accent_colour: str | None = None
    logo_key: str | None = None
    share_image_key: str | None = None
    footer_text: str = ""
    registration_open: bool = True
    ratelimit_posts: str | None = None
    ratelimit_threads: str | None = None
    ratelimit_reports: str | None = None
    ratelimit_sign: str | None = None
    ratelimit_register: str | None = None
    auto_hide_reports: int | None = None
    abuse_email: str = ""
    held_first_posts: int = 0
    links_after_posts: int = 0

    def value(self, config_name: str) -> Any:
        """A configuration value as the settings have it: theirs when set, else the config's."""
        name = CONFIG_NAMES.get(config_name)
        own = getattr(self, name) if name else None
        return own if own is not None else current_app.config[config_name]

    @property
    def name(self) -> str:
        return self.site_name or str(current_app.config["SITE_NAME"])


FIELDS = tuple(f.name for f in fields(Settings))
_LOCK = threading.Lock()


def _read_if_moved(held: Settings | None) -> Settings | None:
    """The row as Settings when its version differs from `held`'s, else None: one query,
    which returns nothing at all while the worker's copy is current."""
    stmt = (
        sa.select(SiteSettings)
        .where(SiteSettings.id == 1, SiteSettings.version != (held.version if held else -1))
        .execution_options(populate_existing=True)
    )
    row = db.session.scalar(stmt)
    if row is None:
        return None if held is not None else Settings()
    return Settings(**{name: getattr(row, name) for name in FIELDS})


def note_version(version: int | None) -> None:
    """The settings' version as another query of this request read it (the login's, which
    brings it along): while the worker's copy has that version, `current` reads no row."""
    if has_request_context():
        g.site_settings_version = (request._get_current_object(), version or 0)  # type: ignore[attr-defined]


def _version_seen() -> int | None:
    """The version `note_version` was told in this request, if it was."""
    if not has_request_context():
        return None
    seen = g.get("site_settings_version")
    if seen is None or seen[0] is not request._get_current_object():  # type: ignore[attr-defined]
        return None
    return seen[1]  # type: ignore[no-any-return]


def current() -> Settings:
    """The settings now: the worker's copy while the database's version matches it (as this
    request's login query read it, else one query), else read afresh. Within one request,
    read once."""
    if has_request_context():
        memo = g.get("site_settings")
        if memo is not None and memo[0] is request._get_current_object():  # type: ignore[attr-defined]
            return memo[1]  # type: ignore[no-any-return]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    held: Settings | None = app.extensions.get("fancampaign_site_settings")
    current_copy = held is not None and _version_seen() == held.version
    fresh = None if current_copy else _read_if_moved(held)
    if fresh is not None:
        with _LOCK:
            app.extensions["fancampaign_site_settings"] = held = fresh
    assert held is not None
    if has_request_context():
        g.site_settings = (request._get_current_object(), held)  # type: ignore[attr-defined]
    return held


def value(config_name: str) -> Any:
    """A configuration value the console can change (rate limits, the auto-hide threshold)."""
    return current().value(config_name)


def forget() -> None:
    """Drop this request's reading (after a change in the same request)."""
    g.pop("site_settings", None)
    g.pop("site_settings_version", None)


# Colour ---------------------------------------------------------------------------------

HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
# The page backgrounds of the two themes (static/css/app.css: --c-bg, light and dark).
BACKGROUNDS = {"light": "#ffffff", "dark": "#121416"}
# What a button's label can be on the accent: the stylesheet's text colours.
LABELS = ("#ffffff", "#0b0c0c")
TEXT_AA = 4.5  # WCAG 1.4.3: normal text
UI_AA = 3.0  # WCAG 1.4.11: a button's edge against the page


def luminance(colour: str) -> float:
    """WCAG relative luminance of "#rrggbb"."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g_, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g_ + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def label_for(accent: str) -> str:
    """The label colour (white or near-black) that reads best on the accent."""
    return max(LABELS, key=lambda label: contrast(accent, label))


def contrast_problem(colour: str) -> str | None:
    """Why this accent fails WCAG AA in either theme (naming the ratio); None when it passes.

    The accent fills buttons and bars in both themes: their labels need 4.5:1 against it
    (text) and the buttons 3:1 against each theme's background (user-interface components).
    """
    colour = colour.lower()
    label = label_for(colour)
    ratio = contrast(colour, label)
    if ratio < TEXT_AA:
        return (
            f"{colour} fails WCAG AA: button text on it reaches only {ratio:.2f}:1 "
            f"(at least {TEXT_AA}:1 is needed). Choose a darker or lighter colour."
        )
    for theme, background in BACKGROUNDS.items():
        ratio = contrast(colour, background)
        if ratio < UI_AA:
            return (
                f"{colour} fails WCAG AA in the {theme} theme: against its background "
                f"{background} it reaches only {ratio:.2f}:1 (buttons need at least {UI_AA}:1)."
            )
    return None


def theme_css(settings: Settings) -> str:
    """The stylesheet that puts the accent in both themes ("" without an accent)."""
    accent = settings.accent_colour
    if not accent:
        return ""
    label = label_for(accent)
    rules = (
        f"--c-primary: {accent}; --c-primary-hover: {accent}; --c-bar: {accent}; "
        f"--c-on-primary: {label}; --c-header-stripe: {accent};"
    )
    return (
        f":root {{ {rules} }}\n"
        f"@media (prefers-color-scheme: dark) {{ :root {{ {rules} }} }}\n"
        ".button:not(.button--secondary):not(.button--danger):hover "
        "{ filter: brightness(0.9); }\n"
        # The header's search button sits on the stripe colour: its label follows the accent.
        f".site-search__button {{ color: {label}; }}\n"
    )
