"""Link previews and site basics: share cards, meta tags, icons, manifest, robots, sitemap."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fancampaign.extensions import db
from fancampaign.share import services
from fancampaign.share.cards import HEIGHT, WIDTH
from tests.factories import make_news_post, make_petition, make_reply, make_thread, make_user


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            a = dict(attrs)
            key = a.get("property") or a.get("name")
            if key and key not in self.found:
                self.found[key] = a.get("content") or ""


def meta(html: str) -> dict[str, str]:
    parser = _Meta()
    parser.feed(html)
    return parser.found


def png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


def cards_in(app: Any) -> list[Path]:
    return sorted((Path(app.config["UPLOAD_FOLDER"]) / "share-cards").glob("*.png"))


# Share cards ---------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**9))
def test_a_card_never_shows_more_than_the_count(count):
    shown = int(services.shown_count(count).rstrip("+").replace(",", ""))
    assert shown <= count
    assert count - shown < services.count_step(count)
    assert services.shown_count(count).endswith("+") == (services.count_step(count) > 1)


def test_the_rounding_step_grows_with_the_count():
    assert [services.count_step(n) for n in (0, 99, 100, 999, 3_404, 12_345, 1_000_000)] == [
        1, 1, 10, 10, 100, 1_000, 100_000,
    ]  # fmt: skip
    assert services.shown_count(3_404) == "3,400+"
    assert services.shown_count(87) == "87"


def test_a_petition_card_is_a_1200_by_630_png(app, client):
    petition = make_petition(title="Make Alita: Battle Angel 2 happen")
    response = client.get(f"/petitions/{petition.slug}/share.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert png_size(response.data) == (WIDTH, HEIGHT) == (1200, 630)
    assert "public" in response.headers["Cache-Control"]


def test_a_petition_card_is_drawn_again_only_when_the_count_crosses_a_step(app, client):
    petition = make_petition(goal=5000)
    url = f"/petitions/{petition.slug}/share.png"
    petition.signature_base = 3_404
    db.session.commit()
    first = client.get(url).data
    [drawn] = cards_in(app)
    stamp = drawn.stat().st_mtime_ns
    petition.signature_base = 3_499  # still 3,400+
    db.session.commit()
    assert client.get(url).data == first
    assert cards_in(app) == [drawn] and drawn.stat().st_mtime_ns == stamp
    petition.signature_base = 3_500
    db.session.commit()
    second = client.get(url).data
    assert second != first
    [redrawn] = cards_in(app)
    assert redrawn != drawn  # the old card is gone


def test_no_card_for_a_draft_or_an_unknown_petition(app, client):
    draft = make_petition(status="draft")
    assert client.get(f"/petitions/{draft.slug}/share.png").status_code == 404
    assert client.get("/petitions/no-such-thing/share.png").status_code == 404
    assert client.get("/news/no-such-thing/share.png").status_code == 404


def test_an_article_without_a_cover_gets_a_card(app, client):
    post = make_news_post(title="Alita: Battle Angel 2 is in development")
    html = client.get(f"/news/{post.slug}").get_data(as_text=True)
    tags = meta(html)
    assert tags["og:image"] == f"http://localhost/news/{post.slug}/share.png"
    assert tags["og:type"] == "article"
    assert tags["description"] == post.standfirst
    response = client.get(f"/news/{post.slug}/share.png")
    assert png_size(response.data) == (1200, 630)


def test_an_unpublished_article_has_no_card(app, client):
    post = make_news_post(publish="draft")
    assert client.get(f"/news/{post.slug}/share.png").status_code == 404


# Meta tags -----------------------------------------------------------------------------------


def test_every_public_page_has_a_description_and_a_preview_card(app, client):
    author = make_user("koyomi")
    petition = make_petition()
    post = make_news_post()
    thread = make_thread(author, title="Who should direct the sequel?")
    make_reply(make_user(), thread, "Robert Rodriguez, again.")
    pages = [
        "/",
        "/news",
        f"/news/{post.slug}",
        "/petitions",
        f"/petitions/{petition.slug}",
        "/forum",
        f"/forum/{thread.category.slug}",
        f"/forum/t/{thread.id}",
        "/u/koyomi",
        "/search?q=sequel",
        "/login",
        "/register",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        tags = meta(response.get_data(as_text=True))
        assert tags.get("description"), path
        assert tags["og:title"] and tags["og:description"] == tags["description"], path
        assert tags["twitter:card"] == "summary_large_image", path
        for key in ("og:url", "og:image"):
            assert re.match(r"^https?://[^/]+/", tags[key]), (path, key, tags[key])
        assert tags["og:url"] == "http://localhost" + path.split("?")[0], path


def test_a_query_string_never_reaches_the_preview_url(app, client):
    petition = make_petition()
    # A share link's code goes to the session and the visitor on to the page without it.
    page = client.get(f"/petitions/{petition.slug}?r=abc123&utm_source=x", follow_redirects=True)
    html = page.get_data(as_text=True)
    tags = meta(html)
    assert tags["og:url"] == f"http://localhost/petitions/{petition.slug}"
    assert "abc123" not in tags["og:url"] + tags["og:image"]


# Site basics ---------------------------------------------------------------------------------


def test_favicon_icons_and_manifest(app, client):
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 200
    assert Image.open(io.BytesIO(favicon.data)).format == "ICO"
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = json.loads(manifest.data)
    assert data["name"] == app.config["SITE_NAME"] and data["start_url"] == "/"
    for entry in data["icons"]:
        with client.get(entry["src"]) as icon:
            assert icon.status_code == 200, entry
            if entry["type"] == "image/png":
                width, height = (int(n) for n in entry["sizes"].split("x"))
                assert png_size(icon.data) == (width, height)
    assert client.get("/icon-64.png").status_code == 404
    html = client.get("/").get_data(as_text=True)
    assert 'rel="manifest" href="/manifest.webmanifest"' in html
    assert 'href="/favicon.ico"' in html


def test_robots_keeps_crawlers_out_of_private_pages_and_names_the_sitemap(app, client):
    text = client.get("/robots.txt").get_data(as_text=True)
    assert "Disallow: /moderation" in text
    assert "Disallow: /settings" in text
    assert "Sitemap: http://localhost/sitemap.xml" in text


def test_the_sitemap_lists_public_pages_only(app, client):
    petition = make_petition(title="An open petition for the sitemap")
    draft = make_petition(title="A draft petition for the sitemap", status="draft")
    post = make_news_post()
    unpublished = make_news_post(publish="draft")
    thread = make_thread(title="A visible thread")
    hidden = make_thread(title="A hidden thread")
    hidden.is_hidden = True
    db.session.commit()
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {e.text for e in ET.fromstring(response.data).findall("s:url/s:loc", ns)}  # noqa: S314
    root = "http://localhost"
    assert {
        f"{root}/",
        f"{root}/petitions/{petition.slug}",
        f"{root}/news/{post.slug}",
        f"{root}/forum/{thread.category.slug}",
    } <= locs
    assert any(loc.startswith(f"{root}/forum/t/{thread.id}") for loc in locs)
    for secret in (
        f"/petitions/{draft.slug}",
        f"/news/{unpublished.slug}",
        f"/forum/t/{hidden.id}",
    ):
        assert not any(loc.startswith(root + secret) for loc in locs), secret


@pytest.mark.parametrize("path", ["/favicon.ico", "/robots.txt", "/manifest.webmanifest"])
def test_site_basics_need_no_database_row(app, client, path):
    assert client.get(path).status_code == 200


@pytest.mark.config(ALLOWED_HOSTS=["10.0.0.5"])
def test_preview_urls_come_from_base_url_not_the_host_header(app, client):
    petition = make_petition()
    html = client.get(f"/petitions/{petition.slug}", headers={"Host": "10.0.0.5"}).get_data(
        as_text=True
    )
    tags = meta(html)
    assert tags["og:url"] == f"http://localhost/petitions/{petition.slug}"
    assert tags["og:image"] == f"http://localhost/petitions/{petition.slug}/share.png"
    robots = client.get("/robots.txt", headers={"Host": "10.0.0.5"}).get_data(as_text=True)
    assert "Sitemap: http://localhost/sitemap.xml" in robots
