"""The search page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request

from fancampaign.caching import EVERY_PAGE
from fancampaign.pagecache import Page
from fancampaign.search import services

bp = Blueprint("search", __name__)


@bp.route("/search")
@Page("search", depends=("forum", "petitions", "news", *EVERY_PAGE), args=("q", "kind", "page"))
def results() -> Any:
    q = request.args.get("q", "")
    try:
        kind = services.parse_kind(request.args.get("kind"))
        page = services.parse_page(request.args.get("page"))
        found = services.search(q, kind, page, current_app.config.get("PER_PAGE", 20))
    except services.BadSearch as err:
        return render_template(
            "search/results.html", q=q, kind=None, results=None, error=err.message
        ), 400
    return render_template("search/results.html", q=q, kind=kind, results=found, error=None)
