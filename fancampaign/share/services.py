"""What a share card says, and the drawn cards kept on disk.

A card is stored under a hash of everything it shows, so it is drawn again exactly when that
changes. A petition's card shows its count rounded down to a step that grows with the count
(`shown_count`): a surge of signatures redraws it a few times, not once per signature, and
the figure on it is never above the real count.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from fancampaign.share.cards import Card, draw

SITE_CARD_TITLE = "Fan campaigns: the news, the petitions and the forum in one place"


def count_step(count: int) -> int:
    """The rounding step for a count: exact below 100, then a tenth of its order of size."""
    if count < 100:
        return 1
    return 10 ** (len(str(count)) - 2)


def rounded_count(count: int) -> int:
    """The count rounded down to its step: what a card shows and draws its bar to."""
    return count - count % count_step(count)


def shown_count(count: int) -> str:
    """The count as a card shows it: "87", "3,400+" (never more than the real count)."""
    return f"{rounded_count(count):,}" + ("+" if count_step(count) > 1 else "")


def petition_card(petition: Any, *, site: str) -> Card:
    """A petition's card: title, target, rounded count and progress to the goal shown."""
    count = petition.signature_count
    goal = petition.display_goal
    status = petition.effective_status
    note = {"won": "signed · won", "closed": "signed · closed"}.get(status, f"of {goal:,} signed")
    return Card(
        kicker=f"Petition · To: {petition.target}",
        title=petition.title,
        figure=shown_count(count),
        figure_note=note,
        progress=min(1.0, rounded_count(count) / goal) if goal else None,
        footer=site,
    )


def news_card(post: Any, *, site: str) -> Card:
    """An article's card (for articles without a cover image): title and standfirst."""
    kicker = "News · developing story" if getattr(post, "is_developing", False) else "News"
    return Card(kicker=kicker, title=post.title, subtitle=post.standfirst or "", footer=site)


def site_card(*, site_name: str, tagline: str = "", site: str) -> Card:
    """The card of every page that has none of its own: the site's name and tagline."""
    return Card(kicker=site_name, title=tagline or SITE_CARD_TITLE, footer=site)


def card_png(card: Card, folder: str | Path, name: str) -> bytes:
    """The PNG of `card`, kept under `folder` (drawn now if it is new); `name`'s older cards
    are removed when a new one is kept."""
    folder = Path(folder)
    key = hashlib.sha256(repr(card).encode()).hexdigest()[:20]
    path = folder / f"{name}-{key}.png"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    png = draw(card)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}-{key}.{os.getpid()}.tmp"
    partial.write_bytes(png)
    os.replace(partial, path)  # atomic: a reader never sees half a file
    for old in folder.glob(f"{name}-*.png"):
        if old != path:
            old.unlink(missing_ok=True)
    return png
