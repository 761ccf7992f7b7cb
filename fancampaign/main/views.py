"""The front page, the site basics (icons, manifest, robots.txt, security.txt, sitemap),
health check and uploaded files."""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    send_from_directory,
    url_for,
)
from markupsafe import escape

from fancampaign import signals
from fancampaign.admin import sitesettings
from fancampaign.caching import EVERY_PAGE
from fancampaign.extensions import db, utcnow
from fancampaign.main import models  # noqa: F401  (the site-wide tables)
from fancampaign.pagecache import Page, fragment
from fancampaign.share import cards
from fancampaign.web import base_url

bp = Blueprint("main", __name__)


# The home page: the latest threads, open petitions (their counts may lag a few seconds) and
# news; it changes by itself when a deadline passes or a scheduled post comes due.
HOME = ("forum", "petitions", "news", *EVERY_PAGE)
home_page = Page("home", depends=HOME, lagging=("signatures",))


@bp.route("/")
@home_page
def index() -> Any:
    from fancampaign.news.services import next_due_at
    from fancampaign.petitions.services import next_deadline

    due = min((at for at in (next_due_at(), next_deadline()) if at is not None), default=None)
    # The sections show the same to everyone (visible threads, open petitions, published
    # news): one rendering serves every viewer until one of their groups changes.
    sections = fragment(
        "home", _render_sections, depends=HOME, lagging=("signatures",), changes_at=due
    )
    return render_template("main/index.html", sections=sections)


def _render_sections() -> str:
    sections = sorted(
        (
            result
            for _r, result in signals.home_sections.send(current_app._get_current_object())
            if result
        ),
        key=lambda s: s[0],
    )
    # Rendered without the context processors: nothing here is about the viewer.
    template = current_app.jinja_env.get_template("main/_sections.html")
    return template.render(sections=sections, site_name=sitesettings.current().name)


# Site basics ---------------------------------------------------------------------------------

ICON_SIZES = (180, 192, 512)
# What search engines need not crawl: pages about one person, staff pages, and actions.
ROBOTS_DISALLOW = (
    "/moderation",
    "/admin",
    "/settings",
    "/notifications",
    "/signatures/",
    "/respond/",
    "/search",
    "/login",
    "/register",
    "/reset-password",
)


def _static_bytes(data: bytes, mimetype: str, max_age: int = 86400) -> Any:
    response = make_response(data)
    response.mimetype = mimetype
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


@bp.route("/favicon.ico")
def favicon() -> Any:
    return _static_bytes(_icon(48, "ICO"), "image/vnd.microsoft.icon")


@bp.route("/icon-<int:size>.png")
def icon(size: int) -> Any:
    if size not in ICON_SIZES:
        abort(404)
    return _static_bytes(_icon(size, "PNG"), "image/png")


@functools.cache
def _icon(size: int, fmt: str) -> bytes:
    return cards.icon(size, fmt)


@bp.route("/manifest.webmanifest")
def manifest() -> Any:
    name = current_app.config["SITE_NAME"]
    body = {
        "name": name,
        "short_name": name[:12],
        "description": "News, petitions and a forum for a fan campaign.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b0c0c",
        "icons": [
            {"src": url_for("main.icon", size=size), "sizes": f"{size}x{size}", "type": "image/png"}
            for size in ICON_SIZES[1:]
        ]
        + [
            {
                "src": url_for("static", filename="img/icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            }
        ],
    }
    return _static_bytes(json.dumps(body, indent=1).encode(), "application/manifest+json")


@bp.route("/robots.txt")
def robots() -> Any:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW)]
    lines += ["Disallow: /petitions/*/signatures.csv", "", f"Sitemap: {base_url()}/sitemap.xml", ""]
    return _static_bytes("\n".join(lines).encode(), "text/plain", max_age=3600)


@bp.route("/sitemap.xml")
@Page("sitemap", depends=("forum", "petitions", "news", "site"), everyone=True)
def sitemap() -> Any:
    entries: list[tuple[str, Any]] = [("/", None)]
    for _receiver, found in signals.sitemap_entries.send(current_app._get_current_object()):
        entries.extend(found or ())
    root = base_url()
    urls = "".join(
        f"<url><loc>{escape(root + path)}</loc>"
        + (f"<lastmod>{at.date().isoformat()}</lastmod>" if at else "")
        + "</url>"
        for path, at in entries[:MAX_SITEMAP_URLS]
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
    )
    return _static_bytes(body.encode(), "application/xml", max_age=0)


# A sitemap file holds at most 50,000 URLs (sitemaps.org).
MAX_SITEMAP_URLS = 50_000


@bp.route("/healthz")
def healthz() -> Any:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database=False), 503
    return jsonify(status="ok", database=True)


# RFC 9116 wants the file renewed within a year; served fresh, it always is.
SECURITY_TXT_LIFETIME = timedelta(days=180)


@bp.route("/.well-known/security.txt")
def security_txt() -> Any:
    """Where to report a security hole (RFC 9116): SECURITY_CONTACT, else no such file."""
    contacts = current_app.config.get("SECURITY_CONTACT") or []
    if isinstance(contacts, str):
        contacts = [contacts]
    if not contacts:
        abort(404)
    expires = (utcnow() + SECURITY_TXT_LIFETIME).replace(microsecond=0)
    lines = [f"Contact: {_contact_uri(contact)}" for contact in contacts]
    lines += [
        f"Expires: {expires.isoformat().replace('+00:00', 'Z')}",
        "Preferred-Languages: en",
        f"Canonical: {base_url()}/.well-known/security.txt",
    ]
    response = Response("\n".join(lines) + "\n", mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.route("/theme.css")
def theme() -> Any:
    """The accent colour of the site settings, for both themes (its URL names the version)."""
    css = sitesettings.theme_css(sitesettings.current())
    response = current_app.response_class(css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _contact_uri(contact: str) -> str:
    # An address alone becomes a mailto: URI, as the RFC asks for.
    contact = contact.strip()
    if "@" in contact and ":" not in contact:
        return f"mailto:{contact}"
    return contact


@bp.route("/uploads/<path:filename>")
def upload(filename: str) -> Any:
    response = send_from_directory(current_app.config["UPLOAD_FOLDER"], filename, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
