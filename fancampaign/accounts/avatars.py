"""Avatars: a letter on a colour made from the username (SVG, drawn here, no outside service),
or the member's uploaded picture (checked and re-encoded as cover images are: news/images.py).

Every avatar has one address per user, `/u/<username>/avatar`, so pages (and the shared
renderings of the page cache) never hold a file name that a new upload makes stale; the
`v` parameter changes with the picture so browsers may keep each version for a day.
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import Any

AVATAR_SIZE = 160
CACHE_SECONDS = 86_400


def colour(username: str) -> str:
    """A colour for this username: the same name always gets the same one. Dark enough for
    white text (contrast above 4.5:1 whatever the hue)."""
    digest = hashlib.sha256(username.lower().encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    return f"hsl({hue}, 60%, 30%)"


def initial(name: str) -> str:
    """The first letter or digit of a name, upper case ("?" when it has none)."""
    return next((ch.upper() for ch in name if ch.isalnum()), "?")


def letter_svg(username: str, name: str) -> str:
    """The generated avatar: the name's initial, white on the username's colour."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
        f'<rect width="64" height="64" rx="8" fill="{colour(username)}"/>'
        '<text x="32" y="43" text-anchor="middle" font-family="system-ui, sans-serif" '
        f'font-size="30" font-weight="600" fill="#fff">{escape(initial(name))}</text></svg>'
    )


def version(user: Any) -> str:
    """What changes when the avatar does: the uploaded picture, else the letter's name."""
    if user.avatar_key:
        return user.avatar_key.split("-")[1][:12]
    return "l" + hashlib.sha256(user.name.encode()).hexdigest()[:8]


def avatar_url(user: Any) -> str:
    """The address of a user's avatar (the same for every viewer)."""
    return f"/u/{user.username}/avatar?v={version(user)}"
