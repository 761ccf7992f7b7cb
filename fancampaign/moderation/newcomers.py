"""New-member safety: a new account's first posts wait for approval, and links come later.

Both thresholds are site settings (admin console): `held_first_posts` (0: off) and
`links_after_posts` (0: off). "Approved" posts are the member's posts that are visible: a
held post counts once a moderator releases it. The forum's services ask `screen` before
storing a post (policies say who is held and who may link).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from fancampaign import policies
from fancampaign.admin import sitesettings
from fancampaign.errors import InvalidInput
from fancampaign.extensions import db
from fancampaign.forum.models import Post

# What makes a link in a post: a URL, a bare www. address, or a Markdown link.
LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S|\]\(\s*\S|<(?:https?|mailto):")


class LinksNotYet(InvalidInput):
    message = "New members can post links a little later."


def approved_posts(user: Any) -> int:
    """How many of the user's posts are visible (neither held, hidden nor deleted)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Post)
            .where(
                Post.author_id == user.id,
                Post.is_hidden.is_(False),
                Post.is_deleted.is_(False),
            )
        )
        or 0
    )


def screen(user: Any, text: str) -> bool:
    """Check a new post's text for this author: raises LinksNotYet (field "body") when it has
    a link too early; returns True when the post must wait for approval. No query while both
    settings are off (or for organisers and up)."""
    settings = sitesettings.current()
    held_first, links_after = settings.held_first_posts, settings.links_after_posts
    if (held_first <= 0 and links_after <= 0) or policies.is_organiser(user):
        return False
    approved = approved_posts(user)
    if LINK.search(text or "") and not policies.can_post_links(user, approved, links_after):
        raise LinksNotYet(
            f"New members can post links after {links_after} approved "
            f"post{'s' if links_after != 1 else ''}: please take the link out for now.",
            field="body",
        )
    return policies.must_hold_post(user, approved, held_first)
