"""The app's side of the page cache (fancampaign/pagecache): its groups of tables, its
viewer, and the slot every page has (the account menu).

A page declares the groups it shows; a commit that writes a group's tables re-renders only
the pages that declared it. Writes to tables in no group (sessions, mail, notifications, rate
limits, the log, counter slots) never re-render a page.
"""

from __future__ import annotations

from flask import Flask

from fancampaign import pagecache, writes
from fancampaign.pagecache import Binding, Fill, Viewer

GROUPS = {
    "forum": frozenset({"categories", "threads", "posts", "post_likes"}),
    "petitions": frozenset({"petitions", "campaign_events", "target_responses"}),
    # Every signature: the exact counts come from the counter slots (never stored in a page).
    "signatures": frozenset({"signatures", "referrals"}),
    "news": frozenset(
        {"news_posts", "news_updates", "news_post_tags", "news_post_petitions", "tags"}
    ),
    # What pages show of people: their names, and whether they are listed as top recruiters.
    "people": frozenset({"users", "recruiter_codes"}),
    # The search index: a reindex changes the results pages, and nothing else.
    "search": frozenset({"search_entries"}),
    # The site's name, colour, logo and footer are on every page (admin/sitesettings.py).
    "site": frozenset({"site_settings"}),
}
# A users row matters to pages only when what they show of a person changes.
USER_SHOWN = ("username", "display_name", "deleted_at", "is_banned", "role", "bio")
# What every page shows: its header and footer.
EVERY_PAGE = ("people", "site")


def init_app(app: Flask) -> None:
    from fancampaign.accounts import viewer

    writes.only_columns("users", USER_SHOWN)
    # A signer's share code is made as they sign: only its opt-in to the top recruiters (or
    # an organiser's label) shows on a page, never its making.
    writes.only_columns("recruiter_codes", ("is_shown", "label"))
    pagecache.init_app(
        app,
        Binding(
            groups=GROUPS,
            load_viewer=viewer.load_viewer,
            read_marks=viewer.read_marks,
            standin=viewer.standin,
            standin_name=viewer.STANDIN_NAME,
            member_fills=_member_fills,
        ),
    )


def _member_fills(member: Viewer) -> dict[str, Fill]:
    """The account menu for this request's member (the `nav` slot of every page)."""

    def nav(args: dict[str, str]) -> dict[str, str]:
        from fancampaign.notifications.services import unread_count

        html = pagecache.render_part(
            "_account_nav.html",
            current_user={"username": member.user.username, "is_authenticated": True},
            unread_notifications=unread_count(member.user),
            request=None,  # no shared page is the notifications or settings page
        )
        return dict.fromkeys(args, html)

    return {"nav": nav}
