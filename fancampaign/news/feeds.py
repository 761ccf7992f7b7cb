"""Atom 1.0 feeds of the published news, built with xml.etree (escaping done for us)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from fancampaign.news.models import NewsPost

ATOM = "http://www.w3.org/2005/Atom"


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag_uri(base: str, date: datetime, specific: str) -> str:
    """A tag: URI (RFC 4151), stable even if the site's scheme changes."""
    host = urlsplit(base).hostname or "localhost"
    return f"tag:{host},{date.strftime('%Y-%m-%d')}:{specific}"


def _absolute_links(html: str, base: str) -> str:
    # Same-site paths in the rendered body become absolute for feed readers.
    return html.replace('href="/', f'href="{base}/').replace('src="/', f'src="{base}/')


def build_feed(
    posts: Sequence[NewsPost],
    *,
    base: str,
    title: str,
    self_url: str,
    alternate_url: str,
    feed_key: str,
    site_name: str,
) -> bytes:
    """The Atom document for `posts` (newest first). `base` is the site's absolute root."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}subtitle").text = f"News from the organisers of {site_name}"
    first = min((p.published_at for p in posts if p.published_at), default=None)
    ET.SubElement(feed, f"{{{ATOM}}}id").text = _tag_uri(
        base, first or datetime(2019, 2, 14), f"feed:{feed_key}"
    )
    updated = max((p.updated_at for p in posts), default=None) or datetime(2019, 2, 14)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _iso(updated)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", type="application/atom+xml", href=self_url)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=alternate_url)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = site_name
    ET.SubElement(feed, f"{{{ATOM}}}generator").text = "fancampaign"

    for post in posts:
        published = post.published_at or post.created_at
        url = f"{base}/news/{post.slug}"
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = post.title
        ET.SubElement(entry, f"{{{ATOM}}}id").text = _tag_uri(base, published, f"news:{post.id}")
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=url)
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _iso(published)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _iso(max(post.updated_at, published))
        entry_author = ET.SubElement(entry, f"{{{ATOM}}}author")
        ET.SubElement(entry_author, f"{{{ATOM}}}name").text = (
            post.author.name if post.author is not None else site_name
        )
        for tag in post.tags:
            ET.SubElement(
                entry,
                f"{{{ATOM}}}category",
                term=tag.name,
                scheme=f"{base}/news/tag/",
                label=tag.name,
            )
        if post.standfirst:
            ET.SubElement(entry, f"{{{ATOM}}}summary").text = post.standfirst
        content = ET.SubElement(entry, f"{{{ATOM}}}content", type="html")
        content.text = _absolute_links(post.body_html, base)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
