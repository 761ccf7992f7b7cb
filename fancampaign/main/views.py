"""The front page, health check and uploaded files."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, render_template, send_from_directory

from fancampaign import signals
from fancampaign.admin import sitesettings
from fancampaign.cache import anonymous_page, fragment
from fancampaign.extensions import db
from fancampaign.main import models  # noqa: F401  (the site-wide tables)

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
    return template.render(sections=sections, site_name=sitesettings.current().name)


@bp.route("/healthz")
def healthz() -> Any:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database=False), 503
    return jsonify(status="ok", database=True)


@bp.route("/theme.css")
def theme() -> Any:
    """The accent colour of the site settings, for both themes (its URL names the version)."""
    css = sitesettings.theme_css(sitesettings.current())
    response = current_app.response_class(css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.route("/uploads/<path:filename>")
def upload(filename: str) -> Any:
    response = send_from_directory(current_app.config["UPLOAD_FOLDER"], filename, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
