"""A petition's campaign timeline as an Atom 1.0 feed (xml.etree escapes for us)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

from flask import current_app

from fancampaign.campaign.services import Entry
from fancampaign.news.feeds import ATOM, _iso, _tag_uri
from fancampaign.petitions.models import Petition


def timeline_feed(petition: Petition, entries: Sequence[Entry]) -> bytes:
    """The Atom document of the timeline, newest entry first."""
    base = current_app.config["BASE_URL"].rstrip("/")
    page = f"{base}/petitions/{petition.slug}"
    started = petition.opened_at or petition.created_at
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"Campaign timeline: {petition.title}"
    ET.SubElement(feed, f"{{{ATOM}}}id").text = _tag_uri(
        base, started, f"petition:{petition.id}:timeline"
    )
    updated = max((e.at for e in entries), default=started)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _iso(updated)
    ET.SubElement(
        feed,
        f"{{{ATOM}}}link",
        rel="self",
        type="application/atom+xml",
        href=f"{page}/timeline.atom",
    )
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=page)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = current_app.config["SITE_NAME"]
    for entry in sorted(entries, key=lambda e: e.at, reverse=True):
        item = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(item, f"{{{ATOM}}}title").text = f"{entry.label}: {entry.title}"
        ET.SubElement(item, f"{{{ATOM}}}id").text = _tag_uri(
            base, entry.at, f"petition:{petition.id}:{entry.key}"
        )
        ET.SubElement(
            item, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=entry.url or page
        )
        ET.SubElement(item, f"{{{ATOM}}}published").text = _iso(entry.at)
        ET.SubElement(item, f"{{{ATOM}}}updated").text = _iso(entry.at)
        ET.SubElement(item, f"{{{ATOM}}}category", term=entry.kind, label=entry.label)
        if entry.body:
            ET.SubElement(item, f"{{{ATOM}}}content", type="text").text = entry.body
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
