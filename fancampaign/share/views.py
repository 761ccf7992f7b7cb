"""The share cards: /petitions/<slug>/share.png, /news/<slug>/share.png and the site's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, make_response
from flask_login import AnonymousUserMixin

from fancampaign.admin import sitesettings
from fancampaign.errors import DomainError
from fancampaign.news.services import get_post
from fancampaign.petitions.services import get_petition
from fancampaign.share import services
from fancampaign.share.cards import Card
from fancampaign.web import base_url

bp = Blueprint("share", __name__)

# Crawlers fetch a card when a link is shared; a few minutes' lag behind the count is fine.
MAX_AGE = 600


def _png(card: Card, name: str) -> Any:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "share-cards"
    response = make_response(services.card_png(card, folder, name))
    response.mimetype = "image/png"
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response


def _site() -> str:
    return f"{sitesettings.current().name} · {urlsplit(base_url()).netloc}"


@bp.route("/petitions/<slug>/share.png")
def petition_card(slug: str) -> Any:
    try:
        petition = get_petition(slug)
    except DomainError:
        abort(404)
    if not petition.is_public:  # a card is for everyone: never one of a draft
        abort(404)
    return _png(services.petition_card(petition, site=_site()), f"petition-{petition.id}")


@bp.route("/news/<slug>/share.png")
def news_card(slug: str) -> Any:
    try:
        post = get_post(slug, AnonymousUserMixin())  # published posts only
    except DomainError:
        abort(404)
    return _png(services.news_card(post, site=_site()), f"news-{post.id}")


@bp.route("/share.png")
def site_card() -> Any:
    settings = sitesettings.current()
    card = services.site_card(site_name=settings.name, tagline=settings.tagline, site=_site())
    return _png(card, "site")
