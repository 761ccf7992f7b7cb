"""The front page, health check, security.txt and uploaded files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    send_from_directory,
)

from fancampaign import signals
from fancampaign.cache import anonymous_page, fragment
from fancampaign.extensions import db, utcnow
from fancampaign.main import models  # noqa: F401  (the site-wide tables)
from fancampaign.web import base_url

bp = Blueprint("main", __name__)


@bp.route("/")
@anonymous_page()
def index() -> Any:
    # The sections show the same to everyone (visible threads, open petitions, published
    # news): one rendering serves every viewer until a content table changes.
    return render_template("main/index.html", sections=fragment("home", _render_sections))


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
    return template.render(sections=sections, site_name=current_app.config["SITE_NAME"])


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
